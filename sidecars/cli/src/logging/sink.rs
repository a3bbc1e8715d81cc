//! The log's destination: standard error, or a file appended to.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

/// A destination that takes whole lines, one writer at a time.
pub(super) struct Sink(Mutex<Box<dyn Write + Send>>);

impl Sink {
    /// Standard error.
    pub(super) fn stderr() -> Sink {
        Sink(Mutex::new(Box::new(io::stderr())))
    }

    /// `path`, appended to; created with mode 0600 (logs may name what a deployment holds).
    pub(super) fn append_to(path: &Path) -> io::Result<Sink> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)?;
        Ok(Sink(Mutex::new(Box::new(file))))
    }

    /// Writes one line in one piece; a failing destination loses the line, never the program.
    pub(super) fn write_line(&self, line: &str) {
        let mut out = match self.0.lock() {
            Ok(out) => out,
            Err(poisoned) => poisoned.into_inner(),
        };
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}
