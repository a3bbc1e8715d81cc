//! Algorithm identifiers: the signature algorithms and public keys this crate verifies with.
//!
//! Certificates keep their AlgorithmIdentifier as read ([`AlgorithmId`]); what it means is
//! decided when a signature is checked ([`AlgorithmId::scheme`]), so a certificate with an
//! unknown algorithm still parses and the verifier can say exactly why it is not accepted.

use core::fmt;

use crate::der::{Reader, Tlv, tag};

/// Object identifiers (DER contents, without tag and length).
pub mod oid {
    /// rsaEncryption, 1.2.840.113549.1.1.1.
    pub const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    /// id-mgf1, 1.2.840.113549.1.1.8.
    pub const MGF1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08];
    /// id-RSASSA-PSS, 1.2.840.113549.1.1.10.
    pub const RSASSA_PSS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
    /// sha256WithRSAEncryption, 1.2.840.113549.1.1.11.
    pub const SHA256_WITH_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
    /// sha384WithRSAEncryption, 1.2.840.113549.1.1.12.
    pub const SHA384_WITH_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C];
    /// id-sha256, 2.16.840.1.101.3.4.2.1.
    pub const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    /// id-sha384, 2.16.840.1.101.3.4.2.2.
    pub const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    /// id-ecPublicKey, 1.2.840.10045.2.1.
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    /// secp384r1, 1.3.132.0.34.
    pub const SECP384R1: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
    /// ecdsa-with-SHA384, 1.2.840.10045.4.3.3.
    pub const ECDSA_WITH_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
    /// id-at-commonName, 2.5.4.3.
    pub const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
}

/// The RSASSA-PSS salt length AMD uses (and the only one accepted): the SHA-384 size.
pub const PSS_SALT_LEN: u64 = 48;

/// A signature scheme the verifier knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// RSASSA-PSS, SHA-384, MGF1 with SHA-384, 48-byte salt (AMD's ARK, ASK/ASVK, CRL).
    RsaPssSha384,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (web PKI, e.g. the managed-HSM TLS chain).
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsaPkcs1Sha384,
    /// ECDSA over P-384 with SHA-384 (the report signature).
    EcdsaP384Sha384,
}

impl SignatureScheme {
    /// A stable name for messages and JSON.
    pub const fn name(self) -> &'static str {
        match self {
            SignatureScheme::RsaPssSha384 => "RSASSA-PSS-SHA384",
            SignatureScheme::RsaPkcs1Sha256 => "RSASSA-PKCS1-v1_5-SHA256",
            SignatureScheme::RsaPkcs1Sha384 => "RSASSA-PKCS1-v1_5-SHA384",
            SignatureScheme::EcdsaP384Sha384 => "ECDSA-P384-SHA384",
        }
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an AlgorithmIdentifier is not one this crate verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// An algorithm OID this crate does not implement.
    Unsupported {
        /// Offset of the AlgorithmIdentifier.
        offset: usize,
    },
    /// RSASSA-PSS with other parameters than SHA-384, MGF1-SHA-384, salt 48, trailer 1.
    PssParameters {
        /// Offset of the parameters.
        offset: usize,
    },
    /// Parameters where the algorithm requires none (or NULL), or malformed parameters.
    Parameters {
        /// Offset of the AlgorithmIdentifier.
        offset: usize,
    },
}

impl fmt::Display for AlgorithmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AlgorithmError::Unsupported { offset } => {
                write!(f, "unsupported algorithm at byte {offset}")
            }
            AlgorithmError::PssParameters { offset } => write!(
                f,
                "RSASSA-PSS parameters at byte {offset} are not SHA-384 / MGF1-SHA-384 / salt 48"
            ),
            AlgorithmError::Parameters { offset } => {
                write!(f, "malformed algorithm parameters at byte {offset}")
            }
        }
    }
}

impl core::error::Error for AlgorithmError {}

/// An AlgorithmIdentifier as read: `SEQUENCE { OID, parameters ANY OPTIONAL }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmId<'a> {
    /// The whole DER element.
    pub raw: &'a [u8],
    /// The OID contents.
    pub oid: &'a [u8],
    /// The parameters, if present.
    pub params: Option<Tlv<'a>>,
    /// Offset of the element in the outermost input.
    pub offset: usize,
}

impl<'a> AlgorithmId<'a> {
    /// Reads one from its SEQUENCE.
    pub fn from_tlv(t: Tlv<'a>) -> Result<Self, crate::der::DerError> {
        let t = t.expect(tag::SEQUENCE)?;
        let mut r = t.contents();
        let oid = r.read(tag::OID)?.value;
        let params = if r.is_empty() {
            None
        } else {
            Some(r.read_any()?)
        };
        r.finish()?;
        Ok(AlgorithmId {
            raw: t.raw,
            oid,
            params,
            offset: t.offset,
        })
    }

