//! Upstream's input structs (`RemoteFilesystemsInformation` in `cmd/remotefs`, with
//! `common.KeyBlob`, `common.KeyDerivationBlob`, `attest.CertFetcher`, `common.Identity`) and
//! their decoding from JSON. Field names and JSON member names are upstream's.

use std::fmt;

use csc_core::json::Value;

use super::decode::{Decoder, FieldPath};
use super::secret::Secret;

/// The whole input (upstream `RemoteFilesystemsInformation`).
#[derive(Clone, Debug, Default)]
pub struct EncfsSideCarArgs {
    /// `azure_info`: certificate cache and identity for key release.
    pub azure_info: AzureInfo,
    /// `azure_filesystems`: the images to mount, in order.
    pub azure_filesystems: Vec<AzureFilesystem>,
}

/// `azure_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AzureInfo {
    /// `certcache`: where the VCEK chain comes from (used by key release).
    pub certcache: CertCache,
    /// `identity`: the managed identity.
    pub identity: Identity,
}

/// `azure_info.certcache` (upstream `attest.CertFetcher`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertCache {
    /// `endpoint_type`: `AMD`, `AzCache` or `LocalTHIM`.
    pub endpoint_type: String,
    /// `endpoint`.
    pub endpoint: String,
    /// `tee_type`.
    pub tee_type: String,
    /// `api_version`.
    pub api_version: String,
    /// `client_id`.
    pub client_id: String,
}

/// `azure_info.identity` (upstream `common.Identity`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `client_id` of a user-assigned managed identity; empty for the system-assigned one.
    pub client_id: String,
}

/// One entry of `azure_filesystems` (upstream `AzureFilesystem`).
#[derive(Clone, Default)]
pub struct AzureFilesystem {
    /// `azure_url`: the blob (SAS allowed), or `file:///path` for a local image.
    pub azure_url: String,
    /// `azure_url_private`: authenticate with a bearer token instead of anonymously.
    pub azure_url_private: bool,
    /// `mount_point`: the path that becomes a symlink to the mounted filesystem.
    pub mount_point: String,
    /// `key_derivation`: HKDF salt and label for RSA keys; `None` when absent or `null`.
    pub key_derivation: Option<KeyDerivation>,
    /// `key`: the key to release.
    pub key: KeyBlob,
    /// `raw_key`: hex key file contents, for testing without key release.
    pub raw_key: Secret,
    /// `read_write`: mount read-write (needs a page blob or a writable file).
    pub read_write: bool,
}

impl fmt::Debug for AzureFilesystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureFilesystem")
            .field("azure_url", &redact_url(&self.azure_url))
            .field("azure_url_private", &self.azure_url_private)
            .field("mount_point", &self.mount_point)
            .field("key_derivation", &self.key_derivation)
            .field("key", &self.key)
            .field("raw_key", &self.raw_key)
            .field("read_write", &self.read_write)
            .finish()
    }
}

/// A URL with its query (a SAS token, perhaps) replaced by `?<redacted>`.
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?<redacted>"),
        None => url.to_string(),
    }
}

/// `key_derivation` (upstream `common.KeyDerivationBlob`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyDerivation {
    /// `salt`: hex; empty means HKDF's default (zero) salt.
    pub salt: String,
    /// `label`: HKDF info; empty means `Symmetric Encryption Key`.
    pub label: String,
}

/// `key` (upstream `common.KeyBlob`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyBlob {
    /// `kid`: the Key Vault key name.
    pub kid: String,
    /// `kty`: `oct`, `oct-HSM`, `RSA`, `RSA-HSM`, or empty.
    pub kty: String,
    /// `key_ops`.
    pub key_ops: Vec<String>,
    /// `authority`: the MAA instance.
    pub authority: Authority,
    /// `akv`: the Key Vault or managed HSM.
    pub akv: Akv,
}

/// `key.authority` (upstream `common.MAA`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authority {
    /// `endpoint`: MAA host name.
    pub endpoint: String,
    /// `tee_type` (upstream overwrites it with `SevSnpVM`).
    pub tee_type: String,
    /// `api_version` (upstream overwrites it with `api-version=2020-10-01`).
    pub api_version: String,
}

/// `key.akv` (upstream `common.AKV`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Akv {
    /// `endpoint`: vault or managed HSM host name.
    pub endpoint: String,
    /// `api_version` (upstream overwrites it with `api-version=7.4`).
    pub api_version: String,
    /// `bearer_token`: used instead of acquiring one.
    pub bearer_token: Secret,
}

