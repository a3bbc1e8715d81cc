//! Big-endian bytes to and from `crypto-bigint`'s fixed-size [`Uint`]s, without the panics of
//! `Uint::from_be_slice` (which requires the exact byte length): any length up to the integer's
//! size is accepted, leading zeros included, and longer input with non-zero excess bytes is
//! refused. Works for both word sizes (`u64` limbs on 64-bit targets, `u32` on thumbv7em).

use crypto_bigint::{Limb, Uint, Word};
use zeroize::Zeroize;

/// The integer that `bytes` (big-endian) stands for, or `None` if it does not fit in `L` limbs.
pub(crate) fn from_be<const L: usize>(bytes: &[u8]) -> Option<Uint<L>> {
    let mut words = [0 as Word; L];
    let mut chunks = bytes.rchunks(Limb::BYTES);
    for w in words.iter_mut() {
        match chunks.next() {
            Some(c) => *w = c.iter().fold(0, |acc: Word, b| (acc << 8) | Word::from(*b)),
            None => break,
        }
    }
    if chunks.any(|c| c.iter().any(|b| *b != 0)) {
        words.zeroize();
        return None;
    }
    let n = Uint::from_words(words);
    words.zeroize();
    Some(n)
}

/// Writes the low `out.len()` bytes of `n`, big-endian (higher bytes are dropped; callers size
/// `out` to the modulus, which every value here is below).
pub(crate) fn write_be<const L: usize>(n: &Uint<L>, out: &mut [u8]) {
    let mut chunks = out.rchunks_mut(Limb::BYTES);
    for w in n.as_words() {
        let Some(c) = chunks.next() else { return };
        let bytes = w.to_be_bytes();
        let skip = bytes.len().saturating_sub(c.len());
        for (d, s) in c.iter_mut().zip(bytes.iter().skip(skip)) {
            *d = *s;
        }
    }
    for c in chunks {
        c.fill(0);
    }
}

/// A number of up to `2 * L` limbs (big-endian `bytes`) as its low and high `L`-limb halves,
/// or `None` if it does not fit.
pub(crate) fn from_be_halves<const L: usize>(bytes: &[u8]) -> Option<(Uint<L>, Uint<L>)> {
    let mid = bytes.len().saturating_sub(Uint::<L>::BYTES);
    let (hi, lo) = bytes.split_at_checked(mid).unwrap_or((&[], bytes));
    Some((from_be(lo)?, from_be(hi)?))
}

/// Writes `lo + hi * 2^(W*L)` into `out`, big-endian (the inverse of [`from_be_halves`]).
pub(crate) fn write_halves_be<const L: usize>(lo: &Uint<L>, hi: &Uint<L>, out: &mut [u8]) {
    let mid = out.len().saturating_sub(Uint::<L>::BYTES);
    if let Some((high, low)) = out.split_at_mut_checked(mid) {
        write_be(lo, low);
        write_be(hi, high);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::{U128, U256};

    #[test]
    fn round_trips_any_length() {
        let v = from_be::<{ U128::LIMBS }>(&[1, 2, 3]).unwrap();
        assert_eq!(v, U128::from_u32(0x010203));
        let mut out = [0xEEu8; 5];
        write_be(&v, &mut out);
        assert_eq!(out, [0, 0, 1, 2, 3]);
        // Leading zeros beyond the size are fine; non-zero excess is refused.
        let mut long = [0u8; 40];
        long[39] = 9;
        assert_eq!(from_be::<{ U256::LIMBS }>(&long), Some(U256::from_u8(9)));
        long[0] = 1;
        assert_eq!(from_be::<{ U256::LIMBS }>(&long), None);
        let full = [0xABu8; 32];
        let v = from_be::<{ U256::LIMBS }>(&full).unwrap();
        let mut back = [0u8; 32];
        write_be(&v, &mut back);
        assert_eq!(back, full);
    }

    #[test]
    fn halves_round_trip() {
        let bytes: std::vec::Vec<u8> = (1..=30).collect();
        let (lo, hi) = from_be_halves::<{ U128::LIMBS }>(&bytes).unwrap();
        assert_eq!(lo, from_be(&bytes[14..]).unwrap());
        assert_eq!(hi, from_be(&bytes[..14]).unwrap());
        let mut out = [0u8; 30];
        write_halves_be(&lo, &hi, &mut out);
        assert_eq!(&out[..], &bytes[..]);
        assert!(from_be_halves::<{ U128::LIMBS }>(&[1u8; 33]).is_none());
        let (lo, hi) = from_be_halves::<{ U128::LIMBS }>(&[7u8; 3]).unwrap();
        assert_eq!((lo, hi), (U128::from_u32(0x070707), U128::ZERO));
    }
}
