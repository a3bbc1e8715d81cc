//! Unwrapping released keys, without a heap.
//!
//! - [`aes_kw`]: AES key wrap (RFC 3394) and key wrap with padding (RFC 5649), both directions,
//!   128/192/256-bit KEKs, branch-free integrity check, output wiped on failure, over any
//!   [`BlockCipher`]; [`aes_ct`] is the core's constant-time software AES.
//! - [`release`]: Key Vault's combined formats `CKM_RSA_AES_KEY_WRAP`, `RSA_AES_KEY_WRAP_256`
//!   and `RSA_AES_KEY_WRAP_384`: RSA-OAEP of an AES KEK, then AES-KWP of the key, over any
//!   [`crate::rsa::oaep::OaepDecrypt`] backend.
//! - [`pkcs8`]: PKCS#8 / PKCS#1 / SEC1 private-key readers (RSA, EC P-256 and P-384), DER or PEM,
//!   borrowing from the input; EC public points are recomputed from the private scalar.
//! - [`hkdf`]: the HKDF-SHA256 derivation encfs applies to released RSA keys.
//!
//! Released key material lives in [`crate::secret::SecretBytes`], which wipes itself on drop.

pub mod aes_ct;
pub mod aes_kw;
mod ec;
pub mod hkdf;
pub(crate) mod pem;
pub mod pkcs8;
pub mod release;

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

/// Why a private key could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The DER structure is malformed.
    Der(crate::der::DerError),
    /// PEM text without a `-----BEGIN <label>-----` / `-----END <label>-----` pair, or with
    /// headers (encrypted PEM is not supported).
    Pem,
    /// A PEM label this reader does not take (it reads `RSA PRIVATE KEY`, `PRIVATE KEY` and
    /// `EC PRIVATE KEY`).
    PemLabel,
    /// The PEM body is not base64.
    Base64(crate::base64::Base64Error),
    /// A version field with an unsupported value (for example a multi-prime RSA key).
    Version {
        /// The structure.
        structure: &'static str,
        /// The version found.
        version: u64,
    },
    /// The PKCS#8 algorithm is neither rsaEncryption nor id-ecPublicKey.
    Algorithm,
    /// An EC key on a curve other than P-256 or P-384, or contradicting curve parameters.
    Curve,
    /// An RSA or EC key of a kind the caller did not ask for.
    KeyType,
    /// An RSA modulus size the core's RSA does not support (2048, 3072 and 4096 bits).
    ModulusSize {
        /// Modulus length in bytes (without leading zeros).
        bytes: usize,
    },
    /// A public exponent that is even, below 3 or above 2^32 - 1.
    Exponent,
    /// A key component that is zero or larger than the key allows.
    Component {
        /// The component's name (`n`, `p`, `dp`, `d`, ...).
        field: &'static str,
    },
    /// The components do not form a working key (n != p*q, or a private operation does not
    /// invert the public one).
    Inconsistent,
    /// The scratch buffer for decoding PEM is too small.
    BufferTooSmall {
        /// Bytes the buffer has.
        capacity: usize,
    },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyError::Der(e) => write!(f, "private key: {e}"),
            KeyError::Pem => f.write_str(
                "private key: no complete unencrypted PEM block (BEGIN/END lines, no headers)",
            ),
            KeyError::PemLabel => f.write_str(
                "private key: PEM label is not RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY",
            ),
            KeyError::Base64(e) => write!(f, "private key PEM body: {e}"),
            KeyError::Version { structure, version } => {
                write!(f, "{structure} version {version} is not supported")
            }
            KeyError::Algorithm => {
                f.write_str("PKCS#8 key algorithm is neither rsaEncryption nor id-ecPublicKey")
            }
            KeyError::Curve => {
                f.write_str("EC key curve is not P-256 or P-384 (or its parameters disagree)")
            }
            KeyError::KeyType => f.write_str("private key is not of the expected type"),
            KeyError::ModulusSize { bytes } => write!(
                f,
                "RSA modulus of {bytes} bytes is not supported (2048, 3072 or 4096 bits)"
            ),
            KeyError::Exponent => {
                f.write_str("RSA public exponent must be odd, at least 3 and below 2^32")
            }
            KeyError::Component { field } => {
                write!(f, "RSA key component {field} is zero or too large")
            }
            KeyError::Inconsistent => {
                f.write_str("RSA key components are inconsistent (not a working key pair)")
            }
            KeyError::BufferTooSmall { capacity } => {
                write!(f, "decoded private key does not fit in {capacity} bytes")
            }
        }
    }
}

impl core::error::Error for KeyError {}

impl From<crate::secret::CapacityError> for KeyError {
    fn from(e: crate::secret::CapacityError) -> Self {
        KeyError::BufferTooSmall {
            capacity: e.capacity,
        }
    }
}

impl From<crate::der::DerError> for KeyError {
    fn from(e: crate::der::DerError) -> Self {
        KeyError::Der(e)
    }
}
