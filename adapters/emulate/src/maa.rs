//! The emulated Microsoft Azure Attestation: parses the SevSnpVM attest request as upstream
//! sends it, reads the report with the core, checks REPORT_DATA = SHA-256(runtime data), asks
//! the [`ReportVerifier`] hook about the report signature and chain, and issues an RS256 JWT
//! with the `x-ms-sevsnpvm-*` and `x-ms-runtime` claims MAA uses. Its keys are at `/certs`.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use csc_core::hex::Hex;
use csc_core::report::Report;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::fault::Fault;
use crate::http::{Reply, Req};
use crate::pki::Signers;
use crate::{State, jwt};

/// What MAA was sent, as the verifier hook sees it.
#[derive(Debug)]
pub struct Evidence<'a> {
    /// The parsed report.
    pub report: &'a Report<'a>,
    /// `VcekCertChain`: PEM text (VCEK, ASK, ARK).
    pub vcek_chain_pem: &'a [u8],
    /// The UVM endorsements (COSE_Sign1 bytes), possibly none.
    pub uvm_endorsements: &'a [Vec<u8>],
}

/// What a verifier concluded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// `x-ms-compliance-status`, if the verifier vouches for the UVM (e.g.
    /// `azure-compliant-uvm`).
    pub compliance_status: Option<String>,
    /// `x-ms-sevsnpvm-uvm-endorsement`, when a UVM endorsement was verified.
    pub uvm_endorsement: Option<Value>,
}

/// The hook that decides whether a report is genuine: its signature by the VCEK and the
/// VCEK -> ASK -> ARK chain. The core verifier plugs in here.
pub trait ReportVerifier: Send + Sync + std::fmt::Debug + 'static {
    /// A short name, published in every token as `x-ms-emulator-report-verifier`.
    fn name(&self) -> &str;
    /// Accepts or rejects the evidence; the error text goes back to the client.
    fn verify(&self, evidence: &Evidence<'_>) -> Result<Verdict, String>;
}

/// A placeholder that does NOT check the report signature or the certificate chain. It only
/// requires a non-empty PEM chain: for tests whose reports carry no chain that verifies (the
/// checking verifier is [`CoreReportVerifier`]). It must be chosen explicitly, and every token
/// it leads to says so in `x-ms-emulator-report-verifier`.
#[derive(Debug, Clone, Default)]
pub struct UncheckedSignaturePlaceholder {
    /// The compliance status to report when UVM endorsements were sent.
    pub compliance_status: Option<String>,
}

/// The name the placeholder publishes.
pub const UNCHECKED_PLACEHOLDER_NAME: &str = "unchecked-signature-placeholder";

impl ReportVerifier for UncheckedSignaturePlaceholder {
    fn name(&self) -> &str {
        UNCHECKED_PLACEHOLDER_NAME
    }

    fn verify(&self, evidence: &Evidence<'_>) -> Result<Verdict, String> {
        let text = String::from_utf8_lossy(evidence.vcek_chain_pem);
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err("VcekCertChain holds no PEM certificate".into());
        }
        Ok(Verdict {
            compliance_status: if evidence.uvm_endorsements.is_empty() {
                None
            } else {
                self.compliance_status.clone()
            },
            uvm_endorsement: None,
        })
    }
}

/// The real check: the core verifier (aws-lc-rs backend) over the report and its PEM chain,
/// against AMD's built-in roots or a pinned root (the simulated platform's ARK). This is what
/// MAA does with SevSnpVM evidence; a report that fails is refused with the verifier's reason.
#[derive(Debug)]
pub struct CoreReportVerifier {
    checker: csc_crypto::check::ReportChecker,
    name: String,
    compliance_status: Option<String>,
    uvm_signers: Vec<Vec<u8>>,
}

/// The name [`CoreReportVerifier::amd`] publishes.
pub const CORE_AMD_NAME: &str = "core-verifier-amd-roots";
/// The name [`CoreReportVerifier::pinned`] publishes.
pub const CORE_PINNED_NAME: &str = "core-verifier-pinned-root";

impl CoreReportVerifier {
    /// Reports must chain to AMD's built-in roots (real hardware).
    pub fn amd() -> Self {
        CoreReportVerifier {
            checker: csc_crypto::check::ReportChecker::amd(),
            name: CORE_AMD_NAME.into(),
            compliance_status: None,
            uvm_signers: Vec::new(),
        }
    }

