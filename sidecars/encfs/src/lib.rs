//! The encrypted filesystem sidecar: upstream's `remotefs` + `azmount` + `cryptsetup` in one
//! process. It reads upstream's input ([`input`]), opens every image (a blob or a local file,
//! [`store`]), gets each key file ([`key`]: secure key release or a raw key), validates and
//! unlocks the LUKS2 header, mounts through dm-crypt or a userspace AES-XTS view (csc-mount),
//! publishes each mount point as a symlink, signals readiness, and on SIGTERM tears it all down
//! in reverse order, writing every cached block back ([`sidecar`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod input;

#[cfg(feature = "runtime")]
pub mod args;
#[cfg(feature = "runtime")]
pub mod blob;
#[cfg(feature = "runtime")]
pub mod error;
#[cfg(feature = "runtime")]
pub mod key;
#[cfg(feature = "runtime")]
pub mod sidecar;
#[cfg(feature = "runtime")]
pub mod stale;
#[cfg(feature = "runtime")]
pub mod store;

#[cfg(feature = "runtime")]
pub use error::Error;
