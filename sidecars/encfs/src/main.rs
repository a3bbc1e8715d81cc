//! `encfs`: mounts the encrypted filesystems `EncfsSideCarArgs` describes, signals readiness,
//! and tears everything down on SIGTERM. See the crate documentation and README.

use std::process::ExitCode;

use csc_cli::logging;
use csc_mount::signals::TermSignals;
use encfs::args::{Args, ArgsError, USAGE};
use encfs::{Error, sidecar};

/// glibc raises its mmap threshold each time a large buffer is freed, after which block
/// buffers and HTTP bodies come from per-thread arenas that keep freed memory: resident
/// memory grows far beyond what is live. A fixed threshold (which also stops the adaptation)
/// returns every large buffer to the system when freed, as musl's allocator does anyway.
#[cfg(target_env = "gnu")]
fn tune_allocator() {
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread exists.
    #[allow(unsafe_code)]
    unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, 128 * 1024);
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(target_env = "gnu"))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    // Before any thread exists, so that every thread inherits the blocked mask and only the
    // signal thread receives SIGTERM.
    let signals = match TermSignals::block() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("encfs: blocking termination signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let argv: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let Ok(argv) = argv else {
        eprintln!("encfs: arguments must be UTF-8\n{USAGE}");
        return ExitCode::from(2);
    };
    let args = match Args::parse(&argv, |k| std::env::var(k).ok()) {
        Ok(a) => a,
        Err(ArgsError::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Go's flag package exits 2 on a bad command line.
            eprintln!("encfs: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = logging::init(args.log_level, args.log_file.as_deref()) {
        eprintln!("encfs: log file: {e}");
        return ExitCode::FAILURE;
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting encfs");
    match sidecar::run(args, signals) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            logging::fatal(&e.to_string());
            match e {
                Error::Usage(_) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
