//! Key Vault / managed HSM release formats: the first modulus-length bytes are RSA-OAEP of an
//! AES key-encryption key under the ephemeral key, the rest is AES-KWP (RFC 5649) of the
//! released key under that KEK.
//!
//! | `enc` (request.enc of the release JWS) | OAEP and MGF1 hash |
//! |---|---|
//! | `CKM_RSA_AES_KEY_WRAP` | SHA-1 |
//! | `RSA_AES_KEY_WRAP_256` | SHA-256 |
//! | `RSA_AES_KEY_WRAP_384` | SHA-384 |
//!
//! The KEK only ever exists in a [`SecretBytes`] that is wiped when this function returns.

use core::fmt;

use super::KeyWrapError;
use super::aes_kw::{self, BlockCipher, Kek, Mode};
use crate::rsa::oaep::{OaepDecrypt, OaepError, OaepHash};
use crate::rsa::private::MAX_MODULUS_LEN;
use crate::secret::{BlindingSeed, SecretBytes};

/// Largest released key this module unwraps: a PKCS#8 RSA-4096 key is about 2.4 KB.
pub const RELEASED_KEY_CAPACITY: usize = 4096;

/// A released key (raw AES key bytes, or PKCS#8 DER for RSA and EC keys), wiped on drop.
pub type ReleasedKey = SecretBytes<RELEASED_KEY_CAPACITY>;

/// The three wrapping algorithms Key Vault uses for releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapAlgorithm {
    /// `CKM_RSA_AES_KEY_WRAP`: RSA-OAEP with SHA-1.
    CkmRsaAesKeyWrap,
    /// `RSA_AES_KEY_WRAP_256`: RSA-OAEP with SHA-256.
    RsaAesKeyWrap256,
    /// `RSA_AES_KEY_WRAP_384`: RSA-OAEP with SHA-384.
    RsaAesKeyWrap384,
}

impl WrapAlgorithm {
    /// All three, in the order of the table above.
    pub const ALL: [WrapAlgorithm; 3] = [
        WrapAlgorithm::CkmRsaAesKeyWrap,
        WrapAlgorithm::RsaAesKeyWrap256,
        WrapAlgorithm::RsaAesKeyWrap384,
    ];

    /// The algorithm named by a release's `enc` value (exact, case-sensitive, as upstream).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The `enc` name.
    pub const fn name(self) -> &'static str {
        match self {
            WrapAlgorithm::CkmRsaAesKeyWrap => "CKM_RSA_AES_KEY_WRAP",
            WrapAlgorithm::RsaAesKeyWrap256 => "RSA_AES_KEY_WRAP_256",
            WrapAlgorithm::RsaAesKeyWrap384 => "RSA_AES_KEY_WRAP_384",
        }
    }

    /// Hash for OAEP and MGF1.
    pub const fn oaep_hash(self) -> OaepHash {
        match self {
            WrapAlgorithm::CkmRsaAesKeyWrap => OaepHash::Sha1,
            WrapAlgorithm::RsaAesKeyWrap256 => OaepHash::Sha256,
            WrapAlgorithm::RsaAesKeyWrap384 => OaepHash::Sha384,
        }
    }
}

impl fmt::Display for WrapAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a release could not be unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReleaseError {
    /// `enc` is not one of the three algorithms.
    Algorithm,
    /// The blob is too short to hold an RSA block and a key wrap.
    TooShort {
        /// Bytes needed at least (modulus length + 16).
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The RSA-OAEP part failed.
    Oaep(OaepError),
    /// RSA-OAEP gave a KEK that is not 16, 24 or 32 bytes.
    KekLength {
        /// Bytes decrypted.
        actual: usize,
    },
    /// The AES-KWP part failed (including its integrity check).
    KeyWrap(KeyWrapError),
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReleaseError::Algorithm => f.write_str(
                "unsupported wrapping algorithm (CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384)",
            ),
            ReleaseError::TooShort { needed, actual } => write!(
                f,
                "wrapped key is {actual} bytes; RSA block and key wrap need at least {needed}"
            ),
            ReleaseError::Oaep(e) => write!(f, "RSA-OAEP part of the wrapped key: {e}"),
            ReleaseError::KekLength { actual } => write!(
                f,
                "RSA-OAEP part holds {actual} bytes, not an AES key of 16, 24 or 32"
            ),
            ReleaseError::KeyWrap(e) => write!(f, "AES-KWP part of the wrapped key: {e}"),
        }
    }
}

impl core::error::Error for ReleaseError {}

impl From<OaepError> for ReleaseError {
    fn from(e: OaepError) -> Self {
        ReleaseError::Oaep(e)
    }
}

impl From<KeyWrapError> for ReleaseError {
    fn from(e: KeyWrapError) -> Self {
        ReleaseError::KeyWrap(e)
    }
}

impl From<crate::secret::CapacityError> for ReleaseError {
    fn from(e: crate::secret::CapacityError) -> Self {
        ReleaseError::KeyWrap(e.into())
    }
}

/// Unwraps `blob` (RSA block followed by AES-KWP) into the start of `out`, returning the key,
/// with the core's AES ([`super::Kek`]). On error `out` holds nothing of the key.
pub fn unwrap_rsa_aes<'o, K: OaepDecrypt + ?Sized>(
    key: &K,
    alg: WrapAlgorithm,
    blob: &[u8],
    blinding: &BlindingSeed,
    out: &'o mut [u8],
) -> Result<&'o [u8], ReleaseError> {
    unwrap_rsa_aes_with::<Kek, K>(key, alg, blob, blinding, out)
}

