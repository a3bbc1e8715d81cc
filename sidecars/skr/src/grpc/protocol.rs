//! The ocicrypt key provider protocol as upstream's gRPC service speaks it: the JSON inside the
//! `key_provider_key_wrap_protocol_input/output` bytes, the annotation packet that carries a
//! wrapped key, and the key-info file of wrap mode. Go's encoding of `[]byte` (standard
//! base64) and its member matching (case-insensitive) are kept.

use csc_core::base64::{self, Alphabet};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The attestation agent name the service answers to.
pub const ATTESTATION_AGENT: &str = "skr";

/// Why a key provider input was refused (gRPC InvalidArgument).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// Not the expected JSON.
    #[error("ill-formed key provider input: {0}")]
    Input(String),
    /// No `attestation-agent` parameter.
    #[error("attestation-agent must be specified in the {0} config parameters")]
    NoAgent(&'static str),
    /// Another agent than `skr`.
    #[error(
        "unexpected attestation agent {0:?}; perhaps the request was sent to the wrong endpoint"
    )]
    WrongAgent(String),
    /// `skr:<keypath>` without a key path.
    #[error(
        "key id is not provided in the request (expected attestation-agent \"skr:<key path>\")"
    )]
    NoKeyPath,
    /// A member that is not base64.
    #[error("{0} is not base64: {1}")]
    Base64(&'static str, String),
    /// The annotation packet is not the expected JSON.
    #[error("ill-formed annotation packet: {0}")]
    Annotation(String),
}

fn b64_decode(what: &'static str, s: &str) -> Result<Vec<u8>, ProtocolError> {
    let mut out = vec![0u8; base64::decoded_len_max(s.len())];
    let n = base64::decode_into(s.as_bytes(), &mut out)
        .map_err(|e| ProtocolError::Base64(what, e.to_string()))?;
    out.truncate(n);
    Ok(out)
}

/// Standard base64, as Go encodes `[]byte`.
pub fn b64_encode(bytes: &[u8]) -> String {
    base64::Base64(bytes, Alphabet::Standard).to_string()
}

/// Finds `<section>.Parameters["attestation-agent"][0]` (case-insensitive names, as Go).
fn agent_param(section: Option<&Value>, which: &'static str) -> Result<String, ProtocolError> {
    let params = section
        .and_then(|s| get_ci(s, "parameters"))
        .and_then(|p| get_ci(p, "attestation-agent"))
        .and_then(|a| a.as_array())
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .ok_or(ProtocolError::NoAgent(which))?;
    let bytes = b64_decode("attestation-agent", params)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn get_ci<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    v.as_object()?
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn parse_input(bytes: &[u8]) -> Result<Value, ProtocolError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::Input(e.to_string()))?;
    if !v.is_object() {
        return Err(ProtocolError::Input("not a JSON object".into()));
    }
    Ok(v)
}

/// The annotation packet: what a wrapped layer key carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Key name in the managed HSM.
    pub kid: String,
    /// RSA-OAEP-SHA256 ciphertext, standard base64 in JSON.
    #[serde(with = "go_bytes")]
    pub wrapped_data: Vec<u8>,
    /// Unused by the RSA wrap; omitted when empty.
    #[serde(default, with = "go_bytes", skip_serializing_if = "Vec::is_empty")]
    pub iv: Vec<u8>,
    /// Upstream writes `rsa_3072`; informational.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wrap_type: String,
    /// Managed HSM host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kms_endpoint: String,
    /// MAA host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub attester_endpoint: String,
}

mod go_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::b64_encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(Vec::new()),
            Some(s) => super::b64_decode("bytes", &s).map_err(serde::de::Error::custom),
        }
    }
}

/// A parsed `keyunwrap` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnwrapRequest {
    /// The annotation packet.
    pub annotation: Annotation,
}

/// Parses the input of `UnWrapKey`.
pub fn parse_unwrap(bytes: &[u8]) -> Result<UnwrapRequest, ProtocolError> {
    let v = parse_input(bytes)?;
    let params = get_ci(&v, "keyunwrapparams");
    let agent = agent_param(params.and_then(|p| get_ci(p, "dc")), "decryption")?;
    if !agent.eq_ignore_ascii_case(ATTESTATION_AGENT) {
        return Err(ProtocolError::WrongAgent(agent));
    }
    let annotation_b64 = params
        .and_then(|p| get_ci(p, "annotation"))
        .and_then(|a| a.as_str())
        .ok_or_else(|| ProtocolError::Annotation("keyunwrapparams.annotation is missing".into()))?;
    let bytes = b64_decode("annotation", annotation_b64)?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| ProtocolError::Annotation(e.to_string()))?;
    let annotation: Annotation = serde_json::from_value(crate::config::lowercase_keys(value))
        .map_err(|e| ProtocolError::Annotation(e.to_string()))?;
    if annotation.kid.is_empty()
        || annotation.kms_endpoint.is_empty()
        || annotation.attester_endpoint.is_empty()
    {
        return Err(ProtocolError::Annotation(
            "kid, kms_endpoint and attester_endpoint are required".into(),
        ));
    }
    Ok(UnwrapRequest { annotation })
}

/// The output of a successful `UnWrapKey`.
pub fn unwrap_output(plaintext: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"keywrapresults":{{"annotation":null}},"keyunwrapresults":{{"optsdata":"{}"}}}}"#,
        b64_encode(plaintext)
    )
    .into_bytes()
}

/// A parsed `keywrap` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapRequest {
    /// The key path named after `skr:` (a path on the sidecar's filesystem).
    pub key_path: String,
    /// The data to wrap.
    pub optsdata: Vec<u8>,
}

