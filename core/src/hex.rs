//! Hex text, both ways, into caller buffers, on `base16ct` (constant-time: no branch and no
//! table index depends on the digits, which matters for key-encryption keys and salts given as
//! hex).
//!
//! Decoding skips ASCII white space anywhere (upstream tools print a trailing newline and people
//! paste wrapped text) and accepts either case; encoding writes lowercase, as upstream does.
//! Where white space is may be branched on; which digit is read is not.

use core::fmt;

use zeroize::Zeroize;

use crate::error::HexError;

/// Digits decoded per call to `base16ct` (a stack buffer of this many characters).
const CHUNK: usize = 64;

fn is_hex_digit(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// True for the bytes the decoder skips.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Offset and value of the first byte that is neither a hex digit nor white space.
pub fn first_non_hex(text: &[u8]) -> Option<(usize, u8)> {
    text.iter()
        .enumerate()
        .find(|(_, b)| !is_hex_digit(**b) && !is_space(**b))
        .map(|(i, b)| (i, *b))
}

/// Number of bytes `text` decodes to, or why it does not decode.
pub fn decoded_len(text: &[u8]) -> Result<usize, HexError> {
    if let Some((offset, byte)) = first_non_hex(text) {
        return Err(HexError::InvalidDigit { offset, byte });
    }
    let digits = text.iter().filter(|b| !is_space(**b)).count();
    if digits % 2 != 0 {
        return Err(HexError::OddLength);
    }
    Ok(digits / 2)
}

/// Decodes a full chunk of digits into `out` at `written`, returning the new count.
fn flush(digits: &[u8], text: &[u8], out: &mut [u8], written: usize) -> Result<usize, HexError> {
    let capacity = out.len();
    let n = digits.len() / 2;
    let end = written
        .checked_add(n)
        .ok_or(HexError::OutputTooSmall { capacity })?;
    let dst = out
        .get_mut(written..end)
        .ok_or(HexError::OutputTooSmall { capacity })?;
    match base16ct::mixed::decode(digits, dst) {
        Ok(_) => Ok(end),
        // Only on the error path: find the offending byte for the message.
        Err(_) => Err(match first_non_hex(text) {
            Some((offset, byte)) => HexError::InvalidDigit { offset, byte },
            None => HexError::OddLength,
        }),
    }
}

/// Decodes `text` into the start of `out`, returning the number of bytes written.
pub fn decode_into(text: &[u8], out: &mut [u8]) -> Result<usize, HexError> {
    let mut chunk = [0u8; CHUNK];
    let mut held = 0usize;
    let mut written = 0usize;
    let result = (|| {
        for &byte in text {
            if is_space(byte) {
                continue;
            }
            if let Some(slot) = chunk.get_mut(held) {
                *slot = byte;
                held = held.saturating_add(1);
            }
            if held == CHUNK {
                written = flush(&chunk, text, out, written)?;
                held = 0;
            }
        }
        if !held.is_multiple_of(2) {
            // An invalid digit is the better message when there is one.
            return Err(match first_non_hex(text) {
                Some((offset, byte)) => HexError::InvalidDigit { offset, byte },
                None => HexError::OddLength,
            });
        }
        flush(chunk.get(..held).unwrap_or(&[]), text, out, written)
    })();
    chunk.zeroize();
    result
}

/// Decodes `text` into exactly `N` bytes.
pub fn decode_array<const N: usize>(text: &[u8]) -> Result<[u8; N], HexError> {
    let mut out = [0u8; N];
    let len = decoded_len(text)?;
    if len != N {
        return Err(HexError::Length {
            expected: N,
            actual: len,
        });
    }
    decode_into(text, &mut out)?;
    Ok(out)
}

/// Writes `bytes` as lowercase hex into `out`; returns the text, or `None` if `out` is too small.
pub fn encode_into<'o>(bytes: &[u8], out: &'o mut [u8]) -> Option<&'o str> {
    let needed = bytes.len().checked_mul(2)?;
    base16ct::lower::encode_str(bytes, out.get_mut(..needed)?).ok()
}

/// Displays bytes as lowercase hex without allocating: `format!("{}", Hex(&bytes))`.
#[derive(Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; CHUNK];
        for chunk in self.0.chunks(CHUNK / 2) {
            let text = encode_into(chunk, &mut buf).ok_or(fmt::Error)?;
            f.write_str(text)?;
        }
        buf.zeroize();
        Ok(())
    }
}

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn round_trip_with_whitespace_and_case() {
        let mut out = [0u8; 4];
        let n = decode_into(b"De ad\nbe EF\n", &mut out).unwrap();
        assert_eq!(&out[..n], &[0xde, 0xad, 0xbe, 0xef]);
        let mut text = [0u8; 8];
        assert_eq!(encode_into(&out, &mut text), Some("deadbeef"));
        assert_eq!(format!("{}", Hex(&out)), "deadbeef");
    }

    #[test]
    fn errors_name_the_problem() {
        let mut out = [0u8; 1];
        assert_eq!(
            decode_into(b"0g", &mut out),
            Err(HexError::InvalidDigit {
                offset: 1,
                byte: b'g'
            })
        );
        assert_eq!(decode_into(b"abc", &mut [0u8; 4]), Err(HexError::OddLength));
        assert_eq!(
            decode_into(b"0102", &mut out),
            Err(HexError::OutputTooSmall { capacity: 1 })
        );
        assert_eq!(
            decode_array::<3>(b"0102"),
            Err(HexError::Length {
                expected: 3,
                actual: 2
            })
        );
        assert_eq!(encode_into(&[1, 2], &mut [0u8; 3]), None);
        // Errors in a later chunk of digits, and an odd count after a full chunk.
        let mut long = [b'a'; 200];
        long[150] = b'x';
        let mut out = [0u8; 100];
        assert_eq!(
            decode_into(&long, &mut out),
            Err(HexError::InvalidDigit {
                offset: 150,
                byte: b'x'
            })
        );
        assert_eq!(
            decode_into(&[b'A'; 129], &mut out),
            Err(HexError::OddLength)
        );
        assert_eq!(decode_into(&[b'A'; 128], &mut out), Ok(64));
        assert_eq!(out[..64], [0xAA; 64]);
    }
}
