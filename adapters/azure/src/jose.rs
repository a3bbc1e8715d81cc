//! The small part of JOSE the clients need: compact JWS/JWT splitting, base64url, and signature
//! checks where the algorithm is chosen by the verifier, never by the token's header.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

/// Base64 text that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad {alphabet}: {reason}")]
pub struct Base64Error {
    /// `base64url` or `base64`.
    pub alphabet: &'static str,
    /// What the decoder said.
    pub reason: String,
}

/// Why a compact JWS was refused: its shape, its algorithm, or its signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// Not three dot-separated parts.
    #[error("expected 3 dot-separated parts, found {found}")]
    Parts {
        /// How many parts there were.
        found: usize,
    },
    /// A part is not base64url.
    #[error("{part}: {source}")]
    Encoding {
        /// `header`, `payload` or `signature`.
        part: &'static str,
        /// The decoding failure.
        #[source]
        source: Base64Error,
    },
    /// The header is not JSON.
    #[error("header JSON: {0}")]
    HeaderJson(String),
    /// The header is JSON but not an object.
    #[error("header is not a JSON object")]
    HeaderNotObject,
    /// The signature part is empty.
    #[error("empty signature")]
    EmptySignature,
    /// The header names no algorithm.
    #[error("header has no alg")]
    NoAlgorithm,
    /// The header names an algorithm the verifier does not accept.
    #[error("algorithm {alg:?} is not one of the accepted {accepted:?}")]
    Algorithm {
        /// The header's `alg`.
        alg: String,
        /// What the verifier accepts.
        accepted: Vec<&'static str>,
    },
    /// The payload is not JSON.
    #[error("payload JSON: {0}")]
    PayloadJson(String),
    /// The payload is JSON but not an object.
    #[error("payload is not a JSON object")]
    PayloadNotObject,
    /// The signing certificate cannot be read.
    #[error("certificate: {0}")]
    Certificate(String),
    /// No key of the signer's key set has the `kid` the header names.
    #[error("no signing key with kid {kid:?}")]
    UnknownKid {
        /// The header's `kid` (empty when it has none).
        kid: String,
    },
    /// No signing keys are known yet.
    #[error("no keys yet")]
    NoKeys,
    /// The signature does not verify with the key.
    #[error("signature does not verify ({alg}){}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Signature {
        /// The algorithm it was checked with.
        alg: &'static str,
        /// What the verifier said, when it says more than "no".
        reason: Option<String>,
    },
}

/// JWS signature algorithms this crate can verify (all RSA: what MAA and Key Vault use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwsAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
}

impl JwsAlgorithm {
    /// The JOSE name (`RS256`...).
    pub const fn name(self) -> &'static str {
        match self {
            JwsAlgorithm::Rs256 => "RS256",
            JwsAlgorithm::Rs384 => "RS384",
            JwsAlgorithm::Rs512 => "RS512",
            JwsAlgorithm::Ps256 => "PS256",
            JwsAlgorithm::Ps384 => "PS384",
            JwsAlgorithm::Ps512 => "PS512",
        }
    }

    /// Looks up a JOSE name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            JwsAlgorithm::Rs256,
            JwsAlgorithm::Rs384,
            JwsAlgorithm::Rs512,
            JwsAlgorithm::Ps256,
            JwsAlgorithm::Ps384,
            JwsAlgorithm::Ps512,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    fn webpki(self) -> &'static dyn rustls_pki_types::SignatureVerificationAlgorithm {
        use webpki::aws_lc_rs as w;
        match self {
            JwsAlgorithm::Rs256 => w::RSA_PKCS1_2048_8192_SHA256,
            JwsAlgorithm::Rs384 => w::RSA_PKCS1_2048_8192_SHA384,
            JwsAlgorithm::Rs512 => w::RSA_PKCS1_2048_8192_SHA512,
            JwsAlgorithm::Ps256 => w::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            JwsAlgorithm::Ps384 => w::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
            JwsAlgorithm::Ps512 => w::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        }
    }

    fn aws_lc_rsa_parameters(self) -> &'static aws_lc_rs::signature::RsaParameters {
        use aws_lc_rs::signature as s;
        match self {
            JwsAlgorithm::Rs256 => &s::RSA_PKCS1_2048_8192_SHA256,
            JwsAlgorithm::Rs384 => &s::RSA_PKCS1_2048_8192_SHA384,
            JwsAlgorithm::Rs512 => &s::RSA_PKCS1_2048_8192_SHA512,
            JwsAlgorithm::Ps256 => &s::RSA_PSS_2048_8192_SHA256,
            JwsAlgorithm::Ps384 => &s::RSA_PSS_2048_8192_SHA384,
            JwsAlgorithm::Ps512 => &s::RSA_PSS_2048_8192_SHA512,
        }
    }
}