/// Parses the input of `WrapKey`.
pub fn parse_wrap(bytes: &[u8]) -> Result<WrapRequest, ProtocolError> {
    let v = parse_input(bytes)?;
    let params = get_ci(&v, "keywrapparams");
    let agent = agent_param(params.and_then(|p| get_ci(p, "ec")), "encryption")?;
    let (name, key_path) = agent.split_once(':').ok_or(ProtocolError::NoKeyPath)?;
    if !name.eq_ignore_ascii_case(ATTESTATION_AGENT) {
        return Err(ProtocolError::WrongAgent(name.to_string()));
    }
    // Upstream splits on every ':' and takes the second token.
    let key_path = key_path.split(':').next().unwrap_or_default().to_string();
    if key_path.is_empty() {
        return Err(ProtocolError::NoKeyPath);
    }
    let opts = params
        .and_then(|p| get_ci(p, "optsdata"))
        .and_then(|o| o.as_str())
        .unwrap_or("");
    Ok(WrapRequest {
        key_path,
        optsdata: b64_decode("optsdata", opts)?,
    })
}

/// The output of a successful `WrapKey`: the annotation JSON, base64 in `annotation`.
pub fn wrap_output(annotation: &Annotation) -> Vec<u8> {
    let json = serde_json::to_vec(annotation).unwrap_or_default();
    format!(
        r#"{{"keywrapresults":{{"annotation":"{}"}},"keyunwrapresults":{{"optsdata":null}}}}"#,
        b64_encode(&json)
    )
    .into_bytes()
}

/// `<keypath>-info.json` of wrap mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KeyInfo {
    /// PEM SubjectPublicKeyInfo of the RSA wrapping key.
    pub public_key_path: String,
    /// Managed HSM host.
    #[serde(default)]
    pub kms_endpoint: String,
    /// MAA host.
    #[serde(default)]
    pub attester_endpoint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        b64_encode(s.as_bytes())
    }

    #[test]
    fn unwrap_round_trip_with_upstream_shapes() {
        let ann = Annotation {
            kid: "testkey000".into(),
            wrapped_data: vec![1, 2, 3],
            iv: vec![],
            wrap_type: "rsa_3072".into(),
            kms_endpoint: "hsm.managedhsm.azure.net".into(),
            attester_endpoint: "sharedeus2.eus2.attest.azure.net".into(),
        };
        let ann_json = serde_json::to_string(&ann).unwrap();
        assert_eq!(
            ann_json,
            r#"{"kid":"testkey000","wrapped_data":"AQID","wrap_type":"rsa_3072","kms_endpoint":"hsm.managedhsm.azure.net","attester_endpoint":"sharedeus2.eus2.attest.azure.net"}"#
        );
        let input = format!(
            r#"{{"op":"keyunwrap","keywrapparams":{{}},"keyunwrapparams":{{"dc":{{"Parameters":{{"attestation-agent":["{}"]}}}},"annotation":"{}"}}}}"#,
            b64("SKR"),
            b64(&ann_json)
        );
        let req = parse_unwrap(input.as_bytes()).unwrap();
        assert_eq!(req.annotation, ann);
        assert_eq!(
            String::from_utf8(unwrap_output(b"key")).unwrap(),
            r#"{"keywrapresults":{"annotation":null},"keyunwrapresults":{"optsdata":"a2V5"}}"#
        );
    }

    #[test]
    fn wrap_request_and_output() {
        let input = format!(
            r#"{{"op":"keywrap","keywrapparams":{{"ec":{{"Parameters":{{"attestation-agent":["{}"]}}}},"optsdata":"{}"}}}}"#,
            b64("skr:/keys/testkey000"),
            b64("secret")
        );
        let req = parse_wrap(input.as_bytes()).unwrap();
        assert_eq!(
            (req.key_path.as_str(), req.optsdata.as_slice()),
            ("/keys/testkey000", &b"secret"[..])
        );
        let out = String::from_utf8(wrap_output(&Annotation {
            kid: "k".into(),
            wrapped_data: vec![0xff],
            iv: vec![],
            wrap_type: String::new(),
            kms_endpoint: String::new(),
            attester_endpoint: String::new(),
        }))
        .unwrap();
        assert!(
            out.ends_with(r#""},"keyunwrapresults":{"optsdata":null}}"#),
            "{out}"
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_unwrap(b"nope"),
            Err(ProtocolError::Input(_))
        ));
        assert_eq!(
            parse_unwrap(b"{}").unwrap_err(),
            ProtocolError::NoAgent("decryption")
        );
        let other = format!(
            r#"{{"keyunwrapparams":{{"dc":{{"Parameters":{{"attestation-agent":["{}"]}}}},"annotation":"e30="}}}}"#,
            b64("aa")
        );
        assert_eq!(
            parse_unwrap(other.as_bytes()).unwrap_err(),
            ProtocolError::WrongAgent("aa".into())
        );
        let no_kid = format!(
            r#"{{"keyunwrapparams":{{"dc":{{"Parameters":{{"attestation-agent":["{}"]}}}},"annotation":"{}"}}}}"#,
            b64("skr"),
            b64(r#"{"wrapped_data":"AA=="}"#)
        );
        assert!(matches!(
            parse_unwrap(no_kid.as_bytes()),
            Err(ProtocolError::Annotation(_))
        ));
        let no_path = format!(
            r#"{{"keywrapparams":{{"ec":{{"Parameters":{{"attestation-agent":["{}"]}}}}}}}}"#,
            b64("skr")
        );
        assert_eq!(
            parse_wrap(no_path.as_bytes()).unwrap_err(),
            ProtocolError::NoKeyPath
        );
    }
}
