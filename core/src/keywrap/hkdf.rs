//! The key derivation encfs applies when the released key is an RSA key (upstream
//! `cmd/remotefs`, spec section 8.2): HKDF-SHA256 (RFC 5869) with
//!
//! - IKM = the private exponent d as big-endian bytes without leading zeros (Go's
//!   `D.Bytes()`); a zero exponent is refused, as upstream never gets that far with one (Go's
//!   `x509.ParsePKCS8PrivateKey` refuses the released key),
//! - salt = `key_derivation.salt` hex-decoded, strictly as Go's `hex.DecodeString` (an empty
//!   string gives an empty salt, which HKDF treats like a zero salt),
//! - info = `key_derivation.label`, or `Symmetric Encryption Key` when that is empty,
//! - 32 bytes of output.

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroize;

use super::KeyError;
use super::pkcs8::{self, PrivateKeyDer};
use crate::error::HexError;
use crate::secret::SecretBytes;

/// The label used when the configuration gives none.
pub const DEFAULT_LABEL: &str = "Symmetric Encryption Key";
/// Bytes derived (a LUKS key file).
pub const DERIVED_KEY_LEN: usize = 32;
/// Longest salt accepted, in bytes (hex text of twice that).
pub const MAX_SALT_LEN: usize = 256;

/// A derived key, wiped on drop.
pub type DerivedKey = SecretBytes<DERIVED_KEY_LEN>;

/// Why a key could not be derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeriveError {
    /// The salt is not hex (no white space allowed, as in Go).
    SaltHex(HexError),
    /// The salt is longer than [`MAX_SALT_LEN`] bytes.
    SaltTooLong {
        /// Bytes the hex text decodes to.
        bytes: usize,
    },
    /// The released key could not be read, or is not an RSA key.
    Key(KeyError),
    /// The private exponent is zero (or empty): no RSA key, and no key material.
    ZeroExponent,
}

impl fmt::Display for DeriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DeriveError::SaltHex(e) => write!(f, "key derivation salt: {e}"),
            DeriveError::SaltTooLong { bytes } => write!(
                f,
                "key derivation salt is {bytes} bytes; at most {MAX_SALT_LEN} are accepted"
            ),
            DeriveError::Key(e) => write!(f, "key derivation: {e}"),
            DeriveError::ZeroExponent => {
                f.write_str("key derivation: the RSA private exponent is zero")
            }
        }
    }
}

impl core::error::Error for DeriveError {}

impl From<KeyError> for DeriveError {
    fn from(e: KeyError) -> Self {
        DeriveError::Key(e)
    }
}

impl From<crate::secret::CapacityError> for DeriveError {
    fn from(_: crate::secret::CapacityError) -> Self {
        DeriveError::SaltTooLong { bytes: 0 }
    }
}

fn decode_salt<'o>(
    hex_text: &str,
    out: &'o mut [u8; MAX_SALT_LEN],
) -> Result<&'o [u8], DeriveError> {
    let text = hex_text.as_bytes();
    if let Some((offset, byte)) = text
        .iter()
        .enumerate()
        .find(|(_, b)| crate::hex::is_space(**b))
        .map(|(i, b)| (i, *b))
    {
        return Err(DeriveError::SaltHex(HexError::InvalidDigit {
            offset,
            byte,
        }));
    }
    let bytes = crate::hex::decoded_len(text).map_err(DeriveError::SaltHex)?;
    if bytes > MAX_SALT_LEN {
        return Err(DeriveError::SaltTooLong { bytes });
    }
    let n = crate::hex::decode_into(text, out).map_err(DeriveError::SaltHex)?;
    Ok(out.get(..n).unwrap_or(&[]))
}

