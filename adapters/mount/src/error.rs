//! The crate's error type.

use std::path::PathBuf;

use crate::luks2::{FormatError, HeaderError, ReadError, UnlockError};
use crate::store::StoreError;

/// Anything that can stop opening, mounting or tearing down an encrypted image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The LUKS2 header is invalid.
    #[error("invalid LUKS2 header: {0}")]
    Header(#[from] HeaderError),
    /// The image could not be unlocked.
    #[error("unlocking the image: {0}")]
    Unlock(#[from] UnlockError),
    /// A new LUKS2 header could not be written.
    #[error("formatting a LUKS2 header: {0}")]
    Format(#[from] FormatError),
    /// Cache configuration refused.
    #[error("cache configuration: {0}")]
    Cache(#[from] crate::cache::ConfigError),
    /// A system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The mount point already exists (upstream fails the same way).
    #[error("mount point {0} already exists")]
    MountPointExists(PathBuf),
    /// The mount point's parent directory does not exist.
    #[error("parent directory of mount point {0} does not exist")]
    NoParent(PathBuf),
    /// A directory we need is already a mount point.
    #[error("{0} is already a mount point")]
    Busy(PathBuf),
    /// The kernel has no device-mapper (no /dev/mapper/control).
    #[error("device-mapper is not available: {0}")]
    NoDeviceMapper(String),
    /// A command (mkfs.ext4) failed.
    #[error("{command} failed: {detail}")]
    Command {
        /// The command.
        command: String,
        /// Its stderr or exit status.
        detail: String,
    },
    /// An argument is unusable.
    #[error("{0}")]
    Invalid(String),
}

impl From<ReadError> for Error {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Store(s) => Self::Store(s),
            ReadError::Header(h) => Self::Header(h),
        }
    }
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
