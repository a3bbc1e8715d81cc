//! Microsoft Azure Attestation: the SevSnpVM attest request exactly as upstream builds it, and
//! verification of the token that comes back (which upstream never does).

mod verify;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use http::Method;
use http::header::USER_AGENT;
use serde::Serialize;

pub use verify::{Jwks, MaaClaims, MaaExpectations, MaaVerifier};

use crate::error::{Error, Result, Service};
use crate::http::{HttpClient, Request, random_u64};
use crate::secret::SecretString;

/// The API version upstream uses.
pub const MAA_API_VERSION: &str = "api-version=2020-10-01";

/// What MAA is given for one attestation.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The 1184-byte SNP report.
    pub report: &'a [u8],
    /// VCEK, ASK, ARK as PEM text.
    pub vcek_chain_pem: &'a str,
    /// The UVM endorsement (COSE_Sign1 bytes), if the platform provided one.
    pub uvm_endorsement: Option<&'a [u8]>,
    /// The runtime data whose SHA-256 is in REPORT_DATA (the JWK set, for SKR).
    pub runtime_data: &'a [u8],
}

#[derive(Serialize)]
struct MaaReport {
    #[serde(rename = "SnpReport")]
    snp_report: String,
    #[serde(rename = "VcekCertChain")]
    vcek_cert_chain: String,
    #[serde(rename = "Endorsements", skip_serializing_if = "Option::is_none")]
    endorsements: Option<String>,
}

#[derive(Serialize)]
struct Endorsements {
    #[serde(rename = "Uvm")]
    uvm: Vec<String>,
}

#[derive(Serialize)]
struct Data {
    data: String,
    #[serde(rename = "dataType")]
    data_type: &'static str,
}

#[derive(Serialize)]
struct AttestRequest {
    report: String,
    #[serde(rename = "runtimeData")]
    runtime_data: Data,
    #[serde(rename = "initTimeData")]
    init_time_data: Data,
    nonce: u64,
}

/// Base64url with `=` padding, as Go's `URLEncoding` writes it.
fn b64url_pad(bytes: &[u8]) -> String {
    URL_SAFE.encode(bytes)
}

/// The attest request body exactly as upstream builds it (member order included).
pub fn attest_body(evidence: &Evidence<'_>, nonce: u64) -> Result<Vec<u8>> {
    let endorsements = match evidence.uvm_endorsement {
        Some(uvm) if !uvm.is_empty() => {
            let json = serde_json::to_vec(&Endorsements {
                uvm: vec![b64url_pad(uvm)],
            })
            .map_err(|e| Error::Config(format!("endorsement JSON: {e}")))?;
            Some(b64url_pad(&json))
        }
        _ => None,
    };
    let report = serde_json::to_vec(&MaaReport {
        snp_report: b64url_pad(evidence.report),
        vcek_cert_chain: b64url_pad(evidence.vcek_chain_pem.as_bytes()),
        endorsements,
    })
    .map_err(|e| Error::Config(format!("report JSON: {e}")))?;
    serde_json::to_vec(&AttestRequest {
        report: b64url_pad(&report),
        runtime_data: Data {
            data: b64url_pad(evidence.runtime_data),
            data_type: "JSON",
        },
        init_time_data: Data {
            data: String::new(),
            data_type: "",
        },
        nonce,
    })
    .map_err(|e| Error::Config(format!("request JSON: {e}")))
}

/// A client of one MAA instance.
#[derive(Debug, Clone)]
pub struct MaaClient {
    http: HttpClient,
    base: String,
    user_agent: Option<String>,
}

impl MaaClient {
    /// `endpoint` is a host (`sharedeus2.eus2.attest.azure.net`, as upstream configures it)
    /// or a full base URL (`https://127.0.0.1:8443` for the emulator).
    pub fn new(http: HttpClient, endpoint: &str) -> Self {
        MaaClient {
            http,
            base: base_url(endpoint),
            user_agent: None,
        }
    }

    /// Sends this User-Agent instead of the client's (upstream's `maaconfig.user_agent`).
    pub fn with_user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// The base URL; also the issuer MAA writes into its tokens.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// POST `/attest/SevSnpVM?api-version=2020-10-01`; returns the token (a JWT).
    pub async fn attest(&self, evidence: &Evidence<'_>) -> Result<SecretString> {
        let body = attest_body(evidence, random_u64())?;
        let url = format!("{}/attest/SevSnpVM?{MAA_API_VERSION}", self.base);
        let mut req = Request::new(Service::Maa, Method::POST, url).json(body);
        if let Some(ua) = &self.user_agent {
            req = req.header(USER_AGENT, ua)?;
        }
        let resp = self.http.send(req).await?;
        let v: serde_json::Value = serde_json::from_slice(&resp.body)
            .map_err(|e| Error::malformed(Service::Maa, "attest response", e))?;
        let token = v
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("token"))
                    .and_then(|(_, t)| t.as_str())
            })
            .unwrap_or("");
        if token.is_empty() {
            return Err(Error::malformed(
                Service::Maa,
                "attest response",
                "no token",
            ));
        }
        Ok(SecretString::new(token.to_string()))
    }

    /// A verifier for this instance's tokens (keys from its `/certs`).
    pub fn verifier(&self) -> MaaVerifier {
        MaaVerifier::new(self.http.clone(), &self.base)
    }
}

/// `https://{host}` for a bare host, the URL itself (without trailing `/`) otherwise.
pub(crate) fn base_url(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    if e.starts_with("https://") || e.starts_with("http://") {
        e.to_string()
    } else {
        format!("https://{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;

    #[test]
    fn body_has_upstream_shape_and_order() {
        let ev = Evidence {
            report: &[0xfb; 4],
            vcek_chain_pem: "PEM",
            uvm_endorsement: Some(&[0xff, 0xfe]),
            runtime_data: b"{\"a\":1}",
        };
        let body = String::from_utf8(attest_body(&ev, 42).unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let report = URL_SAFE.decode(v["report"].as_str().unwrap()).unwrap();
        let report = String::from_utf8(report).unwrap();
        assert_eq!(
            report,
            r#"{"SnpReport":"-_v7-w==","VcekCertChain":"UEVN","Endorsements":"eyJVdm0iOlsiX180PSJdfQ=="}"#
        );
        let expected_tail = r#"","runtimeData":{"data":"eyJhIjoxfQ==","dataType":"JSON"},"initTimeData":{"data":"","dataType":""},"nonce":42}"#;
        assert!(body.starts_with(r#"{"report":""#), "{body}");
        assert!(body.ends_with(expected_tail), "{body}");

        let none = Evidence {
            uvm_endorsement: None,
            ..ev
        };
        let v: serde_json::Value = serde_json::from_slice(&attest_body(&none, 1).unwrap()).unwrap();
        let report = URL_SAFE.decode(v["report"].as_str().unwrap()).unwrap();
        assert!(!String::from_utf8(report).unwrap().contains("Endorsements"));
    }

    #[test]
    fn endpoint_forms() {
        assert_eq!(base_url("x.attest.azure.net"), "https://x.attest.azure.net");
        assert_eq!(base_url("https://127.0.0.1:9/"), "https://127.0.0.1:9");
    }
}
