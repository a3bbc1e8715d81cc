//! The crate's error type: one variant per thing a person would do differently.

use std::io;
use std::path::PathBuf;

use crate::fw::{FirmwareStatus, VmmStatus};

/// Why a report could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SevError {
    /// The device or directory does not exist.
    #[error("{path} does not exist: {hint}")]
    Missing {
        /// What was opened.
        path: PathBuf,
        /// What that means.
        hint: &'static str,
    },
    /// Access was refused.
    #[error(
        "permission denied on {path}: run as root, or give this user access (in a container, map the device or mount in and allow it)"
    )]
    PermissionDenied {
        /// What was opened or written.
        path: PathBuf,
    },
    /// The driver behind the file does not know the ioctl.
    #[error("{path} does not understand {ioctl} (ENOTTY): {hint}")]
    NotSupported {
        /// The device.
        path: PathBuf,
        /// The ioctl's name and number.
        ioctl: String,
        /// What that means for this device.
        hint: &'static str,
    },
    /// The firmware refused the request.
    #[error("{path}: the SEV firmware refused the guest request: {status}")]
    Firmware {
        /// The device.
        path: PathBuf,
        /// Its status code.
        status: FirmwareStatus,
    },
    /// The hypervisor refused the request.
    #[error("{path}: the host refused the guest request: {status}")]
    Vmm {
        /// The device.
        path: PathBuf,
        /// Its status code.
        status: VmmStatus,
    },
    /// The kernel returned fewer bytes than a report, or a size field that is not a report's.
    #[error("{what} holds {actual} bytes where a {expected}-byte report was expected")]
    Short {
        /// Which answer.
        what: String,
        /// Bytes expected.
        expected: usize,
        /// Bytes received.
        actual: usize,
    },
    /// An I/O operation failed for another reason.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// configfs-tsm's generation counter moved while the report was read: another writer
    /// touched the entry, so the report may not be for this request.
    #[error(
        "configfs-tsm entry {path} was changed by another writer while the report was read (generation {expected} expected, {actual} found) after {attempts} attempts"
    )]
    Race {
        /// The entry.
        path: PathBuf,
        /// Generation after our writes.
        expected: u64,
        /// Generation after reading.
        actual: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// configfs-tsm serves another kind of TEE.
    #[error(
        "configfs-tsm at {path} is provided by {provider:?}, not sev_guest: this is not an SEV-SNP guest (force another source if it should be)"
    )]
    WrongProvider {
        /// The report directory.
        path: PathBuf,
        /// What its provider file says.
        provider: String,
    },
    /// A VMPL was asked for that the guest cannot get.
    #[error("{vmpl} was requested but {why}")]
    Vmpl {
        /// The VMPL requested.
        vmpl: csc_core::source::Vmpl,
        /// Why it cannot be had.
        why: String,
    },
    /// The host's certificate table is larger than this crate accepts.
    #[error(
        "{path}: the host's certificate table needs {needed} bytes, more than the {limit}-byte limit"
    )]
    CertsTooLarge {
        /// The device.
        path: PathBuf,
        /// Bytes the kernel asked for.
        needed: usize,
        /// The limit.
        limit: usize,
    },
    /// The caller's certificate buffer is too small for the table.
    #[error("the certificate table needs {needed} bytes but the buffer has {given}")]
    CertsBufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The host's certificate table is malformed.
    #[error("malformed certificate table from the host: {0}")]
    CertTable(#[from] crate::certtable::CertTableError),
    /// This source cannot do what was asked.
    #[error("the {source_name} report source cannot {what}")]
    Unsupported {
        /// The source.
        source_name: &'static str,
        /// What it cannot do.
        what: &'static str,
    },
    /// No report source exists on this machine.
    #[error(
        "no SEV-SNP report source found ({tried}); on an SEV-SNP guest load the sev-guest driver or mount configfs (mount -t configfs none /sys/kernel/config); without SNP hardware use --simulate or CSC_SIMULATE=1"
    )]
    NoSource {
        /// What was looked at.
        tried: String,
    },
    /// Options that contradict each other.
    #[error("{0}")]
    Conflict(String),
    /// The worker thread that talks to the kernel could not be started.
    #[error("cannot start a thread for the report request: {0}")]
    Thread(io::Error),
    /// The simulated platform failed.
    #[cfg(feature = "simulate")]
    #[error(transparent)]
    Simulated(#[from] csc_simulate::SimError),
}

impl SevError {
    /// Wraps an I/O error on `path`, turning the errnos a person can act on into their own
    /// variants.
    pub(crate) fn io(op: &'static str, path: &std::path::Path, e: io::Error) -> SevError {
        match e.kind() {
            io::ErrorKind::NotFound => SevError::Missing {
                path: path.to_path_buf(),
                hint: "this guest does not have this report interface",
            },
            io::ErrorKind::PermissionDenied => SevError::PermissionDenied {
                path: path.to_path_buf(),
            },
            _ => SevError::Io {
                op,
                path: path.to_path_buf(),
                source: e,
            },
        }
    }
}

impl csc_core::source::SourceError for SevError {
    fn certs_needed(&self) -> Option<usize> {
        match self {
            SevError::CertsBufferTooSmall { needed, .. } => Some(*needed),
            #[cfg(feature = "simulate")]
            SevError::Simulated(e) => csc_core::source::SourceError::certs_needed(e),
            _ => None,
        }
    }
}
