//! The aws-lc-rs backend for the core's crypto traits, used by std builds (sidecars, tools,
//! emulators). The core's own backend (p384 and fixed-size RSA, no heap) passes the same tests;
//! this one is faster and is also what rustls uses.

pub mod check;
pub mod unwrap;
pub mod verify;
