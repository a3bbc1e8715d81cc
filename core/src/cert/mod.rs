//! X.509 certificates (RFC 5280) read from DER without allocation, with AMD's VCEK/VLEK
//! extensions ([`amd`]) and certificate revocation lists ([`crl`]).
//!
//! [`Certificate::from_der`] checks the structure: every field the verifier reads is located
//! and well formed, validity times are real dates, and extensions are unique. It does not decide
//! whether an algorithm is acceptable or a signature is good; that is [`crate::verify`]'s job, so
//! a tampered certificate that still parses fails there with a precise reason.

pub mod alg;
pub mod amd;
pub mod crl;
pub mod name;
pub mod time;

use core::fmt;

pub use alg::{AlgorithmId, PublicKey, RsaPublicKey, SignatureScheme};
pub use name::Name;
pub use time::{Civil, Time, Validity};

use crate::der::{DerError, Reader, Tlv, read_single, tag};

/// Why a certificate or CRL could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// The DER structure is broken.
    Der(DerError),
    /// The version is not v1, v2 or v3, or extensions appear before v3.
    Version {
        /// Offset of the version field.
        offset: usize,
    },
    /// A validity or update time that is not a real UTCTime/GeneralizedTime.
    Time {
        /// Offset of the time.
        offset: usize,
    },
    /// notAfter before notBefore.
    ValidityOrder {
        /// Offset of the validity SEQUENCE.
        offset: usize,
    },
    /// The same extension appears twice.
    DuplicateExtension {
        /// Offset of the second occurrence.
        offset: usize,
    },
    /// An AMD extension with the wrong type or an out-of-range value.
    AmdExtension {
        /// Which extension.
        field: &'static str,
        /// Offset of the extension.
        offset: usize,
    },
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CertError::Der(e) => e.fmt(f),
            CertError::Version { offset } => {
                write!(f, "certificate version at byte {offset} is invalid")
            }
            CertError::Time { offset } => write!(f, "invalid time at byte {offset}"),
            CertError::ValidityOrder { offset } => {
                write!(f, "validity at byte {offset} ends before it starts")
            }
            CertError::DuplicateExtension { offset } => {
                write!(f, "duplicate extension at byte {offset}")
            }
            CertError::AmdExtension { field, offset } => {
                write!(f, "AMD extension {field} at byte {offset} is malformed")
            }
        }
    }
}

impl core::error::Error for CertError {}

impl From<DerError> for CertError {
    fn from(e: DerError) -> Self {
        CertError::Der(e)
    }
}

/// One extension: `SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// extnID contents.
    pub oid: &'a [u8],
    /// The critical flag.
    pub critical: bool,
    /// The contents of extnValue.
    pub value: &'a [u8],
    /// Offset of the extension in the outermost input.
    pub offset: usize,
}

fn read_extension<'a>(r: &mut Reader<'a>) -> Result<Extension<'a>, DerError> {
    let seq = r.read(tag::SEQUENCE)?;
    let mut er = seq.contents();
    let oid = er.read(tag::OID)?.value;
    let critical = match er.read_optional(tag::BOOLEAN)? {
        Some(b) => b.boolean()?,
        None => false,
    };
    let value = er.read(tag::OCTET_STRING)?.value;
    er.finish()?;
    Ok(Extension {
        oid,
        critical,
        value,
        offset: seq.offset,
    })
}

/// Iterator over a certificate's (or CRL's) extensions, already checked when parsing.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    r: Reader<'a>,
}

impl<'a> Extensions<'a> {
    fn empty() -> Self {
        Extensions {
            r: Reader::new(&[]),
        }
    }

    /// Reads `SEQUENCE OF Extension` and checks every element and that no OID repeats.
    fn check(seq: Tlv<'a>) -> Result<Self, CertError> {
        let seq = seq.expect(tag::SEQUENCE)?;
        let mut r = seq.contents();
        while !r.is_empty() {
            let ext = read_extension(&mut r)?;
            let mut earlier = seq.contents();
            while let Ok(e) = read_extension(&mut earlier) {
                if e.offset >= ext.offset {
                    break;
                }
                if e.oid == ext.oid {
                    return Err(CertError::DuplicateExtension { offset: ext.offset });
                }
            }
        }
        Ok(Extensions { r: seq.contents() })
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;
    fn next(&mut self) -> Option<Extension<'a>> {
        read_extension(&mut self.r).ok()
    }
}

/// True for the contents of a minimally encoded DER INTEGER.
pub(crate) fn integer_is_minimal(value: &[u8]) -> bool {
    match value {
        [] => false,
        [0x00, second, ..] => *second >= 0x80,
        [0xFF, second, ..] => *second < 0x80,
        _ => true,
    }
}

fn read_time(r: &mut Reader<'_>) -> Result<Time, CertError> {
    let t = r.read_any()?;
    Time::from_der(&t).ok_or(CertError::Time { offset: t.offset })
}

/// A parsed certificate, borrowing its DER.
#[derive(Debug, Clone)]
pub struct Certificate<'a> {
    der: &'a [u8],
    tbs: &'a [u8],
    version: u8,
    serial: &'a [u8],
    tbs_signature_algorithm: AlgorithmId<'a>,
    issuer: Name<'a>,
    validity: Validity,
    subject: Name<'a>,
    spki: &'a [u8],
    public_key: PublicKey<'a>,
    extensions: Option<Tlv<'a>>,
    signature_algorithm: AlgorithmId<'a>,
    signature: &'a [u8],
}

