//! Base64 (RFC 4648) into caller buffers, both alphabets, on `base64ct` (constant-time: no
//! branch and no table index depends on the encoded data, which matters for private JWK
//! members and key files).
//!
//! The decoder accepts the standard and the URL-safe alphabet (even mixed, as clients of
//! upstream send both), with or without `=` padding, and skips ASCII white space (Go's decoder
//! skips `\r` and `\n`; files often end with a newline). What it branches on is only where
//! white space and padding are, never which data character it reads: URL-safe characters are
//! mapped to the standard ones with constant-time selects, then each group of four is decoded by
//! `base64ct`. Unlike Go's default decoder it refuses a final character with non-zero unused
//! bits (no encoder writes one). The encoder writes exactly the requested [`Alphabet`] and
//! padding, so renderings can match another implementation byte for byte.

use core::fmt;

use base64ct::{Base64 as Std, Base64Unpadded, Base64Url, Base64UrlUnpadded, Encoding};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

/// Which alphabet and padding to encode with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// `+/` with `=` padding (Go's `StdEncoding`).
    Standard,
    /// `-_` with `=` padding (Go's `URLEncoding`; MAA's request body uses it).
    UrlSafe,
    /// `-_` without padding (JWK, JWS and JWT members).
    UrlSafeNoPad,
}

impl Alphabet {
    const fn pad(self) -> bool {
        !matches!(self, Alphabet::UrlSafeNoPad)
    }
}

/// Why base64 text could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Error {
    /// A byte outside both alphabets.
    InvalidByte {
        /// Offset in the text.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// Padding in the wrong place, or a length no encoding produces.
    InvalidLength,
    /// The last character carries non-zero bits beyond the data (no encoder writes that).
    NonCanonical {
        /// Offset of that character.
        offset: usize,
    },
    /// The decoded bytes do not fit the output.
    OutputTooSmall {
        /// Bytes the output can take.
        capacity: usize,
    },
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Base64Error::InvalidByte { offset, byte } => {
                write!(f, "byte 0x{byte:02x} at offset {offset} is not base64")
            }
            Base64Error::InvalidLength => {
                f.write_str("base64 text has an impossible length or misplaced padding")
            }
            Base64Error::NonCanonical { offset } => write!(
                f,
                "base64 character at offset {offset} has non-zero bits past the end of the data"
            ),
            Base64Error::OutputTooSmall { capacity } => {
                write!(f, "base64 text decodes to more than {capacity} bytes")
            }
        }
    }
}

impl core::error::Error for Base64Error {}

/// Length of the encoding of `n` bytes.
pub const fn encoded_len(n: usize, alphabet: Alphabet) -> usize {
    let full = (n / 3).saturating_mul(4);
    let rem = n % 3;
    if rem == 0 {
        full
    } else if alphabet.pad() {
        full.saturating_add(4)
    } else {
        full.saturating_add(rem).saturating_add(1)
    }
}

/// Upper bound of the decoded length of `text_len` characters.
pub const fn decoded_len_max(text_len: usize) -> usize {
    (text_len / 4).saturating_mul(3).saturating_add(3)
}

/// Encodes `bytes` into `out`; returns the text, or `None` if `out` is too small.
pub fn encode_into<'o>(bytes: &[u8], alphabet: Alphabet, out: &'o mut [u8]) -> Option<&'o str> {
    let dst = out.get_mut(..encoded_len(bytes.len(), alphabet))?;
    match alphabet {
        Alphabet::Standard => Std::encode(bytes, dst),
        Alphabet::UrlSafe => Base64Url::encode(bytes, dst),
        Alphabet::UrlSafeNoPad => Base64UrlUnpadded::encode(bytes, dst),
    }
    .ok()
}

/// Up to four data characters of the text (URL-safe ones already mapped to `+` and `/`) and
/// where each one was.
#[derive(Default)]
struct Quad {
    chars: [u8; 4],
    offsets: [usize; 4],
    len: usize,
}

