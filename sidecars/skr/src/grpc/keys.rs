//! The RSA-OAEP-SHA256 (MGF1-SHA256, empty label) wrap of the key provider: `WrapKey` and wrap
//! mode encrypt to a PEM public key named by `<keypath>-info.json`; `UnWrapKey` decrypts with
//! the RSA private key a release returned as JWK, with aws-lc-rs (the same backend as the HTTP
//! path's unwrap). The JWK text is read in place (the core's borrowing JSON reader); its
//! private members are decoded only into zeroizing buffers, never into a JSON tree.

use std::path::Path;

use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};
use csc_core::json::{self, Value};
use csc_core::rsa::oaep::{OaepDecrypt, OaepHash};
use csc_core::rsa::pkcs1::RsaPrivateKeyDer;
use csc_crypto::unwrap::AwsLcRsaKey;
use zeroize::Zeroizing;

use super::protocol::{Annotation, KeyInfo};

/// Largest key-info or public-key file read.
const MAX_KEY_FILE: u64 = 64 * 1024;
/// What upstream writes as `wrap_type`.
pub const WRAP_TYPE: &str = "rsa_3072";

/// Why a wrap or unwrap failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// A file of wrap mode could not be read.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// The public key is not a PEM RSA SubjectPublicKeyInfo.
    #[error("{path}: not a PEM RSA public key ({why})")]
    PublicKey {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// Encryption failed (data longer than the key allows).
    #[error("RSA-OAEP-SHA256 encryption failed: {0}")]
    Encrypt(String),
    /// The released key is not a usable RSA private key.
    #[error("the released key is not an RSA private key: {0}")]
    ReleasedKey(String),
    /// The wrapped data did not decrypt.
    #[error("unwrapping wrapped_data failed: {0}")]
    Decrypt(String),
}

fn read_limited(path: &Path) -> Result<Vec<u8>, KeyError> {
    use std::io::Read;
    let err = |why: String| KeyError::File {
        path: path.display().to_string(),
        why,
    };
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut out)
        .map_err(|e| err(e.to_string()))?;
    if out.len() as u64 > MAX_KEY_FILE {
        return Err(err(format!("larger than {MAX_KEY_FILE} bytes")));
    }
    Ok(out)
}

/// Encrypts `data` to the PEM SubjectPublicKeyInfo RSA key `pem`.
pub fn encrypt_to_pem(pem: &[u8], path: &str, data: &[u8]) -> Result<Vec<u8>, KeyError> {
    let bad = |why: String| KeyError::PublicKey {
        path: path.to_string(),
        why,
    };
    let mut der = vec![0u8; pem.len()];
    let der =
        csc_core::pem::decode_first(pem, "PUBLIC KEY", &mut der).map_err(|e| bad(e.to_string()))?;
    let key = PublicEncryptingKey::from_der(der).map_err(|e| bad(e.to_string()))?;
    let key = OaepPublicEncryptingKey::new(key).map_err(|e| bad(e.to_string()))?;
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(&OAEP_SHA256_MGF1SHA256, data, &mut out, None)
        .map_err(|_| {
            KeyError::Encrypt(format!(
                "{} bytes is more than this {}-bit key can wrap",
                data.len(),
                key.key_size_bits()
            ))
        })?
        .len();
    out.truncate(n);
    Ok(out)
}

/// Wraps `data` for the key described by `<key_path>-info.json` (upstream's `WrapKey` and
/// `-infile` mode): the annotation's `kid` is the key path's last component.
pub fn wrap_for_key_path(key_path: &str, data: &[u8]) -> Result<Annotation, KeyError> {
    let info_path = format!("{key_path}-info.json");
    let info_bytes = read_limited(Path::new(&info_path))?;
    let info = KeyInfo::parse(&info_bytes).map_err(|e| KeyError::File {
        path: info_path.clone(),
        why: format!("expected public_key_path, kms_endpoint, attester_endpoint: {e}"),
    })?;
    let pem = read_limited(Path::new(&info.public_key_path))?;
    let wrapped_data = encrypt_to_pem(&pem, &info.public_key_path, data)?;
    let kid = Path::new(key_path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Annotation {
        kid,
        wrapped_data,
        iv: Vec::new(),
        wrap_type: WRAP_TYPE.to_string(),
        kms_endpoint: info.kms_endpoint,
        attester_endpoint: info.attester_endpoint,
    })
}

/// A base64url member of the JWK object `jwk`, decoded into a zeroizing buffer.
fn jwk_member(jwk: &str, name: &'static str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let missing = || KeyError::ReleasedKey(format!("member {name} is missing or not a string"));
    let text = match json::get(jwk, name) {
        Ok(Some(Value::String(s))) => s.as_plain().ok_or_else(missing)?,
        Ok(_) => return Err(missing()),
        Err(e) => return Err(KeyError::ReleasedKey(e.to_string())),
    };
    let mut out = Zeroizing::new(vec![0u8; csc_core::base64::decoded_len_max(text.len())]);
    let n = csc_core::base64::decode_into(text.as_bytes(), &mut out)
        .map_err(|e| KeyError::ReleasedKey(format!("member {name}: {e}")))?;
    out.truncate(n);
    Ok(out)
}

