//! Exit codes shared by the tools, and the one place that prints a failure.

use std::fmt::Display;
use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// Usage or I/O error.
pub const USAGE: u8 = 1;
/// The platform could not produce a report (no device, refused by the kernel or firmware).
pub const PLATFORM: u8 = 3;
/// A remote service failed or refused (HTTP error, timeout, unreachable, bad answer).
pub const SERVICE: u8 = 4;
/// Malformed input (the bytes are not what they claim to be).
pub const MALFORMED: u8 = 6;

/// A failure: its exit code and a one-line message.
#[derive(Debug)]
pub struct Failure {
    /// Process exit code.
    pub code: u8,
    /// One line, naming what is wrong.
    pub message: String,
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: u8, message: impl Display) -> Self {
        Failure {
            code,
            message: message.to_string(),
        }
    }
    /// A usage or I/O failure.
    pub fn usage(message: impl Display) -> Self {
        Self::new(USAGE, message)
    }
    /// A malformed-input failure.
    pub fn malformed(message: impl Display) -> Self {
        Self::new(MALFORMED, message)
    }
}

impl From<csc_cli::flag::FlagError> for Failure {
    fn from(e: csc_cli::flag::FlagError) -> Self {
        Failure::usage(e)
    }
}

/// Prints `tool: message` on stderr for a failure and turns the result into an exit code.
pub fn finish(tool: &str, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::from(OK),
        Err(f) => {
            // One line, whatever the message holds.
            let line = f.message.replace('\n', " ");
            eprintln!("{tool}: {line}");
            ExitCode::from(f.code)
        }
    }
}
