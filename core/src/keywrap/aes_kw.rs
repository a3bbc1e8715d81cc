//! AES key wrap (RFC 3394, "KW") and AES key wrap with padding (RFC 5649, "KWP"), in caller
//! buffers.
//!
//! Both run the same six-round wrapping function W over 64-bit semiblocks with the `aes` block
//! cipher (AES-NI where the CPU has it, a bitsliced constant-time implementation otherwise).
//! Unwrapping works in place in the output buffer. The integrity check (IV, or AIV + message
//! length + zero padding for KWP) is computed without branches on the unwrapped data, and on
//! failure the output buffer is wiped before [`KeyWrapError::Integrity`] is returned, so no
//! partially unwrapped key survives.
//!
//! The block cipher is a parameter ([`BlockCipher`]); [`Kek`] is the `aes` crate's, the one AES
//! of the workspace (std builds use it too).
//!
//! Why this thin layer and not the `aes-kw` crate's `AesKw`/`AesKwp` (0.3): its KWP unwrap
//! accepts an 8-byte input, skipping the block cipher entirely, as a valid wrapping of an empty
//! key (so `A65959A600000000` "unwraps" under any KEK), and its integrity checks branch on the
//! unwrapped data (AIV prefix, then length indicator, then a short-circuiting padding scan).
//! docs/ARCHITECTURE.md ("Key wrap") has the evidence; the tests here still compare every
//! result with `aes-kw` as an independent implementation.

use core::fmt;
use subtle::{Choice, ConstantTimeEq, ConstantTimeGreater, ConstantTimeLess};
use zeroize::Zeroize;

use super::KeyWrapError;

/// A semiblock: the 64-bit unit key wrap works on.
pub const SEMIBLOCK: usize = 8;
/// Default initial value of RFC 3394 (section 2.2.3.1).
pub const KW_IV: [u8; SEMIBLOCK] = [0xA6; SEMIBLOCK];
/// The constant half of RFC 5649's alternative initial value (section 3).
pub const KWP_AIV_PREFIX: [u8; 4] = [0xA6, 0x59, 0x59, 0xA6];
/// KEK sizes AES allows, in bytes.
pub const KEK_SIZES: [usize; 3] = [16, 24, 32];
/// Largest key KWP can carry (the message length indicator is 32 bits).
pub const KWP_MAX_KEY: usize = u32::MAX as usize;

/// Which of the two key-wrap algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// RFC 3394: key data of 16 bytes or more, a multiple of 8.
    Kw,
    /// RFC 5649: key data of any length from 1 byte.
    Kwp,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Kw => "AES-KW (RFC 3394)",
            Mode::Kwp => "AES-KWP (RFC 5649)",
        })
    }
}

/// AES keyed with a key-encryption key: what key wrap needs from a block cipher.
///
/// [`Kek`] (the `aes` crate) implements it; tests and other backends may bring their own.
pub trait BlockCipher {
    /// A cipher keyed with 16, 24 or 32 bytes.
    fn new(key: &[u8]) -> Result<Self, KeyWrapError>
    where
        Self: Sized;
    /// Encrypts one block in place.
    fn encrypt_block(&self, block: &mut [u8; 16]);
    /// Decrypts one block in place.
    fn decrypt_block(&self, block: &mut [u8; 16]);
    /// Key size in bits.
    fn bits(&self) -> u32;
}

/// The core's key-encryption key: the `aes` crate's cipher ([`super::aes::Aes`]).
pub type Kek = super::aes::Aes;

fn xor_counter(a: &mut [u8; SEMIBLOCK], t: u64) {
    for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
        *x ^= y;
    }
}

/// t = n*j + i for the zero-based semiblock index `i` (RFC 3394 counts i from 1). Wrapping is
/// impossible for any input that fits in memory: n < 2^61, j < 6.
fn counter(n: u64, j: u64, i: usize) -> u64 {
    n.wrapping_mul(j).wrapping_add(i as u64).wrapping_add(1)
}