impl Quad {
    fn push(&mut self, offset: usize, byte: u8) {
        // Constant time in `byte`: '-' -> '+', '_' -> '/', everything else unchanged.
        let mut c = byte;
        c.conditional_assign(&b'+', byte.ct_eq(&b'-'));
        c.conditional_assign(&b'/', byte.ct_eq(&b'_'));
        if let (Some(slot), Some(at)) =
            (self.chars.get_mut(self.len), self.offsets.get_mut(self.len))
        {
            *slot = c;
            *at = offset;
            self.len = self.len.saturating_add(1);
        }
    }

    fn is_full(&self) -> bool {
        self.len == self.chars.len()
    }

    /// Decodes the characters held into the start of `out`, returning how many bytes.
    fn decode(&mut self, text: &[u8], out: &mut [u8]) -> Result<usize, Base64Error> {
        let chars = self.chars.get(..self.len).unwrap_or(&[]);
        let mut bytes = [0u8; 3];
        let result = Base64Unpadded::decode(chars, &mut bytes).map(<[u8]>::len);
        self.chars.zeroize();
        let held = core::mem::take(&mut self.len);
        let n = match result {
            Ok(n) => n,
            Err(_) => {
                bytes.zeroize();
                return Err(self.error(text, held));
            }
        };
        let capacity = out.len();
        let (Some(dst), Some(src)) = (out.get_mut(..n), bytes.get(..n)) else {
            bytes.zeroize();
            return Err(Base64Error::OutputTooSmall { capacity });
        };
        dst.copy_from_slice(src);
        bytes.zeroize();
        Ok(n)
    }

    /// What was wrong with the characters held (only on the error path, so it may branch).
    fn error(&self, text: &[u8], held: usize) -> Base64Error {
        let is_data = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
        for offset in self.offsets.iter().take(held) {
            if let Some(&byte) = text.get(*offset).filter(|b| !is_data(**b)) {
                return Base64Error::InvalidByte {
                    offset: *offset,
                    byte,
                };
            }
        }
        match self.offsets.get(held.saturating_sub(1)) {
            Some(&offset) if held > 1 => Base64Error::NonCanonical { offset },
            _ => Base64Error::InvalidLength,
        }
    }
}

/// Decodes base64 text (either alphabet, padding optional, white space skipped) into `out`;
/// returns the number of bytes written. On error `out` may hold part of the data: callers
/// decoding secrets wipe it (the key readers do).
pub fn decode_into(text: &[u8], out: &mut [u8]) -> Result<usize, Base64Error> {
    let capacity = out.len();
    let mut quad = Quad::default();
    let mut written = 0usize;
    let mut pads = 0usize;
    for (offset, &byte) in text.iter().enumerate() {
        if matches!(byte, b' ' | b'\t' | b'\r' | b'\n') {
            continue;
        }
        if byte == b'=' {
            pads = pads.saturating_add(1);
            continue;
        }
        if pads > 0 {
            // Data after padding.
            return Err(Base64Error::InvalidLength);
        }
        quad.push(offset, byte);
        if quad.is_full() {
            let dst = out
                .get_mut(written..)
                .ok_or(Base64Error::OutputTooSmall { capacity })?;
            let n = quad.decode(text, dst).map_err(|e| match e {
                Base64Error::OutputTooSmall { .. } => Base64Error::OutputTooSmall { capacity },
                other => other,
            })?;
            written = written.saturating_add(n);
        }
    }
    let pads_ok = match quad.len {
        0 => pads == 0,
        2 => pads == 0 || pads == 2,
        3 => pads == 0 || pads == 1,
        _ => false,
    };
    if !pads_ok {
        return Err(Base64Error::InvalidLength);
    }
    if quad.len > 0 {
        let dst = out
            .get_mut(written..)
            .ok_or(Base64Error::OutputTooSmall { capacity })?;
        let n = quad.decode(text, dst).map_err(|e| match e {
            Base64Error::OutputTooSmall { .. } => Base64Error::OutputTooSmall { capacity },
            other => other,
        })?;
        written = written.saturating_add(n);
    }
    Ok(written)
}

