//! Distinguished names: kept as DER, compared byte for byte (RFC 5280 section 7.1 allows
//! binary comparison, and AMD's certificates repeat names verbatim), with the common name
//! readable for messages and for telling AMD's certificate roles apart.

use core::fmt;

use super::alg::oid;
use crate::der::{DerError, Reader, Tlv, tag};

/// A Name (`SEQUENCE OF RelativeDistinguishedName`), as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name<'a> {
    /// The whole DER element, what issuer/subject matching compares.
    pub raw: &'a [u8],
    value: &'a [u8],
    value_offset: usize,
}

impl<'a> Name<'a> {
    /// Reads a Name and checks that every attribute is `SEQUENCE { OID, value }`.
    pub fn from_tlv(t: Tlv<'a>) -> Result<Self, DerError> {
        let t = t.expect(tag::SEQUENCE)?;
        let mut rdns = t.contents();
        while !rdns.is_empty() {
            let mut set = rdns.read(tag::SET)?.contents();
            while !set.is_empty() {
                let mut atv = set.read(tag::SEQUENCE)?.contents();
                atv.read(tag::OID)?;
                atv.read_any()?;
                atv.finish()?;
            }
        }
        Ok(Name {
            raw: t.raw,
            value: t.value,
            value_offset: t.value_offset,
        })
    }

    /// Every attribute as (type OID, value element), in order.
    pub fn attributes(&self) -> impl Iterator<Item = (&'a [u8], Tlv<'a>)> + 'a {
        let mut rdns = Reader::new(self.value);
        let mut set: Option<Reader<'a>> = None;
        core::iter::from_fn(move || {
            loop {
                if let Some(Ok(atv)) = set.as_mut().map(|s| s.read(tag::SEQUENCE)) {
                    let mut r = atv.contents();
                    let oid = r.read(tag::OID).ok()?.value;
                    return Some((oid, r.read_any().ok()?));
                }
                set = Some(rdns.read(tag::SET).ok()?.contents());
            }
        })
    }

    /// The first commonName, if it is a string type.
    pub fn common_name(&self) -> Option<&'a str> {
        self.attributes()
            .find(|(oid, _)| *oid == oid::COMMON_NAME)
            .and_then(|(_, v)| match v.tag {
                tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING => {
                    core::str::from_utf8(v.value).ok()
                }
                _ => None,
            })
    }

    /// Offset of the Name's contents in the outermost input.
    pub fn offset(&self) -> usize {
        self.value_offset
    }
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.common_name() {
            Some(cn) => write!(f, "CN={cn}"),
            None => f.write_str("(no common name)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::read_single;
    use std::string::ToString;

    #[test]
    fn finds_common_name() {
        // SEQUENCE { SET { SEQUENCE { C, "US" } }, SET { SEQUENCE { CN, utf8 "ARK-Milan" } } }
        let der = [
            0x30, 0x1F, 0x31, 0x0B, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'U',
            b'S', 0x31, 0x10, 0x30, 0x0E, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x07, b'A', b'R',
            b'K', b'-', b'M', b'i', b'l',
        ];
        let n = Name::from_tlv(read_single(&der, tag::SEQUENCE).unwrap()).unwrap();
        assert_eq!(n.common_name(), Some("ARK-Mil"));
        assert_eq!(n.attributes().count(), 2);
        assert_eq!(n.to_string(), "CN=ARK-Mil");
        let empty = [0x30, 0x00];
        let n = Name::from_tlv(read_single(&empty, tag::SEQUENCE).unwrap()).unwrap();
        assert_eq!(n.common_name(), None);
        // An attribute without a value.
        let bad = [0x30, 0x07, 0x31, 0x05, 0x30, 0x03, 0x06, 0x01, 0x55];
        assert!(Name::from_tlv(read_single(&bad, tag::SEQUENCE).unwrap()).is_err());
    }
}
