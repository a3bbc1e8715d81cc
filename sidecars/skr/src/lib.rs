//! The secure key release sidecar, as a library: `main.rs` only reads the configuration and
//! calls [`run`]-style entry points; tests drive the same code without a process.
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
pub mod gojson;
pub mod grpc;
pub mod run;
pub mod secret;
pub mod server;
pub mod service;
#[cfg(feature = "sandbox")]
pub mod simulate;
pub mod uvm;