/// Decrypts `ciphertext` with the RSA private key in the JWK text `jwk_json`.
pub fn decrypt_with_jwk(jwk_json: &str, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let jwk = match json::parse(jwk_json) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Err(KeyError::ReleasedKey("not a JSON object".into())),
        Err(e) => return Err(KeyError::ReleasedKey(e.to_string())),
    };
    let kty = match json::get(jwk, "kty") {
        Ok(Some(Value::String(s))) => s.as_plain().unwrap_or_default(),
        _ => "",
    };
    if !kty.starts_with("RSA") {
        return Err(KeyError::ReleasedKey(format!(
            "key type {kty:?}; the annotation's kid must name an RSA key"
        )));
    }
    let [n, e, d, p, q, dp, dq, qi] =
        ["n", "e", "d", "p", "q", "dp", "dq", "qi"].map(|m| jwk_member(jwk, m));
    let (n, e, d, p, q, dp, dq, qi) = (n?, e?, d?, p?, q?, dp?, dq?, qi?);
    let components = RsaPrivateKeyDer {
        n: &n,
        e: &e,
        d: &d,
        p: &p,
        q: &q,
        dp: &dp,
        dq: &dq,
        qinv: &qi,
    };
    let key = AwsLcRsaKey::from_components(&components)
        .map_err(|e| KeyError::ReleasedKey(e.to_string()))?;
    // aws-lc-rs blinds with its own generator; the seed only satisfies the trait.
    let seed = csc_crypto::unwrap::blinding_seed().map_err(|e| KeyError::Decrypt(e.to_string()))?;
    let mut out = Zeroizing::new(vec![0u8; key.modulus_len()]);
    let len = key
        .decrypt_oaep(OaepHash::Sha256, ciphertext, &seed, &mut out)
        .map_err(|e| KeyError::Decrypt(e.to_string()))?
        .len();
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;

    fn rsa_jwk(key: &csc_crypto::unwrap::AwsLcRsaKey) -> String {
        let der = key.to_pkcs8_der().unwrap();
        let mut out = vec![0u8; 8192];
        csc_core::jwk::render_released_key(csc_core::jwk::ReleasedKeyType::Rsa, &der, &[], &mut out)
            .unwrap()
            .to_string()
    }

    fn spki_pem(key: &csc_crypto::unwrap::AwsLcRsaKey) -> String {
        let der = key.to_pkcs8_der().unwrap();
        let private = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&der).unwrap();
        let spki = private.public_key().as_der().unwrap();
        csc_azure::certs::pem_encode("PUBLIC KEY", spki.as_ref())
    }

    #[test]
    fn wrap_mode_round_trip_through_released_jwk() {
        let key =
            csc_crypto::unwrap::AwsLcRsaKey::generate(csc_crypto::unwrap::RsaBits::B3072).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pub_path = dir.path().join("pub.pem");
        std::fs::write(&pub_path, spki_pem(&key)).unwrap();
        let key_path = dir.path().join("testkey000");
        let info = serde_json::json!({
            "public_key_path": pub_path.to_str().unwrap(),
            "kms_endpoint": "hsm.managedhsm.azure.net",
            "attester_endpoint": "sharedeus2.eus2.attest.azure.net",
        });
        std::fs::write(
            format!("{}-info.json", key_path.display()),
            info.to_string(),
        )
        .unwrap();
        let ann = wrap_for_key_path(key_path.to_str().unwrap(), b"layer key").unwrap();
        assert_eq!(ann.kid, "testkey000");
        assert_eq!(ann.wrap_type, WRAP_TYPE);
        assert_eq!(ann.wrapped_data.len(), 384);
        let plain = decrypt_with_jwk(&rsa_jwk(&key), &ann.wrapped_data).unwrap();
        assert_eq!(&plain[..], b"layer key");
        // Another key does not decrypt it.
        let other = csc_crypto::unwrap::AwsLcRsaKey::generate_ephemeral().unwrap();
        assert!(decrypt_with_jwk(&rsa_jwk(&other), &ann.wrapped_data).is_err());
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nokey");
        assert!(matches!(
            wrap_for_key_path(missing.to_str().unwrap(), b"x"),
            Err(KeyError::File { .. })
        ));
        assert!(matches!(
            encrypt_to_pem(b"not pem", "p", b"x"),
            Err(KeyError::PublicKey { .. })
        ));
        assert!(matches!(
            decrypt_with_jwk(r#"{"kty":"oct","k":"AAAA"}"#, &[0; 256]),
            Err(KeyError::ReleasedKey(_))
        ));
        assert!(matches!(
            decrypt_with_jwk(r#"{"kty":"RSA","n":"AQAB"}"#, &[0; 256]),
            Err(KeyError::ReleasedKey(_))
        ));
        assert!(decrypt_with_jwk("{", b"").is_err());
    }
}