    fn params_absent_or_null(&self) -> bool {
        match self.params {
            None => true,
            Some(p) => p.tag == tag::NULL && p.value.is_empty(),
        }
    }

    /// The signature scheme this identifier names, if it is one this crate verifies.
    pub fn scheme(&self) -> Result<SignatureScheme, AlgorithmError> {
        let offset = self.offset;
        let bad_params = AlgorithmError::Parameters { offset };
        if self.oid == oid::RSASSA_PSS {
            let params = self
                .params
                .ok_or(AlgorithmError::PssParameters { offset })?;
            return pss_params_are_amd(params).map(|()| SignatureScheme::RsaPssSha384);
        }
        let scheme = if self.oid == oid::SHA256_WITH_RSA {
            SignatureScheme::RsaPkcs1Sha256
        } else if self.oid == oid::SHA384_WITH_RSA {
            SignatureScheme::RsaPkcs1Sha384
        } else if self.oid == oid::ECDSA_WITH_SHA384 {
            // RFC 5758: the parameters field MUST be absent.
            return match self.params {
                None => Ok(SignatureScheme::EcdsaP384Sha384),
                Some(_) => Err(bad_params),
            };
        } else {
            return Err(AlgorithmError::Unsupported { offset });
        };
        // RFC 4055: NULL parameters for the PKCS#1 v1.5 identifiers (absent is tolerated).
        if self.params_absent_or_null() {
            Ok(scheme)
        } else {
            Err(bad_params)
        }
    }
}

/// A hash AlgorithmIdentifier must be SHA-384, with NULL or absent parameters.
fn is_sha384(t: Tlv<'_>) -> bool {
    AlgorithmId::from_tlv(t).is_ok_and(|a| a.oid == oid::SHA384 && a.params_absent_or_null())
}

/// Checks RSASSA-PSS-params (RFC 4055) for SHA-384, MGF1-SHA-384, salt 48 and trailer 1.
/// The defaults (SHA-1, salt 20) are not acceptable, so the first three fields must be present.
fn pss_params_are_amd(params: Tlv<'_>) -> Result<(), AlgorithmError> {
    let bad = AlgorithmError::PssParameters {
        offset: params.offset,
    };
    let check = || -> Option<()> {
        let seq = params.expect(tag::SEQUENCE).ok()?;
        let mut r = seq.contents();
        let hash = r.read(tag::context(0)).ok()?;
        let mut hr = hash.contents();
        (is_sha384(hr.read_any().ok()?) && hr.finish().is_ok()).then_some(())?;
        let mgf = r.read(tag::context(1)).ok()?;
        let mut mr = mgf.contents();
        let mgf_alg = AlgorithmId::from_tlv(mr.read_any().ok()?).ok()?;
        mr.finish().ok()?;
        (mgf_alg.oid == oid::MGF1).then_some(())?;
        is_sha384(mgf_alg.params?).then_some(())?;
        let salt = r.read(tag::context(2)).ok()?;
        let mut sr = salt.contents();
        (sr.read(tag::INTEGER).ok()?.u64().ok()? == PSS_SALT_LEN).then_some(())?;
        sr.finish().ok()?;
        // trailerField: DEFAULT 1; some AMD certificates spell the default out.
        if let Some(trailer) = r.read_optional(tag::context(3)).ok()? {
            let mut tr = trailer.contents();
            (tr.read(tag::INTEGER).ok()?.u64().ok()? == 1).then_some(())?;
            tr.finish().ok()?;
        }
        r.finish().ok()
    };
    check().ok_or(bad)
}

/// An RSA public key: big-endian modulus and exponent without sign bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsaPublicKey<'a> {
    /// The modulus n.
    pub modulus: &'a [u8],
    /// The public exponent e.
    pub exponent: &'a [u8],
}

/// Size of an uncompressed SEC1 P-384 point: `04 || X || Y`.
pub const P384_POINT_SIZE: usize = 97;

