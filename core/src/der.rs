//! A strict DER reader that borrows from its input: tag-length-value walking for X.509
//! certificates, CRLs and PKCS#1/PKCS#8 keys.
//!
//! Only what DER allows is accepted: definite, minimally encoded lengths; single-byte tags (all
//! that X.509 and the key formats use); INTEGERs without redundant leading bytes. Every error
//! carries the byte offset (from the start of the outermost input) where reading failed.

use core::fmt;

/// Universal tags used by the formats this crate reads.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING.
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: u8 = 0x0C;
    /// PrintableString.
    pub const PRINTABLE_STRING: u8 = 0x13;
    /// IA5String.
    pub const IA5_STRING: u8 = 0x16;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE (constructed).
    pub const SEQUENCE: u8 = 0x30;
    /// SET (constructed).
    pub const SET: u8 = 0x31;

    /// Context-specific constructed tag `[n]` (EXPLICIT tagging), n < 31.
    pub const fn context(n: u8) -> u8 {
        0xA0 | (n & 0x1F)
    }
    /// Context-specific primitive tag `[n]` (IMPLICIT tagging of a primitive), n < 31.
    pub const fn context_primitive(n: u8) -> u8 {
        0x80 | (n & 0x1F)
    }
}

/// What went wrong while reading DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DerErrorKind {
    /// The input ends inside a header or value.
    Truncated,
    /// A tag number of 31 or more (multi-byte tags are not used by these formats).
    HighTagNumber,
    /// Indefinite length (BER, not DER).
    IndefiniteLength,
    /// A length in more bytes than needed, or longer than this reader supports (4 bytes).
    BadLength,
    /// A different tag than the structure requires.
    UnexpectedTag {
        /// The tag required.
        expected: u8,
        /// The tag found.
        actual: u8,
    },
    /// Bytes left over after a complete structure.
    TrailingData,
    /// An INTEGER that is empty, negative where it must not be, or not minimally encoded.
    BadInteger,
    /// A BIT STRING with unused bits where whole bytes are required.
    BadBitString,
    /// A BOOLEAN or NULL with the wrong contents.
    BadValue,
}

/// A DER error and where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerError {
    /// What went wrong.
    pub kind: DerErrorKind,
    /// Byte offset from the start of the outermost input.
    pub offset: usize,
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.offset;
        match self.kind {
            DerErrorKind::Truncated => write!(f, "DER ends early (at byte {o})"),
            DerErrorKind::HighTagNumber => {
                write!(f, "DER multi-byte tag at byte {o} is not supported")
            }
            DerErrorKind::IndefiniteLength => write!(f, "DER indefinite length at byte {o}"),
            DerErrorKind::BadLength => {
                write!(f, "DER length at byte {o} is not minimal or too large")
            }
            DerErrorKind::UnexpectedTag { expected, actual } => write!(
                f,
                "DER tag 0x{actual:02x} at byte {o} where 0x{expected:02x} is required"
            ),
            DerErrorKind::TrailingData => write!(f, "unexpected DER data at byte {o}"),
            DerErrorKind::BadInteger => write!(f, "DER INTEGER at byte {o} is malformed"),
            DerErrorKind::BadBitString => write!(f, "DER BIT STRING at byte {o} is malformed"),
            DerErrorKind::BadValue => write!(f, "DER value at byte {o} is malformed"),
        }
    }
}

impl core::error::Error for DerError {}

/// One tag-length-value element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag byte.
    pub tag: u8,
    /// The contents.
    pub value: &'a [u8],
    /// Header and contents together (what a signature covers, for a TBS structure).
    pub raw: &'a [u8],
    /// Offset of the header in the outermost input.
    pub offset: usize,
    /// Offset of the contents in the outermost input.
    pub value_offset: usize,
}

impl<'a> Tlv<'a> {
    fn err(&self, kind: DerErrorKind) -> DerError {
        DerError {
            kind,
            offset: self.offset,
        }
    }

    /// Fails unless the tag is `expected`.
    pub fn expect(self, expected: u8) -> Result<Self, DerError> {
        if self.tag == expected {
            Ok(self)
        } else {
            Err(self.err(DerErrorKind::UnexpectedTag {
                expected,
                actual: self.tag,
            }))
        }
    }

