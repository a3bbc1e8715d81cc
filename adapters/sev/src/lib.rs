//! SEV-SNP report sources: configfs-tsm, `/dev/sev-guest` and `/dev/sev`, and the one place
//! that decides which the guest has.
//!
//! - [`choose`] / [`detect`]: configfs-tsm, then `/dev/sev-guest` (Linux 6.1+), then `/dev/sev`
//!   (the 5.15 kernels of ACI's utility VMs), saying which was chosen and why; a caller may force
//!   one. With the `simulate` feature, the simulated platform of `csc-simulate` is chosen only
//!   when asked for by name (`--simulate`, `CSC_SIMULATE=1`, or forcing `simulated`).
//! - [`Source`]: implements the core's [`ReportSource`](csc_core::source::ReportSource)
//!   (async, runtime-free, `Send` futures; kernel requests run on a worker thread) and offers
//!   blocking [`Source::get_report`] / [`Source::get_extended_report`].
//! - Errors name what a person can act on: a missing device, permission, a driver without the
//!   ioctl (ENOTTY), firmware and VMM status codes decoded, short answers, configfs races.
//!   Every request opens its device and closes it before returning.
//!
//! - [`SevGuest::derived_key`]: keys the PSP derives for this guest (`SNP_GET_DERIVED_KEY`).
//!
//! The only unsafe code is in [`abi`]: the four ioctl calls, each with its safety argument.

pub mod abi;
mod blocking;
pub use csc_core::certtable;
mod configfs;
mod error;
pub mod fw;
mod guest;
mod select;

pub use configfs::{CONFIGFS_TSM_PATH, ConfigfsTsm, MAX_ATTEMPTS, SEV_PROVIDER, attr};
pub use error::SevError;
pub use guest::{CERTS_LIMIT, INITIAL_CERT_PAGES, LegacySev, SEV_GUEST_PATH, SEV_PATH, SevGuest};
pub use select::{
    Choice, Chosen, Detection, Paths, SIMULATE_ENV, Source, SourceKind, choose, detect,
    simulation_requested_by_env,
};
