//! What `snp-report verify` found, per check, and its two renderings: human lines and JSON.

use std::fmt::Write as _;

use csc_core::cert::Time;
use csc_core::hcl::HclReport;
use csc_core::hex::Hex;
use csc_core::policy::{PolicyError, Value};
use csc_core::report::Report;
use csc_core::verify::{
    BindingError, Category, ChainError, CrlStatus, Role, Verified, VerifyError,
};
use serde_json::{Value as Json, json};

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It holds.
    Ok,
    /// It does not hold.
    Failed,
    /// Not reached: an earlier check failed.
    Skipped,
    /// Nothing to check with (no CRL given).
    NotChecked,
}

impl Status {
    /// The name in both renderings.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotChecked => "not_checked",
        }
    }
}

/// The HCL variable-data binding of an Azure HCL report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HclCheck {
    /// Whether it holds.
    pub status: Status,
    /// The hash the HCL header names (`SHA-256`).
    pub hash: &'static str,
    /// Hex of the hash of the variable data.
    pub variable_data_digest: String,
    /// Hex of REPORT_DATA's first bytes (as many as the digest has).
    pub report_data: String,
}

impl HclCheck {
    fn new(hcl: &HclReport<'_>, result: &Result<Verified, VerifyError>) -> Self {
        let (digest, n) = hcl.runtime_data_digest();
        let rd = hcl.report().report_data();
        let status = match result {
            Ok(_) => Status::Ok,
            Err(VerifyError::Binding(BindingError::HclVariableData { .. })) => Status::Failed,
            Err(_) => Status::Skipped,
        };
        HclCheck {
            status,
            hash: hcl.runtime_hash().name(),
            variable_data_digest: Hex(digest.get(..n).unwrap_or_default()).to_string(),
            report_data: Hex(rd.get(..n).unwrap_or_default()).to_string(),
        }
    }
}

/// The options that change what is accepted, echoed in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The time certificates were checked at.
    pub at: Option<Time>,
    /// True if the time came from `--at`, false for the system clock.
    pub at_given: bool,
    /// `--permit-provisional-firmware`.
    pub permit_provisional_firmware: bool,
}

/// Every check's outcome.
#[derive(Debug)]
pub struct Outcome<'a> {
    chain: Status,
    signature: Status,
    binding: Status,
    crl: Status,
    policy: Status,
    hcl: Option<HclCheck>,
    verified: Option<Verified>,
    /// The verification error, if any.
    pub error: Option<VerifyError>,
    /// The policy violations (checked only once verification succeeded).
    pub violations: Vec<PolicyError<'a>>,
}

fn is_crl_error(e: &VerifyError) -> bool {
    matches!(
        e,
        VerifyError::Chain(
            ChainError::Revoked { .. }
                | ChainError::Signature {
                    cert: Role::Crl,
                    ..
                }
                | ChainError::IssuerName {
                    cert: Role::Crl,
                    ..
                }
                | ChainError::Algorithm {
                    cert: Role::Crl,
                    ..
                }
                | ChainError::AlgorithmMismatch { cert: Role::Crl }
                | ChainError::UnexpectedScheme {
                    cert: Role::Crl,
                    ..
                }
        ) | VerifyError::Malformed {
            role: Role::Crl,
            ..
        }
    )
}

/// The outcome of a verification (`hcl`: the HCL wrapper, when the input had one).
pub fn outcome<'a>(
    result: Result<Verified, VerifyError>,
    hcl: Option<&HclReport<'_>>,
    crl_given: bool,
    violations: Vec<PolicyError<'a>>,
) -> Outcome<'a> {
    use Status::{Failed, NotChecked, Skipped};
    let good = Status::Ok;
    let hcl = hcl.map(|h| HclCheck::new(h, &result));
    match result {
        Ok(v) => Outcome {
            chain: good,
            signature: good,
            binding: good,
            crl: if matches!(v.crl, CrlStatus::Checked(_)) {
                good
            } else {
                NotChecked
            },
            policy: if violations.is_empty() { good } else { Failed },
            hcl,
            verified: Some(v),
            error: None,
            violations,
        },
        Err(e) => {
            let (chain, signature, binding) = match e.category() {
                Category::Chain if is_crl_error(&e) => (good, Skipped, Skipped),
                Category::Chain => (Failed, Skipped, Skipped),
                Category::Signature => (good, Failed, Skipped),
                Category::Binding => (good, good, Failed),
                Category::Malformed | Category::Missing => (Skipped, Skipped, Skipped),
            };
            let crl = if is_crl_error(&e) {
                Failed
            } else if !crl_given {
                NotChecked
            } else if chain == good {
                good
            } else {
                Skipped
            };
            Outcome {
                chain,
                signature,
                binding,
                crl,
                policy: Skipped,
                hcl,
                verified: None,
                error: Some(e),
                violations: Vec::new(),
            }
        }
    }
}

fn value_json(v: &Value<'_>) -> Json {
    match v {
        Value::Number(n) => json!(n),
        Value::Flag(b) => json!(b),
        other => json!(other.to_string()),
    }
}

