//! The key file of each filesystem, as upstream's `remotefs` makes it:
//!
//! - `raw_key` (testing): the hex-decoded bytes are the key file;
//! - otherwise the key is released ([`KeyRelease`]) and the key file is the released `oct`
//!   key, which must be exactly 32 bytes, or, for an `RSA` key, 32 bytes of HKDF-SHA256 with
//!   the private exponent `d` (big-endian, no leading zeros) as input key material,
//!   `key_derivation.salt` as salt and `key_derivation.label` (default
//!   `Symmetric Encryption Key`) as info. HKDF is the `hkdf` crate: the core has no HKDF yet.
//!
//! The key file is the LUKS2 passphrase (as `cryptsetup --key-file`). It is held in memory
//! only, never written to disk (upstream writes it to a 0644 temporary file).
//!
//! Secure key release itself (report -> MAA -> Key Vault -> unwrap) lives in the shared
//! release library; [`SecureKeyRelease`] is where it is connected.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use csc_mount::Passphrase;
use zeroize::Zeroizing;

use crate::input::{AzureInfo, Derivation, KeyBlob, KeySpec, KeyType};

/// Bytes of a filesystem key file made from a released key.
pub const KEY_FILE_LEN: usize = 32;

/// A key file's contents: the LUKS2 passphrase. Zeroed on drop; `Debug` shows only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyFile(Zeroizing<Vec<u8>>);

impl KeyFile {
    /// The bytes (for tests and the unlock; never log them).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The passphrase csc-mount unlocks with.
    pub fn passphrase(&self) -> Passphrase {
        Passphrase::new(self.0.clone())
    }
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFile({} bytes, redacted)", self.0.len())
    }
}

/// A released key, reduced to what a key file is made from. `Debug` shows no key bytes.
#[non_exhaustive]
pub enum ReleasedKey {
    /// JWK `kty` `oct` / `oct-HSM`: the key bytes (`k`).
    Oct(Zeroizing<Vec<u8>>),
    /// JWK `kty` `RSA` / `RSA-HSM`: the private exponent `d`, big-endian.
    Rsa {
        /// `d`, big-endian (leading zero bytes allowed; they are stripped as Go's
        /// `big.Int.Bytes` does).
        d: Zeroizing<Vec<u8>>,
    },
    /// Any other key type (EC, ...): refused.
    Other {
        /// The JWK `kty`.
        kty: String,
    },
}

impl ReleasedKey {
    fn kind(&self) -> &str {
        match self {
            Self::Oct(_) => "oct",
            Self::Rsa { .. } => "RSA",
            Self::Other { kty } => kty,
        }
    }
}

impl fmt::Debug for ReleasedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oct(k) => write!(f, "ReleasedKey::Oct({} bytes, redacted)", k.len()),
            Self::Rsa { d } => write!(f, "ReleasedKey::Rsa(d: {} bytes, redacted)", d.len()),
            Self::Other { kty } => write!(f, "ReleasedKey::Other({kty})"),
        }
    }
}

/// Why a key release failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The release library is not connected to this build yet.
    #[error("secure key release is not wired yet; use raw_key for testing")]
    NotWired,
    /// The release failed (message from the release library, free of secrets).
    #[error("secure key release failed: {0}")]
    Failed(String),
}

/// A boxed future of a release (so that [`KeyRelease`] stays object safe).
pub type ReleaseFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ReleasedKey, ReleaseError>> + Send + 'a>>;

/// Releases the key a `key` block describes. Implementations run on the sidecar's tokio
/// runtime (the future is driven with `Handle::block_on` from the main thread).
pub trait KeyRelease: Send + Sync + fmt::Debug {
    /// Releases `key` (kid, authority, akv with upstream's fixed API versions filled in, and
    /// an optional bearer token for Key Vault).
    fn release<'a>(&'a self, key: &'a KeyBlob) -> ReleaseFuture<'a>;
}