/// A compact JWS (or JWT) split into its parts; nothing is verified yet.
#[derive(Debug, Clone)]
pub struct Compact {
    /// The decoded protected header.
    pub header: Value,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// `base64url(header) "." base64url(payload)`: the bytes that are signed.
    pub signing_input: String,
}

impl Compact {
    /// Splits and decodes a compact serialisation: exactly three base64url parts, a JSON
    /// object header.
    pub fn parse(token: &str) -> Result<Self, JoseError> {
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JoseError::Parts {
                found: token.split('.').count(),
            });
        };
        let part = |part: &'static str, text: &str| {
            b64url(text).map_err(|source| JoseError::Encoding { part, source })
        };
        let header_bytes = part("header", h)?;
        let header: Value = serde_json::from_slice(&header_bytes)
            .map_err(|e| JoseError::HeaderJson(e.to_string()))?;
        if !header.is_object() {
            return Err(JoseError::HeaderNotObject);
        }
        let payload = part("payload", p)?;
        let signature = part("signature", s)?;
        if signature.is_empty() {
            return Err(JoseError::EmptySignature);
        }
        Ok(Compact {
            header,
            payload,
            signature,
            signing_input: format!("{h}.{p}"),
        })
    }

    /// The header's `alg`, checked against the verifier's own list.
    pub fn algorithm(&self, allowed: &[JwsAlgorithm]) -> Result<JwsAlgorithm, JoseError> {
        let alg = self
            .header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(JoseError::NoAlgorithm)?;
        JwsAlgorithm::from_name(alg)
            .filter(|a| allowed.contains(a))
            .ok_or_else(|| JoseError::Algorithm {
                alg: alg.to_string(),
                accepted: allowed.iter().map(|a| a.name()).collect(),
            })
    }

    /// The payload as a JSON object.
    pub fn payload_json(&self) -> Result<serde_json::Map<String, Value>, JoseError> {
        match serde_json::from_slice(&self.payload) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => Err(JoseError::PayloadNotObject),
            Err(e) => Err(JoseError::PayloadJson(e.to_string())),
        }
    }

    /// Checks the signature with the public key of a DER certificate.
    pub fn verify_with_cert(&self, alg: JwsAlgorithm, cert_der: &[u8]) -> Result<(), JoseError> {
        let der = rustls_pki_types::CertificateDer::from(cert_der);
        let cert = webpki::EndEntityCert::try_from(&der)
            .map_err(|e| JoseError::Certificate(e.to_string()))?;
        cert.verify_signature(alg.webpki(), self.signing_input.as_bytes(), &self.signature)
            .map_err(|e| JoseError::Signature {
                alg: alg.name(),
                reason: Some(e.to_string()),
            })
    }

    /// Checks the signature with an RSA public key given as modulus and exponent (big-endian).
    pub fn verify_with_rsa(&self, alg: JwsAlgorithm, n: &[u8], e: &[u8]) -> Result<(), JoseError> {
        let key = aws_lc_rs::signature::RsaPublicKeyComponents { n, e };
        key.verify(
            alg.aws_lc_rsa_parameters(),
            self.signing_input.as_bytes(),
            &self.signature,
        )
        .map_err(|_| JoseError::Signature {
            alg: alg.name(),
            reason: None,
        })
    }
}

/// Decodes base64url with or without `=` padding.
pub fn b64url(text: &str) -> Result<Vec<u8>, Base64Error> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| Base64Error {
            alphabet: "base64url",
            reason: e.to_string(),
        })
}

/// Encodes base64url without padding.
pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes standard base64 (as in `x5c`), tolerating line breaks.
pub fn b64std(text: &str) -> Result<Vec<u8>, Base64Error> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).map_err(|e| Base64Error {
        alphabet: "base64",
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rejects_wrong_part_counts_and_bad_parts() {
        let err = |t: &str| Compact::parse(t).unwrap_err().to_string();
        assert!(err("a.b").contains("3 dot-separated"));
        assert!(err("a.b.c.d").contains("found 4"));
        assert!(err("!!.e30.AA").contains("header"));
        assert!(err("W10.e30.AA").contains("not a JSON object"));
        let ok = Compact::parse("eyJhbGciOiJSUzI1NiJ9.e30.AAAA").unwrap();
        assert_eq!(
            ok.algorithm(&[JwsAlgorithm::Rs256]).unwrap(),
            JwsAlgorithm::Rs256
        );
        assert!(ok.algorithm(&[JwsAlgorithm::Ps256]).is_err());
        let none = Compact::parse("eyJhbGciOiJub25lIn0.e30.AAAA").unwrap();
        assert!(
            none.algorithm(&[JwsAlgorithm::Rs256])
                .unwrap_err()
                .to_string()
                .contains("\"none\"")
        );
    }
}
