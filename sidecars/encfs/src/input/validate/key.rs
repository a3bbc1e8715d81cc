//! `key`, `raw_key` and `key_derivation`: exactly one of a key to release or a raw key, the
//! key's name, type and endpoints, and HKDF parameters as the core's derivation reads them.

use std::fmt;

use csc_core::error::HexError;
use csc_core::keywrap::hkdf::MAX_SALT_LEN;

use super::super::decode::FieldPath;
use super::super::model::AzureFilesystem;
use super::super::plan::{
    AKV_API_VERSION, DEFAULT_LABEL, Derivation, KeySpec, KeyType, MAA_API_VERSION, MAA_TEE_TYPE,
    MAX_RAW_KEY,
};
use super::super::secret::SecretBytes;
use super::{Validator, has_control};

/// Why hex text (a raw key, a salt) was refused; never echoes the digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HexTextError {
    /// A byte that is not a hex digit.
    NotHex {
        /// Its offset.
        offset: usize,
    },
    /// An odd number of digits.
    OddDigits,
    /// More bytes than may be given.
    TooLong {
        /// Bytes the text decodes to.
        bytes: usize,
        /// The most accepted.
        max: usize,
    },
    /// Any other failure of the decoder.
    Other(HexError),
}

impl fmt::Display for HexTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotHex { offset } => {
                write!(f, "not hex text (offset {offset} is not a hex digit)")
            }
            Self::OddDigits => f.write_str("hex text has an odd number of digits"),
            Self::TooLong { bytes, max } => write!(f, "{bytes} bytes; at most {max}"),
            Self::Other(e) => e.fmt(f),
        }
    }
}

impl From<HexError> for HexTextError {
    fn from(e: HexError) -> Self {
        match e {
            HexError::InvalidDigit { offset, .. } => Self::NotHex { offset },
            HexError::OddLength => Self::OddDigits,
            other => Self::Other(other),
        }
    }
}

/// The key file bytes or salt from hex text (white space between digits is skipped).
fn hex_bytes(text: &str) -> Result<Vec<u8>, HexTextError> {
    let mut out = vec![0u8; csc_core::hex::decoded_len(text.as_bytes())?];
    csc_core::hex::decode_into(text.as_bytes(), &mut out)?;
    Ok(out)
}

/// The HKDF salt: hex as Go's `hex.DecodeString` reads it (no white space), at most the
/// core's [`MAX_SALT_LEN`] bytes.
fn check_salt(text: &str) -> Result<(), HexTextError> {
    if let Some(offset) = text.bytes().position(csc_core::hex::is_space) {
        return Err(HexTextError::NotHex { offset });
    }
    let bytes = hex_bytes(text)?.len();
    if bytes > MAX_SALT_LEN {
        return Err(HexTextError::TooLong {
            bytes,
            max: MAX_SALT_LEN,
        });
    }
    Ok(())
}

