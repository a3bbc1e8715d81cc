//! A small constant-time AES (FIPS 197) for the core: no tables indexed by secret data, no
//! branches on data, no panic path (no indexing at all), no unsafe.
//!
//! The 16-byte state is one `u128` (byte i of the block in bits 8i..8i+8, which is also
//! FIPS 197's column-major order) and every step works on all 16 bytes at once: the S-box is
//! the inverse in GF(2^8) computed as x^254 with a bytewise carry-less multiplication, then the
//! affine map; ShiftRows is a rotation per row; MixColumns uses `xtime` per byte.
//!
//! It is slower than AES-NI by an order of magnitude or more (see the benchmarks); std builds
//! plug the `aes` crate (AES-NI where the CPU has it) into key wrap through
//! [`super::aes_kw::BlockCipher`] instead. The `aes` crate is not used here because its software
//! backend keeps bounds checks the optimiser cannot remove, which the no-panic link check
//! refuses.

use core::fmt;

use zeroize::Zeroize;

use super::KeyWrapError;
use super::aes_kw::BlockCipher;

/// Lowest bit of every byte.
const LSB: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
/// The seven low bits of every byte.
const LOW7: u128 = 0x7F7F_7F7F_7F7F_7F7F_7F7F_7F7F_7F7F_7F7F;
/// Bytes of row r of the state (positions r, r+4, r+8, r+12).
const ROW0: u128 = 0x0000_00FF_0000_00FF_0000_00FF_0000_00FF;

fn splat(byte: u8) -> u128 {
    LSB.wrapping_mul(u128::from(byte))
}

/// Multiplies every byte by x (0x02) in GF(2^8).
fn xtime(a: u128) -> u128 {
    ((a & LOW7) << 1) ^ ((a >> 7) & LSB).wrapping_mul(0x1B)
}

/// Bytewise product in GF(2^8).
fn gmul(mut a: u128, b: u128) -> u128 {
    let mut r = 0u128;
    for i in 0..8 {
        let mask = ((b >> i) & LSB).wrapping_mul(0xFF);
        r ^= a & mask;
        a = xtime(a);
    }
    r
}

/// Bytewise inverse in GF(2^8) (0 maps to 0): x^254.
fn ginv(x: u128) -> u128 {
    let x2 = gmul(x, x);
    let x3 = gmul(x2, x);
    let x6 = gmul(x3, x3);
    let x12 = gmul(x6, x6);
    let x15 = gmul(x12, x3);
    let x30 = gmul(x15, x15);
    let x60 = gmul(x30, x30);
    let x120 = gmul(x60, x60);
    let x240 = gmul(x120, x120);
    let x252 = gmul(x240, x12);
    gmul(x252, x2)
}

/// Rotates every byte left by k bits (0 < k < 8).
fn rotb(a: u128, k: u32) -> u128 {
    let hi_mask = splat(0xFFu8 << k);
    let back = 8u32.wrapping_sub(k);
    let lo_mask = splat(0xFFu8 >> back);
    ((a << k) & hi_mask) | ((a >> back) & lo_mask)
}

fn sub_bytes(a: u128) -> u128 {
    let b = ginv(a);
    b ^ rotb(b, 1) ^ rotb(b, 2) ^ rotb(b, 3) ^ rotb(b, 4) ^ splat(0x63)
}

fn inv_sub_bytes(a: u128) -> u128 {
    ginv(rotb(a, 1) ^ rotb(a, 3) ^ rotb(a, 6) ^ splat(0x05))
}

/// ShiftRows: row r moves r columns to the left, i.e. the new byte at r + 4c is the old byte
/// at r + 4(c + r).
fn shift_rows(a: u128) -> u128 {
    (a & ROW0)
        | ((a & (ROW0 << 8)).rotate_right(32))
        | ((a & (ROW0 << 16)).rotate_right(64))
        | ((a & (ROW0 << 24)).rotate_right(96))
}

fn inv_shift_rows(a: u128) -> u128 {
    (a & ROW0)
        | ((a & (ROW0 << 8)).rotate_left(32))
        | ((a & (ROW0 << 16)).rotate_left(64))
        | ((a & (ROW0 << 24)).rotate_left(96))
}

