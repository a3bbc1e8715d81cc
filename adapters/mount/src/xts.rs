//! AES-256-XTS as dm-crypt's `aes-xts-plain64` uses it: one data unit per sector, the tweak is
//! the little-endian 64-bit sector number (in 512-byte units, plus the segment's `iv_tweak`),
//! encrypted with the second key half. Sector sizes are multiples of 16, so ciphertext stealing
//! never occurs.

use aes::Aes256;
use aes::cipher::array::Array;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use zeroize::Zeroize;

/// XTS block size.
pub const BLOCK: usize = 16;
/// Key length for AES-256-XTS (two AES-256 keys).
pub const KEY_LEN: usize = 64;
/// Blocks processed per batch (keeps the tweak table on the stack).
const BATCH: usize = 256;

/// A wrong key length for XTS.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("XTS key must be {KEY_LEN} bytes, got {0}")]
pub struct KeyLengthError(pub usize);

/// The two AES-256 schedules of an XTS key. Debug never shows key material.
pub struct Xts {
    data: Aes256,
    tweak: Aes256,
}

impl std::fmt::Debug for Xts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Xts(aes-256, key hidden)")
    }
}

#[inline]
fn mul_alpha(t: u128) -> u128 {
    let carry = t >> 127;
    (t << 1) ^ (carry * 0x87)
}

impl Xts {
    /// Builds from a 64-byte key (first half: data key, second half: tweak key).
    pub fn new(key: &[u8]) -> Result<Self, KeyLengthError> {
        if key.len() != KEY_LEN {
            return Err(KeyLengthError(key.len()));
        }
        let (k1, k2) = key.split_at(KEY_LEN / 2);
        let mut a = Array::<u8, _>::default();
        a.copy_from_slice(k1);
        let data = Aes256::new(&a);
        a.copy_from_slice(k2);
        let tweak = Aes256::new(&a);
        a.zeroize();
        Ok(Self { data, tweak })
    }

    fn initial_tweak(&self, sector: u64) -> u128 {
        let mut b = Array::<u8, _>::default();
        b[..8].copy_from_slice(&sector.to_le_bytes());
        self.tweak.encrypt_block(&mut b);
        let mut t = [0u8; BLOCK];
        t.copy_from_slice(&b);
        u128::from_le_bytes(t)
    }

    fn run(&self, buf: &mut [u8], sector: u64, encrypt: bool) {
        let mut t = self.initial_tweak(sector);
        let mut tweaks = [0u128; BATCH];
        for chunk in buf.chunks_mut(BATCH * BLOCK) {
            let (blocks, _rest) = Array::<u8, _>::slice_as_chunks_mut(chunk);
            for (b, slot) in blocks.iter_mut().zip(tweaks.iter_mut()) {
                *slot = t;
                let mut v = [0u8; BLOCK];
                v.copy_from_slice(b);
                b.copy_from_slice(&(u128::from_le_bytes(v) ^ t).to_le_bytes());
                t = mul_alpha(t);
            }
            if encrypt {
                self.data.encrypt_blocks(blocks);
            } else {
                self.data.decrypt_blocks(blocks);
            }
            for (b, tw) in blocks.iter_mut().zip(tweaks.iter()) {
                let mut v = [0u8; BLOCK];
                v.copy_from_slice(b);
                b.copy_from_slice(&(u128::from_le_bytes(v) ^ tw).to_le_bytes());
            }
        }
    }

    /// Encrypts one data unit in place (`buf.len()` a multiple of 16).
    pub fn encrypt_unit(&self, buf: &mut [u8], tweak: u64) {
        self.run(buf, tweak, true);
    }

    /// Decrypts one data unit in place (`buf.len()` a multiple of 16).
    pub fn decrypt_unit(&self, buf: &mut [u8], tweak: u64) {
        self.run(buf, tweak, false);
    }

    /// Decrypts consecutive sectors of `sector_size` bytes; the first has 512-byte sector
    /// number `first_512`, and each following one `sector_size / 512` more (dm-crypt plain64
    /// without `iv_large_sectors`).
    pub fn decrypt_sectors(&self, buf: &mut [u8], sector_size: usize, first_512: u64) {
        let step = (sector_size / 512) as u64;
        for (i, s) in buf.chunks_mut(sector_size).enumerate() {
            self.decrypt_unit(s, first_512 + i as u64 * step);
        }
    }

    /// Encrypts consecutive sectors, as [`Xts::decrypt_sectors`].
    pub fn encrypt_sectors(&self, buf: &mut [u8], sector_size: usize, first_512: u64) {
        let step = (sector_size / 512) as u64;
        for (i, s) in buf.chunks_mut(sector_size).enumerate() {
            self.encrypt_unit(s, first_512 + i as u64 * step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// IEEE 1619-2007 XTS-AES-256 vector 10 (data unit 0xff, 512 bytes of 00..ff twice); the
    /// last 32 bytes cross-checked with Python `cryptography`.
    #[test]
    fn ieee1619_vector_10() {
        let key = hex(concat!(
            "2718281828459045235360287471352662497757247093699959574966967627",
            "3141592653589793238462643383279502884197169399375105820974944592"
        ));
        let xts = Xts::new(&key).unwrap();
        let mut buf: Vec<u8> = (0..512).map(|i| (i % 256) as u8).collect();
        xts.encrypt_unit(&mut buf, 0xff);
        assert_eq!(
            &buf[..32],
            &hex("1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b")[..]
        );
        assert_eq!(
            &buf[480..],
            &hex("773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151")[..]
        );
        xts.decrypt_unit(&mut buf, 0xff);
        assert!(buf.iter().enumerate().all(|(i, b)| *b == (i % 256) as u8));
    }

    #[test]
    fn rejects_short_key() {
        assert_eq!(Xts::new(&[0u8; 32]).unwrap_err(), KeyLengthError(32));
    }

    #[test]
    fn sectors_use_512_byte_numbers() {
        let key = [7u8; 64];
        let xts = Xts::new(&key).unwrap();
        let plain = vec![0xa5u8; 8192];
        let mut two = plain.clone();
        xts.encrypt_sectors(&mut two, 4096, 80);
        let mut second = plain[4096..].to_vec();
        xts.encrypt_unit(&mut second, 88);
        assert_eq!(&two[4096..], &second[..]);
        xts.decrypt_sectors(&mut two, 4096, 80);
        assert_eq!(two, plain);
    }
}
