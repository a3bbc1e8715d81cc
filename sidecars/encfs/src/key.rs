//! The key file of each filesystem, as upstream's `remotefs` makes it:
//!
//! - `raw_key` (testing): the hex-decoded bytes are the key file;
//! - otherwise the key is released ([`KeyRelease`]) and the key file is the released `oct`
//!   key, which must be exactly 32 bytes, or, for an `RSA` key, 32 bytes of HKDF-SHA256 with
//!   the private exponent `d` (big-endian, no leading zeros) as input key material,
//!   `key_derivation.salt` as salt and `key_derivation.label` (default
//!   `Symmetric Encryption Key`) as info: the core's derivation
//!   ([`csc_core::keywrap::hkdf`]), which importkey's `-out` uses too.
//!
//! The key file is the LUKS2 passphrase (as `cryptsetup --key-file`). It is held in memory
//! only, never written to disk (upstream writes it to a 0644 temporary file).
//!
//! Secure key release itself (report -> MAA -> Key Vault -> unwrap) lives in the shared
//! release library; [`SecureKeyRelease`] is where it is connected.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use csc_core::keywrap::hkdf::{self, DeriveError};
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
    /// The release failed (message from the release library, free of secrets; it names the
    /// step: platform, local verification, certificates, MAA, Key Vault, unwrap).
    #[error("secure key release failed: {0}")]
    Failed(String),
    /// The released JWK could not be read.
    #[error("the released key is not a usable JWK: {0}")]
    Jwk(String),
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

/// A base64url JWK member, decoded into zeroized memory.
fn jwk_bytes(json: &str, name: &str) -> Result<Zeroizing<Vec<u8>>, ReleaseError> {
    let v = csc_core::json::get(json, name)
        .map_err(|e| ReleaseError::Jwk(e.to_string()))?
        .ok_or_else(|| ReleaseError::Jwk(format!("no member {name:?}")))?;
    let text = v
        .as_str()
        .and_then(|s| s.as_plain())
        .ok_or_else(|| ReleaseError::Jwk(format!("member {name:?} is not plain base64url text")))?;
    let mut out = Zeroizing::new(vec![0u8; text.len() / 4 * 3 + 3]);
    let n = csc_core::base64::decode_into(text.as_bytes(), &mut out)
        .map_err(|e| ReleaseError::Jwk(format!("member {name:?}: {e}")))?;
    out.truncate(n);
    Ok(out)
}

/// What a key file is made from, out of a released JWK's JSON text: `k` of an `oct` /
/// `oct-HSM` key, `d` of an `RSA` / `RSA-HSM` key.
pub fn released_key_from_jwk(json: &str) -> Result<ReleasedKey, ReleaseError> {
    let kty = csc_core::json::get(json, "kty")
        .map_err(|e| ReleaseError::Jwk(e.to_string()))?
        .and_then(|v| v.as_str().and_then(|s| s.as_plain()))
        .ok_or_else(|| ReleaseError::Jwk("no kty".into()))?;
    match kty {
        "oct" | "oct-HSM" => Ok(ReleasedKey::Oct(jwk_bytes(json, "k")?)),
        "RSA" | "RSA-HSM" => Ok(ReleasedKey::Rsa {
            d: jwk_bytes(json, "d")?,
        }),
        other => Ok(ReleasedKey::Other {
            kty: other.chars().take(32).collect(),
        }),
    }
}

/// Secure key release through the shared release flow ([`csc_release::Releaser`]):
/// attestation report, local verification, MAA token, Key Vault / managed HSM release,
/// unwrap. The releaser is built on first use (inputs with raw keys only never touch the
/// platform) and shared by every filesystem.
pub struct SecureKeyRelease {
    config: Mutex<Option<csc_release::ReleaseConfig>>,
    releaser: Mutex<Option<Arc<csc_release::Releaser>>>,
}