impl Validator {
    pub(super) fn key(&mut self, fs: &AzureFilesystem, path: &FieldPath) -> Option<KeySpec> {
        let key = &fs.key;
        let kp = path.child("key");
        let raw = fs.raw_key.expose();
        match (key.kid.is_empty(), raw.is_empty()) {
            (false, false) => {
                self.error(
                    path,
                    "both key.kid and raw_key are given; give exactly one (raw_key is for testing only)",
                );
                return None;
            }
            (true, true) => {
                self.error(
                    &kp.child("kid"),
                    "required: the key to release (or raw_key, hex, for testing)",
                );
                return None;
            }
            (true, false) => {
                let rp = path.child("raw_key");
                return match hex_bytes(raw) {
                    Err(e) => {
                        self.error(&rp, e.to_string());
                        None
                    }
                    Ok(b) if b.is_empty() => {
                        self.error(&rp, "empty key");
                        None
                    }
                    Ok(b) if b.len() > MAX_RAW_KEY => {
                        self.error(&rp, format!("{} bytes; at most {MAX_RAW_KEY}", b.len()));
                        None
                    }
                    Ok(b) => {
                        if fs.key_derivation.is_some() {
                            self.warn(
                                &path.child("key_derivation"),
                                "ignored with raw_key (the raw key is the key file)",
                            );
                        }
                        Some(KeySpec::Raw(SecretBytes::new(b)))
                    }
                };
            }
            (false, true) => {}
        }
        let before = self.errors.len();
        // `name` or `name/version` (upstream puts kid into the release URL's path as is).
        let (name, version) = key.kid.split_once('/').unwrap_or((&key.kid, "x"));
        let word = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !word(name)
            || name.len() > 127
            || version.is_empty()
            || !word(version)
            || version.len() > 64
        {
            self.error(
                &kp.child("kid"),
                "a Key Vault key name (1 to 127 letters, digits and '-'), optionally /version",
            );
        }
        let kty = match key.kty.as_str() {
            "" => KeyType::Unspecified,
            "oct" | "oct-HSM" => KeyType::Oct,
            "RSA" | "RSA-HSM" => KeyType::Rsa,
            "EC" | "EC-HSM" => {
                self.error(
                    &kp.child("kty"),
                    format!(
                        "{:?} keys cannot key a filesystem (use oct-HSM or RSA-HSM)",
                        key.kty
                    ),
                );
                KeyType::Unspecified
            }
            other => {
                self.error(
                    &kp.child("kty"),
                    format!("unknown kty {other:?} (expected oct, oct-HSM, RSA or RSA-HSM)"),
                );
                KeyType::Unspecified
            }
        };
        self.endpoint(
            &key.authority.endpoint,
            &kp.child("authority").child("endpoint"),
            "the MAA host, e.g. sharedeus2.eus2.attest.azure.net",
        );
        self.endpoint(
            &key.akv.endpoint,
            &kp.child("akv").child("endpoint"),
            "the vault or managed HSM host, e.g. myhsm.managedhsm.azure.net",
        );
        for (given, fixed, p) in [
            (
                &key.authority.api_version,
                MAA_API_VERSION,
                kp.child("authority").child("api_version"),
            ),
            (
                &key.authority.tee_type,
                MAA_TEE_TYPE,
                kp.child("authority").child("tee_type"),
            ),
            (
                &key.akv.api_version,
                AKV_API_VERSION,
                kp.child("akv").child("api_version"),
            ),
        ] {
            if !given.is_empty() && given != fixed {
                self.warn(&p, format!("replaced by {fixed:?} (as upstream does)"));
            }
        }
        let dp = path.child("key_derivation");
        let derivation = match &fs.key_derivation {
            None => {
                if kty == KeyType::Rsa {
                    self.error(
                        &dp,
                        format!(
                            "required for an {} key (salt: hex, label: optional)",
                            key.kty
                        ),
                    );
                }
                None
            }
            Some(kd) => {
                if kty == KeyType::Oct {
                    self.warn(&dp, format!("ignored for an {} key", key.kty));
                }
                match check_salt(&kd.salt) {
                    Ok(()) => Some(Derivation {
                        salt_hex: kd.salt.clone(),
                        label: if kd.label.is_empty() {
                            DEFAULT_LABEL.to_string()
                        } else {
                            kd.label.clone()
                        },
                    }),
                    Err(e) => {
                        self.error(&dp.child("salt"), e.to_string());
                        None
                    }
                }
            }
        };
        if self.errors.len() != before {
            return None;
        }
        let mut key = key.clone();
        key.akv.api_version = AKV_API_VERSION.into();
        key.authority.api_version = MAA_API_VERSION.into();
        key.authority.tee_type = MAA_TEE_TYPE.into();
        Some(KeySpec::Release {
            key: Box::new(key),
            kty,
            derivation,
        })
    }

    fn endpoint(&mut self, value: &str, path: &FieldPath, what: &str) {
        let host = value
            .strip_prefix("https://")
            .unwrap_or(value)
            .trim_end_matches('/');
        if value.is_empty() {
            self.error(path, format!("required: {what}"));
        } else if value.starts_with("http://") {
            self.error(path, "must use https://");
        } else if has_control(value) || host.is_empty() || host.contains(['?', '#', '@']) {
            self.error(path, format!("{value:?} is not a host name ({what})"));
        }
    }
}