/// Displays bytes as base64 without allocating.
#[derive(Clone, Copy)]
pub struct Base64<'a>(pub &'a [u8], pub Alphabet);

impl fmt::Display for Base64<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 64];
        // 48 input bytes make exactly 64 output bytes, with no padding in between.
        for chunk in self.0.chunks(48) {
            let s = encode_into(chunk, self.1, &mut buf).ok_or(fmt::Error)?;
            f.write_str(s)?;
        }
        buf.zeroize();
        Ok(())
    }
}

impl fmt::Debug for Base64<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, enc) in cases {
            let mut buf = [0u8; 16];
            assert_eq!(encode_into(raw, Alphabet::Standard, &mut buf), Some(enc));
            let mut out = [0u8; 16];
            let n = decode_into(enc.as_bytes(), &mut out).unwrap();
            assert_eq!(&out[..n], raw);
            let nopad = enc.trim_end_matches('=');
            assert_eq!(
                encode_into(raw, Alphabet::UrlSafeNoPad, &mut buf),
                Some(nopad)
            );
            let n = decode_into(nopad.as_bytes(), &mut out).unwrap();
            assert_eq!(&out[..n], raw);
        }
    }

    #[test]
    fn alphabets_and_errors() {
        let mut out = [0u8; 8];
        let n = decode_into(b"-_8=\n", &mut out).unwrap();
        assert_eq!(&out[..n], &[0xfb, 0xff]);
        let n = decode_into(b"+/8=", &mut out).unwrap();
        assert_eq!(&out[..n], &[0xfb, 0xff]);
        assert_eq!(
            decode_into(b"ab*d", &mut out),
            Err(Base64Error::InvalidByte {
                offset: 2,
                byte: b'*'
            })
        );
        assert_eq!(decode_into(b"a", &mut out), Err(Base64Error::InvalidLength));
        assert_eq!(
            decode_into(b"ab=c", &mut out),
            Err(Base64Error::InvalidLength)
        );
        assert_eq!(
            decode_into(b"abc==", &mut out),
            Err(Base64Error::InvalidLength)
        );
        assert_eq!(
            decode_into(b"AAAAAAAAAAAA", &mut out),
            Err(Base64Error::OutputTooSmall { capacity: 8 })
        );
        assert_eq!(
            Base64(b"\xfb\xff", Alphabet::UrlSafeNoPad).to_string(),
            "-_8"
        );
        // Mixed alphabets in one text, and a final character with stray low bits.
        let n = decode_into(b"+/-_", &mut out).unwrap();
        assert_eq!(&out[..n], &[0xfb, 0xff, 0xbf]);
        assert_eq!(
            decode_into(b"Zh==", &mut out),
            Err(Base64Error::NonCanonical { offset: 1 })
        );
        assert_eq!(
            decode_into(b"AAAA\nA*AA", &mut out),
            Err(Base64Error::InvalidByte {
                offset: 6,
                byte: b'*'
            })
        );
    }

    proptest! {
        // Any text: never a panic, and never more bytes than the bound says.
        #[test]
        fn decodes_anything_safely(text in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = std::vec![0u8; decoded_len_max(text.len())];
            if let Ok(n) = decode_into(&text, &mut out) {
                prop_assert!(n <= out.len());
            }
        }

        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            for a in [Alphabet::Standard, Alphabet::UrlSafe, Alphabet::UrlSafeNoPad] {
                let mut text = std::vec![0u8; encoded_len(bytes.len(), a)];
                let s = encode_into(&bytes, a, &mut text).unwrap().to_string();
                prop_assert_eq!(Base64(&bytes, a).to_string(), s.clone());
                let mut out = std::vec![0u8; decoded_len_max(s.len())];
                let n = decode_into(s.as_bytes(), &mut out).unwrap();
                prop_assert_eq!(&out[..n], &bytes[..]);
            }
        }
    }
}
