//! Shared plumbing of the operator tools: argument reading, input files, exit codes.
//!
//! Each binary in `src/bin/` is a thin `main` over these helpers and the core library.

pub mod args;
pub mod azure;
pub mod derive_cmd;
pub mod exit;
pub mod fetch_cmd;
pub mod importkey;
pub mod input;
pub mod policydigest;
pub mod rfc3339;
pub mod secret_file;
pub mod show;
pub mod token;
#[cfg(feature = "simulate")]
pub mod tsm_simulate;
pub mod verify_cmd;
pub mod verify_out;

/// Shows the libraries' warnings (HTTP retries, certificate cache fallbacks, mount teardown
/// trouble) on standard error, in the sidecars' logrus format; called first in every `main`.
pub fn log_warnings() {
    let _ = csc_cli::logging::init(csc_cli::logging::LogLevel::Warning, None);
}