    /// Reports must chain to `ark_der` for `product` (the simulated platform's root).
    pub fn pinned(ark_der: &[u8], product: csc_core::Product) -> Result<Self, String> {
        Ok(CoreReportVerifier {
            checker: csc_crypto::check::ReportChecker::pinned(ark_der, product)
                .map_err(|e| e.to_string())?,
            name: CORE_PINNED_NAME.into(),
            compliance_status: None,
            uvm_signers: Vec::new(),
        })
    }

    /// Vouches for the UVM with this `x-ms-compliance-status` when a UVM endorsement signed by
    /// one of the [`CoreReportVerifier::with_uvm_signers`] verifies for the report's launch
    /// measurement (as MAA does for Confidential ACI).
    pub fn with_compliance_status(mut self, status: Option<String>) -> Self {
        self.compliance_status = status;
        self
    }

    /// Trusts UVM endorsements signed with these certificates (DER, pinned).
    pub fn with_uvm_signers(mut self, certs: Vec<Vec<u8>>) -> Self {
        self.uvm_signers = certs;
        self
    }
}

impl ReportVerifier for CoreReportVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn verify(&self, evidence: &Evidence<'_>) -> Result<Verdict, String> {
        self.checker
            .check_parsed(evidence.report, evidence.vcek_chain_pem)
            .map_err(|e| format!("SEV-SNP evidence rejected: {e}"))?;
        // Without a trusted signer an endorsement proves nothing: no compliance claim.
        let Some(cose) = evidence.uvm_endorsements.first() else {
            return Ok(Verdict::default());
        };
        if self.uvm_signers.is_empty() {
            return Ok(Verdict::default());
        }
        let endorsed = crate::uvm::verify(cose, &self.uvm_signers, evidence.report.measurement())
            .map_err(|e| format!("UVM endorsement rejected: {e}"))?;
        Ok(Verdict {
            compliance_status: self.compliance_status.clone(),
            uvm_endorsement: Some(endorsed.claim()),
        })
    }
}

fn b64_lenient(s: &str) -> Option<Vec<u8>> {
    let t = s.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(t).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(t)
            .ok()
    })
}

fn bad(msg: impl std::fmt::Display) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, "InvalidParameter", msg)
}

/// GET `/certs`: the signing keys as a JWKS document with x5c, like MAA's.
pub fn certs(keys: &Signers) -> Reply {
    let s = &keys.maa;
    Reply::json(
        StatusCode::OK,
        &json!({"keys": [{
            "kty": "RSA",
            "kid": jwt::kid(s),
            "use": "sig",
            "alg": "RS256",
            "n": jwt::b64url(&s.n),
            "e": jwt::b64url(&s.e),
            "x5c": s.x5c,
        }]}),
    )
}