impl fmt::Debug for SecureKeyRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let built = self.releaser.lock().map(|r| r.is_some()).unwrap_or(false);
        f.debug_struct("SecureKeyRelease")
            .field("built", &built)
            .finish_non_exhaustive()
    }
}

impl SecureKeyRelease {
    /// A releaser built from `config` when the first key is released.
    pub fn new(config: csc_release::ReleaseConfig) -> Self {
        Self {
            config: Mutex::new(Some(config)),
            releaser: Mutex::new(None),
        }
    }

    /// Over an existing releaser.
    pub fn from_releaser(releaser: Arc<csc_release::Releaser>) -> Self {
        Self {
            config: Mutex::new(None),
            releaser: Mutex::new(Some(releaser)),
        }
    }

    /// Called inside the runtime (the HTTP client needs it).
    fn releaser(&self) -> Result<Arc<csc_release::Releaser>, ReleaseError> {
        let mut slot = self
            .releaser
            .lock()
            .map_err(|_| ReleaseError::Failed("releaser lock poisoned".into()))?;
        if let Some(r) = slot.as_ref() {
            return Ok(r.clone());
        }
        let config = self
            .config
            .lock()
            .map_err(|_| ReleaseError::Failed("releaser lock poisoned".into()))?
            .take()
            .ok_or_else(|| {
                ReleaseError::Failed("setting up the release flow failed before".into())
            })?;
        let (_, releaser) =
            csc_release::build(config).map_err(|e| ReleaseError::Failed(e.to_string()))?;
        let releaser = Arc::new(releaser);
        *slot = Some(releaser.clone());
        Ok(releaser)
    }
}

/// The request for `key`: its MAA and Key Vault endpoints, kid and optional bearer token.
pub fn key_request(key: &KeyBlob) -> csc_release::KeyRequest {
    csc_release::KeyRequest {
        maa_endpoint: key.authority.endpoint.clone(),
        akv_endpoint: key.akv.endpoint.clone(),
        kid: key.kid.clone(),
        access_token: Some(&key.akv.bearer_token)
            .filter(|t| !t.is_empty())
            .map(|t| csc_azure::secret::SecretString::new(t.expose().to_string())),
    }
}

impl KeyRelease for SecureKeyRelease {
    fn release<'a>(&'a self, key: &'a KeyBlob) -> ReleaseFuture<'a> {
        Box::pin(async move {
            let releaser = self.releaser()?;
            let jwk = releaser
                .release(&key_request(key))
                .await
                .map_err(|e| ReleaseError::Failed(e.to_string()))?;
            released_key_from_jwk(jwk.json())
        })
    }
}

/// The UVM security context upstream reads from `UVM_SECURITY_CONTEXT_DIR`: the security
/// policy, the UVM endorsement and the host's AMD certificates (each base64 in its file).
/// Missing files give empty values (the release then fails where they are needed, naming it).
pub fn uvm_info_from_env() -> csc_release::UvmInfo {
    let mut info = csc_release::UvmInfo::default();
    let Some(dir) = std::env::var_os("UVM_SECURITY_CONTEXT_DIR") else {
        return info;
    };
    let dir = std::path::PathBuf::from(dir);
    let read = |name: &str| -> Option<(String, Vec<u8>)> {
        let text = std::fs::read_to_string(dir.join(name)).ok()?;
        let text = text.trim().to_string();
        let mut out = vec![0u8; text.len() / 4 * 3 + 3];
        let n = csc_core::base64::decode_into(text.as_bytes(), &mut out).ok()?;
        out.truncate(n);
        Some((text, out))
    };
    if let Some((_, policy)) = read("security-policy-base64") {
        info.security_policy = policy;
    }
    if let Some((text, bytes)) = read("reference-info-base64") {
        info.reference_info = bytes;
        info.reference_info_base64 = text;
    }
    if let Some((_, json)) = read("host-amd-cert-base64") {
        info.host_certs = csc_azure::certs::ThimCerts::from_json(&json).ok();
    }
    info
}

