//! RSA-OAEP decryption (RFC 8017 section 7.1.2): the backend trait and the constant-time
//! decoding step.
//!
//! [`OaepDecrypt`] is what key unwrapping needs from an RSA private key. The core's own
//! [`crate::rsa::private::RsaPrivateKey`] implements it; std builds add an aws-lc-rs key
//! (crate csc-crypto) that implements it too, and the same vectors run through both.
//!
//! [`decode`] checks the encoded message without branching on it: the leading zero byte, the
//! label hash, the zero run and the 0x01 separator are folded into one [`subtle::Choice`], and
//! only that single bit decides the outcome. Every way the padding can be wrong gives the same
//! [`OaepError::Decryption`] (no Manger or Bleichenbacher style oracle).

use core::fmt;

use sha2::Digest;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use crate::rsa::mgf1;
use crate::secret::BlindingSeed;

/// The hash of OAEP and of its MGF1 (always the same one here), with an empty label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    /// SHA-1 (Key Vault's `CKM_RSA_AES_KEY_WRAP`, `RSA-OAEP`).
    Sha1,
    /// SHA-256 (`RSA_AES_KEY_WRAP_256`, `RSA-OAEP-256`).
    Sha256,
    /// SHA-384 (`RSA_AES_KEY_WRAP_384`).
    Sha384,
}

impl OaepHash {
    /// Digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            OaepHash::Sha1 => 20,
            OaepHash::Sha256 => 32,
            OaepHash::Sha384 => 48,
        }
    }

    /// Longest message OAEP with this hash carries under a `modulus_len`-byte modulus.
    pub const fn max_message_len(self, modulus_len: usize) -> usize {
        modulus_len
            .saturating_sub(self.output_len())
            .saturating_sub(self.output_len())
            .saturating_sub(2)
    }
}

impl fmt::Display for OaepHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OaepHash::Sha1 => "SHA-1",
            OaepHash::Sha256 => "SHA-256",
            OaepHash::Sha384 => "SHA-384",
        })
    }
}

/// The public half of an RSA key: big-endian integers without leading zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RsaPublicParts<'a> {
    /// Modulus n.
    pub n: &'a [u8],
    /// Public exponent e.
    pub e: &'a [u8],
}

/// Why RSA-OAEP decryption failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OaepError {
    /// The ciphertext is not exactly as long as the modulus.
    CiphertextLength {
        /// The modulus length in bytes.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The ciphertext, as an integer, is not below the modulus.
    CiphertextRange,
    /// The decrypted block is not a valid OAEP encoding for this hash and an empty label. One
    /// error for every cause, on purpose.
    Decryption,
    /// The message does not fit in the output buffer.
    OutputTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes the buffer has.
        capacity: usize,
    },
    /// The private-key result did not verify against the public key (a fault during the
    /// computation); nothing was released.
    Fault,
    /// The backend failed without saying why (std backends).
    Backend,
}

impl fmt::Display for OaepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OaepError::CiphertextLength { expected, actual } => write!(
                f,
                "RSA-OAEP ciphertext is {actual} bytes; the modulus is {expected} bytes"
            ),
            OaepError::CiphertextRange => {
                f.write_str("RSA-OAEP ciphertext is not smaller than the modulus")
            }
            OaepError::Decryption => f.write_str("RSA-OAEP decryption failed"),
            OaepError::OutputTooSmall { needed, capacity } => write!(
                f,
                "RSA-OAEP message of {needed} bytes does not fit in {capacity} bytes"
            ),
            OaepError::Fault => {
                f.write_str("RSA private-key result failed its check against the public key")
            }
            OaepError::Backend => f.write_str("RSA-OAEP backend failed"),
        }
    }
}

impl core::error::Error for OaepError {}

/// An RSA private key that can undo RSA-OAEP.
pub trait OaepDecrypt {
    /// The public key.
    fn public_key(&self) -> RsaPublicParts<'_>;

    /// Modulus length in bytes (the length of every ciphertext).
    fn modulus_len(&self) -> usize {
        self.public_key().n.len()
    }

    /// Decrypts `ciphertext` (exactly [`Self::modulus_len`] bytes) with OAEP and MGF1 both
    /// using `hash` and an empty label, and writes the message to the start of `out`.
    ///
    /// `blinding` is fresh randomness for this one operation; backends with their own random
    /// number generator may ignore it. On error nothing of the message is left in `out`.
    fn decrypt_oaep<'o>(
        &self,
        hash: OaepHash,
        ciphertext: &[u8],
        blinding: &BlindingSeed,
        out: &'o mut [u8],
    ) -> Result<&'o [u8], OaepError>;
}

impl<T: OaepDecrypt + ?Sized> OaepDecrypt for &T {
    fn public_key(&self) -> RsaPublicParts<'_> {
        (**self).public_key()
    }
    fn modulus_len(&self) -> usize {
        (**self).modulus_len()
    }
    fn decrypt_oaep<'o>(
        &self,
        hash: OaepHash,
        ciphertext: &[u8],
        blinding: &BlindingSeed,
        out: &'o mut [u8],
    ) -> Result<&'o [u8], OaepError> {
        (**self).decrypt_oaep(hash, ciphertext, blinding, out)
    }
}