const TOP: &[&str] = &["azure_info", "azure_filesystems"];
const AZURE_INFO: &[&str] = &["certcache", "identity"];
const CERTCACHE: &[&str] = &[
    "endpoint_type",
    "endpoint",
    "tee_type",
    "api_version",
    "client_id",
];
const IDENTITY: &[&str] = &["client_id"];
const FILESYSTEM: &[&str] = &[
    "azure_url",
    "azure_url_private",
    "mount_point",
    "key_derivation",
    "key",
    "raw_key",
    "read_write",
];
const DERIVATION: &[&str] = &["salt", "label"];
const KEY: &[&str] = &["kid", "kty", "key_ops", "authority", "akv"];
const AUTHORITY: &[&str] = &["endpoint", "tee_type", "api_version"];
const AKV: &[&str] = &["endpoint", "api_version", "bearer_token"];

impl EncfsSideCarArgs {
    /// Decodes the top-level JSON value.
    pub fn decode(d: &mut Decoder, v: Value<'_>) -> Self {
        let mut out = Self::default();
        let root = FieldPath::root();
        if matches!(v, Value::Null) {
            return out;
        }
        d.object(v, &root, TOP, |d, i, v, p| match i {
            0 => decode_azure_info(d, v, p, &mut out.azure_info),
            _ => d.array(v, p, &mut out.azure_filesystems, decode_filesystem),
        });
        out
    }
}

fn decode_azure_info(d: &mut Decoder, v: Value<'_>, path: &FieldPath, out: &mut AzureInfo) {
    d.object(v, path, AZURE_INFO, |d, i, v, p| match i {
        0 => {
            let c = &mut out.certcache;
            d.object(v, p, CERTCACHE, |d, i, v, p| {
                let field = match i {
                    0 => &mut c.endpoint_type,
                    1 => &mut c.endpoint,
                    2 => &mut c.tee_type,
                    3 => &mut c.api_version,
                    _ => &mut c.client_id,
                };
                d.string(v, p, field);
            });
        }
        _ => {
            let id = &mut out.identity;
            d.object(v, p, IDENTITY, |d, _, v, p| {
                d.string(v, p, &mut id.client_id)
            });
        }
    });
}

fn decode_secret(d: &mut Decoder, v: Value<'_>, path: &FieldPath, out: &mut Secret) {
    let mut s = String::new();
    let before = d.errors.len();
    d.string(v, path, &mut s);
    if !matches!(v, Value::Null) && d.errors.len() == before {
        *out = Secret::new(s);
    } else {
        zeroize::Zeroize::zeroize(&mut s);
    }
}

fn decode_filesystem(d: &mut Decoder, v: Value<'_>, path: &FieldPath, out: &mut AzureFilesystem) {
    d.object(v, path, FILESYSTEM, |d, i, v, p| match i {
        0 => d.string(v, p, &mut out.azure_url),
        1 => d.bool(v, p, &mut out.azure_url_private),
        2 => d.string(v, p, &mut out.mount_point),
        3 => {
            // Present once given as an object; a later `null` leaves it as it was.
            let was = out.key_derivation.is_some();
            let mut kd = out.key_derivation.take().unwrap_or_default();
            let present = d.object(v, p, DERIVATION, |d, i, v, p| {
                d.string(v, p, if i == 0 { &mut kd.salt } else { &mut kd.label })
            });
            if present || was {
                out.key_derivation = Some(kd);
            }
        }
        4 => decode_key(d, v, p, &mut out.key),
        5 => decode_secret(d, v, p, &mut out.raw_key),
        _ => d.bool(v, p, &mut out.read_write),
    });
}

fn decode_key(d: &mut Decoder, v: Value<'_>, path: &FieldPath, out: &mut KeyBlob) {
    d.object(v, path, KEY, |d, i, v, p| match i {
        0 => d.string(v, p, &mut out.kid),
        1 => d.string(v, p, &mut out.kty),
        2 => d.strings(v, p, &mut out.key_ops),
        3 => {
            let a = &mut out.authority;
            d.object(v, p, AUTHORITY, |d, i, v, p| {
                let field = match i {
                    0 => &mut a.endpoint,
                    1 => &mut a.tee_type,
                    _ => &mut a.api_version,
                };
                d.string(v, p, field);
            });
        }
        _ => {
            let a = &mut out.akv;
            d.object(v, p, AKV, |d, i, v, p| match i {
                0 => d.string(v, p, &mut a.endpoint),
                1 => d.string(v, p, &mut a.api_version),
                _ => decode_secret(d, v, p, &mut a.bearer_token),
            });
        }
    });
}