/// The JSON document (`message` renders a violation, naming the flag that would accept it).
pub fn render_json(
    report: &Report<'_>,
    o: &Outcome<'_>,
    settings: &Settings,
    code: u8,
    message: impl Fn(&PolicyError<'_>) -> String,
    remedy_flag: impl Fn(&PolicyError<'_>) -> Option<&'static str>,
) -> String {
    let v = o.verified.as_ref();
    let crl = match v.map(|v| v.crl) {
        Some(CrlStatus::Checked(c)) => json!({
            "status": "ok",
            "this_update": c.this_update.to_string(),
            "next_update": c.next_update.map(|t| t.to_string()),
            "entries": c.revoked,
        }),
        _ => json!({ "status": o.crl.name() }),
    };
    let hcl = o.hcl.as_ref().map(|h| {
        json!({
            "status": h.status.name(),
            "hash": h.hash,
            "variable_data_digest": h.variable_data_digest,
            "report_data": h.report_data,
        })
    });
    let doc = json!({
        "verified": code == 0,
        "exit_code": code,
        "error": o.error.map(|e| e.to_string()),
        "options": {
            "at": settings.at.map(|t| t.to_string()),
            "time_source": if settings.at_given { "--at" } else { "system clock" },
            "permit_provisional_firmware": settings.permit_provisional_firmware,
        },
        "report": {
            "version": report.version(),
            "format": if o.hcl.is_some() { "hcl" } else { "snp" },
            "product": v.map(|v| v.product.name()).or(report.product().map(|p| p.name())),
            "signing_key": report.signer_info().signing_key().to_string(),
            "reported_tcb": format!("0x{:016x}", report.reported_tcb().raw()),
        },
        "checks": {
            "certificate_chain": {
                "status": o.chain.name(),
                "root": v.map(|v| if v.pinned_root { "pinned" } else { "built-in" }),
                "intermediate": v.map(|v| v.intermediate.name()),
                "signer": v.map(|v| v.signer.name()),
            },
            "report_signature": { "status": o.signature.name() },
            "binding": {
                "status": o.binding.name(),
                "chip_id": v.map(|v| v.chip_id.name()),
                "tcb": v.map(|v| format!("0x{:016x}", v.tcb.raw())),
                "hcl_variable_data": hcl,
            },
            "crl": crl,
            "policy": {
                "status": o.policy.name(),
                "violations": o.violations.iter().map(|p| json!({
                    "field": p.field,
                    "relation": p.relation.name(),
                    "expected": value_json(&p.expected),
                    "actual": value_json(&p.actual),
                    "remedy": p.remedy.map(|r| r.name()),
                    "remedy_flag": remedy_flag(p),
                    "message": message(p),
                })).collect::<Vec<_>>(),
            },
        },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// The human lines: one per check, then the violations.
pub fn render_human(
    o: &Outcome<'_>,
    settings: &Settings,
    message: impl Fn(&PolicyError<'_>) -> String,
) -> String {
    let mut out = String::new();
    let line = |out: &mut String, name: &str, status: Status, detail: String| {
        let _ = writeln!(out, "{name:<20}{}{detail}", status.name().replace('_', " "));
    };
    let v = o.verified.as_ref();
    let at = match (settings.at, settings.at_given) {
        (Some(t), true) => format!("; certificates valid at {t} (--at)"),
        _ => String::new(),
    };
    line(
        &mut out,
        "certificate chain",
        o.chain,
        v.map(|v| {
            let root = if v.pinned_root { "pinned" } else { "built-in" };
            format!(
                " ({root} {} ARK -> {} -> {}{at})",
                v.product, v.intermediate, v.signer
            )
        })
        .unwrap_or_default(),
    );
    line(&mut out, "report signature", o.signature, String::new());
    let hcl = match &o.hcl {
        Some(h) if h.status == Status::Ok => format!(
            "; HCL variable data {} = REPORT_DATA[0:{}]",
            h.hash,
            h.report_data.len() / 2
        ),
        _ => String::new(),
    };
    line(
        &mut out,
        "binding",
        o.binding,
        v.map(|v| {
            format!(
                " (CHIP_ID {}, REPORTED_TCB 0x{:016x} = certificate TCB{hcl})",
                v.chip_id.name().replace('_', " "),
                v.tcb.raw()
            )
        })
        .unwrap_or_default(),
    );
    if let Some(h) = o.hcl.as_ref().filter(|h| h.status == Status::Failed) {
        let digest = format!("{} of HCL variable data", h.hash);
        let rd = format!("REPORT_DATA[0:{}]", h.report_data.len() / 2);
        let _ = writeln!(
            out,
            "  {digest:<30}{}\n  {rd:<30}{}",
            h.variable_data_digest, h.report_data
        );
    }
    let crl_detail = match v.map(|v| v.crl) {
        Some(CrlStatus::Checked(c)) => {
            format!(" (issued {}, nothing of ours revoked)", c.this_update)
        }
        _ if o.crl == Status::NotChecked => " (no CRL given)".to_string(),
        _ => String::new(),
    };
    line(&mut out, "revocation (CRL)", o.crl, crl_detail);
    let provisional = if settings.permit_provisional_firmware {
        " (provisional firmware permitted)".to_string()
    } else {
        String::new()
    };
    line(&mut out, "policy", o.policy, provisional);
    for p in &o.violations {
        let _ = writeln!(out, "  {}", message(p));
    }
    out
}
