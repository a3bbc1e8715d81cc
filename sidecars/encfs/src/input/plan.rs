//! The checked input: one entry per filesystem with a typed source and key, and the values
//! upstream fixes. Made only by [`validate`](super::validate()).

use std::fmt;
use std::path::{Path, PathBuf};

use super::decode::Problem;
use super::model::{AzureInfo, KeyBlob, redact_url};
use super::secret::SecretBytes;

/// At most this many filesystems (each takes a loop device and a FUSE mount).
pub const MAX_FILESYSTEMS: usize = 64;
/// Longest raw key accepted, in bytes (it is a key file's contents).
pub const MAX_RAW_KEY: usize = 8192;
/// HKDF info used when `key_derivation.label` is empty (upstream's default).
pub use csc_core::keywrap::hkdf::DEFAULT_LABEL;
/// What upstream writes into `key.akv.api_version` whatever the input says.
pub const AKV_API_VERSION: &str = "api-version=7.4";
/// What upstream writes into `key.authority.api_version`.
pub const MAA_API_VERSION: &str = "api-version=2020-10-01";
/// What upstream writes into `key.authority.tee_type`.
pub const MAA_TEE_TYPE: &str = "SevSnpVM";
/// Prefix of the directory each filesystem is mounted on, next to its mount point.
pub const FS_DIR_PREFIX: &str = ".filesystem-";

/// Where an image is read from.
#[derive(Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A local file (`file://` URL), for testing.
    Local(PathBuf),
    /// A blob.
    Blob {
        /// The blob URL (may carry a SAS token: never log it unredacted).
        url: String,
        /// Use bearer tokens (`azure_url_private`).
        private: bool,
    },
}

impl fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "Local({})", p.display()),
            Self::Blob { url, private } => {
                write!(f, "Blob({}, private: {private})", redact_url(url))
            }
        }
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "file://{}", p.display()),
            Self::Blob { url, .. } => f.write_str(&redact_url(url)),
        }
    }
}

/// The key type the input declares (`key.kty`), as far as encfs cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// `kty` not given: whatever is released decides.
    Unspecified,
    /// `oct` or `oct-HSM`: the released key is the key file (32 bytes).
    Oct,
    /// `RSA` or `RSA-HSM`: the key file is derived from the private exponent with HKDF.
    Rsa,
}

/// HKDF parameters for an RSA key, checked (the core's derivation takes them as they are).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Derivation {
    /// The salt as hex text, as upstream passes it to `hex.DecodeString` (empty: HKDF's zero
    /// salt).
    pub salt_hex: String,
    /// The info string.
    pub label: String,
}

/// How the key file of one filesystem is obtained.
#[derive(Clone, Debug)]
pub enum KeySpec {
    /// `raw_key`: the key file's bytes, given directly (testing).
    Raw(SecretBytes),
    /// Secure key release of `key`, then the key file from the released key.
    Release {
        /// The key block, with upstream's fixed API versions and TEE type filled in.
        key: Box<KeyBlob>,
        /// What `kty` declared.
        kty: KeyType,
        /// HKDF parameters, if given.
        derivation: Option<Derivation>,
    },
}

/// One filesystem, checked.
#[derive(Clone, Debug)]
pub struct FilesystemPlan {
    /// Position in `azure_filesystems` (names `.filesystem-<index>`, as upstream).
    pub index: usize,
    /// The symlink to publish.
    pub mount_point: PathBuf,
    /// Where the image is.
    pub source: SourceSpec,
    /// Mount read-write.
    pub read_write: bool,
    /// Where the key comes from.
    pub key: KeySpec,
}

impl FilesystemPlan {
    /// The directory the filesystem is mounted on (`<parent>/.filesystem-<index>`).
    pub fn fs_dir(&self) -> PathBuf {
        self.parent().join(format!("{FS_DIR_PREFIX}{}", self.index))
    }

    /// The mount point's parent directory.
    pub fn parent(&self) -> &Path {
        self.mount_point.parent().unwrap_or(Path::new("/"))
    }

    /// The name csc-mount uses for devices and directories.
    pub fn name(&self) -> String {
        self.index.to_string()
    }
}

/// The whole input, checked.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Key release settings.
    pub azure_info: AzureInfo,
    /// The filesystems, in input order.
    pub filesystems: Vec<FilesystemPlan>,
    /// Things worth saying that do not stop the run (unknown members, ignored fields).
    pub warnings: Vec<Problem>,
}