fn join(a: &[u8; SEMIBLOCK], r: &[u8; SEMIBLOCK]) -> [u8; 16] {
    let mut b = [0u8; 16];
    let (hi, lo) = b.split_at_mut(SEMIBLOCK);
    hi.copy_from_slice(a);
    lo.copy_from_slice(r);
    b
}

fn split(b: &[u8; 16], a: &mut [u8; SEMIBLOCK], r: &mut [u8; SEMIBLOCK]) {
    let (hi, lo) = b.split_at(SEMIBLOCK);
    a.copy_from_slice(hi);
    r.copy_from_slice(lo);
}

/// RFC 3394 section 2.2.1, index-based form: wraps the semiblocks `r` (two or more) in place
/// under initial value `a`, returning the final A.
fn w<C: BlockCipher + ?Sized>(
    kek: &C,
    mut a: [u8; SEMIBLOCK],
    r: &mut [[u8; SEMIBLOCK]],
) -> [u8; SEMIBLOCK] {
    let n = r.len() as u64;
    let mut block = [0u8; 16];
    for j in 0..6u64 {
        for (i, ri) in r.iter_mut().enumerate() {
            block = join(&a, ri);
            kek.encrypt_block(&mut block);
            split(&block, &mut a, ri);
            xor_counter(&mut a, counter(n, j, i));
        }
    }
    block.zeroize();
    a
}

/// RFC 3394 section 2.2.2: the inverse of [`w`], in place, returning the recovered A.
fn w_inverse<C: BlockCipher + ?Sized>(
    kek: &C,
    mut a: [u8; SEMIBLOCK],
    r: &mut [[u8; SEMIBLOCK]],
) -> [u8; SEMIBLOCK] {
    let n = r.len() as u64;
    let mut block = [0u8; 16];
    for j in (0..6u64).rev() {
        for (i, ri) in r.iter_mut().enumerate().rev() {
            xor_counter(&mut a, counter(n, j, i));
            block = join(&a, ri);
            kek.decrypt_block(&mut block);
            split(&block, &mut a, ri);
        }
    }
    block.zeroize();
    a
}

fn first_semiblock(bytes: &[u8]) -> Option<[u8; SEMIBLOCK]> {
    bytes.first_chunk::<SEMIBLOCK>().copied()
}

/// Length of the wrapped form of `key_len` bytes, or `None` where `mode` cannot wrap that length.
pub const fn wrapped_len(mode: Mode, key_len: usize) -> Option<usize> {
    match mode {
        Mode::Kw => {
            if key_len < 2 * SEMIBLOCK || !key_len.is_multiple_of(SEMIBLOCK) {
                return None;
            }
            key_len.checked_add(SEMIBLOCK)
        }
        Mode::Kwp => {
            if key_len == 0 || key_len > KWP_MAX_KEY {
                return None;
            }
            match key_len.checked_add(SEMIBLOCK - 1) {
                Some(padded) => padded
                    .wrapping_div(SEMIBLOCK)
                    .wrapping_mul(SEMIBLOCK)
                    .checked_add(SEMIBLOCK),
                None => None,
            }
        }
    }
}

fn out_slice(out: &mut [u8], needed: usize) -> Result<&mut [u8], KeyWrapError> {
    let capacity = out.len();
    out.get_mut(..needed)
        .ok_or(KeyWrapError::OutputTooSmall { needed, capacity })
}