/// Within every 32-bit column, brings the byte k rows further down (cyclically) to each row.
fn col_rot(a: u128, k: u32) -> u128 {
    // The low 32 - 8k bits of every column.
    let low = match k {
        1 => 0x00FF_FFFF_00FF_FFFF_00FF_FFFF_00FF_FFFF_u128,
        2 => 0x0000_FFFF_0000_FFFF_0000_FFFF_0000_FFFF,
        _ => 0x0000_00FF_0000_00FF_0000_00FF_0000_00FF,
    };
    let bits = k.wrapping_mul(8);
    ((a >> bits) & low) | ((a << 32u32.wrapping_sub(bits)) & !low)
}

fn mix_columns(a: u128) -> u128 {
    let r1 = col_rot(a, 1);
    let r2 = col_rot(a, 2);
    let r3 = col_rot(a, 3);
    xtime(a ^ r1) ^ r1 ^ r2 ^ r3
}

fn inv_mix_columns(a: u128) -> u128 {
    let u = xtime(xtime(a ^ col_rot(a, 2)));
    mix_columns(a ^ u)
}

/// Most rounds (AES-256).
const MAX_ROUNDS: usize = 14;

/// An AES key schedule (128, 192 or 256 bits), wiped on drop; `Debug` shows only the size.
pub struct Aes {
    rk: [u128; MAX_ROUNDS + 1],
    rounds: usize,
}

impl Aes {
    /// Expands a 16-, 24- or 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self, KeyWrapError> {
        let nk = match key.len() {
            16 | 24 | 32 => key.len() / 4,
            actual => return Err(KeyWrapError::KekLength { actual }),
        };
        let rounds = nk.saturating_add(6);
        let total = rounds.saturating_add(1).saturating_mul(4);
        let mut w = [0u32; 4 * (MAX_ROUNDS + 1)];
        for (d, s) in w.iter_mut().zip(key.chunks_exact(4)) {
            *d = u32::from_le_bytes([
                s.first().copied().unwrap_or(0),
                s.get(1).copied().unwrap_or(0),
                s.get(2).copied().unwrap_or(0),
                s.get(3).copied().unwrap_or(0),
            ]);
        }
        let mut rcon = 1u8;
        for i in nk..total.min(w.len()) {
            let mut t = w.get(i.wrapping_sub(1)).copied().unwrap_or(0);
            let pos = i.checked_rem(nk).unwrap_or(1);
            if pos == 0 {
                t = sub_word(t.rotate_right(8)) ^ u32::from(rcon);
                rcon = xtime(u128::from(rcon)) as u8;
            } else if nk > 6 && pos == 4 {
                t = sub_word(t);
            }
            let prev = w.get(i.wrapping_sub(nk)).copied().unwrap_or(0);
            if let Some(d) = w.get_mut(i) {
                *d = prev ^ t;
            }
        }
        let mut rk = [0u128; MAX_ROUNDS + 1];
        for (k, words) in rk.iter_mut().zip(w.chunks_exact(4)) {
            *k = words
                .iter()
                .rev()
                .fold(0u128, |acc, word| (acc << 32) | u128::from(*word));
        }
        w.zeroize();
        Ok(Aes { rk, rounds })
    }

    fn round_keys(&self) -> &[u128] {
        self.rk.get(..=self.rounds).unwrap_or(&[])
    }
}

/// SubWord on one key-schedule word.
fn sub_word(w: u32) -> u32 {
    sub_bytes(u128::from(w)) as u32
}

impl BlockCipher for Aes {
    fn new(key: &[u8]) -> Result<Self, KeyWrapError> {
        Aes::new(key)
    }

    fn encrypt_block(&self, block: &mut [u8; 16]) {
        let keys = self.round_keys();
        let mut s = u128::from_le_bytes(*block);
        let mut it = keys.iter();
        s ^= it.next().copied().unwrap_or(0);
        let last = keys.len().saturating_sub(2);
        for (i, k) in it.enumerate() {
            s = shift_rows(sub_bytes(s));
            if i < last {
                s = mix_columns(s);
            }
            s ^= *k;
        }
        *block = s.to_le_bytes();
        s.zeroize();
    }

