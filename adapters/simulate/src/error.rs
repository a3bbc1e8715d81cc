//! The crate's error type.

use std::path::PathBuf;

use csc_core::Product;

/// Why the simulated platform could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The key cache directory or one of its files could not be used.
    #[error("simulated platform key cache {path}: {what}: {source}")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key cache is not safe to use (owned by someone else, or writable by others).
    #[error(
        "simulated platform key cache {path} is {problem}; use a private directory (mode 0700)"
    )]
    UnsafeCache {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A cached key or certificate does not parse.
    #[error(
        "simulated platform key cache file {path} is corrupt ({what}); delete the cache directory to make new keys"
    )]
    CorruptCache {
        /// The file.
        path: PathBuf,
        /// What could not be read.
        what: &'static str,
    },
    /// No cache directory could be chosen (no $HOME, $XDG_CACHE_HOME or CSC_SIMULATE_CACHE).
    #[error("no cache directory for the simulated platform's keys: set CSC_SIMULATE_CACHE or HOME")]
    NoCacheDir,
    /// A cryptographic operation failed.
    #[error("simulated platform: {0} failed")]
    Crypto(&'static str),
    /// A simulated certificate could not be DER-encoded.
    #[error("DER-encoding a simulated certificate: {0}")]
    Der(#[from] ::der::Error),
    /// The report version is not one this platform makes.
    #[error(
        "the simulated platform makes report versions 2, 3 and 5 (Turin: 3 and 5), not version {version} on {product}"
    )]
    UnsupportedVersion {
        /// The product.
        product: Product,
        /// The version asked for.
        version: u32,
    },
    /// A report was asked for below the VMPL the simulated guest runs at; the firmware answers
    /// such a request with status INVALID_PARAM.
    #[error(
        "VMPL {requested} was requested, but the simulated guest runs at VMPL {floor}: a guest can only get reports at its own VMPL or a less privileged one"
    )]
    VmplBelowFloor {
        /// The VMPL asked for.
        requested: u8,
        /// The guest's VMPL.
        floor: u8,
    },
    /// The certificate buffer of an extended report is too small.
    #[error("the certificate table needs {needed} bytes but the buffer has {given}")]
    CertsBufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The environment variable that asks for the simulated platform has a value that is
    /// neither on nor off.
    #[error(
        "{var}={value:?} is not understood: use 1 to select the simulated platform, 0 or unset for real hardware"
    )]
    BadEnv {
        /// The variable name.
        var: &'static str,
        /// Its value (lossy).
        value: String,
    },
}

impl csc_core::source::SourceError for SimError {
    fn certs_needed(&self) -> Option<usize> {
        match self {
            SimError::CertsBufferTooSmall { needed, .. } => Some(*needed),
            _ => None,
        }
    }
}
