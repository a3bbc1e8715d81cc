//! DER for the simulated certificates, written by the `der` crate's encoder.
//!
//! Every function returns one complete TLV, so that certificates are assembled from their
//! encoded parts the way they read in RFC 5280; `der` chooses the length forms and the minimal
//! INTEGER encodings, and its `DateTime` does the calendar arithmetic of validity times. The
//! output parses with the core's strict reader (see the tests of this crate).

use std::time::Duration;

use der::asn1::{
    BitStringRef, GeneralizedTime, Ia5StringRef, Null, ObjectIdentifier, OctetStringRef,
    PrintableStringRef, UtcTime, Utf8StringRef,
};
use der::{DateTime, Encode, Header, Length, Tag, TagNumber};

/// A DER encoding failure (a value the type cannot hold, a length beyond DER's).
pub type Result<T> = std::result::Result<T, der::Error>;

/// One TLV with `tag` around already-encoded `content`.
pub fn tlv(tag: Tag, content: &[u8]) -> Result<Vec<u8>> {
    let mut out = Header::new(tag, Length::try_from(content.len())?).to_der()?;
    out.extend_from_slice(content);
    Ok(out)
}

/// A SEQUENCE of already-encoded parts.
pub fn seq(parts: &[&[u8]]) -> Result<Vec<u8>> {
    tlv(Tag::Sequence, &parts.concat())
}

/// A SET of already-encoded parts (one part in every use here, so no sorting is needed).
pub fn set(parts: &[&[u8]]) -> Result<Vec<u8>> {
    tlv(Tag::Set, &parts.concat())
}

/// An implicitly tagged, primitive context-specific field `[n]` holding `content`.
pub fn implicit(n: u32, content: &[u8]) -> Result<Vec<u8>> {
    tlv(
        Tag::ContextSpecific {
            constructed: false,
            number: TagNumber(n),
        },
        content,
    )
}

/// An explicitly tagged, constructed context-specific field `[n]` around an encoded `inner`.
pub fn explicit(n: u32, inner: &[u8]) -> Result<Vec<u8>> {
    tlv(
        Tag::ContextSpecific {
            constructed: true,
            number: TagNumber(n),
        },
        inner,
    )
}

/// An OBJECT IDENTIFIER.
pub fn oid(oid: &ObjectIdentifier) -> Result<Vec<u8>> {
    oid.to_der()
}

/// A non-negative INTEGER, minimally encoded.
pub fn uint_u64(v: u64) -> Result<Vec<u8>> {
    v.to_der()
}

/// BOOLEAN TRUE.
pub fn bool_true() -> Result<Vec<u8>> {
    true.to_der()
}

/// NULL.
pub fn null() -> Result<Vec<u8>> {
    Null.to_der()
}

/// OCTET STRING.
pub fn octets(b: &[u8]) -> Result<Vec<u8>> {
    OctetStringRef::new(b)?.to_der()
}

/// BIT STRING with no unused bits.
pub fn bits(b: &[u8]) -> Result<Vec<u8>> {
    BitStringRef::from_bytes(b)?.to_der()
}

/// UTF8String.
pub fn utf8(s: &str) -> Result<Vec<u8>> {
    Utf8StringRef::new(s)?.to_der()
}

/// PrintableString (anything outside its character set is an error).
pub fn printable(s: &str) -> Result<Vec<u8>> {
    PrintableStringRef::new(s)?.to_der()
}

/// IA5String (ASCII).
pub fn ia5(s: &str) -> Result<Vec<u8>> {
    Ia5StringRef::new(s)?.to_der()
}

/// A certificate validity time: UTCTime for 1950..=2049 as RFC 5280 requires, GeneralizedTime
/// after. `unix` is seconds since 1970-01-01T00:00:00Z.
pub fn time(unix: u64) -> Result<Vec<u8>> {
    let at = DateTime::from_unix_duration(Duration::from_secs(unix))?;
    if at.year() <= UtcTime::MAX_YEAR {
        UtcTime::from_date_time(at)?.to_der()
    } else {
        GeneralizedTime::from_date_time(at).to_der()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(y: u16, m: u8, d: u8, hh: u8, mm: u8, ss: u8) -> u64 {
        DateTime::new(y, m, d, hh, mm, ss)
            .unwrap()
            .unix_duration()
            .as_secs()
    }

    #[test]
    fn lengths_and_integers_are_minimal() {
        assert_eq!(tlv(Tag::OctetString, &[1, 2]).unwrap(), [0x04, 2, 1, 2]);
        let long = tlv(Tag::OctetString, &[0; 200]).unwrap();
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = tlv(Tag::OctetString, &[0; 1000]).unwrap();
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x03, 0xE8]);
        assert_eq!(uint_u64(0).unwrap(), [0x02, 1, 0]);
        assert_eq!(uint_u64(0x73).unwrap(), [0x02, 1, 0x73]);
        assert_eq!(uint_u64(0xDB).unwrap(), [0x02, 2, 0, 0xDB]);
        assert_eq!(uint_u64(0x10000).unwrap(), [0x02, 3, 1, 0, 0]);
        assert_eq!(bool_true().unwrap(), [0x01, 1, 0xFF]);
        assert_eq!(implicit(0, &[7]).unwrap(), [0x80, 1, 7]);
        assert_eq!(explicit(3, &[5, 0]).unwrap(), [0xA3, 2, 5, 0]);
        assert!(printable("no_underscores").is_err());
    }

    #[test]
    fn oids_match_known_encodings() {
        // AMD structVersion and sha384, as in AMD's own certificates.
        let amd = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
        assert_eq!(
            oid(&amd).unwrap(),
            [0x06, 10, 0x2B, 6, 1, 4, 1, 0x9C, 0x78, 1, 3, 1]
        );
        let sha384 = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
        assert_eq!(
            oid(&sha384).unwrap(),
            [
                0x06, 9, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02
            ]
        );
    }

    #[test]
    fn times_use_utc_until_2049() {
        assert_eq!(
            time(unix(2020, 10, 22, 17, 23, 5)).unwrap(),
            tlv(Tag::UtcTime, b"201022172305Z").unwrap()
        );
        assert_eq!(
            time(unix(2049, 12, 31, 23, 59, 59)).unwrap(),
            tlv(Tag::UtcTime, b"491231235959Z").unwrap()
        );
        assert_eq!(
            time(unix(2051, 1, 2, 0, 0, 0)).unwrap(),
            tlv(Tag::GeneralizedTime, b"20510102000000Z").unwrap()
        );
        assert_eq!(unix(1970, 3, 1, 0, 0, 0), 59 * 86_400);
        assert_eq!(
            time(unix(2024, 2, 29, 0, 0, 0)).unwrap(),
            tlv(Tag::UtcTime, b"240229000000Z").unwrap()
        );
    }
}
