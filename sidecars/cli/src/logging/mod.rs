//! Logs as upstream's programs print them: logrus's text format without timestamps or quoting
//! (`level=info msg=... key=value`), one line per event, to standard error or appended to a
//! log file. Every crate's `tracing` events (the adapters', the sidecars') go through it; a
//! small subscriber of our own does the work, so that the programs carry no formatting
//! framework they do not use. Line breaks inside messages and fields are escaped: input cannot
//! forge a log line.

mod level;
mod logrus;
mod sink;

pub use level::{LogLevel, UnknownLogLevel};

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use sink::Sink;

/// Where `init` sent the logs, for [`fatal`].
static SINK: OnceLock<Arc<Sink>> = OnceLock::new();

/// Installs the logger for events at `level` and above: standard error, or `file` appended
/// to (created 0600). A second call keeps the first logger.
pub fn init(level: LogLevel, file: Option<&Path>) -> io::Result<()> {
    let sink = Arc::new(match file {
        None => Sink::stderr(),
        Some(path) => Sink::append_to(path)?,
    });
    if SINK.set(Arc::clone(&sink)).is_ok() {
        let _ = tracing::subscriber::set_global_default(logrus::Logrus::new(level, sink));
    }
    Ok(())
}

/// Logs a fatal error whatever the level (as logrus's `Fatal` does): to the log's
/// destination, or standard error before [`init`].
pub fn fatal(message: &str) {
    let line = logrus::line("fatal", message, &[]);
    match SINK.get() {
        Some(sink) => sink.write_line(&line),
        None => Sink::stderr().write_line(&line),
    }
}