/// POST `/attest/SevSnpVM?api-version=...`.
pub fn attest(state: &State, keys: &Signers, req: &Req, fault: Option<&Fault>) -> Reply {
    if req.method != Method::POST {
        return Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "POST only",
        );
    }
    if req.param("api-version").is_none() {
        return bad("api-version is missing");
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => return bad(format!("request is not JSON: {e}")),
    };
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let Some(outer) = field(&body, "report").and_then(|r| b64_lenient(&r)) else {
        return bad("report is missing or not base64url");
    };
    let maa_report: Value = match serde_json::from_slice(&outer) {
        Ok(v) => v,
        Err(e) => return bad(format!("report is not JSON: {e}")),
    };
    let Some(report_bytes) = field(&maa_report, "SnpReport").and_then(|r| b64_lenient(&r)) else {
        return bad("SnpReport is missing or not base64url");
    };
    let Some(chain) = field(&maa_report, "VcekCertChain").and_then(|r| b64_lenient(&r)) else {
        return bad("VcekCertChain is missing or not base64url");
    };
    let mut uvm = Vec::new();
    if let Some(e) = field(&maa_report, "Endorsements") {
        let parsed: Option<Value> = b64_lenient(&e).and_then(|b| serde_json::from_slice(&b).ok());
        let Some(list) = parsed
            .as_ref()
            .and_then(|v| v.get("Uvm"))
            .and_then(Value::as_array)
        else {
            return bad("Endorsements is not base64url JSON with a Uvm array");
        };
        for item in list {
            match item.as_str().and_then(b64_lenient) {
                Some(b) => uvm.push(b),
                None => return bad("Uvm entry is not base64url"),
            }
        }
    }
    let Some(runtime) = body
        .pointer("/runtimeData/data")
        .and_then(Value::as_str)
        .and_then(b64_lenient)
    else {
        return bad("runtimeData.data is missing or not base64url");
    };
    let report = match Report::parse(&report_bytes) {
        Ok(r) => r,
        Err(e) => return bad(format!("SnpReport: {e}")),
    };
    if *report.report_data() != csc_core::runtime::report_data_for(&runtime) {
        return bad("report_data is not SHA-256 of the runtime data");
    }
    let evidence = Evidence {
        report: &report,
        vcek_chain_pem: &chain,
        uvm_endorsements: &uvm,
    };
    let verdict = match state.config.report_verifier.verify(&evidence) {
        Ok(v) => v,
        Err(e) => return bad(format!("evidence rejected: {e}")),
    };
    let runtime_claim = match body
        .pointer("/runtimeData/dataType")
        .and_then(Value::as_str)
    {
        Some("JSON") => match serde_json::from_slice::<Value>(&runtime) {
            Ok(v) => v,
            Err(e) => return bad(format!("runtime data is not JSON: {e}")),
        },
        _ => Value::String(URL_SAFE.encode(&runtime)),
    };
    let mut claims = report_claims(&report);
    claims.insert("x-ms-runtime".into(), runtime_claim);
    if let Some(c) = verdict.compliance_status {
        claims.insert("x-ms-compliance-status".into(), Value::String(c));
    }
    if let Some(e) = verdict.uvm_endorsement {
        claims.insert("x-ms-sevsnpvm-uvm-endorsement".into(), e);
    }
    claims.insert(
        "x-ms-emulator-report-verifier".into(),
        Value::String(state.config.report_verifier.name().to_string()),
    );
    if let Some(n) = body.get("nonce") {
        claims.insert("nonce".into(), n.clone());
    }
    let now = jwt::now();
    let life = state.config.maa_token_lifetime.as_secs().max(1);
    let (iat, exp) = if matches!(fault, Some(Fault::ExpiredCert)) {
        (now - 7200, now - 3600)
    } else {
        (now, now + life)
    };
    // MAA's issuer is the instance's own URL: the host the client addressed.
    let issuer = req.instance_url(&state.base_url);
    claims.insert("iss".into(), Value::String(issuer.clone()));
    claims.insert("iat".into(), iat.into());
    claims.insert("nbf".into(), iat.into());
    claims.insert("exp".into(), exp.into());
    claims.insert("jti".into(), Value::String(Hex(&random16()).to_string()));
    if matches!(fault, Some(Fault::WrongClaims)) {
        claims.insert(
            "x-ms-sevsnpvm-reportdata".into(),
            Value::String("00".repeat(64)),
        );
    }
    let header = json!({
        "alg": "RS256",
        "typ": "JWT",
        "kid": jwt::kid(&keys.maa),
        "jku": format!("{issuer}/certs"),
    });
    let Some(token) = jwt::sign(
        &keys.maa,
        &header,
        Value::Object(claims).to_string().as_bytes(),
        matches!(fault, Some(Fault::BadSignature)),
    ) else {
        return Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SigningFailed",
            "could not sign",
        );
    };
    Reply::json(StatusCode::OK, &json!({ "token": token }))
}

fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b
}

/// The `x-ms-sevsnpvm-*` claims MAA derives from a report.
pub fn report_claims(r: &Report<'_>) -> Map<String, Value> {
    let tcb = r.reported_tcb().parts();
    let policy = r.policy();
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(format!("x-ms-sevsnpvm-{k}"), v);
    };
    put(
        "authorkeydigest",
        Hex(r.author_key_digest()).to_string().into(),
    );
    put("bootloader-svn", tcb.bootloader.into());
    put("familyId", Hex(r.family_id()).to_string().into());
    put("guestsvn", r.guest_svn().into());
    put("hostdata", Hex(r.host_data()).to_string().into());
    put("idkeydigest", Hex(r.id_key_digest()).to_string().into());
    put("imageId", Hex(r.image_id()).to_string().into());
    put("is-debuggable", policy.debug_allowed().into());
    put("launchmeasurement", Hex(r.measurement()).to_string().into());
    put("microcode-svn", tcb.microcode.into());
    put("migration-allowed", policy.migrate_ma_allowed().into());
    put("reportdata", Hex(r.report_data()).to_string().into());
    put("reportid", Hex(r.report_id()).to_string().into());
    put("smt-allowed", policy.smt_allowed().into());
    put("snpfw-svn", tcb.snp.into());
    put("tee-svn", tcb.tee.into());
    put("vmpl", r.vmpl().into());
    m.insert("x-ms-attestation-type".into(), "sevsnpvm".into());
    m.insert("x-ms-ver".into(), "1.0".into());
    m
}
