//! The simulated host's UVM endorsement: what ACI hands a container group as
//! `reference-info-base64`, a COSE_Sign1 over `{"x-ms-sevsnpvm-guestsvn",
//! "x-ms-sevsnpvm-launchmeasurement"}` that lets MAA vouch for the utility VM
//! (`x-ms-compliance-status`). ACI's is signed by Microsoft (PS384, a did:x509 issuer, feed
//! `ContainerPlat-AMD-UVM`); this one by a P-384 key of the simulated platform's key cache
//! (ES384), whose self-signed certificate a verifier pins ([`UvmSigner::cert_der`]).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use ciborium::Value;
use csc_core::abi::size;
use csc_core::hex::Hex;

use crate::cache::KeyCache;
use crate::error::SimError;

/// COSE header label of the algorithm.
pub const LABEL_ALG: i64 = 1;
/// COSE header label of the content type.
pub const LABEL_CONTENT_TYPE: i64 = 3;
/// COSE header label of the certificate chain (`x5chain`).
pub const LABEL_X5CHAIN: i64 = 33;
/// COSE algorithm ES384 (ECDSA P-384 with SHA-384, r || s).
pub const ALG_ES384: i64 = -35;
/// COSE algorithm PS384 (RSASSA-PSS with SHA-384), what ACI's endorsements use.
pub const ALG_PS384: i64 = -38;
/// CBOR tag of COSE_Sign1.
pub const TAG_COSE_SIGN1: u64 = 18;
/// The feed ACI's UVM endorsements name.
pub const FEED: &str = "ContainerPlat-AMD-UVM";

const KEY_FILE: &str = "uvm-signer-p384.pk8";
const CERT_FILE: &str = "uvm-signer.der";

/// The simulated UVM endorsement signer (key and certificate kept in the key cache, so that
/// every process using the cache signs with the same identity).
pub struct UvmSigner {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for UvmSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "UvmSigner(P-384, {} byte certificate)",
            self.cert_der.len()
        )
    }
}

/// Sig_structure for COSE_Sign1 (RFC 9052 section 4.4), CBOR-encoded.
pub fn sig_structure(protected: &[u8], payload: &[u8]) -> Result<Vec<u8>, String> {
    let v = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&v, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

impl UvmSigner {
    /// The signer of `cache` (made on first use).
    pub fn open(cache: &KeyCache) -> Result<UvmSigner, SimError> {
        let pkcs8 = cache.get_or_create(KEY_FILE, || {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &SystemRandom::new())
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| SimError::Crypto("UVM signer key generation"))
        })?;
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &pkcs8).map_err(|_| {
                SimError::CorruptCache {
                    path: cache.dir().join(KEY_FILE),
                    what: "UVM signer key",
                }
            })?;
        let cert = cache.get_or_create(CERT_FILE, || self_signed(&pkcs8))?;
        Ok(UvmSigner {
            key,
            cert_der: cert.to_vec(),
        })
    }

    /// The signer's certificate (DER): what a verifier pins.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// A COSE_Sign1 endorsement of a UVM with this launch measurement and guest SVN.
    pub fn endorse(
        &self,
        measurement: &[u8; size::MEASUREMENT],
        guest_svn: u32,
    ) -> Result<Vec<u8>, SimError> {
        let err = |_| SimError::Crypto("UVM endorsement encoding");
        let payload = serde_json::json!({
            "x-ms-sevsnpvm-guestsvn": guest_svn.to_string(),
            "x-ms-sevsnpvm-launchmeasurement": Hex(measurement).to_string(),
        })
        .to_string()
        .into_bytes();
        let protected = Value::Map(vec![
            (
                Value::Integer(LABEL_ALG.into()),
                Value::Integer(ALG_ES384.into()),
            ),
            (
                Value::Integer(LABEL_CONTENT_TYPE.into()),
                Value::Text("application/json".into()),
            ),
            (
                Value::Integer(LABEL_X5CHAIN.into()),
                Value::Array(vec![Value::Bytes(self.cert_der.clone())]),
            ),
            (
                Value::Text("iss".into()),
                Value::Text("did:x509:0:sha256:csc-simulate::subject:CN:SIMULATED".into()),
            ),
            (Value::Text("feed".into()), Value::Text(FEED.into())),
        ]);
        let mut protected_bytes = Vec::new();
        ciborium::into_writer(&protected, &mut protected_bytes).map_err(err)?;
        let to_sign = sig_structure(&protected_bytes, &payload)
            .map_err(|_| SimError::Crypto("UVM endorsement encoding"))?;
        let sig = self
            .key
            .sign(&SystemRandom::new(), &to_sign)
            .map_err(|_| SimError::Crypto("UVM endorsement signature"))?;
        let cose = Value::Tag(
            TAG_COSE_SIGN1,
            Box::new(Value::Array(vec![
                Value::Bytes(protected_bytes),
                Value::Map(Vec::new()),
                Value::Bytes(payload),
                Value::Bytes(sig.as_ref().to_vec()),
            ])),
        );
        let mut out = Vec::new();
        ciborium::into_writer(&cose, &mut out).map_err(err)?;
        Ok(out)
    }

    /// The public key as an uncompressed point.
    pub fn public_point(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }
}

fn self_signed(pkcs8: &[u8]) -> Result<Vec<u8>, SimError> {
    let key = rcgen::KeyPair::try_from(pkcs8).map_err(|_| SimError::Crypto("UVM signer key"))?;
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name.push(
        rcgen::DnType::CommonName,
        "csc-simulate UVM endorsement signer (SIMULATED)",
    );
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2049, 1, 1);
    let cert = p
        .self_signed(&key)
        .map_err(|_| SimError::Crypto("UVM signer certificate"))?;
    Ok(cert.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endorsement_is_a_tagged_cose_sign1_that_verifies() {
        let dir = std::env::temp_dir().join(format!("csc-uvm-signer-{}", std::process::id()));
        let cache = KeyCache::open(&dir).unwrap();
        let signer = UvmSigner::open(&cache).unwrap();
        let again = UvmSigner::open(&cache).unwrap();
        assert_eq!(signer.cert_der(), again.cert_der(), "stable across opens");
        let m = [7u8; size::MEASUREMENT];
        let cose = signer.endorse(&m, 101).unwrap();
        let v: Value = ciborium::from_reader(&cose[..]).unwrap();
        let Value::Tag(TAG_COSE_SIGN1, inner) = v else {
            panic!("not tagged")
        };
        let Value::Array(parts) = *inner else {
            panic!("not an array")
        };
        let (Value::Bytes(prot), Value::Bytes(payload), Value::Bytes(sig)) =
            (&parts[0], &parts[2], &parts[3])
        else {
            panic!("bad parts")
        };
        let p: serde_json::Value = serde_json::from_slice(payload).unwrap();
        assert_eq!(p["x-ms-sevsnpvm-launchmeasurement"], Hex(&m).to_string());
        let msg = sig_structure(prot, payload).unwrap();
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED,
            signer.public_point(),
        )
        .verify(&msg, sig)
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