/// Wraps `key` with `kek` into the start of `out`, returning the wrapped bytes.
pub fn wrap<'o, C: BlockCipher + ?Sized>(
    kek: &C,
    mode: Mode,
    key: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], KeyWrapError> {
    let total = wrapped_len(mode, key.len()).ok_or(KeyWrapError::KeyLength {
        mode,
        actual: key.len(),
    })?;
    let out = out_slice(out, total)?;
    let (head, body) = out.split_at_mut(SEMIBLOCK);
    // Zero padding for KWP; KW lengths are exact.
    body.fill(0);
    body.get_mut(..key.len())
        .ok_or(KeyWrapError::OutputTooSmall {
            needed: total,
            capacity: total,
        })?
        .copy_from_slice(key);
    let mut a = match mode {
        Mode::Kw => KW_IV,
        Mode::Kwp => {
            let mut aiv = [0u8; SEMIBLOCK];
            let (prefix, mli) = aiv.split_at_mut(4);
            prefix.copy_from_slice(&KWP_AIV_PREFIX);
            // wrapped_len checked that the length fits in 32 bits.
            mli.copy_from_slice(&(key.len() as u32).to_be_bytes());
            aiv
        }
    };
    let (semis, _) = body.as_chunks_mut::<SEMIBLOCK>();
    if let [only] = semis {
        // RFC 5649 section 4.1: a single padded semiblock is one AES-ECB block.
        let mut block = join(&a, only);
        kek.encrypt_block(&mut block);
        split(&block, &mut a, only);
        block.zeroize();
    } else {
        a = w(kek, a, semis);
    }
    head.copy_from_slice(&a);
    Ok(out)
}

/// Unwraps `wrapped` with `kek` into the start of `out`, returning the key. Every integrity
/// failure (wrong KEK, altered bytes, bad length indicator or padding) is
/// [`KeyWrapError::Integrity`]; `out` is wiped before that error is returned.
pub fn unwrap<'o, C: BlockCipher + ?Sized>(
    kek: &C,
    mode: Mode,
    wrapped: &[u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], KeyWrapError> {
    let len = wrapped.len();
    let min = match mode {
        Mode::Kw => 3 * SEMIBLOCK,
        Mode::Kwp => 2 * SEMIBLOCK,
    };
    if len < min || !len.is_multiple_of(SEMIBLOCK) {
        return Err(KeyWrapError::WrappedLength { mode, actual: len });
    }
    let body_len = len.saturating_sub(SEMIBLOCK);
    let out = out_slice(out, body_len)?;
    let (c0, rest) = wrapped.split_at(SEMIBLOCK);
    out.copy_from_slice(rest);
    let mut a = first_semiblock(c0).unwrap_or_default();
    let (semis, _) = out.as_chunks_mut::<SEMIBLOCK>();
    if let [only] = semis {
        let mut block = join(&a, only);
        kek.decrypt_block(&mut block);
        split(&block, &mut a, only);
        block.zeroize();
    } else {
        a = w_inverse(kek, a, semis);
    }
    let (ok, key_len) = match mode {
        Mode::Kw => (a.ct_eq(&KW_IV), body_len),
        Mode::Kwp => check_kwp(&a, out),
    };
    a.zeroize();
    if bool::from(ok) {
        // After a successful check the length is no secret: it is the length of the key.
        out.get(..key_len).ok_or(KeyWrapError::Integrity)
    } else {
        out.zeroize();
        Err(KeyWrapError::Integrity)
    }
}