    /// A reader over the contents (for SEQUENCE, SET and EXPLICIT context tags).
    pub fn contents(&self) -> Reader<'a> {
        Reader {
            input: self.value,
            pos: 0,
            base: self.value_offset,
        }
    }

    /// A non-negative INTEGER as big-endian bytes without the sign byte.
    pub fn uint_be(&self) -> Result<&'a [u8], DerError> {
        let bad = self.err(DerErrorKind::BadInteger);
        match self.value {
            [] => Err(bad),
            [0x00] => Ok(&[]),
            [0x00, second, ..] if *second < 0x80 => Err(bad),
            [0x00, rest @ ..] => Ok(rest),
            [first, ..] if *first >= 0x80 => Err(bad),
            [0xFF, second, ..] if *second >= 0x80 => Err(bad),
            v => Ok(v),
        }
    }

    /// A small non-negative INTEGER.
    pub fn u64(&self) -> Result<u64, DerError> {
        let be = self.uint_be()?;
        if be.len() > 8 {
            return Err(self.err(DerErrorKind::BadInteger));
        }
        Ok(be.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// The bytes of a BIT STRING that has no unused bits.
    pub fn bit_string_bytes(&self) -> Result<&'a [u8], DerError> {
        match self.value.split_first() {
            Some((0, rest)) => Ok(rest),
            _ => Err(self.err(DerErrorKind::BadBitString)),
        }
    }

    /// A BOOLEAN's value (DER: 0x00 or 0xFF).
    pub fn boolean(&self) -> Result<bool, DerError> {
        match self.value {
            [0x00] => Ok(false),
            [0xFF] => Ok(true),
            _ => Err(self.err(DerErrorKind::BadValue)),
        }
    }
}

/// Reads consecutive elements from a DER byte string.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a whole input (offsets in errors start at 0).
    pub fn new(input: &'a [u8]) -> Self {
        Reader {
            input,
            pos: 0,
            base: 0,
        }
    }

    fn here(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    fn err(&self, kind: DerErrorKind) -> DerError {
        DerError {
            kind,
            offset: self.here(),
        }
    }

    /// True when every element has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// The tag of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Reads the next element, whatever its tag.
    pub fn read_any(&mut self) -> Result<Tlv<'a>, DerError> {
        let start = self.pos;
        let offset = self.here();
        let tag = *self
            .input
            .get(start)
            .ok_or(self.err(DerErrorKind::Truncated))?;
        if tag & 0x1F == 0x1F {
            return Err(self.err(DerErrorKind::HighTagNumber));
        }
        let mut p = start.saturating_add(1);
        let first = *self.input.get(p).ok_or(DerError {
            kind: DerErrorKind::Truncated,
            offset,
        })?;
        p = p.saturating_add(1);
        let len = if first < 0x80 {
            usize::from(first)
        } else if first == 0x80 {
            return Err(DerError {
                kind: DerErrorKind::IndefiniteLength,
                offset,
            });
        } else {
            let n = usize::from(first & 0x7F);
            if n > 4 {
                return Err(DerError {
                    kind: DerErrorKind::BadLength,
                    offset,
                });
            }
            let end = p.saturating_add(n);
            let bytes = self.input.get(p..end).ok_or(DerError {
                kind: DerErrorKind::Truncated,
                offset,
            })?;
            p = end;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            // Minimal: no leading zero byte, and long form only for lengths of 128 or more.
            if bytes.first() == Some(&0) || len < 0x80 {
                return Err(DerError {
                    kind: DerErrorKind::BadLength,
                    offset,
                });
            }
            len
        };
        let value_start = p;
        let end = value_start.checked_add(len).ok_or(DerError {
            kind: DerErrorKind::Truncated,
            offset,
        })?;
        let value = self.input.get(value_start..end).ok_or(DerError {
            kind: DerErrorKind::Truncated,
            offset,
        })?;
        let raw = self.input.get(start..end).unwrap_or(value);
        self.pos = end;
        Ok(Tlv {
            tag,
            value,
            raw,
            offset,
            value_offset: self.base.saturating_add(value_start),
        })
    }

    /// Reads the next element and requires its tag.
    pub fn read(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        self.read_any()?.expect(tag)
    }

    /// Reads the next element if it has `tag`; otherwise leaves the reader unchanged.
    pub fn read_optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails if anything is left.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err(DerErrorKind::TrailingData))
        }
    }
}

