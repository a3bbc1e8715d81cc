//! The crypto a verifier needs, behind one small trait, and the core's own implementation.
//!
//! [`Crypto`] has three operations: SHA-384, ECDSA P-384/SHA-384 verification and RSA signature
//! verification (RSASSA-PSS-SHA384 for AMD's chain; PKCS#1 v1.5 for web PKI chains). The core's
//! [`CoreCrypto`] uses the `p384` crate and fixed-size RSA ([`crate::rsa::public`]) and needs no
//! heap, so it runs in firmware; std builds use the aws-lc-rs backend of the `csc-crypto` crate,
//! which passes the same tests and is faster.

use core::fmt;

use sha2::{Digest, Sha384};

use crate::cert::alg::{P384_POINT_SIZE, RsaPublicKey};
pub use crate::rsa::public::Padding;

/// Size of a SHA-384 digest.
pub const SHA384_LEN: usize = 48;
/// Size of a P-384 scalar (an ECDSA r or s, big-endian).
pub const P384_SCALAR_LEN: usize = crate::abi::P384_SCALAR_SIZE;

/// Why a backend refused a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature does not verify (or is malformed).
    Invalid,
    /// The public key is not acceptable (wrong size, not on the curve, even modulus, ...).
    Key,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::Invalid => f.write_str("signature does not verify"),
            SignatureError::Key => f.write_str("public key is not acceptable"),
        }
    }
}

impl core::error::Error for SignatureError {}

/// The crypto operations verification needs. Implementations must be deterministic and must
/// not panic on any input.
pub trait Crypto {
    /// SHA-384 of the concatenation of `parts`.
    fn sha384(&self, parts: &[&[u8]]) -> [u8; SHA384_LEN];

    /// Verifies an ECDSA P-384 signature `(r, s)` (big-endian scalars) over SHA-384(`message`)
    /// with `public_key`, an uncompressed SEC1 point (`04 || X || Y`).
    fn verify_p384_sha384(
        &self,
        public_key: &[u8; P384_POINT_SIZE],
        message: &[u8],
        r: &[u8; P384_SCALAR_LEN],
        s: &[u8; P384_SCALAR_LEN],
    ) -> Result<(), SignatureError>;

    /// Verifies an RSA signature over `message` with `padding` (which fixes the hash).
    fn verify_rsa(
        &self,
        padding: Padding,
        key: &RsaPublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError>;
}

impl<C: Crypto + ?Sized> Crypto for &C {
    fn sha384(&self, parts: &[&[u8]]) -> [u8; SHA384_LEN] {
        (**self).sha384(parts)
    }
    fn verify_p384_sha384(
        &self,
        public_key: &[u8; P384_POINT_SIZE],
        message: &[u8],
        r: &[u8; P384_SCALAR_LEN],
        s: &[u8; P384_SCALAR_LEN],
    ) -> Result<(), SignatureError> {
        (**self).verify_p384_sha384(public_key, message, r, s)
    }
    fn verify_rsa(
        &self,
        padding: Padding,
        key: &RsaPublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        (**self).verify_rsa(padding, key, message, signature)
    }
}

/// The core's own backend: `p384` and fixed-size RSA, no heap. Signatures under AMD's built-in
/// ARKs and ASKs use their precomputed Montgomery parameters when the core has them
/// ([`super::roots::rsa_params`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreCrypto;

impl Crypto for CoreCrypto {
    fn sha384(&self, parts: &[&[u8]]) -> [u8; SHA384_LEN] {
        let mut h = Sha384::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    fn verify_p384_sha384(
        &self,
        public_key: &[u8; P384_POINT_SIZE],
        message: &[u8],
        r: &[u8; P384_SCALAR_LEN],
        s: &[u8; P384_SCALAR_LEN],
    ) -> Result<(), SignatureError> {
        let digest: [u8; SHA384_LEN] = Sha384::digest(message).into();
        super::ecdsa::verify_prehashed(public_key, &digest, r, s)
    }

    fn verify_rsa(
        &self,
        padding: Padding,
        key: &RsaPublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        use crate::rsa::public::{RsaError, verify_with_params};
        let params = super::roots::rsa_params(key.modulus);
        verify_with_params(key, params, padding, message, signature).map_err(|e| match e {
            RsaError::ModulusSize { .. } | RsaError::Exponent => SignatureError::Key,
            _ => SignatureError::Invalid,
        })
    }
}
