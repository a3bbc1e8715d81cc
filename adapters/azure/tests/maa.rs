//! MAA attest and token verification against the emulated MAA, with real evidence.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use csc_azure::maa::{Evidence, MaaClient, MaaExpectations};
use csc_azure::{Error, Service};
use csc_core::report::Report;
use csc_emulate::maa::{Evidence as SeenEvidence, Verdict};
use csc_emulate::{Fault, FaultRule, ReportVerifier, Target};

/// The runtime data whose SHA-256 is REPORT_DATA of `csc/snp_report.bin`.
fn runtime_data() -> Vec<u8> {
    let text = common::vector("csc/runtime_data.base64");
    base64::engine::general_purpose::STANDARD
        .decode(String::from_utf8(text).unwrap().trim())
        .unwrap()
}

struct Inputs {
    report: Vec<u8>,
    chain: String,
    uvm: Vec<u8>,
    runtime: Vec<u8>,
}

fn inputs() -> Inputs {
    Inputs {
        report: common::vector("csc/snp_report.bin"),
        chain: common::milan_pem(),
        uvm: common::vector("csc/body.uvm_reference_info.bin"),
        runtime: runtime_data(),
    }
}

impl Inputs {
    fn evidence(&self) -> Evidence<'_> {
        Evidence {
            report: &self.report,
            vcek_chain_pem: &self.chain,
            uvm_endorsement: Some(&self.uvm),
            runtime_data: &self.runtime,
        }
    }

    fn expectations(&self) -> MaaExpectations {
        let r = Report::parse(&self.report).unwrap();
        MaaExpectations {
            runtime_data: Some(self.runtime.clone()),
            host_data: Some(r.host_data().to_vec()),
            report_data: Some(r.report_data().to_vec()),
        }
    }
}

#[tokio::test]
async fn attest_real_evidence_and_verify_the_token() {
    let emu = common::emulator().await;
    let maa = MaaClient::new(common::http(&emu), &emu.endpoints().maa);
    let i = inputs();
    let token = maa.attest(&i.evidence()).await.unwrap();
    let claims = maa
        .verifier()
        .verify_expecting(token.expose(), &i.expectations())
        .await
        .unwrap();
    assert_eq!(claims.issuer, emu.endpoints().maa);
    assert_eq!(
        claims.all["x-ms-sevsnpvm-launchmeasurement"],
        "51068107cdc7ee3d89c7821b05bca6147eb77b2005ae759050fc049b65a1b0beabc65a9d857acecf23225f5ec76849f5"
    );
    assert_eq!(claims.all["x-ms-compliance-status"], "azure-compliant-uvm");
    assert_eq!(claims.all["x-ms-sevsnpvm-vmpl"], 0);
    assert_eq!(
        claims.all["x-ms-emulator-report-verifier"],
        csc_emulate::maa::UNCHECKED_PLACEHOLDER_NAME
    );
    assert_eq!(claims.runtime.as_ref().unwrap()["akey"], "avalue");
    assert!(claims.runtime_keys().is_empty());
    // Keys are fetched once and reused.
    maa.verifier().verify(token.expose()).await.unwrap();
    let v = maa.verifier();
    v.verify(token.expose()).await.unwrap();
    v.verify(token.expose()).await.unwrap();
    assert_eq!(emu.requests(Target::Maa), 1 + 3);
}

#[tokio::test]
async fn the_report_verifier_hook_is_consulted() {
    #[derive(Debug)]
    struct RejectAll;
    impl ReportVerifier for RejectAll {
        fn name(&self) -> &str {
            "reject-all"
        }
        fn verify(&self, e: &SeenEvidence<'_>) -> Result<Verdict, String> {
            assert_eq!(e.uvm_endorsements.len(), 1);
            Err(format!(
                "chip {:02x}.. is not trusted",
                e.report.chip_id()[0]
            ))
        }
    }
    let emu = common::emulator_with(|c| c.report_verifier = Arc::new(RejectAll)).await;
    let maa = MaaClient::new(common::http(&emu), &emu.endpoints().maa);
    let err = maa.attest(&inputs().evidence()).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(
        err.to_string().contains("chip b1.. is not trusted"),
        "{err}"
    );
}

#[tokio::test]
async fn evidence_that_does_not_bind_the_runtime_data_is_refused() {
    let emu = common::emulator().await;
    let maa = MaaClient::new(common::http(&emu), &emu.endpoints().maa);
    let mut i = inputs();
    i.runtime = b"{\"akey\":\"other\"}".to_vec();
    let err = maa.attest(&i.evidence()).await.unwrap_err();
    match &err {
        Error::Status {
            service: Service::Maa,
            status: 400,
            message: Some(m),
            attempts: 1,
            ..
        } => {
            assert!(
                m.contains("report_data is not SHA-256 of the runtime data"),
                "{m}"
            )
        }
        other => panic!("unexpected {other}"),
    }
    let mut i = inputs();
    i.report.truncate(100);
    let err = maa.attest(&i.evidence()).await.unwrap_err();
    assert!(err.to_string().contains("SnpReport"), "{err}");
}

