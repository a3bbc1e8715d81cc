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
pub mod show;
pub mod token;
pub mod verify_cmd;