impl<'a> Certificate<'a> {
    /// Reads a DER certificate that spans all of `der`.
    pub fn from_der(der: &'a [u8]) -> Result<Self, CertError> {
        let cert = read_single(der, tag::SEQUENCE)?;
        let mut cr = cert.contents();
        let tbs = cr.read(tag::SEQUENCE)?;
        let signature_algorithm = AlgorithmId::from_tlv(cr.read_any()?)?;
        let signature = cr.read(tag::BIT_STRING)?.bit_string_bytes()?;
        cr.finish()?;

        let mut r = tbs.contents();
        let version = match r.read_optional(tag::context(0))? {
            None => 1,
            Some(v) => {
                let mut vr = v.contents();
                let n = vr.read(tag::INTEGER)?.u64()?;
                vr.finish()?;
                // DER: the DEFAULT v1 is never encoded.
                match n {
                    1 => 2,
                    2 => 3,
                    _ => return Err(CertError::Version { offset: v.offset }),
                }
            }
        };
        let serial = r.read(tag::INTEGER)?;
        // Serial numbers are compared as encoded; a minimal encoding makes that unique. RFC 5280
        // requires positive serials, but negative ones exist in the wild, so only the form is
        // checked here.
        if !integer_is_minimal(serial.value) {
            return Err(CertError::Der(DerError {
                kind: crate::der::DerErrorKind::BadInteger,
                offset: serial.offset,
            }));
        }
        let tbs_signature_algorithm = AlgorithmId::from_tlv(r.read_any()?)?;
        let issuer = Name::from_tlv(r.read_any()?)?;
        let validity_tlv = r.read(tag::SEQUENCE)?;
        let mut vr = validity_tlv.contents();
        let validity = Validity {
            not_before: read_time(&mut vr)?,
            not_after: read_time(&mut vr)?,
        };
        vr.finish()?;
        if validity.not_after < validity.not_before {
            return Err(CertError::ValidityOrder {
                offset: validity_tlv.offset,
            });
        }
        let subject = Name::from_tlv(r.read_any()?)?;
        let spki = r.read(tag::SEQUENCE)?;
        let public_key = PublicKey::from_spki(spki)?;
        // issuerUniqueID [1] and subjectUniqueID [2] (v2+), not used by any profile read here.
        let _ = r.read_optional(tag::context_primitive(1))?;
        let _ = r.read_optional(tag::context_primitive(2))?;
        let extensions = match r.read_optional(tag::context(3))? {
            None => None,
            Some(e) => {
                if version != 3 {
                    return Err(CertError::Version { offset: e.offset });
                }
                let mut er = e.contents();
                let seq = er.read(tag::SEQUENCE)?;
                er.finish()?;
                Extensions::check(seq)?;
                Some(seq)
            }
        };
        r.finish()?;
        Ok(Certificate {
            der,
            tbs: tbs.raw,
            version,
            serial: serial.value,
            tbs_signature_algorithm,
            issuer,
            validity,
            subject,
            spki: spki.raw,
            public_key,
            extensions,
            signature_algorithm,
            signature,
        })
    }

    /// The whole certificate.
    pub fn der(&self) -> &'a [u8] {
        self.der
    }
    /// The DER of tbsCertificate: the signed bytes.
    pub fn tbs(&self) -> &'a [u8] {
        self.tbs
    }
    /// X.509 version (1, 2 or 3).
    pub fn version(&self) -> u8 {
        self.version
    }
    /// The serial number's INTEGER contents (two's complement, minimal).
    pub fn serial(&self) -> &'a [u8] {
        self.serial
    }
    /// The signature algorithm inside tbsCertificate.
    pub fn tbs_signature_algorithm(&self) -> &AlgorithmId<'a> {
        &self.tbs_signature_algorithm
    }
    /// The signature algorithm outside tbsCertificate (must equal the inner one).
    pub fn signature_algorithm(&self) -> &AlgorithmId<'a> {
        &self.signature_algorithm
    }
    /// The signature value.
    pub fn signature(&self) -> &'a [u8] {
        self.signature
    }
    /// The issuer name.
    pub fn issuer(&self) -> &Name<'a> {
        &self.issuer
    }
    /// The subject name.
    pub fn subject(&self) -> &Name<'a> {
        &self.subject
    }
    /// notBefore and notAfter.
    pub fn validity(&self) -> Validity {
        self.validity
    }
    /// The DER of subjectPublicKeyInfo.
    pub fn spki(&self) -> &'a [u8] {
        self.spki
    }
    /// The subject public key.
    pub fn public_key(&self) -> PublicKey<'a> {
        self.public_key
    }
    /// The extensions (none for v1/v2 certificates).
    pub fn extensions(&self) -> Extensions<'a> {
        match self.extensions {
            Some(seq) => Extensions { r: seq.contents() },
            None => Extensions::empty(),
        }
    }
    /// The extension with `oid`, if present.
    pub fn extension(&self, oid: &[u8]) -> Option<Extension<'a>> {
        self.extensions().find(|e| e.oid == oid)
    }
    /// True if issuer and subject are the same name.
    pub fn is_self_issued(&self) -> bool {
        self.issuer.raw == self.subject.raw
    }
}

#[cfg(test)]
mod tests;
