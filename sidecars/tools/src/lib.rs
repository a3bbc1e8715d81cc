//! Shared plumbing of the operator tools: argument reading, input files, exit codes.
//!
//! Each binary in `src/bin/` is a thin `main` over these helpers and the core library.

pub mod args;
pub mod exit;
pub mod fetch_cmd;
pub mod input;
pub mod show;
pub mod verify_cmd;