    fn decrypt_block(&self, block: &mut [u8; 16]) {
        let keys = self.round_keys();
        let mut s = u128::from_le_bytes(*block);
        let mut it = keys.iter().rev();
        s ^= it.next().copied().unwrap_or(0);
        let last = keys.len().saturating_sub(2);
        for (i, k) in it.enumerate() {
            s = inv_sub_bytes(inv_shift_rows(s)) ^ *k;
            if i < last {
                s = inv_mix_columns(s);
            }
        }
        *block = s.to_le_bytes();
        s.zeroize();
    }

    fn bits(&self) -> u32 {
        match self.rounds {
            10 => 128,
            12 => 192,
            _ => 256,
        }
    }
}

impl Drop for Aes {
    fn drop(&mut self) {
        self.rk.zeroize();
    }
}

impl fmt::Debug for Aes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aes({} bits, redacted)", self.bits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
    use proptest::prelude::*;

    fn h<const N: usize>(s: &str) -> [u8; N] {
        crate::hex::decode_array(s.as_bytes()).unwrap()
    }

    #[test]
    fn sbox_spot_values() {
        // FIPS 197 figure 7: S(0x00) = 0x63, S(0x53) = 0xed, S(0xff) = 0x16.
        let s = sub_bytes(0x53 | (0xFF << 8));
        assert_eq!(s & 0xFFFF, 0xed | (0x16 << 8));
        assert_eq!((s >> 16) & 0xFF, 0x63);
        assert_eq!(inv_sub_bytes(s) & 0x00FF_FFFF, 0x53 | (0xFF << 8));
    }

    // FIPS 197 appendix C.
    #[test]
    fn fips197_appendix_c() {
        let pt: [u8; 16] = h("00112233445566778899aabbccddeeff");
        for (key, ct) in [
            (
                "000102030405060708090a0b0c0d0e0f",
                "69c4e0d86a7b0430d8cdb78070b4c55a",
            ),
            (
                "000102030405060708090a0b0c0d0e0f1011121314151617",
                "dda97ca4864cdfe06eaf70a0ec0d7191",
            ),
            (
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "8ea2b7ca516745bfeafc49904b496089",
            ),
        ] {
            let mut kb = [0u8; 32];
            let n = crate::hex::decode_into(key.as_bytes(), &mut kb).unwrap();
            let aes = Aes::new(&kb[..n]).unwrap();
            let mut b = pt;
            aes.encrypt_block(&mut b);
            assert_eq!(b, h::<16>(ct), "key {key}");
            aes.decrypt_block(&mut b);
            assert_eq!(b, pt);
        }
        assert_eq!(
            Aes::new(&[0; 20]).unwrap_err(),
            KeyWrapError::KekLength { actual: 20 }
        );
    }

    proptest! {
        // Same results as the aes crate for every key size.
        #[test]
        fn agrees_with_aes_crate(key in proptest::collection::vec(any::<u8>(), 32), size in 0usize..3, block in any::<[u8; 16]>()) {
            let key = &key[..16 + 8 * size];
            let ours = Aes::new(key).unwrap();
            let mut a = block;
            ours.encrypt_block(&mut a);
            let mut b = Array::from(block);
            let mut c = block;
            ours.decrypt_block(&mut c);
            let mut d = Array::from(block);
            match size {
                0 => { let k = aes::Aes128::new_from_slice(key).unwrap(); k.encrypt_block(&mut b); k.decrypt_block(&mut d); }
                1 => { let k = aes::Aes192::new_from_slice(key).unwrap(); k.encrypt_block(&mut b); k.decrypt_block(&mut d); }
                _ => { let k = aes::Aes256::new_from_slice(key).unwrap(); k.encrypt_block(&mut b); k.decrypt_block(&mut d); }
            }
            prop_assert_eq!(&a[..], b.as_slice());
            prop_assert_eq!(&c[..], d.as_slice());
        }
    }
}
