//! What every program of csc-rs needs around its `main`, written once: the command line read
//! the way Go's `flag` package reads it ([`flag`]), and logs printed the way upstream's logrus
//! prints them ([`logging`]). Standard library, `tracing` and `thiserror` only: no I/O beyond
//! standard error and the log file.

pub mod flag;
pub mod logging;