/// RFC 5649 section 3: the AIV prefix, the message length indicator in (8(n-1), 8n] and the
/// zero padding, all checked without branching on the unwrapped bytes.
fn check_kwp(a: &[u8; SEMIBLOCK], body: &[u8]) -> (Choice, usize) {
    let (prefix, mli_bytes) = a.split_at(4);
    let mut mli_arr = [0u8; 4];
    mli_arr.copy_from_slice(mli_bytes);
    let mli = u64::from(u32::from_be_bytes(mli_arr));
    let n8 = body.len() as u64;
    let lower = n8.saturating_sub(SEMIBLOCK as u64);
    let prefix_ok = prefix.ct_eq(&KWP_AIV_PREFIX);
    let range_ok = mli.ct_gt(&lower) & !mli.ct_gt(&n8);
    let mut pad_bad = Choice::from(0);
    let tail_start = body.len().saturating_sub(SEMIBLOCK);
    for (i, b) in (tail_start as u64..).zip(body.get(tail_start..).unwrap_or(&[])) {
        let is_pad = !i.ct_lt(&mli);
        pad_bad |= is_pad & !b.ct_eq(&0);
    }
    let ok = prefix_ok & range_ok & !pad_bad;
    // Only read as a length once `ok` has been revealed to be true.
    (ok, usize::try_from(mli).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;
    use aes::cipher::KeyInit;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    fn h(s: &str) -> Vec<u8> {
        let mut out = vec![0u8; s.len() / 2];
        let n = hex::decode_into(s.as_bytes(), &mut out).unwrap();
        out.truncate(n);
        out
    }

    // RFC 3394 section 4.1 and 4.6.
    #[test]
    fn rfc3394_vectors() {
        let cases = [
            (
                "000102030405060708090A0B0C0D0E0F",
                "00112233445566778899AABBCCDDEEFF",
                "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
            ),
            (
                "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
                "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
                "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
            ),
        ];
        for (kek, key, wrapped) in cases {
            let kek = Kek::new(&h(kek)).unwrap();
            let mut out = [0u8; 64];
            assert_eq!(wrap(&kek, Mode::Kw, &h(key), &mut out).unwrap(), h(wrapped));
            assert_eq!(
                unwrap(&kek, Mode::Kw, &h(wrapped), &mut out).unwrap(),
                h(key)
            );
        }
    }

    #[test]
    fn length_rules() {
        let kek = Kek::new(&[1; 16]).unwrap();
        let mut out = [0u8; 64];
        assert_eq!(
            Kek::new(&[0; 20]).unwrap_err(),
            KeyWrapError::KekLength { actual: 20 }
        );
        assert!(matches!(
            wrap(&kek, Mode::Kw, &[0; 8], &mut out),
            Err(KeyWrapError::KeyLength { .. })
        ));
        assert!(matches!(
            wrap(&kek, Mode::Kwp, &[], &mut out),
            Err(KeyWrapError::KeyLength { .. })
        ));
        assert!(matches!(
            unwrap(&kek, Mode::Kwp, &[0; 8], &mut out),
            Err(KeyWrapError::WrappedLength { actual: 8, .. })
        ));
        assert!(matches!(
            unwrap(&kek, Mode::Kw, &[0; 16], &mut out),
            Err(KeyWrapError::WrappedLength { .. })
        ));
        assert!(matches!(
            unwrap(&kek, Mode::Kwp, &[0; 25], &mut out),
            Err(KeyWrapError::WrappedLength { .. })
        ));
        assert_eq!(
            wrap(&kek, Mode::Kwp, &[5; 9], &mut [0u8; 16]).unwrap_err(),
            KeyWrapError::OutputTooSmall {
                needed: 24,
                capacity: 16
            }
        );
        assert_eq!(wrapped_len(Mode::Kwp, 1), Some(16));
        assert_eq!(wrapped_len(Mode::Kwp, 9), Some(24));
        assert_eq!(wrapped_len(Mode::Kw, 24), Some(32));
    }

    #[test]
    fn failure_wipes_output() {
        let kek = Kek::new(&[3; 32]).unwrap();
        let mut wrapped = [0u8; 48];
        let w = wrap(&kek, Mode::Kwp, &[0x5A; 33], &mut wrapped)
            .unwrap()
            .to_vec();
        let mut bad = w.clone();
        bad[20] ^= 1;
        let mut out = [0xEEu8; 64];
        assert_eq!(
            unwrap(&kek, Mode::Kwp, &bad, &mut out).unwrap_err(),
            KeyWrapError::Integrity
        );
        assert!(out[..40].iter().all(|b| *b == 0));
    }

    #[test]
    fn debug_is_redacted() {
        let k = Kek::new(&[0x41; 24]).unwrap();
        assert_eq!(std::format!("{k:?}"), "Aes(192 bits, redacted)");
    }

    fn oracle_kwp_wrap(kek: &[u8], key: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; key.len() + 16];
        let n = match kek.len() {
            16 => aes_kw::KwpAes128::new_from_slice(kek)
                .unwrap()
                .wrap_key(key, &mut out)
                .unwrap()
                .len(),
            24 => aes_kw::KwpAes192::new_from_slice(kek)
                .unwrap()
                .wrap_key(key, &mut out)
                .unwrap()
                .len(),
            _ => aes_kw::KwpAes256::new_from_slice(kek)
                .unwrap()
                .wrap_key(key, &mut out)
                .unwrap()
                .len(),
        };
        out.truncate(n);
        out
    }

    fn oracle_kw_wrap(kek: &[u8], key: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; key.len() + 8];
        match kek.len() {
            16 => aes_kw::KwAes128::new_from_slice(kek)
                .unwrap()
                .wrap_key(key, &mut out)
                .unwrap(),
            24 => aes_kw::KwAes192::new_from_slice(kek)
                .unwrap()
                .wrap_key(key, &mut out)
                .unwrap(),
            _ => aes_kw::KwAes256::new_from_slice(kek)
                .unwrap()
                .wrap_key(key, &mut out)
                .unwrap(),
        };
        out
    }

    fn kek_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 16),
            proptest::collection::vec(any::<u8>(), 24),
            proptest::collection::vec(any::<u8>(), 32),
        ]
    }

    proptest! {
        // Round trip for every KEK size and every key length from 1 to 600 bytes, and the same
        // bytes as the independent aes-kw implementation.
        #[test]
        fn kwp_round_trip(kek in kek_strategy(), key in proptest::collection::vec(any::<u8>(), 1..600)) {
            let k = Kek::new(&kek).unwrap();
            let mut w = vec![0u8; key.len() + 16];
            let wrapped = wrap(&k, Mode::Kwp, &key, &mut w).unwrap().to_vec();
            prop_assert_eq!(&wrapped, &oracle_kwp_wrap(&kek, &key));
            let mut out = vec![0u8; wrapped.len()];
            prop_assert_eq!(unwrap(&k, Mode::Kwp, &wrapped, &mut out).unwrap(), &key[..]);
        }

        #[test]
        fn kw_round_trip(kek in kek_strategy(), semis in 2usize..40, fill in any::<u8>()) {
            let key: Vec<u8> = (0..semis * 8).map(|i| (i as u8).wrapping_mul(31) ^ fill).collect();
            let k = Kek::new(&kek).unwrap();
            let mut w = vec![0u8; key.len() + 8];
            let wrapped = wrap(&k, Mode::Kw, &key, &mut w).unwrap().to_vec();
            prop_assert_eq!(&wrapped, &oracle_kw_wrap(&kek, &key));
            let mut out = vec![0u8; wrapped.len()];
            prop_assert_eq!(unwrap(&k, Mode::Kw, &wrapped, &mut out).unwrap(), &key[..]);
        }

        // Any single-bit change anywhere is caught.
        #[test]
        fn kwp_bit_flip_fails(kek in kek_strategy(), key in proptest::collection::vec(any::<u8>(), 1..80), bit in any::<usize>()) {
            let k = Kek::new(&kek).unwrap();
            let mut w = vec![0u8; key.len() + 16];
            let mut wrapped = wrap(&k, Mode::Kwp, &key, &mut w).unwrap().to_vec();
            let bit = bit % (wrapped.len() * 8);
            wrapped[bit / 8] ^= 1 << (bit % 8);
            let mut out = vec![0u8; wrapped.len()];
            prop_assert_eq!(unwrap(&k, Mode::Kwp, &wrapped, &mut out).unwrap_err(), KeyWrapError::Integrity);
        }

        #[test]
        fn unwrap_arbitrary_never_panics(kek in kek_strategy(), data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let k = Kek::new(&kek).unwrap();
            let mut out = [0u8; 128];
            let _ = unwrap(&k, Mode::Kwp, &data, &mut out);
            let _ = unwrap(&k, Mode::Kw, &data, &mut out);
            let _ = unwrap(&k, Mode::Kwp, &data, &mut out[..3]);
        }
    }
}
