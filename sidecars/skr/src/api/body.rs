//! Request bodies of the HTTP API, read the way upstream's gin binding reads them (Go's
//! `encoding/json`, see [`crate::gojson`]): member names match case-insensitively, the last of
//! duplicate or case-variant members wins, unknown members are ignored, a known member of the
//! wrong type or a required string that is missing or empty is an error. Base64 accepts the
//! standard and the URL-safe alphabet. Every error names the member and what is wrong with it.

use csc_core::base64;

use crate::gojson::{self, GoJsonError, GoObject};
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

impl From<GoJsonError> for BodyError {
    fn from(e: GoJsonError) -> Self {
        match e {
            GoJsonError::Type { field, .. } => BodyError::NotString(field),
            GoJsonError::Text { field, detail } => BodyError::Invalid(field, detail),
            other => BodyError::NotJson(other.to_string()),
        }
    }
}

/// The string members `names` of the body, in that order, as Go would fill a struct with
/// those `string` fields: every field is read before any is required, so a wrong type
/// anywhere is reported as such.
fn strings<const N: usize>(
    body: &[u8],
    names: [&'static str; N],
) -> Result<[Option<String>; N], BodyError> {
    let text = gojson::text(body);
    let object = GoObject::parse(&text)?;
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = object.string(name)?;
    }
    Ok(out)
}

fn required(name: &'static str, value: Option<String>) -> Result<String, BodyError> {
    match value {
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

/// Checks an endpoint: `host[:port]` with a port from 1 to 65535 (an `https://` prefix and a
/// trailing `/` are dropped); anything else is refused before any network call.
pub fn check_endpoint(name: &'static str, s: &str) -> Result<String, BodyError> {
    if s.is_empty() {
        return Err(BodyError::Missing(name));
    }
    csc_azure::url::parse_endpoint(s)
        .map(|e| e.to_string())
        .map_err(|e| BodyError::Invalid(name, e.to_string()))
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
        let [rd] = strings(body, ["runtime_data"])?;
        let rd = required("runtime_data", rd)?;
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
        let [maa, rd] = strings(body, ["maa_endpoint", "runtime_data"])?;
        let maa_endpoint = check_endpoint("maa_endpoint", &required("maa_endpoint", maa)?)?;
        let rd = required("runtime_data", rd)?;
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
        let [maa, akv, kid, token] = strings(
            body,
            ["maa_endpoint", "akv_endpoint", "kid", "access_token"],
        )?;
        // Owned by a zeroizing holder before anything can fail.
        let token = token.map(SecretString::new);
        let maa_endpoint = required("maa_endpoint", maa)?;
        let akv_endpoint = required("akv_endpoint", akv)?;
        let kid = required("kid", kid)?;
        Self::new(&maa_endpoint, &akv_endpoint, &kid, token)
    }

    /// Checks the parts of a request (also used for the gRPC annotation).
    pub fn new(
        maa_endpoint: &str,
        akv_endpoint: &str,
        kid: &str,
        access_token: Option<SecretString>,
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
        let access_token = access_token.filter(|t| !t.expose().is_empty());
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

    #[test]
    fn duplicate_and_case_variant_members_as_go() {
        // Go takes the last matching member in document order (not the lexicographically
        // last name) (checked against Go 1.23's json.Unmarshal into upstream's struct).
        let r =
            RuntimeDataRequest::parse(br#"{"runtime_data":"!!!","RUNTIME_DATA":"AA=="}"#).unwrap();
        assert_eq!(r.runtime_data, [0]);
        assert!(matches!(
            RuntimeDataRequest::parse(br#"{"RUNTIME_DATA":"AA==","runtime_data":"!!!"}"#),
            Err(BodyError::Base64(..))
        ));
        // null leaves the earlier value; a wrong type anywhere fails, as in Go.
        let r =
            RuntimeDataRequest::parse(br#"{"runtime_data":"AQ==","runtime_data":null}"#).unwrap();
        assert_eq!(r.runtime_data, [1]);
        assert_eq!(
            RuntimeDataRequest::parse(br#"{"runtime_data":5,"runtime_data":"AA=="}"#).unwrap_err(),
            BodyError::NotString("runtime_data")
        );
        // A type error is reported before a missing member, as gin binds before validating.
        assert_eq!(
            ReleaseRequest::parse(br#"{"kid":5}"#).unwrap_err(),
            BodyError::NotString("kid")
        );
        // Go folds the Kelvin sign to k and the long s to s.
        let r = ReleaseRequest::parse(
            "{\"maa_endpoint\":\"m.example\",\"a\u{212A}v_endpoint\":\"v.example\",\"\u{212A}id\":\"key\",\"acce\u{17F}\u{17F}_token\":\"t\"}".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            (
                r.akv_endpoint.as_str(),
                r.kid.as_str(),
                r.access_token.unwrap().expose()
            ),
            ("v.example", "key", "t")
        );
    }

    #[test]
    fn endpoints_are_host_and_port_before_any_call() {
        let release = |maa: &str| {
            ReleaseRequest::parse(
                serde_json::json!({"maa_endpoint": maa, "akv_endpoint": "v.example", "kid": "k"})
                    .to_string()
                    .as_bytes(),
            )
        };
        for bad in [
            "127.0.0.1:99999",
            ":::",
            "[::1",
            "h:0",
            "a b",
            "https://h/x",
        ] {
            assert!(
                matches!(release(bad), Err(BodyError::Invalid("maa_endpoint", _))),
                "{bad}"
            );
        }
        assert_eq!(
            release("127.0.0.1:8443").unwrap().maa_endpoint,
            "127.0.0.1:8443"
        );
        assert_eq!(release("[::1]:65535").unwrap().maa_endpoint, "[::1]:65535");
        assert_eq!(
            release("https://M.example/").unwrap().maa_endpoint,
            "m.example"
        );
    }
}
