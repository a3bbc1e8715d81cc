//! Certificate revocation lists (RFC 5280 section 5) read from DER without allocation.
//!
//! AMD publishes one CRL per product, signed by the ARK with RSASSA-PSS, listing revoked
//! ASK/ASVK (and, in principle, VCEK/VLEK) serial numbers.

use super::{AlgorithmId, CertError, Extensions, Name, Time, integer_is_minimal, read_time};
use crate::der::{DerError, DerErrorKind, Reader, Tlv, read_single, tag};

/// A parsed CRL, borrowing its DER.
#[derive(Debug, Clone)]
pub struct Crl<'a> {
    tbs: &'a [u8],
    tbs_signature_algorithm: AlgorithmId<'a>,
    issuer: Name<'a>,
    this_update: Time,
    next_update: Option<Time>,
    revoked: Option<Tlv<'a>>,
    extensions: Option<Tlv<'a>>,
    signature_algorithm: AlgorithmId<'a>,
    signature: &'a [u8],
}

/// One revoked certificate: `SEQUENCE { serial, revocationDate, crlEntryExtensions OPTIONAL }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked<'a> {
    /// The serial number's INTEGER contents.
    pub serial: &'a [u8],
    /// When it was revoked.
    pub date: Time,
}

fn read_entry<'a>(r: &mut Reader<'a>) -> Result<Revoked<'a>, CertError> {
    let seq = r.read(tag::SEQUENCE)?;
    let mut er = seq.contents();
    let serial = er.read(tag::INTEGER)?;
    if !integer_is_minimal(serial.value) {
        return Err(CertError::Der(DerError {
            kind: DerErrorKind::BadInteger,
            offset: serial.offset,
        }));
    }
    let date = read_time(&mut er)?;
    if let Some(exts) = er.read_optional(tag::SEQUENCE)? {
        Extensions::check(exts)?;
    }
    er.finish()?;
    Ok(Revoked {
        serial: serial.value,
        date,
    })
}

impl<'a> Crl<'a> {
    /// Reads a DER CRL that spans all of `der`.
    pub fn from_der(der: &'a [u8]) -> Result<Self, CertError> {
        let list = read_single(der, tag::SEQUENCE)?;
        let mut lr = list.contents();
        let tbs = lr.read(tag::SEQUENCE)?;
        let signature_algorithm = AlgorithmId::from_tlv(lr.read_any()?)?;
        let signature = lr.read(tag::BIT_STRING)?.bit_string_bytes()?;
        lr.finish()?;

        let mut r = tbs.contents();
        let version = match r.read_optional(tag::INTEGER)? {
            None => 1,
            Some(v) => match v.u64()? {
                1 => 2,
                _ => return Err(CertError::Version { offset: v.offset }),
            },
        };
        let tbs_signature_algorithm = AlgorithmId::from_tlv(r.read_any()?)?;
        let issuer = Name::from_tlv(r.read_any()?)?;
        let this_update = read_time(&mut r)?;
        let next_update = match r.peek_tag() {
            Some(tag::UTC_TIME | tag::GENERALIZED_TIME) => Some(read_time(&mut r)?),
            _ => None,
        };
        let revoked = r.read_optional(tag::SEQUENCE)?;
        if let Some(list) = revoked {
            let mut rr = list.contents();
            while !rr.is_empty() {
                read_entry(&mut rr)?;
            }
        }
        let extensions = match r.read_optional(tag::context(0))? {
            None => None,
            Some(e) => {
                if version != 2 {
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
        Ok(Crl {
            tbs: tbs.raw,
            tbs_signature_algorithm,
            issuer,
            this_update,
            next_update,
            revoked,
            extensions,
            signature_algorithm,
            signature,
        })
    }

    /// The DER of tbsCertList: the signed bytes.
    pub fn tbs(&self) -> &'a [u8] {
        self.tbs
    }
    /// The signature algorithm inside tbsCertList.
    pub fn tbs_signature_algorithm(&self) -> &AlgorithmId<'a> {
        &self.tbs_signature_algorithm
    }
    /// The signature algorithm outside tbsCertList (must equal the inner one).
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
    /// thisUpdate.
    pub fn this_update(&self) -> Time {
        self.this_update
    }
    /// nextUpdate, if given.
    pub fn next_update(&self) -> Option<Time> {
        self.next_update
    }
    /// The CRL extensions.
    pub fn extensions(&self) -> Extensions<'a> {
        match self.extensions {
            Some(seq) => Extensions { r: seq.contents() },
            None => Extensions::empty(),
        }
    }
    /// Every revoked certificate, in order.
    pub fn revoked(&self) -> impl Iterator<Item = Revoked<'a>> + 'a {
        let mut r = match self.revoked {
            Some(list) => list.contents(),
            None => Reader::new(&[]),
        };
        core::iter::from_fn(move || read_entry(&mut r).ok())
    }
    /// True if `serial` (INTEGER contents, as [`super::Certificate::serial`] gives) is listed.
    pub fn is_revoked(&self, serial: &[u8]) -> bool {
        self.revoked().any(|e| e.serial == serial)
    }
}