/// Reads exactly one element of `tag` spanning all of `input`.
pub fn read_single(input: &[u8], tag: u8) -> Result<Tlv<'_>, DerError> {
    let mut r = Reader::new(input);
    let t = r.read(tag)?;
    r.finish()?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_nested_sequence() {
        // SEQUENCE { INTEGER 5, OCTET STRING "ab", [0] { BOOLEAN true } }
        let der = [
            0x30, 0x0C, 0x02, 0x01, 0x05, 0x04, 0x02, b'a', b'b', 0xA0, 0x03, 0x01, 0x01, 0xFF,
        ];
        let seq = read_single(&der, tag::SEQUENCE).unwrap();
        let mut r = seq.contents();
        assert_eq!(r.read(tag::INTEGER).unwrap().u64().unwrap(), 5);
        let os = r.read(tag::OCTET_STRING).unwrap();
        assert_eq!((os.value, os.offset, os.value_offset), (&b"ab"[..], 5, 7));
        assert_eq!(r.read_optional(tag::context(1)).unwrap(), None);
        let ctx = r.read_optional(tag::context(0)).unwrap().unwrap();
        assert!(
            ctx.contents()
                .read(tag::BOOLEAN)
                .unwrap()
                .boolean()
                .unwrap()
        );
        r.finish().unwrap();
    }

    #[test]
    fn integers() {
        fn int(v: &[u8]) -> Tlv<'_> {
            Tlv {
                tag: 2,
                value: v,
                raw: v,
                offset: 0,
                value_offset: 0,
            }
        }
        assert_eq!(int(&[0x00, 0x80]).uint_be().unwrap(), &[0x80]);
        assert_eq!(int(&[0x00]).uint_be().unwrap(), &[] as &[u8]);
        assert!(int(&[0x00, 0x7f]).uint_be().is_err());
        assert!(int(&[0x80]).uint_be().is_err());
        assert!(int(&[]).uint_be().is_err());
        assert!(int(&[1, 2, 3, 4, 5, 6, 7, 8, 9]).u64().is_err());
    }

    #[test]
    fn rejects_non_der() {
        let e = |d: &[u8]| Reader::new(d).read_any().unwrap_err().kind;
        assert_eq!(e(&[0x30, 0x80, 0, 0]), DerErrorKind::IndefiniteLength);
        assert_eq!(
            e(&[0x30, 0x81, 0x05, 0, 0, 0, 0, 0]),
            DerErrorKind::BadLength
        );
        assert_eq!(e(&[0x30, 0x82, 0x00, 0x90]), DerErrorKind::BadLength);
        assert_eq!(e(&[0x30, 0x85, 1, 1, 1, 1, 1]), DerErrorKind::BadLength);
        assert_eq!(e(&[0x30, 0x03, 0]), DerErrorKind::Truncated);
        assert_eq!(e(&[0x1F, 0x01, 0]), DerErrorKind::HighTagNumber);
        assert_eq!(
            read_single(&[0x02, 0x01, 0x00, 0x00], tag::INTEGER).unwrap_err(),
            DerError {
                kind: DerErrorKind::TrailingData,
                offset: 3
            }
        );
        assert_eq!(
            read_single(&[0x04, 0x00], tag::INTEGER).unwrap_err().kind,
            DerErrorKind::UnexpectedTag {
                expected: 2,
                actual: 4
            }
        );
    }

    fn walk(r: &mut Reader<'_>, depth: u32) {
        while !r.is_empty() {
            let Ok(t) = r.read_any() else { return };
            assert!(t.raw.len() >= t.value.len() + 2);
            let _ = (t.uint_be(), t.bit_string_bytes(), t.boolean());
            if t.tag & 0x20 != 0 && depth < 8 {
                walk(&mut t.contents(), depth + 1);
            }
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            walk(&mut Reader::new(&bytes), 0);
        }
    }
}