/// A subject public key this crate can verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKey<'a> {
    /// RSA (rsaEncryption, or id-RSASSA-PSS keys).
    Rsa(RsaPublicKey<'a>),
    /// An uncompressed P-384 point.
    EcP384(&'a [u8; P384_POINT_SIZE]),
    /// Any other key type, kept by its algorithm OID.
    Other {
        /// The algorithm OID contents.
        algorithm: &'a [u8],
    },
}

impl<'a> PublicKey<'a> {
    /// Reads a SubjectPublicKeyInfo. Known key types must be well formed; unknown ones are kept
    /// as [`PublicKey::Other`].
    pub fn from_spki(spki: Tlv<'a>) -> Result<Self, crate::der::DerError> {
        use crate::der::{DerError, DerErrorKind};
        let spki = spki.expect(tag::SEQUENCE)?;
        let mut r = spki.contents();
        let alg = AlgorithmId::from_tlv(r.read_any()?)?;
        let bits_tlv = r.read(tag::BIT_STRING)?;
        r.finish()?;
        let bits = bits_tlv.bit_string_bytes()?;
        let bad = DerError {
            kind: DerErrorKind::BadValue,
            offset: bits_tlv.offset,
        };
        if alg.oid == oid::RSA_ENCRYPTION || alg.oid == oid::RSASSA_PSS {
            let mut kr = Reader::new(bits);
            let seq = kr.read(tag::SEQUENCE).map_err(|_| bad)?;
            kr.finish().map_err(|_| bad)?;
            let mut sr = seq.contents();
            let modulus = sr.read(tag::INTEGER).and_then(|t| t.uint_be());
            let exponent = sr.read(tag::INTEGER).and_then(|t| t.uint_be());
            let (Ok(modulus), Ok(exponent), Ok(())) = (modulus, exponent, sr.finish()) else {
                return Err(bad);
            };
            return Ok(PublicKey::Rsa(RsaPublicKey { modulus, exponent }));
        }
        if alg.oid == oid::EC_PUBLIC_KEY {
            let curve = alg.params.filter(|p| p.tag == tag::OID).ok_or(bad)?;
            if curve.value == oid::SECP384R1 {
                let point: &[u8; P384_POINT_SIZE] = bits.try_into().map_err(|_| bad)?;
                return match point.first() {
                    Some(0x04) => Ok(PublicKey::EcP384(point)),
                    _ => Err(bad),
                };
            }
        }
        Ok(PublicKey::Other { algorithm: alg.oid })
    }

    /// A short name for messages.
    pub const fn kind_name(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "RSA",
            PublicKey::EcP384(_) => "EC P-384",
            PublicKey::Other { .. } => "unsupported",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::read_single;

    fn alg(der: &[u8]) -> AlgorithmId<'_> {
        AlgorithmId::from_tlv(read_single(der, tag::SEQUENCE).unwrap()).unwrap()
    }

    // AlgorithmIdentifier { id-RSASSA-PSS, { [0] sha384 NULL, [1] mgf1(sha384 NULL), [2] 48 } }
    const PSS: &[u8] = &[
        0x30, 0x41, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A, 0x30, 0x34,
        0xA0, 0x0F, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00, 0xA1, 0x1C, 0x30, 0x1A, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01,
        0x01, 0x08, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
        0x05, 0x00, 0xA2, 0x03, 0x02, 0x01, 0x30,
    ];

    #[test]
    fn amd_pss_parameters() {
        assert_eq!(alg(PSS).scheme(), Ok(SignatureScheme::RsaPssSha384));
        // Salt 32 instead of 48.
        let mut salt = PSS.to_vec();
        *salt.last_mut().unwrap() = 0x20;
        assert!(matches!(
            alg(&salt).scheme(),
            Err(AlgorithmError::PssParameters { .. })
        ));
        // SHA-256 as the hash.
        let mut hash = PSS.to_vec();
        hash[29] = 0x01;
        assert!(matches!(
            alg(&hash).scheme(),
            Err(AlgorithmError::PssParameters { .. })
        ));
        // Missing parameters means the SHA-1 defaults.
        let bare = [
            0x30, 0x0B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A,
        ];
        assert!(alg(&bare).scheme().is_err());
    }

    #[test]
    fn pkcs1_and_ecdsa_identifiers() {
        let sha256_rsa = [
            0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B, 0x05,
            0x00,
        ];
        assert_eq!(
            alg(&sha256_rsa).scheme(),
            Ok(SignatureScheme::RsaPkcs1Sha256)
        );
        let ecdsa = [
            0x30, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03,
        ];
        assert_eq!(alg(&ecdsa).scheme(), Ok(SignatureScheme::EcdsaP384Sha384));
        let sha1_rsa = [
            0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05, 0x05,
            0x00,
        ];
        assert!(matches!(
            alg(&sha1_rsa).scheme(),
            Err(AlgorithmError::Unsupported { offset: 0 })
        ));
    }
}
