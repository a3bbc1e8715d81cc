//! The ocicrypt key provider protocol as upstream's gRPC service speaks it: the JSON inside the
//! `key_provider_key_wrap_protocol_input/output` bytes, the annotation packet that carries a
//! wrapped key, and the key-info file of wrap mode. Go's encoding of `[]byte` (standard
//! base64) and its decoding of JSON into upstream's structs ([`crate::gojson`]: folded member
//! names, last duplicate wins, struct members merge, map keys exact) are kept.

use std::collections::BTreeMap;

use csc_core::base64::{self, Alphabet};
use serde::Serialize;

use crate::gojson::{self, GoJsonError, GoObject};

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

fn input_error(e: GoJsonError) -> ProtocolError {
    ProtocolError::Input(e.to_string())
}

/// The key provider input, decoded as upstream's `keyProviderInput` (every known member is
/// read, so a wrong type anywhere fails as it does in Go).
#[derive(Debug, Default)]
struct Input {
    /// `keywrapparams.ec.Parameters`.
    ec_parameters: BTreeMap<String, Vec<String>>,
    /// `keywrapparams.optsdata`.
    optsdata: Option<String>,
    /// `keyunwrapparams.dc.Parameters`.
    dc_parameters: BTreeMap<String, Vec<String>>,
    /// `keyunwrapparams.annotation`.
    annotation: Option<String>,
}

fn parse_input(bytes: &[u8]) -> Result<Input, ProtocolError> {
    let text = gojson::text(bytes);
    let top = GoObject::parse(&text).map_err(input_error)?;
    top.string("op").map_err(input_error)?;
    let wrap = top.object("keywrapparams").map_err(input_error)?;
    let ec = wrap.object("ec").map_err(input_error)?;
    // EncryptConfig also carries a DecryptConfig; upstream decodes it, so its type counts.
    ec.object("dc")
        .and_then(|dc| dc.string_lists("parameters"))
        .map_err(input_error)?;
    let unwrap = top.object("keyunwrapparams").map_err(input_error)?;
    Ok(Input {
        ec_parameters: ec.string_lists("parameters").map_err(input_error)?,
        optsdata: wrap.string("optsdata").map_err(input_error)?,
        dc_parameters: unwrap
            .object("dc")
            .and_then(|dc| dc.string_lists("parameters"))
            .map_err(input_error)?,
        annotation: unwrap.string("annotation").map_err(input_error)?,
    })
}

/// `Parameters["attestation-agent"][0]`, base64-decoded (the map key matches exactly, as a
/// Go map lookup does).
fn agent_param(
    parameters: &BTreeMap<String, Vec<String>>,
    which: &'static str,
) -> Result<String, ProtocolError> {
    let first = parameters
        .get("attestation-agent")
        .and_then(|a| a.first())
        .ok_or(ProtocolError::NoAgent(which))?;
    let bytes = b64_decode("attestation-agent", first)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The annotation packet: what a wrapped layer key carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    /// Key name in the managed HSM.
    pub kid: String,
    /// RSA-OAEP-SHA256 ciphertext, standard base64 in JSON.
    #[serde(with = "go_bytes")]
    pub wrapped_data: Vec<u8>,
    /// Unused by the RSA wrap; omitted when empty.
    #[serde(with = "go_bytes", skip_serializing_if = "Vec::is_empty")]
    pub iv: Vec<u8>,
    /// Upstream writes `rsa_3072`; informational.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wrap_type: String,
    /// Managed HSM host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kms_endpoint: String,
    /// MAA host.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub attester_endpoint: String,
}

mod go_bytes {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::b64_encode(v))
    }
}

impl Annotation {
    /// Decodes the annotation packet as upstream's `AnnotationPacket`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let bad = |e: GoJsonError| ProtocolError::Annotation(e.to_string());
        let text = gojson::text(bytes);
        let o = GoObject::parse(&text).map_err(bad)?;
        let string = |name| o.string(name).map(Option::unwrap_or_default).map_err(bad);
        let bytes = |name: &'static str| -> Result<Vec<u8>, ProtocolError> {
            match o.bytes_text(name).map_err(bad)? {
                Some(t) => b64_decode(name, &t),
                None => Ok(Vec::new()),
            }
        };
        Ok(Annotation {
            kid: string("kid")?,
            wrapped_data: bytes("wrapped_data")?,
            iv: bytes("iv")?,
            wrap_type: string("wrap_type")?,
            kms_endpoint: string("kms_endpoint")?,
            attester_endpoint: string("attester_endpoint")?,
        })
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
    let input = parse_input(bytes)?;
    let agent = agent_param(&input.dc_parameters, "decryption")?;
    if !agent.eq_ignore_ascii_case(ATTESTATION_AGENT) {
        return Err(ProtocolError::WrongAgent(agent));
    }
    let annotation_b64 = input
        .annotation
        .ok_or_else(|| ProtocolError::Annotation("keyunwrapparams.annotation is missing".into()))?;
    let annotation = Annotation::parse(&b64_decode("annotation", &annotation_b64)?)?;
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
    let input = parse_input(bytes)?;
    let agent = agent_param(&input.ec_parameters, "encryption")?;
    let (name, key_path) = agent.split_once(':').ok_or(ProtocolError::NoKeyPath)?;
    if !name.eq_ignore_ascii_case(ATTESTATION_AGENT) {
        return Err(ProtocolError::WrongAgent(name.to_string()));
    }
    // Upstream splits on every ':' and takes the second token.
    let key_path = key_path.split(':').next().unwrap_or_default().to_string();
    if key_path.is_empty() {
        return Err(ProtocolError::NoKeyPath);
    }
    let opts = input.optsdata.unwrap_or_default();
    Ok(WrapRequest {
        key_path,
        optsdata: b64_decode("optsdata", &opts)?,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// PEM SubjectPublicKeyInfo of the RSA wrapping key.
    pub public_key_path: String,
    /// Managed HSM host.
    pub kms_endpoint: String,
    /// MAA host.
    pub attester_endpoint: String,
}

impl KeyInfo {
    /// Decodes the file as upstream's `RSAKeyInfo`.
    pub fn parse(bytes: &[u8]) -> Result<Self, GoJsonError> {
        let text = gojson::text(bytes);
        let o = GoObject::parse(&text)?;
        Ok(KeyInfo {
            public_key_path: o.string("public_key_path")?.unwrap_or_default(),
            kms_endpoint: o.string("kms_endpoint")?.unwrap_or_default(),
            attester_endpoint: o.string("attester_endpoint")?.unwrap_or_default(),
        })
    }
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