/// [`unwrap_rsa_aes`] with the AES implementation `C`.
pub fn unwrap_rsa_aes_with<'o, C: BlockCipher, K: OaepDecrypt + ?Sized>(
    key: &K,
    alg: WrapAlgorithm,
    blob: &[u8],
    blinding: &BlindingSeed,
    out: &'o mut [u8],
) -> Result<&'o [u8], ReleaseError> {
    let k = key.modulus_len();
    let needed = k.saturating_add(2 * aes_kw::SEMIBLOCK);
    let (rsa_part, kwp_part) = match blob.split_at_checked(k) {
        Some(parts) if blob.len() >= needed => parts,
        _ => {
            return Err(ReleaseError::TooShort {
                needed,
                actual: blob.len(),
            });
        }
    };
    let mut kek_bytes = SecretBytes::<MAX_MODULUS_LEN>::new();
    kek_bytes.fill_with(|buf| {
        key.decrypt_oaep(alg.oaep_hash(), rsa_part, blinding, buf)
            .map(<[u8]>::len)
            .map_err(ReleaseError::Oaep)
    })?;
    let kek = match kek_bytes.len() {
        16 | 24 | 32 => C::new(kek_bytes.as_bytes())?,
        actual => return Err(ReleaseError::KekLength { actual }),
    };
    drop(kek_bytes);
    Ok(aes_kw::unwrap(&kek, Mode::Kwp, kwp_part, out)?)
}

/// Unwraps a release into `out`: `enc` is the `request.enc` of the release response,
/// `ciphertext` the decoded `ciphertext` of `key_hsm`. The result is the raw key (oct) or PKCS#8
/// DER (RSA, EC). Uses the core's AES ([`super::Kek`]).
///
/// The key is written in place into the caller's [`ReleasedKey`] (a value returned by move could
/// leave a copy behind on the stack); on error `out` is left empty and wiped.
pub fn unwrap_release<'o, K: OaepDecrypt + ?Sized>(
    key: &K,
    enc: &str,
    ciphertext: &[u8],
    blinding: &BlindingSeed,
    out: &'o mut ReleasedKey,
) -> Result<&'o [u8], ReleaseError> {
    unwrap_release_with::<Kek, K>(key, enc, ciphertext, blinding, out)
}

/// [`unwrap_release`] with the AES implementation `C`.
pub fn unwrap_release_with<'o, C: BlockCipher, K: OaepDecrypt + ?Sized>(
    key: &K,
    enc: &str,
    ciphertext: &[u8],
    blinding: &BlindingSeed,
    out: &'o mut ReleasedKey,
) -> Result<&'o [u8], ReleaseError> {
    out.clear();
    let alg = WrapAlgorithm::from_name(enc).ok_or(ReleaseError::Algorithm)?;
    out.fill_with(|buf| {
        unwrap_rsa_aes_with::<C, K>(key, alg, ciphertext, blinding, buf).map(<[u8]>::len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rsa::private::tests::vector_key;
    use std::vec;
    use std::vec::Vec;

    const BLOB_B64: &[u8] =
        include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_ciphertext.b64url");
    const EXPECTED_HEX: &[u8] =
        include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_expected_key.hex");

    fn blob() -> Vec<u8> {
        let mut out = vec![0u8; 400];
        let n = crate::base64::decode_into(BLOB_B64, &mut out).unwrap();
        out.truncate(n);
        out
    }

    fn seed() -> BlindingSeed {
        BlindingSeed::new([0x11; 32])
    }

    #[test]
    fn upstream_vector_unwraps() {
        let key = vector_key();
        let expected = crate::hex::decode_array::<32>(EXPECTED_HEX).unwrap();
        let mut out = ReleasedKey::new();
        let got = unwrap_release(&key, "CKM_RSA_AES_KEY_WRAP", &blob(), &seed(), &mut out).unwrap();
        assert_eq!(got, &expected);
        assert_eq!(
            unwrap_release(&key, "RSA_AES_KEY_WRAP_256", &blob(), &seed(), &mut out).unwrap_err(),
            ReleaseError::Oaep(OaepError::Decryption)
        );
        assert_eq!(
            unwrap_release(&key, "ckm_rsa_aes_key_wrap", &blob(), &seed(), &mut out).unwrap_err(),
            ReleaseError::Algorithm
        );
        assert!(out.is_empty());
    }

    #[test]
    fn bit_flips_fail_in_the_part_they_hit() {
        let key = vector_key();
        let good = blob();
        // A spread of bits in the RSA block, and every bit of the key wrap.
        for bit in (0..256 * 8).step_by(61).chain(256 * 8..good.len() * 8) {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let mut out = [0u8; 64];
            let err = unwrap_rsa_aes(&key, WrapAlgorithm::CkmRsaAesKeyWrap, &b, &seed(), &mut out)
                .unwrap_err();
            if bit < 256 * 8 {
                assert!(matches!(err, ReleaseError::Oaep(_)), "bit {bit}: {err:?}");
            } else {
                assert_eq!(
                    err,
                    ReleaseError::KeyWrap(KeyWrapError::Integrity),
                    "bit {bit}"
                );
            }
            assert_eq!(out, [0u8; 64]);
        }
    }

    #[test]
    fn short_blobs() {
        let key = vector_key();
        let b = blob();
        let mut out = ReleasedKey::new();
        for len in [0, 255, 256, 271] {
            assert_eq!(
                unwrap_release(&key, "CKM_RSA_AES_KEY_WRAP", &b[..len], &seed(), &mut out)
                    .unwrap_err(),
                ReleaseError::TooShort {
                    needed: 272,
                    actual: len
                }
            );
        }
        assert_eq!(
            WrapAlgorithm::from_name("RSA_AES_KEY_WRAP_384"),
            Some(WrapAlgorithm::RsaAesKeyWrap384)
        );
    }
}
