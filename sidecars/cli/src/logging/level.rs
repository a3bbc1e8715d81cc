//! Log verbosity, named as logrus names it (`LogLevel` / `-loglevel`).

use tracing::Level;

/// Log verbosity, with logrus's level names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `panic`, `fatal`, `error`: errors only.
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

/// A level name logrus does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid log level: {0:?} (trace, debug, info, warning, error, fatal or panic)")]
pub struct UnknownLogLevel(pub String);

impl LogLevel {
    /// Parses a logrus level name (case-insensitive, as logrus does).
    pub fn parse(s: &str) -> Result<LogLevel, UnknownLogLevel> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "panic" | "fatal" | "error" => LogLevel::Error,
            "warning" | "warn" => LogLevel::Warning,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return Err(UnknownLogLevel(s.to_string())),
        })
    }

    /// The most verbose `tracing` level shown.
    pub fn tracing(self) -> Level {
        match self {
            LogLevel::Error => Level::ERROR,
            LogLevel::Warning => Level::WARN,
            LogLevel::Info => Level::INFO,
            LogLevel::Debug => Level::DEBUG,
            LogLevel::Trace => Level::TRACE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_as_logrus() {
        assert_eq!(LogLevel::parse("WARN"), Ok(LogLevel::Warning));
        assert_eq!(LogLevel::parse("warning"), Ok(LogLevel::Warning));
        assert_eq!(LogLevel::parse("fatal"), Ok(LogLevel::Error));
        assert_eq!(LogLevel::parse("panic"), Ok(LogLevel::Error));
        assert_eq!(LogLevel::parse("Trace"), Ok(LogLevel::Trace));
        let e = LogLevel::parse("verbose").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("not a valid log level: \"verbose\"")
        );
    }

    #[test]
    fn more_verbose_levels_compare_greater() {
        assert!(LogLevel::Trace > LogLevel::Debug && LogLevel::Warning > LogLevel::Error);
        assert!(LogLevel::Info.tracing() > LogLevel::Warning.tracing());
    }
}
