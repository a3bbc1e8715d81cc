//! Helpers of the `snp-report verify` tests: the real binary, its exit code, vector paths and
//! files written for it.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `snp-report` with `args`.
pub fn snp_report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snp-report"))
        .args(args)
        .output()
        .expect("run snp-report")
}

/// The exit code (the process was not killed by a signal).
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

/// The file of vector `index_path`, as an argument.
pub fn p(index_path: &str) -> String {
    csc_vectors::path(index_path).display().to_string()
}

/// Writes `bytes` to `dir/name` and returns the path as an argument.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let f = dir.join(name);
    std::fs::write(&f, bytes).unwrap();
    f.display().to_string()
}