#[tokio::test]
async fn bad_signature_expired_and_wrong_claims_are_rejected() {
    let emu = common::emulator().await;
    let maa = MaaClient::new(common::http(&emu), &emu.endpoints().maa);
    let i = inputs();
    let verifier = maa.verifier();

    emu.set_fault(Target::Maa, FaultRule::times(Fault::BadSignature, 1));
    let t = maa.attest(&i.evidence()).await.unwrap();
    let err = verifier.verify(t.expose()).await.unwrap_err();
    assert!(
        err.to_string().contains("signature does not verify"),
        "{err}"
    );

    emu.set_fault(Target::Maa, FaultRule::times(Fault::ExpiredCert, 1));
    let t = maa.attest(&i.evidence()).await.unwrap();
    let err = verifier.verify(t.expose()).await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");

    emu.set_fault(Target::Maa, FaultRule::times(Fault::WrongClaims, 1));
    let t = maa.attest(&i.evidence()).await.unwrap();
    verifier.verify(t.expose()).await.unwrap();
    let err = verifier
        .verify_expecting(t.expose(), &i.expectations())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("x-ms-sevsnpvm-reportdata is 0000"),
        "{err}"
    );

    // A token from another issuer (same keys) is refused too.
    let other =
        csc_azure::maa::MaaVerifier::new(common::http(&emu), "https://elsewhere.attest.azure.net")
            .with_keys(csc_azure::maa::Jwks::parse(&jwks(&emu).await).unwrap());
    let t = maa.attest(&i.evidence()).await.unwrap();
    let err = other.verify(t.expose()).await.unwrap_err();
    assert!(err.to_string().contains("issuer"), "{err}");
}

async fn jwks(emu: &csc_emulate::Emulator) -> Vec<u8> {
    let http = common::http(emu);
    let req = csc_azure::http::Request::new(
        Service::Maa,
        http::Method::GET,
        format!("{}/certs", emu.endpoints().maa),
    );
    http.send(req).await.unwrap().body.to_vec()
}

#[tokio::test]
async fn transport_faults_on_attest() {
    let emu = common::emulator().await;
    let maa = MaaClient::new(common::http(&emu), &emu.endpoints().maa)
        .with_user_agent("ConfidentialSkrContainer");
    let i = inputs();
    emu.set_fault(
        Target::Maa,
        FaultRule::times(Fault::Status { status: 503 }, 2),
    );
    maa.attest(&i.evidence()).await.unwrap();
    assert_eq!(emu.requests(Target::Maa), 3);
    emu.set_fault(Target::Maa, FaultRule::times(Fault::Truncate, 1));
    maa.attest(&i.evidence()).await.unwrap();
    emu.set_fault(Target::Maa, FaultRule::always(Fault::Truncate));
    let err = maa.attest(&i.evidence()).await.unwrap_err();
    assert!(matches!(err, Error::Transport { attempts: 3, .. }), "{err}");
    emu.set_fault(
        Target::Maa,
        FaultRule::always(Fault::TooManyRequests {
            retry_after_secs: 3600,
        }),
    );
    let err = maa.attest(&i.evidence()).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err}");
    emu.set_fault(
        Target::Maa,
        FaultRule::always(Fault::Latency { ms: 10_000 }),
    );
    let mut cfg = common::http_config(&emu);
    cfg.attempt_timeout = Duration::from_millis(200);
    cfg.retry.max_attempts = 2;
    let slow = MaaClient::new(
        csc_azure::http::HttpClient::new(cfg).unwrap(),
        &emu.endpoints().maa,
    );
    let err = slow.attest(&i.evidence()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { attempts: 2, .. }), "{err}");
}

#[tokio::test]
async fn signing_keys_fetch_failure_is_clear() {
    let emu = common::emulator().await;
    let maa = MaaClient::new(common::http(&emu), &emu.endpoints().maa);
    let t = maa.attest(&inputs().evidence()).await.unwrap();
    emu.set_fault(
        Target::Maa,
        FaultRule::always(Fault::Status { status: 500 }),
    );
    let err = maa.verifier().verify(t.expose()).await.unwrap_err();
    assert!(err.to_string().contains("/certs: HTTP 500"), "{err}");
}
