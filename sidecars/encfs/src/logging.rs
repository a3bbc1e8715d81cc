//! Logging in upstream's format (logrus text formatter without timestamps or quoting:
//! `level=info msg=... key=value`), to standard error or appended to `-logfile`. Events of
//! every crate (csc-mount, csc-azure) go through it. One line per event: line breaks inside
//! messages are escaped so that input cannot forge log lines.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

/// Log verbosity, with logrus's level names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `panic`, `fatal`, `error`.
    Error,
    /// `warning` / `warn` (upstream's default).
    Warning,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
    /// `trace`.
    Trace,
}

impl LogLevel {
    /// Parses a logrus level name (case-insensitive, as logrus does).
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "panic" | "fatal" | "error" => Self::Error,
            "warning" | "warn" => Self::Warning,
            "info" => Self::Info,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => {
                return Err(format!(
                    "not a valid log level: {s:?} (trace, debug, info, warning, error, fatal or panic)"
                ));
            }
        })
    }

    fn tracing(self) -> Level {
        match self {
            Self::Error => Level::ERROR,
            Self::Warning => Level::WARN,
            Self::Info => Level::INFO,
            Self::Debug => Level::DEBUG,
            Self::Trace => Level::TRACE,
        }
    }
}

/// The shared log destination.
#[derive(Clone)]
struct Out(Arc<Mutex<Box<dyn Write + Send>>>);

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.lock() {
            Ok(mut w) => w.write(buf),
            Err(p) => p.into_inner().write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock() {
            Ok(mut w) => w.flush(),
            Err(p) => p.into_inner().flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for Out {
    type Writer = Out;
    fn make_writer(&'a self) -> Out {
        self.clone()
    }
}

static OUT: OnceLock<Out> = OnceLock::new();

/// Escapes what could break the one-line format.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.push((field.name(), text));
        }
    }
}

/// `level=<level> msg=<message> <field>=<value>...`, fields sorted as logrus sorts them.
struct Logrus;

impl<S, N> FormatEvent<S, N> for Logrus
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            _ => "trace",
        };
        let mut f = Fields::default();
        event.record(&mut f);
        f.fields.sort_by_key(|(k, _)| *k);
        write!(w, "level={level} msg={}", escape(&f.message))?;
        for (k, v) in &f.fields {
            write!(w, " {k}={}", escape(v))?;
        }
        writeln!(w)
    }
}

/// Installs the logger: standard error, or `file` appended to (created 0600).
pub fn init(level: LogLevel, file: Option<&Path>) -> io::Result<()> {
    let sink: Box<dyn Write + Send> = match file {
        None => Box::new(io::stderr()),
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            Box::new(
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(path)?,
            )
        }
    };
    let out = Out(Arc::new(Mutex::new(sink)));
    let _ = OUT.set(out.clone());
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_max_level(level.tracing())
        .event_format(Logrus)
        .with_writer(out)
        .try_init();
    Ok(())
}

/// Logs a fatal error (always shown, whatever the level), as logrus's `Fatal` does.
pub fn fatal(message: &str) {
    let line = format!("level=fatal msg={}\n", escape(message));
    match OUT.get() {
        Some(out) => {
            let mut out = out.clone();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
        None => {
            let _ = io::stderr().write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_as_logrus() {
        assert_eq!(LogLevel::parse("WARN"), Ok(LogLevel::Warning));
        assert_eq!(LogLevel::parse("fatal"), Ok(LogLevel::Error));
        assert_eq!(LogLevel::parse("Trace"), Ok(LogLevel::Trace));
        assert!(LogLevel::parse("verbose").is_err());
    }

    #[test]
    fn lines_cannot_be_forged() {
        assert_eq!(escape("a\nlevel=error msg=x\r"), "a\\nlevel=error msg=x\\r");
    }
}
