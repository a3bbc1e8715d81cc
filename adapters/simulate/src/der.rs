//! A minimal DER writer: just the types AMD's certificate profile uses.
//!
//! Every function returns one complete TLV. Lengths are written in the shortest form, INTEGERs
//! minimally, so the output is DER (not merely BER) and parses with the core's strict reader.

pub use csc_core::der::tag;

/// One TLV with `tag` around `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already-encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SEQUENCE, &parts.concat())
}

/// A SET of already-encoded parts (one part in every use here, so no sorting is needed).
pub fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag::SET, &parts.concat())
}

/// An explicitly tagged, constructed context-specific field `[n]`.
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xA0 | n, inner)
}

/// An OBJECT IDENTIFIER from its arcs (the first two must be 0..=2 and < 40).
pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        [a] => (a * 40, &[][..]),
        [] => (0, &[][..]),
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = Vec::new();
        let mut v = arc;
        groups.push((v & 0x7F) as u8);
        v >>= 7;
        while v > 0 {
            groups.push(0x80 | (v & 0x7F) as u8);
            v >>= 7;
        }
        body.extend(groups.iter().rev());
    }
    tlv(tag::OID, &body)
}

/// A non-negative INTEGER from big-endian magnitude bytes, minimally encoded.
pub fn uint(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mag = &be[skip..];
    let mut body = Vec::with_capacity(mag.len() + 1);
    if mag.first().is_none_or(|b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend_from_slice(mag);
    tlv(tag::INTEGER, &body)
}

/// A non-negative INTEGER.
pub fn uint_u64(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

/// BOOLEAN TRUE (DER encodes it as 0xFF).
pub fn bool_true() -> Vec<u8> {
    tlv(tag::BOOLEAN, &[0xFF])
}

/// NULL.
pub fn null() -> Vec<u8> {
    tlv(tag::NULL, &[])
}

/// OCTET STRING.
pub fn octets(b: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, b)
}

/// BIT STRING with no unused bits.
pub fn bits(b: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(b.len() + 1);
    body.push(0);
    body.extend_from_slice(b);
    tlv(tag::BIT_STRING, &body)
}

/// UTF8String.
pub fn utf8(s: &str) -> Vec<u8> {
    tlv(tag::UTF8_STRING, s.as_bytes())
}

/// PrintableString (the caller passes only printable characters).
pub fn printable(s: &str) -> Vec<u8> {
    tlv(tag::PRINTABLE_STRING, s.as_bytes())
}

/// IA5String (ASCII).
pub fn ia5(s: &str) -> Vec<u8> {
    tlv(tag::IA5_STRING, s.as_bytes())
}

/// A certificate validity time: UTCTime for 1950..=2049 as RFC 5280 requires, GeneralizedTime
/// after. `unix` is seconds since 1970-01-01T00:00:00Z.
pub fn time(unix: u64) -> Vec<u8> {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    if y < 2050 {
        let text = format!("{:02}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z", y % 100);
        tlv(tag::UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z");
        tlv(tag::GENERALIZED_TIME, text.as_bytes())
    }
}

/// Seconds since the epoch of 00:00:00 UTC on a calendar date.
pub fn unix_from_civil(y: u64, m: u64, d: u64) -> u64 {
    // Howard Hinnant's days_from_civil, for dates on or after 1970-03-01.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers_are_minimal() {
        assert_eq!(tlv(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = tlv(0x04, &[0; 1000]);
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x03, 0xE8]);
        assert_eq!(uint_u64(0), [0x02, 1, 0]);
        assert_eq!(uint_u64(0x73), [0x02, 1, 0x73]);
        assert_eq!(uint_u64(0xDB), [0x02, 2, 0, 0xDB]);
        assert_eq!(uint_u64(0x10000), [0x02, 3, 1, 0, 0]);
        assert_eq!(uint(&[0, 0, 0x80]), [0x02, 2, 0, 0x80]);
    }

    #[test]
    fn oids_match_known_encodings() {
        // AMD structVersion and sha384, as in AMD's own certificates.
        assert_eq!(
            oid(&[1, 3, 6, 1, 4, 1, 3704, 1, 3, 1]),
            [0x06, 10, 0x2B, 6, 1, 4, 1, 0x9C, 0x78, 1, 3, 1]
        );
        assert_eq!(
            oid(&[2, 16, 840, 1, 101, 3, 4, 2, 2]),
            [
                0x06, 9, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02
            ]
        );
    }

    #[test]
    fn times_use_utc_until_2049() {
        let t = unix_from_civil(2020, 10, 22) + 17 * 3600 + 23 * 60 + 5;
        assert_eq!(time(t), tlv(tag::UTC_TIME, b"201022172305Z"));
        let t = unix_from_civil(2051, 1, 2);
        assert_eq!(time(t), tlv(tag::GENERALIZED_TIME, b"20510102000000Z"));
        assert_eq!(unix_from_civil(1970, 3, 1), 59 * 86_400);
        assert_eq!(
            civil_from_days(unix_from_civil(2024, 2, 29) / 86_400),
            (2024, 2, 29)
        );
    }
}