/// Derives the encfs key from the private exponent `d` (big-endian; leading zeros are
/// stripped), a hex salt and a label.
pub fn derive_key(d: &[u8], salt_hex: &str, label: &str) -> Result<DerivedKey, DeriveError> {
    let mut salt_buf = [0u8; MAX_SALT_LEN];
    let salt = decode_salt(salt_hex, &mut salt_buf)?;
    let first = d
        .iter()
        .position(|b| *b != 0)
        .ok_or(DeriveError::ZeroExponent)?;
    let ikm = d.get(first..).unwrap_or(&[]);
    let info = if label.is_empty() {
        DEFAULT_LABEL
    } else {
        label
    };
    let mut out = DerivedKey::new();
    out.fill_with(|buf| {
        expand(salt, ikm, info.as_bytes(), buf);
        Ok::<usize, DeriveError>(DERIVED_KEY_LEN)
    })?;
    zeroize::zeroize_stack::<4096>();
    salt_buf.zeroize();
    Ok(out)
}

// Not inlined, so the stack it used (HMAC states holding the PRK) is what the caller scrubs.
#[inline(never)]
fn expand(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8; DERIVED_KEY_LEN]) {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    // 32 bytes is far below HKDF-SHA256's limit of 8160; expand cannot fail.
    let _ = hk.expand(info, out);
}

/// Derives the encfs key from a released RSA key (PKCS#8 DER, as Key Vault releases it, or
/// PKCS#1).
pub fn derive_from_rsa_key(
    der: &[u8],
    salt_hex: &str,
    label: &str,
) -> Result<DerivedKey, DeriveError> {
    match pkcs8::read_der(der)? {
        PrivateKeyDer::Rsa(k) => derive_key(k.d, salt_hex, label),
        PrivateKeyDer::Ec(_) => Err(DeriveError::Key(KeyError::KeyType)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 5869 appendix A.1 (HKDF-SHA256 test case 1), first 32 bytes of OKM.
    #[test]
    fn rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt = "000102030405060708090a0b0c";
        // Its info bytes are not UTF-8, so this goes through `expand` rather than `derive_key`.
        let mut salt_buf = [0u8; MAX_SALT_LEN];
        let s = decode_salt(salt, &mut salt_buf).unwrap();
        let mut out = [0u8; 32];
        expand(
            s,
            &ikm,
            &[0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9],
            &mut out,
        );
        assert_eq!(
            std::string::ToString::to_string(&crate::hex::Hex(&out)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
    }

    #[test]
    fn default_label_and_leading_zeros() {
        let a = derive_key(&[0, 0, 1, 2, 3], "", "").unwrap();
        let b = derive_key(&[1, 2, 3], "", DEFAULT_LABEL).unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        let c = derive_key(&[1, 2, 3], "", "other").unwrap();
        assert_ne!(a.as_bytes(), c.as_bytes());
        // Empty salt is HKDF's zero salt.
        let z = derive_key(&[1, 2, 3], &"00".repeat(32), "").unwrap();
        assert_eq!(a.as_bytes(), z.as_bytes());
    }

    #[test]
    fn a_zero_exponent_is_refused() {
        for d in [&[][..], &[0], &[0, 0, 0]] {
            assert_eq!(
                derive_key(d, "", "").unwrap_err(),
                DeriveError::ZeroExponent
            );
        }
    }

    #[test]
    fn salt_is_strict_hex() {
        assert!(matches!(
            derive_key(&[1], "0g", ""),
            Err(DeriveError::SaltHex(HexError::InvalidDigit {
                offset: 1,
                ..
            }))
        ));
        assert!(matches!(
            derive_key(&[1], "abc", ""),
            Err(DeriveError::SaltHex(HexError::OddLength))
        ));
        assert!(matches!(
            derive_key(&[1], "ab cd", ""),
            Err(DeriveError::SaltHex(HexError::InvalidDigit {
                offset: 2,
                ..
            }))
        ));
        assert_eq!(
            derive_key(&[1], &"00".repeat(257), "").unwrap_err(),
            DeriveError::SaltTooLong { bytes: 257 }
        );
    }
}
