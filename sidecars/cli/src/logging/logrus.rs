//! The `tracing` subscriber that prints logrus's text lines. Spans carry nothing the log
//! shows (upstream has none), so they are accepted and ignored. Libraries that are not ours
//! (h2, tonic, ...) are heard at warning and error only: their debug chatter is about frames
//! and connections, not what an operator of the sidecar can act on, and it is no output
//! upstream has.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use super::LogLevel;
use super::sink::Sink;

/// Prints events at or above a level to a [`Sink`].
pub(super) struct Logrus {
    max: Level,
    sink: Arc<Sink>,
}

impl Logrus {
    pub(super) fn new(level: LogLevel, sink: Arc<Sink>) -> Logrus {
        Logrus {
            max: level.tracing(),
            sink,
        }
    }
}

/// logrus's name of a level.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        _ => "trace",
    }
}

/// Escapes what could break the one-line format.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// `level=<level> msg=<message> <key>=<value>...` and a line break; `fields` in the order
/// given.
pub(super) fn line(level: &str, message: &str, fields: &[(&str, String)]) -> String {
    let mut out = format!("level={level} msg=");
    push_escaped(&mut out, message);
    for (key, value) in fields {
        let _ = write!(out, " {key}=");
        push_escaped(&mut out, value);
    }
    out.push('\n');
    out
}

/// An event's message and other fields, as text.
#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.others.push((field.name(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.others.push((field.name(), text));
        }
    }
}

/// The line an event prints: fields sorted by name, as logrus sorts them.
fn event_line(event: &Event<'_>) -> String {
    let mut fields = Fields::default();
    event.record(&mut fields);
    fields.others.sort_by_key(|(k, _)| *k);
    line(
        level_name(*event.metadata().level()),
        &fields.message,
        &fields.others,
    )
}

/// True for events of csc-rs's own crates (a target is the module path by default).
fn is_ours(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    krate.starts_with("csc_") || matches!(krate, "skr" | "encfs")
}

impl Subscriber for Logrus {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let level = *metadata.level();
        level <= self.max && (level <= Level::WARN || is_ours(metadata.target()))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max))
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        self.sink.write_line(&event_line(event));
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn our_crates_are_told_apart() {
        for t in [
            "skr",
            "skr::server::drive",
            "encfs::sidecar",
            "csc_azure::http",
            "csc_cli",
        ] {
            assert!(is_ours(t), "{t}");
        }
        for t in ["h2::proto", "tonic", "skrx", "hyper_util::client", ""] {
            assert!(!is_ours(t), "{t}");
        }
    }

    #[test]
    fn lines_cannot_be_forged() {
        assert_eq!(
            line("info", "a\nlevel=error msg=x\r", &[]),
            "level=info msg=a\\nlevel=error msg=x\\r\n"
        );
        assert_eq!(
            line("warning", "back\\slash", &[("k", "v\nw".into())]),
            "level=warning msg=back\\\\slash k=v\\nw\n"
        );
    }

    /// Events through the subscriber, into a file: level filter, logrus names, sorted fields.
    #[test]
    fn events_print_as_logrus_does() {
        let dir = std::env::temp_dir().join(format!("csc-cli-logrus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let _ = std::fs::remove_file(&path);
        let sink = Arc::new(Sink::append_to(&path).unwrap());
        let logrus = Logrus::new(LogLevel::Info, sink);
        tracing::subscriber::with_default(logrus, || {
            tracing::debug!("not shown");
            tracing::info!(zeta = 2, alpha = "a b", "starting {}", "skr");
            tracing::warn!("two\nlines");
            tracing::error!(port = 8080u16, "bind failed");
            tracing::info!(target: "h2::proto", "not ours, not shown");
            tracing::warn!(target: "h2::proto", "not ours, shown");
            tracing::info!(target: "skr::server", "ours");
        });
        let mut text = String::new();
        std::fs::File::open(&path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(
            text,
            "level=info msg=starting skr alpha=a b zeta=2\n\
             level=warning msg=two\\nlines\n\
             level=error msg=bind failed port=8080\n\
             level=warning msg=not ours, shown\n\
             level=info msg=ours\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
