//! The input, exactly as upstream takes it: `EncfsSideCarArgs`, base64 (standard or URL-safe
//! alphabet, padding optional) of the JSON that upstream's `remotefs` reads, decoded as Go's
//! `encoding/json` decodes it ([`decode`]) into upstream's structs ([`model`]), then checked
//! as a whole before anything is mounted ([`validate`](validate())) into a [`Plan`].
//!
//! This module needs no runtime: it is what the `encfs_input` fuzz target links.

pub mod decode;
pub mod model;
pub mod plan;
pub mod secret;
pub mod validate;

pub use decode::{FieldPath, Problem};
pub use model::{
    Akv, Authority, AzureFilesystem, AzureInfo, CertCache, EncfsSideCarArgs, Identity, KeyBlob,
    KeyDerivation, redact_url,
};
pub use plan::{Derivation, FilesystemPlan, KeySpec, KeyType, Plan, SourceSpec};
pub use secret::{Secret, SecretBytes};
pub use validate::validate;

use zeroize::Zeroizing;

/// Largest base64 argument accepted (the JSON of 64 filesystems fits many times over).
pub const MAX_INPUT: usize = 1 << 20;

/// Why the input was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Nothing given.
    #[error("no input: set EncfsSideCarArgs or pass -base64 (base64 of the JSON)")]
    Missing,
    /// Too long.
    #[error("{len} bytes of input; at most {MAX_INPUT}")]
    TooLong {
        /// Bytes given.
        len: usize,
    },
    /// Not base64.
    #[error("not base64: {0}")]
    Base64(csc_core::base64::Base64Error),
    /// Not UTF-8 text after decoding.
    #[error("the decoded input is not UTF-8 text (byte {offset})")]
    Utf8 {
        /// Offset of the first bad byte.
        offset: usize,
    },
    /// Not JSON.
    #[error("the decoded input is not JSON: {0}")]
    Json(csc_core::error::JsonError),
    /// The JSON does not describe usable filesystems.
    #[error("{}", join(.0))]
    Invalid(Vec<Problem>),
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Decodes the base64 argument (either alphabet; white space ignored) into its JSON text.
pub fn decode_base64(text: &str) -> Result<Zeroizing<String>, InputError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(InputError::Missing);
    }
    if text.len() > MAX_INPUT {
        return Err(InputError::TooLong { len: text.len() });
    }
    let mut buf = Zeroizing::new(vec![0u8; text.len() / 4 * 3 + 3]);
    let n = csc_core::base64::decode_into(text.as_bytes(), &mut buf).map_err(InputError::Base64)?;
    buf.truncate(n);
    // The JSON may hold a bearer token or a raw key: keep it in zeroizing memory.
    match std::str::from_utf8(&buf) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(e) => Err(InputError::Utf8 {
            offset: e.valid_up_to(),
        }),
    }
}

/// Decodes and checks the JSON text.
pub fn parse_json(text: &str) -> Result<Plan, InputError> {
    let value = csc_core::json::parse(text).map_err(InputError::Json)?;
    let mut d = decode::Decoder::default();
    let args = EncfsSideCarArgs::decode(&mut d, value);
    if !d.errors.is_empty() {
        return Err(InputError::Invalid(d.errors));
    }
    validate(args, d.warnings).map_err(InputError::Invalid)
}

/// Decodes and checks the base64 argument: the whole input step.
pub fn parse(base64_text: &str) -> Result<Plan, InputError> {
    parse_json(&decode_base64(base64_text)?)
}

#[cfg(test)]
mod tests;