/// Decodes the encoded message `em` (the raw RSA result, modulus length, big-endian) in place
/// and copies the message to the start of `out`. `em` is wiped before returning, whatever the
/// outcome.
pub fn decode<'o>(hash: OaepHash, em: &mut [u8], out: &'o mut [u8]) -> Result<&'o [u8], OaepError> {
    let r = match hash {
        OaepHash::Sha1 => decode_with::<sha1::Sha1>(em, out),
        OaepHash::Sha256 => decode_with::<sha2::Sha256>(em, out),
        OaepHash::Sha384 => decode_with::<sha2::Sha384>(em, out),
    };
    em.zeroize();
    match r {
        Ok(len) => out.get(..len).ok_or(OaepError::Decryption),
        Err(e) => Err(e),
    }
}

fn decode_with<D: Digest>(em: &mut [u8], out: &mut [u8]) -> Result<usize, OaepError> {
    let h_len = <D as Digest>::output_size();
    // A modulus too small for this hash is a property of the key, not of the secret.
    if em.len() < h_len.saturating_mul(2).saturating_add(2) {
        return Err(OaepError::Decryption);
    }
    let (y, rest) = em.split_first_mut().ok_or(OaepError::Decryption)?;
    let (seed, db) = rest
        .split_at_mut_checked(h_len)
        .ok_or(OaepError::Decryption)?;
    mgf1::xor_mask::<D>(db, seed);
    mgf1::xor_mask::<D>(seed, db);
    let l_hash = D::digest([]);
    let (db_hash, ps_m) = db.split_at(h_len);
    let mut good = y.ct_eq(&0) & db_hash.ct_eq(l_hash.as_slice());
    // Find the first 0x01 after the zero run; anything else before it is an error.
    let mut looking = Choice::from(1);
    let mut separator = 0u64;
    let mut bad_ps = Choice::from(0);
    for (i, b) in (0u64..).zip(ps_m.iter()) {
        let is_one = b.ct_eq(&1);
        let is_zero = b.ct_eq(&0);
        separator.conditional_assign(&i, looking & is_one);
        bad_ps |= looking & !is_one & !is_zero;
        looking &= !is_one;
    }
    good &= !bad_ps & !looking;
    if !bool::from(good) {
        return Err(OaepError::Decryption);
    }
    // From here on the message length is public: it is the length of the result.
    let start = usize::try_from(separator)
        .map_err(|_| OaepError::Decryption)?
        .saturating_add(1);
    let msg = ps_m.get(start..).ok_or(OaepError::Decryption)?;
    let capacity = out.len();
    let dst = out.get_mut(..msg.len()).ok_or(OaepError::OutputTooSmall {
        needed: msg.len(),
        capacity,
    })?;
    dst.copy_from_slice(msg);
    Ok(msg.len())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// Builds an OAEP encoding per RFC 8017 7.1.1 with a chosen seed (for tests only).
    pub(crate) fn encode(hash: OaepHash, k: usize, msg: &[u8], seed: &[u8]) -> Vec<u8> {
        fn enc<D: Digest>(k: usize, msg: &[u8], seed: &[u8]) -> Vec<u8> {
            let h = <D as Digest>::output_size();
            let mut em = vec![0u8; k];
            let (seed_part, db) = em[1..].split_at_mut(h);
            db[..h].copy_from_slice(&D::digest([]));
            let ps_len = k - msg.len() - 2 * h - 2;
            db[h + ps_len] = 1;
            db[h + ps_len + 1..].copy_from_slice(msg);
            seed_part.copy_from_slice(&seed[..h]);
            mgf1::xor_mask::<D>(seed_part, db);
            mgf1::xor_mask::<D>(db, seed_part);
            em
        }
        match hash {
            OaepHash::Sha1 => enc::<sha1::Sha1>(k, msg, seed),
            OaepHash::Sha256 => enc::<sha2::Sha256>(k, msg, seed),
            OaepHash::Sha384 => enc::<sha2::Sha384>(k, msg, seed),
        }
    }

    const HASHES: [OaepHash; 3] = [OaepHash::Sha1, OaepHash::Sha256, OaepHash::Sha384];

    #[test]
    fn decodes_what_encode_builds() {
        for hash in HASHES {
            for len in [0usize, 1, 16, 32, hash.max_message_len(256)] {
                let msg: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5c).collect();
                let mut em = encode(hash, 256, &msg, &[0x42; 48]);
                let mut out = [0u8; 256];
                assert_eq!(decode(hash, &mut em, &mut out).unwrap(), &msg[..]);
                assert!(em.iter().all(|b| *b == 0), "em is wiped");
            }
        }
    }

    #[test]
    fn every_defect_is_the_same_error() {
        let hash = OaepHash::Sha256;
        let good = encode(hash, 256, b"0123456789abcdef0123456789abcdef", &[7; 32]);
        let mut out = [0u8; 64];
        // Wrong hash.
        let mut em = good.clone();
        assert_eq!(
            decode(OaepHash::Sha1, &mut em, &mut out),
            Err(OaepError::Decryption)
        );
        // Leading byte not zero.
        let mut em = good.clone();
        em[0] = 1;
        assert_eq!(decode(hash, &mut em, &mut out), Err(OaepError::Decryption));
        // Any flipped bit in the masked part.
        for bit in (8..256 * 8).step_by(97) {
            let mut em = good.clone();
            em[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                decode(hash, &mut em, &mut out),
                Err(OaepError::Decryption),
                "bit {bit}"
            );
        }
        // Output too small is reported only for a valid encoding.
        let mut em = good.clone();
        assert_eq!(
            decode(hash, &mut em, &mut out[..31]),
            Err(OaepError::OutputTooSmall {
                needed: 32,
                capacity: 31
            })
        );
        // Modulus too small for the hash.
        let mut em = vec![0u8; 60];
        assert_eq!(
            decode(OaepHash::Sha384, &mut em, &mut out),
            Err(OaepError::Decryption)
        );
    }
}
