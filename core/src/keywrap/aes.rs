//! The key-encryption key of AES key wrap: the `aes` crate's block cipher (AES-NI or ARMv8 AES
//! where the CPU has it, detected at run time; its constant-time fixsliced software
//! implementation elsewhere), keyed with 16, 24 or 32 bytes. The key schedule is wiped on drop
//! (the crate's `zeroize` feature); `Debug` shows only the key size.

use core::fmt;

use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

use super::KeyWrapError;
use super::aes_kw::BlockCipher;

enum Schedule {
    A128(aes::Aes128),
    A192(aes::Aes192),
    A256(aes::Aes256),
}

/// An AES key schedule of 128, 192 or 256 bits.
pub struct Aes(Schedule);

impl Aes {
    /// Expands a 16-, 24- or 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self, KeyWrapError> {
        let bad = KeyWrapError::KekLength { actual: key.len() };
        Ok(Aes(match key.len() {
            16 => Schedule::A128(aes::Aes128::new_from_slice(key).map_err(|_| bad)?),
            24 => Schedule::A192(aes::Aes192::new_from_slice(key).map_err(|_| bad)?),
            32 => Schedule::A256(aes::Aes256::new_from_slice(key).map_err(|_| bad)?),
            _ => return Err(bad),
        }))
    }
}

impl BlockCipher for Aes {
    fn new(key: &[u8]) -> Result<Self, KeyWrapError> {
        Aes::new(key)
    }

    fn encrypt_block(&self, block: &mut [u8; 16]) {
        let b = Array::cast_from_core_mut(block);
        match &self.0 {
            Schedule::A128(c) => c.encrypt_block(b),
            Schedule::A192(c) => c.encrypt_block(b),
            Schedule::A256(c) => c.encrypt_block(b),
        }
    }

    fn decrypt_block(&self, block: &mut [u8; 16]) {
        let b = Array::cast_from_core_mut(block);
        match &self.0 {
            Schedule::A128(c) => c.decrypt_block(b),
            Schedule::A192(c) => c.decrypt_block(b),
            Schedule::A256(c) => c.decrypt_block(b),
        }
    }

    fn bits(&self) -> u32 {
        match self.0 {
            Schedule::A128(_) => 128,
            Schedule::A192(_) => 192,
            Schedule::A256(_) => 256,
        }
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

    fn h<const N: usize>(s: &str) -> [u8; N] {
        crate::hex::decode_array(s.as_bytes()).unwrap()
    }

    // FIPS 197 appendix C, through the same entry points key wrap uses.
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
            assert_eq!(aes.bits() as usize, n * 8);
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
}