/// Secure key release through the shared release library: attestation report, MAA token,
/// Key Vault / managed HSM release, unwrap. Holds what the release needs (identity,
/// certificate cache, HTTP settings); the call itself is connected when the library lands.
#[derive(Debug)]
pub struct SecureKeyRelease {
    /// `azure_info` from the input: identity and certificate cache.
    pub azure_info: AzureInfo,
    /// HTTP settings (trusted roots, deadlines, retries) for MAA, Key Vault and IMDS.
    pub http: csc_azure::http::HttpConfig,
    /// IMDS base URL override (tests and emulators); `None` for the real IMDS.
    pub imds: Option<String>,
}

impl KeyRelease for SecureKeyRelease {
    fn release<'a>(&'a self, _key: &'a KeyBlob) -> ReleaseFuture<'a> {
        Box::pin(async { Err(ReleaseError::NotWired) })
    }
}

/// Why no key file could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The release failed.
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// An `oct` key of the wrong size (upstream passes on an empty key file here).
    #[error("the released oct key is {len} bytes; a filesystem key is exactly {KEY_FILE_LEN}")]
    OctLength {
        /// Its length.
        len: usize,
    },
    /// An RSA key released without `key_derivation` to derive the key file.
    #[error(
        "an RSA key was released but key_derivation is not given (required for RSA keys: salt, label)"
    )]
    NoDerivation,
    /// A key type that cannot make a key file.
    #[error("the released key is of type {kty}; only oct and RSA keys can key a filesystem")]
    Unsupported {
        /// The JWK `kty`.
        kty: String,
    },
    /// Something other than what `kty` declared was released.
    #[error("key.kty says {declared} but an {released} key was released")]
    Mismatch {
        /// The declared `kty`.
        declared: String,
        /// What came back.
        released: String,
    },
    /// An RSA key with an empty private exponent.
    #[error("the released RSA key has an empty private exponent")]
    EmptyExponent,
}

/// HKDF-SHA256 of `d` (leading zeros stripped) with the derivation's salt and label.
pub fn derive_from_rsa(d: &[u8], derivation: &Derivation) -> Result<KeyFile, KeyError> {
    let start = d
        .iter()
        .position(|b| *b != 0)
        .ok_or(KeyError::EmptyExponent)?;
    let ikm = d.get(start..).ok_or(KeyError::EmptyExponent)?;
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(&derivation.salt), ikm);
    let mut okm = Zeroizing::new(vec![0u8; KEY_FILE_LEN]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
    hk.expand(derivation.label.as_bytes(), &mut okm)
        .map_err(|_| KeyError::EmptyExponent)?;
    Ok(KeyFile(okm))
}

/// The key file from a released key, as upstream makes it (with its silent failures made
/// errors).
pub fn key_file_from_release(
    released: ReleasedKey,
    declared_kty: &str,
    kty: KeyType,
    derivation: Option<&Derivation>,
) -> Result<KeyFile, KeyError> {
    let mismatch = matches!(
        (&released, kty),
        (ReleasedKey::Oct(_), KeyType::Rsa) | (ReleasedKey::Rsa { .. }, KeyType::Oct)
    );
    if mismatch {
        return Err(KeyError::Mismatch {
            declared: declared_kty.to_string(),
            released: released.kind().to_string(),
        });
    }
    match released {
        ReleasedKey::Oct(k) if k.len() == KEY_FILE_LEN => Ok(KeyFile(k)),
        ReleasedKey::Oct(k) => Err(KeyError::OctLength { len: k.len() }),
        ReleasedKey::Rsa { d } => derive_from_rsa(&d, derivation.ok_or(KeyError::NoDerivation)?),
        ReleasedKey::Other { kty } => Err(KeyError::Unsupported { kty }),
    }
}

