//! Hex text, both ways, into caller buffers.
//!
//! Decoding skips ASCII white space anywhere (upstream tools print a trailing newline and people
//! paste wrapped text) and accepts either case; encoding writes lowercase, as upstream does.

use core::fmt;

use crate::error::HexError;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => b.checked_sub(b'0'),
        b'a'..=b'f' => b.checked_sub(b'a' - 10),
        b'A'..=b'F' => b.checked_sub(b'A' - 10),
        _ => None,
    }
}

/// True for the bytes the decoder skips.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Offset and value of the first byte that is neither a hex digit nor white space.
pub fn first_non_hex(text: &[u8]) -> Option<(usize, u8)> {
    text.iter()
        .enumerate()
        .find(|(_, b)| nibble(**b).is_none() && !is_space(**b))
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

/// Decodes `text` into the start of `out`, returning the number of bytes written.
pub fn decode_into(text: &[u8], out: &mut [u8]) -> Result<usize, HexError> {
    let capacity = out.len();
    let mut slots = out.iter_mut();
    let mut high: Option<u8> = None;
    let mut written = 0usize;
    for (offset, &byte) in text.iter().enumerate() {
        if is_space(byte) {
            continue;
        }
        let n = nibble(byte).ok_or(HexError::InvalidDigit { offset, byte })?;
        match high.take() {
            None => high = Some(n),
            Some(h) => {
                let slot = slots.next().ok_or(HexError::OutputTooSmall { capacity })?;
                *slot = (h << 4) | n;
                written = written.saturating_add(1);
            }
        }
    }
    if high.is_some() {
        return Err(HexError::OddLength);
    }
    Ok(written)
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
    let dst = out.get_mut(..needed)?;
    for (pair, b) in dst.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = hex_digit(b >> 4);
            *lo = hex_digit(b & 0x0f);
        }
    }
    core::str::from_utf8(dst).ok()
}

fn hex_digit(n: u8) -> u8 {
    DIGITS.get(usize::from(n & 0x0f)).copied().unwrap_or(b'0')
}

/// Displays bytes as lowercase hex without allocating: `format!("{}", Hex(&bytes))`.
#[derive(Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            let pair = [hex_digit(b >> 4), hex_digit(b & 0x0f)];
            // Both bytes are ASCII hex digits.
            f.write_str(core::str::from_utf8(&pair).unwrap_or("??"))?;
        }
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
    }
}
