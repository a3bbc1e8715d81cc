//! Request bodies of the HTTP API, read the way upstream's gin binding reads them: member names
//! match case-insensitively, unknown members are ignored, a required string that is missing or
//! empty is an error. Base64 accepts the standard and the URL-safe alphabet. Every error names
//! the member and what is wrong with it.

use csc_core::base64;
use serde_json::{Map, Value};

use crate::secret::SecretString;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a request body was refused (HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    /// Not a JSON object.
    #[error("invalid request format: the body must be a JSON object ({0})")]
    NotJson(String),
    /// A required member is missing or empty.
    #[error("invalid request format: \"{0}\" is required and must be a non-empty string")]
    Missing(&'static str),
    /// A member of the wrong JSON type.
    #[error("invalid request format: \"{0}\" must be a string")]
    NotString(&'static str),
    /// A member that is not base64.
    #[error("decoding base64-encoded {0} of request failed: {1}")]
    Base64(&'static str, String),
    /// A member with an unusable value.
    #[error("invalid request format: \"{0}\": {1}")]
    Invalid(&'static str, String),
}

fn object(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(BodyError::NotJson(format!("got {}", json_kind(&other)))),
        Err(e) => Err(BodyError::NotJson(e.to_string())),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The member named `name` (case-insensitively; the last one wins, as in Go).
fn member<'m>(m: &'m Map<String, Value>, name: &'static str) -> Option<&'m Value> {
    m.iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn optional_string(
    m: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, BodyError> {
    match member(m, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(BodyError::NotString(name)),
    }
}

fn required_string(m: &Map<String, Value>, name: &'static str) -> Result<String, BodyError> {
    match optional_string(m, name)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(BodyError::Missing(name)),
    }
}

/// Decodes base64 in either alphabet, padding optional.
pub fn decode_base64(name: &'static str, text: &str) -> Result<Vec<u8>, BodyError> {
    let mut out = vec![0u8; base64::decoded_len_max(text.len())];
    let n = base64::decode_into(text.as_bytes(), &mut out)
        .map_err(|e| BodyError::Base64(name, e.to_string()))?;
    out.truncate(n);
    Ok(out)
}

/// An endpoint host as upstream takes it (`myattest.eus.attest.azure.net`, optionally with a
/// port); refuses what would change the URL's meaning (paths, queries, credentials, spaces).
fn endpoint(m: &Map<String, Value>, name: &'static str) -> Result<String, BodyError> {
    check_endpoint(name, &required_string(m, name)?)
}

/// Checks an endpoint host (an `https://` prefix and a trailing `/` are dropped).
pub fn check_endpoint(name: &'static str, s: &str) -> Result<String, BodyError> {
    if s.is_empty() {
        return Err(BodyError::Missing(name));
    }
    let host = s
        .strip_prefix("https://")
        .unwrap_or(s)
        .trim_end_matches('/');
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !ok {
        return Err(BodyError::Invalid(
            name,
            "expected a host name such as myvault.vault.azure.net".into(),
        ));
    }
    Ok(host.to_string())
}

/// `POST /attest/raw` and `/attest/combined`: `{"runtime_data": base64}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeDataRequest {
    /// Decoded runtime data; its SHA-256 goes into REPORT_DATA.
    pub runtime_data: Vec<u8>,
}

impl RuntimeDataRequest {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, BodyError> {
        let m = object(body)?;
        let rd = required_string(&m, "runtime_data")?;
        Ok(RuntimeDataRequest {
            runtime_data: decode_base64("runtime data", &rd)?,
        })
    }
}

/// `POST /attest/maa`: `{"maa_endpoint": host, "runtime_data": base64}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaaRequest {
    /// MAA host.
    pub maa_endpoint: String,
    /// Decoded runtime data (becomes the token's runtime claim).
    pub runtime_data: Vec<u8>,
}

impl MaaRequest {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, BodyError> {
        let m = object(body)?;
        let maa_endpoint = endpoint(&m, "maa_endpoint")?;
        let rd = required_string(&m, "runtime_data")?;
        Ok(MaaRequest {
            maa_endpoint,
            runtime_data: decode_base64("runtime data", &rd)?,
        })
    }
}

/// `POST /key/release`: `{"maa_endpoint", "akv_endpoint", "kid", "access_token"?}`.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    /// MAA host (the authority of the key's release policy).
    pub maa_endpoint: String,
    /// Key Vault or managed HSM host.
    pub akv_endpoint: String,
    /// Key name, or `name/version`.
    pub kid: String,
    /// A bearer token for Key Vault, when the group has no managed identity.
    pub access_token: Option<SecretString>,
}

impl ReleaseRequest {
    /// Parses the body.
    pub fn parse(body: &[u8]) -> Result<Self, BodyError> {
        let m = object(body)?;
        let maa_endpoint = required_string(&m, "maa_endpoint")?;
        let akv_endpoint = required_string(&m, "akv_endpoint")?;
        let kid = required_string(&m, "kid")?;
        let access_token = optional_string(&m, "access_token")?;
        Self::new(&maa_endpoint, &akv_endpoint, &kid, access_token)
    }

    /// Checks the parts of a request (also used for the gRPC annotation).
    pub fn new(
        maa_endpoint: &str,
        akv_endpoint: &str,
        kid: &str,
        access_token: Option<String>,
    ) -> Result<Self, BodyError> {
        let maa_endpoint = check_endpoint("maa_endpoint", maa_endpoint)?;
        let akv_endpoint = check_endpoint("akv_endpoint", akv_endpoint)?;
        if kid.is_empty() {
            return Err(BodyError::Missing("kid"));
        }
        let kid_ok = kid.len() <= 256
            && kid.split('/').count() <= 2
            && kid
                .split('/')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !kid_ok {
            return Err(BodyError::Invalid(
                "kid",
                "expected a key name or name/version (letters, digits, -)".into(),
            ));
        }
        let access_token = access_token
            .filter(|t| !t.is_empty())
            .map(SecretString::new);
        Ok(ReleaseRequest {
            maa_endpoint,
            akv_endpoint,
            kid: kid.to_string(),
            access_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_client_shapes() {
        // tests/skr/test.py and the docs' curl examples.
        let r = RuntimeDataRequest::parse(br#"{"runtime_data": "eyJrZXlzIjpbXX0="}"#).unwrap();
        assert_eq!(r.runtime_data, br#"{"keys":[]}"#);
        let r = MaaRequest::parse(
            br#"{"maa_endpoint": "sharedeus2.eus2.attest.azure.net", "runtime_data": "eyJrZXlzIjpbXX0="}"#,
        )
        .unwrap();
        assert_eq!(r.maa_endpoint, "sharedeus2.eus2.attest.azure.net");
        let r = ReleaseRequest::parse(
            br#"{"maa_endpoint":"a.attest.azure.net","akv_endpoint":"h.managedhsm.azure.net","kid":"key1/abc123","access_token":""}"#,
        )
        .unwrap();
        assert_eq!(
            (r.kid.as_str(), r.access_token.is_none()),
            ("key1/abc123", true)
        );
    }

    #[test]
    fn go_style_leniency() {
        // Case-insensitive names, unknown members ignored, URL-safe base64, no padding.
        let r = RuntimeDataRequest::parse(br#"{"Runtime_Data": "-_8", "extra": [1, {"x": null}]}"#)
            .unwrap();
        assert_eq!(r.runtime_data, [0xfb, 0xff]);
    }

    #[test]
    fn errors_name_the_member() {
        assert!(matches!(
            RuntimeDataRequest::parse(b"{\"runtime_data\": \"ab"),
            Err(BodyError::NotJson(_))
        ));
        assert!(matches!(
            RuntimeDataRequest::parse(b"[]"),
            Err(BodyError::NotJson(_))
        ));
        assert_eq!(
            RuntimeDataRequest::parse(b"{}").unwrap_err(),
            BodyError::Missing("runtime_data")
        );
        assert_eq!(
            RuntimeDataRequest::parse(br#"{"runtime_data": ""}"#).unwrap_err(),
            BodyError::Missing("runtime_data")
        );
        assert_eq!(
            RuntimeDataRequest::parse(br#"{"runtime_data": 5}"#).unwrap_err(),
            BodyError::NotString("runtime_data")
        );
        assert!(matches!(
            RuntimeDataRequest::parse(br#"{"runtime_data": "a*b="}"#),
            Err(BodyError::Base64("runtime data", _))
        ));
        assert!(matches!(
            MaaRequest::parse(br#"{"maa_endpoint": "evil.com/path?x=", "runtime_data": "e30="}"#),
            Err(BodyError::Invalid("maa_endpoint", _))
        ));
        assert!(matches!(
            ReleaseRequest::parse(br#"{"maa_endpoint":"a","akv_endpoint":"b","kid":"../x"}"#),
            Err(BodyError::Invalid("kid", _))
        ));
        assert_eq!(
            ReleaseRequest::parse(br#"{"maa_endpoint":"a","akv_endpoint":"b"}"#).unwrap_err(),
            BodyError::Missing("kid")
        );
    }
}
