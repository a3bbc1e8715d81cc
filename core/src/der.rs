//! A strict DER reader that borrows from its input: tag-length-value walking for X.509
//! certificates, CRLs and PKCS#1/PKCS#8 keys, on the `der` crate.
//!
//! Only what DER allows is accepted: definite, minimally encoded lengths; single-byte tags (all
//! that X.509 and the key formats use); INTEGERs without redundant leading bytes. Every error
//! carries the byte offset (from the start of the outermost input) where reading failed.
//!
//! The `der` crate decodes every header (tag, length and their DER rules) and the primitive
//! values read here (INTEGER, BIT STRING, BOOLEAN), through [`Cursor`], a borrowed
//! `der::Reader` of ours: the crate's own `SliceReader` copies bytes with a
//! `copy_from_slice` whose lengths the optimiser cannot prove equal, which would leave a panic
//! path in every parser (`ci/nopanic.sh` proves they have none).

use core::fmt;

use der::{Decode, DecodeValue, EncodingRules, ErrorKind, FixedTag, Header, Length};

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

    /// Decodes the contents as the `der` type `T` (whose tag the caller has checked), mapping
    /// errors to `kind`.
    fn decode_as<T: DecodeValue<'a, Error = der::Error> + FixedTag>(
        &self,
        kind: DerErrorKind,
    ) -> Result<T, DerError> {
        let len = length(self.value.len()).map_err(|_| self.err(kind))?;
        let mut cursor = Cursor::new(self.value);
        let value =
            T::decode_value(&mut cursor, Header::new(T::TAG, len)).map_err(|_| self.err(kind))?;
        if cursor.pos == self.value.len() {
            Ok(value)
        } else {
            Err(self.err(kind))
        }
    }

    /// A non-negative INTEGER as big-endian bytes without the sign byte (zero is empty).
    pub fn uint_be(&self) -> Result<&'a [u8], DerError> {
        if self.tag != tag::INTEGER {
            return Err(self.err(DerErrorKind::BadInteger));
        }
        let v = self.decode_as::<der::asn1::UintRef<'a>>(DerErrorKind::BadInteger)?;
        Ok(match v.as_bytes() {
            [0] => &[],
            bytes => bytes,
        })
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
        if self.tag != tag::BIT_STRING {
            return Err(self.err(DerErrorKind::BadBitString));
        }
        self.decode_as::<der::asn1::BitStringRef<'a>>(DerErrorKind::BadBitString)?
            .as_bytes()
            .ok_or(self.err(DerErrorKind::BadBitString))
    }

    /// A BOOLEAN's value (DER: 0x00 or 0xFF).
    pub fn boolean(&self) -> Result<bool, DerError> {
        if self.tag != tag::BOOLEAN {
            return Err(self.err(DerErrorKind::BadValue));
        }
        self.decode_as::<bool>(DerErrorKind::BadValue)
    }
}

/// A `der::Reader` over a borrowed slice that never panics (see the module docs).
#[derive(Debug, Clone)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }
}

fn length(n: usize) -> Result<Length, der::Error> {
    Length::try_from(n)
}

fn incomplete(len: Length) -> der::Error {
    ErrorKind::Incomplete {
        expected_len: len,
        actual_len: Length::ZERO,
    }
    .into()
}

impl<'a> der::Reader<'a> for Cursor<'a> {
    const CAN_READ_SLICE: bool = true;

    fn encoding_rules(&self) -> EncodingRules {
        EncodingRules::Der
    }

    fn input_len(&self) -> Length {
        length(self.bytes.len()).unwrap_or(Length::ZERO)
    }

    fn position(&self) -> Length {
        length(self.pos).unwrap_or(Length::ZERO)
    }

    fn read_nested<T, F, E>(&mut self, len: Length, f: F) -> Result<T, E>
    where
        E: From<der::Error>,
        F: FnOnce(&mut Self) -> Result<T, E>,
    {
        let mut inner = Cursor::new(self.read_slice(len)?);
        let value = f(&mut inner)?;
        if inner.pos == inner.bytes.len() {
            Ok(value)
        } else {
            Err(der::Error::from(ErrorKind::TrailingData {
                decoded: inner.position(),
                remaining: length(inner.bytes.len().saturating_sub(inner.pos))?,
            })
            .into())
        }
    }

    fn read_slice(&mut self, len: Length) -> Result<&'a [u8], der::Error> {
        let end = self
            .pos
            .checked_add(usize::try_from(len)?)
            .ok_or(incomplete(len))?;
        let slice = self.bytes.get(self.pos..end).ok_or(incomplete(len))?;
        self.pos = end;
        Ok(slice)
    }

    fn read_byte(&mut self) -> Result<u8, der::Error> {
        let b = *self.bytes.get(self.pos).ok_or(incomplete(Length::ONE))?;
        self.pos = self.pos.saturating_add(1);
        Ok(b)
    }

    fn read_into<'o>(&mut self, buf: &'o mut [u8]) -> Result<&'o [u8], der::Error> {
        let src = self.read_slice(length(buf.len())?)?;
        for (d, s) in buf.iter_mut().zip(src) {
            *d = *s;
        }
        Ok(buf)
    }
}

/// Our error kind for a `der` header error.
fn header_error(e: der::Error) -> DerErrorKind {
    match e.kind() {
        ErrorKind::Incomplete { .. } => DerErrorKind::Truncated,
        ErrorKind::IndefiniteLength => DerErrorKind::IndefiniteLength,
        ErrorKind::TagNumberInvalid => DerErrorKind::HighTagNumber,
        _ => DerErrorKind::BadLength,
    }
}

/// The longest element accepted: lengths encoded in at most four bytes, as before the `der`
/// crate read them (it allows up to 2^28 - 1).
const MAX_LENGTH: Length = Length::new(0x0FFF_FFFF);

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
        let err = |kind| DerError { kind, offset };
        let tag = self.peek_tag().ok_or(self.err(DerErrorKind::Truncated))?;
        // The formats read here use single-byte tags only.
        if tag & 0x1F == 0x1F {
            return Err(err(DerErrorKind::HighTagNumber));
        }
        let rest = self.input.get(start..).unwrap_or(&[]);
        let mut cursor = Cursor::new(rest);
        let header = Header::decode(&mut cursor).map_err(|e| err(header_error(e)))?;
        // der accepts lengths up to 256 MiB; these formats need far less.
        if header.length() > MAX_LENGTH {
            return Err(err(DerErrorKind::BadLength));
        }
        let value_start = cursor.pos;
        let value = der::Reader::read_slice(&mut cursor, header.length())
            .map_err(|_| err(DerErrorKind::Truncated))?;
        let raw = rest.get(..cursor.pos).unwrap_or(value);
        self.pos = start.saturating_add(cursor.pos);
        Ok(Tlv {
            tag,
            value,
            raw,
            offset,
            value_offset: offset.saturating_add(value_start),
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
                tag: tag::INTEGER,
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
