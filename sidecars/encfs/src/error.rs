//! The sidecar's error type. Every variant says which filesystem (index and mount point) and
//! which step failed; nothing secret is ever part of a message.

use std::path::PathBuf;

use crate::input::InputError;
use crate::key::KeyError;

/// Which step of bringing up a filesystem failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Checking the mount point and cleaning what a crashed run left there.
    Prepare,
    /// Opening the image (blob properties, local file).
    Open,
    /// Reading and validating the LUKS2 header.
    Header,
    /// Getting the key file (release or raw key).
    Key,
    /// Unlocking a keyslot with the key file.
    Unlock,
    /// Exposing, mounting and publishing.
    Mount,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Prepare => "preparing the mount point",
            Step::Open => "opening the image",
            Step::Header => "reading the LUKS2 header",
            Step::Key => "getting the key",
            Step::Unlock => "unlocking the image",
            Step::Mount => "mounting",
        })
    }
}

/// Anything that stops the sidecar.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Flags or environment unusable.
    #[error("{0}")]
    Usage(String),
    /// `EncfsSideCarArgs` refused.
    #[error("EncfsSideCarArgs: {0}")]
    Input(#[from] InputError),
    /// One filesystem could not be brought up.
    #[error("azure_filesystems[{index}] ({mount_point}): {step}: {detail}")]
    Filesystem {
        /// Position in `azure_filesystems`.
        index: usize,
        /// Its mount point.
        mount_point: PathBuf,
        /// The step that failed.
        step: Step,
        /// What went wrong (already free of secrets).
        detail: String,
    },
    /// The key could not be obtained.
    #[error("azure_filesystems[{index}] ({mount_point}): getting the key: {source}")]
    Key {
        /// Position in `azure_filesystems`.
        index: usize,
        /// Its mount point.
        mount_point: PathBuf,
        /// The cause.
        #[source]
        source: KeyError,
    },
    /// Tearing down failed (after every step was attempted).
    #[error("teardown: {0}")]
    Teardown(String),
    /// A termination signal arrived while filesystems were being mounted.
    #[error("interrupted by signal {0} while mounting")]
    Interrupted(i32),
    /// A resource the process needs (runtime, HTTP client, signal handling).
    #[error("{what}: {detail}")]
    Setup {
        /// What could not be set up.
        what: &'static str,
        /// Why.
        detail: String,
    },
}