/// The key file for one filesystem: the raw key, or a release driven on `rt`.
pub fn key_file(
    spec: &KeySpec,
    releaser: &dyn KeyRelease,
    rt: &tokio::runtime::Handle,
) -> Result<KeyFile, KeyError> {
    match spec {
        KeySpec::Raw(bytes) => Ok(KeyFile(bytes.clone().into_zeroizing())),
        KeySpec::Release {
            key,
            kty,
            derivation,
        } => {
            let released = rt.block_on(releaser.release(key))?;
            key_file_from_release(released, &key.kty, *kty, derivation.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Expected values from an independent HKDF (Python's hmac module, RFC 5869 steps).
    #[test]
    fn rsa_keys_derive_as_upstream() {
        let d: Vec<u8> = (1u8..200).collect();
        let with_zeros: Vec<u8> = [0u8, 0].iter().copied().chain(d.iter().copied()).collect();
        let upstream_default = Derivation {
            salt: hex("92a631a6d0f6e4b2"),
            label: crate::input::validate::DEFAULT_LABEL.into(),
        };
        let want = hex("a9ce6e9d3770acf5d5fdaafb80bafe06e25540eda2d7a52bf4ab2ee2ff36a275");
        for ikm in [&d, &with_zeros] {
            let hk = derive_from_rsa(ikm, &upstream_default).unwrap();
            assert_eq!(csc_mount_bytes(&hk), want);
        }
        let empty_salt = Derivation {
            salt: vec![],
            label: "my label".into(),
        };
        assert_eq!(
            csc_mount_bytes(&derive_from_rsa(&d, &empty_salt).unwrap()),
            hex("dd2fd46f3d89a1d3cb7c40ae52e87f6b19ab1af395f0bcad48043a1ba14f36c4")
        );
        assert!(matches!(
            derive_from_rsa(&[0, 0], &empty_salt),
            Err(KeyError::EmptyExponent)
        ));
    }

    fn csc_mount_bytes(k: &KeyFile) -> Vec<u8> {
        k.expose().to_vec()
    }

    #[test]
    fn released_keys_become_key_files_or_clear_errors() {
        let k32 = Zeroizing::new(vec![7u8; 32]);
        let p =
            key_file_from_release(ReleasedKey::Oct(k32), "oct-HSM", KeyType::Oct, None).unwrap();
        assert_eq!(csc_mount_bytes(&p), vec![7u8; 32]);
        let e = key_file_from_release(
            ReleasedKey::Oct(Zeroizing::new(vec![1; 16])),
            "",
            KeyType::Unspecified,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the released oct key is 16 bytes; a filesystem key is exactly 32"
        );
        let e = key_file_from_release(
            ReleasedKey::Rsa {
                d: Zeroizing::new(vec![1; 256]),
            },
            "",
            KeyType::Unspecified,
            None,
        )
        .unwrap_err();
        assert!(matches!(e, KeyError::NoDerivation), "{e}");
        let e = key_file_from_release(
            ReleasedKey::Rsa {
                d: Zeroizing::new(vec![1; 256]),
            },
            "oct-HSM",
            KeyType::Oct,
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "key.kty says oct-HSM but an RSA key was released"
        );
        let e = key_file_from_release(
            ReleasedKey::Other { kty: "EC".into() },
            "",
            KeyType::Unspecified,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("type EC"), "{e}");
    }

    #[test]
    fn released_keys_never_show_in_debug() {
        let k = ReleasedKey::Oct(Zeroizing::new(vec![0xab; 32]));
        assert_eq!(format!("{k:?}"), "ReleasedKey::Oct(32 bytes, redacted)");
    }

    /// Secure key release is not connected yet: it must fail and say so, never produce a key.
    #[test]
    fn secure_key_release_is_not_wired_yet() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let skr = SecureKeyRelease {
            azure_info: AzureInfo::default(),
            http: csc_azure::http::HttpConfig::default(),
            imds: None,
        };
        let spec = KeySpec::Release {
            key: Box::new(KeyBlob {
                kid: "k".into(),
                ..KeyBlob::default()
            }),
            kty: KeyType::Oct,
            derivation: None,
        };
        let e = key_file(&spec, &skr, rt.handle()).unwrap_err();
        assert!(matches!(e, KeyError::Release(ReleaseError::NotWired)));
        assert_eq!(
            e.to_string(),
            "secure key release is not wired yet; use raw_key for testing"
        );
    }
}