/// The release configuration for `azure_info` on a real platform: certificates from
/// `certcache` (upstream's default: THIM), tokens from the managed identity (`imds` overrides
/// IMDS's base URL) or workload identity, reports checked against AMD's roots.
pub fn release_config(
    azure_info: &AzureInfo,
    http: csc_azure::http::HttpConfig,
    imds: Option<&str>,
) -> csc_release::ReleaseConfig {
    use csc_azure::certs::CertSource;
    use csc_azure::identity::Credential;
    let c = &azure_info.certcache;
    // The input was validated (endpoint_type is one of upstream's); THIM is upstream's default.
    let cert_source = CertSource::from_certcache(
        &c.endpoint_type,
        &c.endpoint,
        &c.tee_type,
        &c.api_version,
        &c.client_id,
    )
    .unwrap_or_else(|_| CertSource::local_thim());
    let client_id = Some(azure_info.identity.client_id.clone()).filter(|c| !c.is_empty());
    let credential = match imds {
        Some(base) => Credential::ManagedIdentity {
            base_url: base.to_string(),
            client_id,
        },
        None => Credential::from_env_or_managed_identity(client_id),
    };
    csc_release::ReleaseConfig {
        cert_source,
        uvm: uvm_info_from_env(),
        http,
        credential,
        ..csc_release::ReleaseConfig::default()
    }
}

/// `config` with reports checked against the ARK in `path` (`-trust-ark`, for test
/// deployments against tsm-simulate) instead of AMD's roots; unchanged without a path.
pub fn with_trusted_ark(
    mut config: csc_release::ReleaseConfig,
    path: Option<&std::path::Path>,
) -> Result<csc_release::ReleaseConfig, crate::error::Error> {
    if let Some(p) = path {
        config.trust = csc_release::Trust::from_ark_file(p)
            .map_err(|e| crate::error::Error::Usage(format!("-trust-ark: {e}")))?;
        tracing::warn!(
            "-trust-ark: reports are checked against the ARK in {}, not AMD's roots; use this only with a simulated guest",
            p.display()
        );
    }
    Ok(config)
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
    /// An RSA key with an empty (or zero) private exponent.
    #[error("the released RSA key has an empty private exponent")]
    EmptyExponent,
    /// The derivation's parameters were refused (the input check lets none through).
    #[error("deriving the key file: {0}")]
    Derivation(DeriveError),
}

