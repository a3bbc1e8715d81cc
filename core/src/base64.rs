//! Base64 (RFC 4648) into caller buffers, both alphabets.
//!
//! The decoder accepts the standard and the URL-safe alphabet (even mixed, as clients of
//! upstream send both), with or without `=` padding, and skips ASCII white space (Go's decoder
//! skips `\r` and `\n`; files often end with a newline). The encoder writes exactly the
//! requested [`Alphabet`] and padding, so renderings can match another implementation byte
//! for byte.

use core::fmt;

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
    fn table(self) -> &'static [u8; 64] {
        match self {
            Alphabet::Standard => STD,
            Alphabet::UrlSafe | Alphabet::UrlSafeNoPad => URL,
        }
    }
    const fn pad(self) -> bool {
        !matches!(self, Alphabet::UrlSafeNoPad)
    }
}

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b.wrapping_sub(b'A')),
        b'a'..=b'z' => Some(b.wrapping_sub(b'a').wrapping_add(26)),
        b'0'..=b'9' => Some(b.wrapping_sub(b'0').wrapping_add(52)),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

fn sym(table: &[u8; 64], v: u32) -> u8 {
    table.get((v & 63) as usize).copied().unwrap_or(b'A')
}

/// Encodes `bytes` into `out`; returns the text, or `None` if `out` is too small.
pub fn encode_into<'o>(bytes: &[u8], alphabet: Alphabet, out: &'o mut [u8]) -> Option<&'o str> {
    let len = encoded_len(bytes.len(), alphabet);
    let dst = out.get_mut(..len)?;
    let table = alphabet.table();
    let mut w = dst.iter_mut();
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(*chunk.first()?);
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let v = (b0 << 16) | (b1 << 8) | b2;
        let n = chunk.len().saturating_add(1);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i < n {
                *w.next()? = sym(table, v >> shift);
            } else if alphabet.pad() {
                *w.next()? = b'=';
            }
        }
    }
    core::str::from_utf8(dst).ok()
}

/// Decodes base64 text (either alphabet, padding optional, white space skipped) into `out`;
/// returns the number of bytes written.
pub fn decode_into(text: &[u8], out: &mut [u8]) -> Result<usize, Base64Error> {
    let capacity = out.len();
    let mut acc = 0u32;
    let mut n = 0u32; // sextets in acc
    let mut written = 0usize;
    let mut pads = 0usize;
    let mut slots = out.iter_mut();
    let mut emit = |byte: u8, written: &mut usize| -> Result<(), Base64Error> {
        let slot = slots
            .next()
            .ok_or(Base64Error::OutputTooSmall { capacity })?;
        *slot = byte;
        *written = written.saturating_add(1);
        Ok(())
    };
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
        let v = sextet(byte).ok_or(Base64Error::InvalidByte { offset, byte })?;
        acc = (acc << 6) | u32::from(v);
        n = n.saturating_add(1);
        if n == 4 {
            let [_, a, b, c] = acc.to_be_bytes();
            emit(a, &mut written)?;
            emit(b, &mut written)?;
            emit(c, &mut written)?;
            acc = 0;
            n = 0;
        }
    }
    match n {
        0 => {
            if pads != 0 {
                return Err(Base64Error::InvalidLength);
            }
        }
        2 => {
            if pads != 0 && pads != 2 {
                return Err(Base64Error::InvalidLength);
            }
            let [_, _, _, a] = (acc >> 4).to_be_bytes();
            emit(a, &mut written)?;
        }
        3 => {
            if pads != 0 && pads != 1 {
                return Err(Base64Error::InvalidLength);
            }
            let [_, _, a, b] = (acc >> 2).to_be_bytes();
            emit(a, &mut written)?;
            emit(b, &mut written)?;
        }
        _ => return Err(Base64Error::InvalidLength),
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
    }

    proptest! {
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
