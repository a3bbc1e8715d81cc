//! Unwrapping released keys, without a heap.
//!
//! - [`aes_kw`]: AES key wrap (RFC 3394) and key wrap with padding (RFC 5649), both directions,
//!   128/192/256-bit KEKs, branch-free integrity check, output wiped on failure, over any
//!   [`BlockCipher`]; [`aes`] keys the `aes` crate's block cipher with a KEK.
//! - [`release`]: Key Vault's combined formats `CKM_RSA_AES_KEY_WRAP`, `RSA_AES_KEY_WRAP_256`
//!   and `RSA_AES_KEY_WRAP_384`: RSA-OAEP of an AES KEK, then AES-KWP of the key, over any
//!   [`crate::rsa::oaep::OaepDecrypt`] backend.
//! - [`pkcs8`] (re-exported from [`crate::private_key`]): the private-key readers.
//! - [`hkdf`]: the HKDF-SHA256 derivation encfs applies to released RSA keys.
//!
//! Released key material lives in [`crate::secret::SecretBytes`], which wipes itself on drop.

pub mod aes;
pub mod aes_kw;
pub mod hkdf;
pub mod release;

pub use crate::private_key::{KeyError, pkcs8};

use core::fmt;

pub use aes_kw::{BlockCipher, Kek, Mode};
pub use release::{
    ReleaseError, ReleasedKey, WrapAlgorithm, unwrap_release, unwrap_release_with, unwrap_rsa_aes,
    unwrap_rsa_aes_with,
};

/// Why an AES key wrap or unwrap failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyWrapError {
    /// The KEK is not 16, 24 or 32 bytes.
    KekLength {
        /// Bytes given.
        actual: usize,
    },
    /// Key data that the mode cannot wrap (KW: 16 bytes or more, a multiple of 8; KWP: 1 to
    /// 2^32-1 bytes).
    KeyLength {
        /// The algorithm.
        mode: Mode,
        /// Bytes given.
        actual: usize,
    },
    /// Wrapped input of a length no wrapping produces (KW: 24 bytes or more, KWP: 16 or more,
    /// always a multiple of 8).
    WrappedLength {
        /// The algorithm.
        mode: Mode,
        /// Bytes given.
        actual: usize,
    },
    /// The output buffer is too small.
    OutputTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes the buffer has.
        capacity: usize,
    },
    /// The integrity check failed: wrong KEK, or the wrapped bytes were altered.
    Integrity,
}

impl fmt::Display for KeyWrapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyWrapError::KekLength { actual } => write!(
                f,
                "key-encryption key is {actual} bytes; AES needs 16, 24 or 32"
            ),
            KeyWrapError::KeyLength { mode, actual } => {
                write!(f, "{mode} cannot wrap {actual} bytes of key data")
            }
            KeyWrapError::WrappedLength { mode, actual } => write!(
                f,
                "{actual} bytes cannot be {mode} output (too short or not a multiple of 8)"
            ),
            KeyWrapError::OutputTooSmall { needed, capacity } => write!(
                f,
                "key wrap output needs {needed} bytes; the buffer has {capacity}"
            ),
            KeyWrapError::Integrity => f.write_str(
                "key unwrap integrity check failed (wrong key-encryption key or altered data)",
            ),
        }
    }
}

impl core::error::Error for KeyWrapError {}

impl From<crate::secret::CapacityError> for KeyWrapError {
    fn from(e: crate::secret::CapacityError) -> Self {
        KeyWrapError::OutputTooSmall {
            needed: e.needed,
            capacity: e.capacity,
        }
    }
}