/// HKDF-SHA256 of `d` (leading zeros stripped) with the derivation's salt and label: the
/// core's derivation.
pub fn derive_from_rsa(d: &[u8], derivation: &Derivation) -> Result<KeyFile, KeyError> {
    let key =
        hkdf::derive_key(d, &derivation.salt_hex, &derivation.label).map_err(|e| match e {
            DeriveError::ZeroExponent => KeyError::EmptyExponent,
            other => KeyError::Derivation(other),
        })?;
    Ok(KeyFile(Zeroizing::new(key.as_bytes().to_vec())))
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
        csc_core::hex::decode_array::<32>(s.as_bytes())
            .unwrap()
            .to_vec()
    }

    /// Expected values from an independent HKDF (Python's hmac module, RFC 5869 steps).
    #[test]
    fn rsa_keys_derive_as_upstream() {
        let d: Vec<u8> = (1u8..200).collect();
        let with_zeros: Vec<u8> = [0u8, 0].iter().copied().chain(d.iter().copied()).collect();
        let upstream_default = Derivation {
            salt_hex: "92a631a6d0f6e4b2".into(),
            label: crate::input::plan::DEFAULT_LABEL.into(),
        };
        let want = hex("a9ce6e9d3770acf5d5fdaafb80bafe06e25540eda2d7a52bf4ab2ee2ff36a275");
        for ikm in [&d, &with_zeros] {
            let hk = derive_from_rsa(ikm, &upstream_default).unwrap();
            assert_eq!(csc_mount_bytes(&hk), want);
        }
        let empty_salt = Derivation {
            salt_hex: String::new(),
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

    #[test]
    fn released_jwks_give_the_key_material() {
        let oct = r#"{"kty":"oct-HSM","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","key_ops":["encrypt"]}"#;
        let ReleasedKey::Oct(k) = released_key_from_jwk(oct).unwrap() else {
            panic!()
        };
        assert_eq!(&k[..], &(0u8..32).collect::<Vec<_>>()[..]);
        let rsa = r#"{"kty":"RSA","n":"AQAB","e":"AQAB","d":"_wABAg"}"#;
        let ReleasedKey::Rsa { d } = released_key_from_jwk(rsa).unwrap() else {
            panic!()
        };
        assert_eq!(&d[..], &[0xff, 0, 1, 2]);
        assert!(matches!(
            released_key_from_jwk(r#"{"kty":"EC","d":"AA"}"#).unwrap(),
            ReleasedKey::Other { kty } if kty == "EC"
        ));
        for bad in [
            r#"{"k":"AA"}"#,
            r#"{"kty":"oct"}"#,
            r#"{"kty":"RSA","d":"!!"}"#,
            r#"{"kty":"oct","k":7}"#,
            "not json",
        ] {
            let e = released_key_from_jwk(bad).unwrap_err();
            assert!(matches!(e, ReleaseError::Jwk(_)), "{bad}: {e}");
        }
    }

    #[test]
    fn key_requests_carry_endpoints_kid_and_only_a_given_token() {
        let mut key = KeyBlob {
            kid: "fs-key".into(),
            ..KeyBlob::default()
        };
        key.authority.endpoint = "maa.example".into();
        key.akv.endpoint = "hsm.example".into();
        let r = key_request(&key);
        assert_eq!(
            (
                r.maa_endpoint.as_str(),
                r.akv_endpoint.as_str(),
                r.kid.as_str()
            ),
            ("maa.example", "hsm.example", "fs-key")
        );
        assert!(r.access_token.is_none());
        key.akv.bearer_token = crate::input::Secret::new("tok".into());
        assert!(key_request(&key).access_token.is_some());
        assert!(!format!("{:?}", key_request(&key)).contains("tok\""));
    }

    #[test]
    fn release_configs_follow_certcache() {
        use csc_azure::certs::CertSource;
        let mut info = AzureInfo::default();
        let c = release_config(&info, csc_azure::http::HttpConfig::default(), None);
        assert_eq!(c.cert_source, CertSource::local_thim());
        // LocalTHIM honours its endpoint (a simulated run must never reach 169.254.169.254).
        info.certcache.endpoint_type = "LocalTHIM".into();
        info.certcache.endpoint = "https://127.0.0.1:8443/metadata/THIM/amd/certification".into();
        let c = release_config(&info, csc_azure::http::HttpConfig::default(), None);
        assert_eq!(
            c.cert_source,
            CertSource::LocalThim {
                url: "https://127.0.0.1:8443/metadata/THIM/amd/certification".into()
            }
        );
        info.certcache.endpoint_type = "AzCache".into();
        info.certcache.endpoint = "americas.acccache.azure.net".into();
        let c = release_config(
            &info,
            csc_azure::http::HttpConfig::default(),
            Some("http://imds"),
        );
        let CertSource::AzCache { base, tee_type, .. } = c.cert_source else {
            panic!()
        };
        assert_eq!(base, "https://americas.acccache.azure.net");
        assert_eq!(tee_type, "SevSnpVM");
        info.certcache.endpoint_type = "AMD".into();
        info.certcache.endpoint = String::new();
        let c = release_config(&info, csc_azure::http::HttpConfig::default(), None);
        assert!(
            matches!(c.cert_source, CertSource::Amd { base } if base.contains("kdsintf.amd.com"))
        );
    }
}
