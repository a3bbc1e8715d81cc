//! Logging in upstream's format (logrus text without timestamps: `level=info msg=...`), to
//! standard error or appended to a file. One line per message: line breaks in messages are
//! escaped so a log line cannot be forged by input.

use std::io::Write;
use std::sync::Mutex;

use crate::config::LogLevel;

struct Logger {
    max: log::LevelFilter,
    out: Mutex<Box<dyn Write + Send>>,
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.max
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => "error",
            log::Level::Warn => "warning",
            log::Level::Info => "info",
            log::Level::Debug => "debug",
            log::Level::Trace => "trace",
        };
        let msg = record
            .args()
            .to_string()
            .replace('\n', "\\n")
            .replace('\r', "\\r");
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "level={level} msg={msg}");
            let _ = out.flush();
        }
    }

    fn flush(&self) {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
    }
}

/// The `log` filter for a logrus level name.
pub fn filter(level: LogLevel) -> log::LevelFilter {
    match level {
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Warning => log::LevelFilter::Warn,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Trace => log::LevelFilter::Trace,
    }
}

/// Installs the logger. `file` is appended to (created 0600 if missing).
pub fn init(level: LogLevel, file: Option<&str>) -> std::io::Result<()> {
    let out: Box<dyn Write + Send> = match file {
        None => Box::new(std::io::stderr()),
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
    let max = filter(level);
    let logger = Logger {
        max,
        out: Mutex::new(out),
    };
    // A second init (tests, demo) keeps the first logger.
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
    Ok(())
}
