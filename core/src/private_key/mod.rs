//! Private-key readers, borrowing from their input (or from the caller's PEM scratch buffer),
//! nothing allocated:
//!
//! - [`pkcs1`]: PKCS#1 `RSAPrivateKey` (RFC 8017), two-prime.
//! - [`pkcs8`]: PKCS#8 `PrivateKeyInfo` (RFC 5958) holding an RSA key or an EC key (SEC1
//!   `ECPrivateKey`, RFC 5915) on P-256 or P-384; bare PKCS#1 and SEC1 too; DER or PEM. EC
//!   public points are recomputed from the private scalar ([`crate::ec`]).
//! - `pem`: the PEM armor of private keys (labels, no encrypted PEM, output wiped on failure).
//!
//! They know nothing of RSA or key wrap arithmetic: [`crate::rsa`] builds its key from what
//! [`pkcs1`] reads, [`crate::keywrap`] and [`crate::jwk`] use both.

use core::fmt;

pub(crate) mod pem;
pub mod pkcs1;
pub mod pkcs8;

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
