//! `snp-report verify`: checks a report's signature, its AMD certificate chain (against the
//! built-in root of its product, or a pinned one), the CRL if given, the binding of report and
//! certificate, and the caller's policy; prints each check's outcome.
//!
//! Exit codes: 0 verified; 2 report signature invalid; 3 certificate chain invalid (tampered,
//! wrong product, wrong root, revoked); 4 report and certificate do not match; 5 policy
//! violation; 6 malformed input; 1 usage or I/O error.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use csc_core::cert::{Certificate, Time};
use csc_core::certtable::{self, Kind};
use csc_core::hex;
use csc_core::policy::{self, PolicyError, PolicyOptions, Value};
use csc_core::report::{Report, TcbParts, TcbVersion};
use csc_core::verify::{
    Category, ChainError, CoreCrypto, CrlStatus, Crypto, Evidence, Role, Verified, Verifier,
    VerifyError, VerifyOptions, classify,
};
use csc_crypto::verify::AwsLcCrypto;
use serde_json::{Value as Json, json};

use crate::args::Args;
use crate::exit::Failure;
use crate::input::{parse_report, product_arg, read_input};

/// Usage of the command.
pub const USAGE: &str = "usage: snp-report verify REPORT [--vcek FILE] [--chain FILE] [--crl FILE] \
[--certs FILE] [--pin-ark FILE] [--product milan|genoa|turin] [--report-data HEX] [--host-data HEX] \
[--measurement HEX] [--min-tcb SPEC] [--min-guest-svn N] [--vmpl N] [--allow-debug] \
[--backend aws-lc|core] [--json]";

/// Exit code: the report signature is invalid.
pub const EXIT_SIGNATURE: u8 = 2;
/// Exit code: the certificate chain (or CRL) is invalid.
pub const EXIT_CHAIN: u8 = 3;
/// Exit code: report and certificate do not match.
pub const EXIT_BINDING: u8 = 4;
/// Exit code: the report violates the policy.
pub const EXIT_POLICY: u8 = 5;

/// Options this command takes.
pub const OPTIONS: &[&str] = &[
    "vcek",
    "chain",
    "crl",
    "certs",
    "pin-ark",
    "product",
    "report-data",
    "host-data",
    "measurement",
    "min-tcb",
    "min-guest-svn",
    "vmpl",
    "allow-debug",
    "backend",
    "json",
];

/// Exit code for a verification failure.
pub fn exit_code(e: &VerifyError) -> u8 {
    match e.category() {
        Category::Malformed => crate::exit::MALFORMED,
        Category::Missing => crate::exit::USAGE,
        Category::Chain => EXIT_CHAIN,
        Category::Signature => EXIT_SIGNATURE,
        Category::Binding => EXIT_BINDING,
    }
}

/// The certificates gathered from --vcek, --chain, --certs and --pin-ark.
#[derive(Debug, Default)]
struct Certs {
    signer: Option<Vec<u8>>,
    intermediate: Option<Vec<u8>>,
    ark: Option<Vec<u8>>,
    crl: Option<Vec<u8>>,
}

/// Every certificate in a file: PEM (all CERTIFICATE blocks) or one DER certificate.
fn certificates(name: &str, bytes: &[u8]) -> Result<Vec<Vec<u8>>, Failure> {
    if !csc_core::pem::is_pem(bytes) {
        return Ok(vec![bytes.to_vec()]);
    }
    let mut out = Vec::new();
    for block in csc_core::pem::blocks(bytes) {
        let block = block.map_err(|e| Failure::malformed(format!("{name}: {e}")))?;
        if block.is("CERTIFICATE") {
            let mut buf = vec![0u8; block.decoded_len_max()];
            let der = block
                .decode_into(&mut buf)
                .map_err(|e| Failure::malformed(format!("{name}: {e}")))?;
            out.push(der.to_vec());
        }
    }
    if out.is_empty() {
        return Err(Failure::malformed(format!("{name}: no CERTIFICATE block")));
    }
    Ok(out)
}

/// A CRL file: DER, or PEM `X509 CRL`.
fn crl_der(name: &str, bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    if !csc_core::pem::is_pem(bytes) {
        return Ok(bytes.to_vec());
    }
    let mut buf = vec![0u8; bytes.len()];
    csc_core::pem::decode_first(bytes, "X509 CRL", &mut buf)
        .map(<[u8]>::to_vec)
        .map_err(|e| Failure::malformed(format!("{name}: {e}")))
}

impl Certs {
    /// Places each certificate of a file by what AMD's naming says it is.
    fn add_file(&mut self, name: &str, path: &str) -> Result<(), Failure> {
        let bytes = read_input(path)?;
        for der in certificates(name, &bytes)? {
            let cert = Certificate::from_der(&der)
                .map_err(|e| Failure::malformed(format!("{name} ({path}): {e}")))?;
            let slot = match classify(&cert).map(|(role, _)| role) {
                Some(Role::Vcek | Role::Vlek) => &mut self.signer,
                Some(Role::Ask | Role::Asvk) => &mut self.intermediate,
                Some(Role::Ark) => &mut self.ark,
                _ => {
                    return Err(Failure::new(
                        EXIT_CHAIN,
                        format!(
                            "{name} ({path}): {} is not an AMD ARK, ASK, ASVK, VCEK or VLEK",
                            cert.subject()
                        ),
                    ));
                }
            };
            // The first occurrence wins (explicit options are read before the table).
            if slot.is_none() {
                *slot = Some(der);
            }
        }
        Ok(())
    }

    /// Fills what is still missing from an extended-report certificate table.
    fn add_table(&mut self, path: &str) -> Result<(), Failure> {
        let bytes = read_input(path)?;
        let table = certtable::parse(&bytes)
            .map_err(|e| Failure::malformed(format!("--certs {path}: {e}")))?;
        for entry in table.iter() {
            let slot = match entry.kind {
                Kind::Vcek | Kind::Vlek => &mut self.signer,
                Kind::Ask => &mut self.intermediate,
                Kind::Ark => &mut self.ark,
                Kind::Crl => &mut self.crl,
                Kind::Other(_) => continue,
            };
            if slot.is_none() && !entry.data.is_empty() {
                *slot = Some(entry.data.to_vec());
            }
        }
        Ok(())
    }
}

/// Decodes a hex option into exactly `N` bytes (REPORT_DATA also takes 32, zero-padded, as the
/// sidecars put a SHA-256 in its first half).
fn hex_option<const N: usize>(args: &Args, name: &str) -> Result<Option<[u8; N]>, Failure> {
    let Some(text) = args.value(name) else {
        return Ok(None);
    };
    let mut buf = [0u8; N];
    let n = hex::decode_into(text.as_bytes(), &mut buf)
        .map_err(|e| Failure::usage(format!("--{name}: {e}")))?;
    let padded = N == 64 && n == 32;
    if n != N && !padded {
        return Err(Failure::usage(format!(
            "--{name}: {n} bytes given, {N} expected"
        )));
    }
    Ok(Some(buf))
}

fn number<T: std::str::FromStr>(args: &Args, name: &str) -> Result<Option<T>, Failure> {
    args.value(name)
        .map(|v| {
            v.parse()
                .map_err(|_| Failure::usage(format!("--{name}: {v:?} is not a number")))
        })
        .transpose()
}

/// `--min-tcb`: `bl=3,tee=0,snp=8,ucode=115[,fmc=1]`, or a TCB_VERSION in hex (`0x...`),
/// decoded with the report's layout.
fn min_tcb(spec: &str, report: &Report<'_>) -> Result<TcbParts, Failure> {
    let bad = || {
        Failure::usage(format!(
            "--min-tcb {spec:?}: expected bl=N,tee=N,snp=N,ucode=N[,fmc=N] or a hex TCB_VERSION"
        ))
    };
    if !spec.contains('=') {
        let raw = u64::from_str_radix(spec.trim_start_matches("0x"), 16).map_err(|_| bad())?;
        return Ok(TcbVersion::new(raw, report.tcb_layout()).parts());
    }
    let mut parts = TcbParts::default();
    for item in spec.split(',') {
        let (k, v) = item.split_once('=').ok_or_else(bad)?;
        let v: u8 = v.trim().parse().map_err(|_| bad())?;
        match k.trim() {
            "bl" | "bootloader" => parts.bootloader = v,
            "tee" => parts.tee = v,
            "snp" => parts.snp = v,
            "ucode" | "microcode" => parts.microcode = v,
            "fmc" => parts.fmc = Some(v),
            _ => return Err(bad()),
        }
    }
    Ok(parts)
}

fn now() -> Option<Time> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok().map(Time)
}

/// What one check found, for output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Failed,
    Skipped,
    NotChecked,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::NotChecked => "not_checked",
        }
    }
}

struct Outcome<'a> {
    chain: Status,
    signature: Status,
    binding: Status,
    crl: Status,
    policy: Status,
    verified: Option<Verified>,
    error: Option<VerifyError>,
    violations: Vec<PolicyError<'a>>,
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

fn outcome<'a>(
    result: Result<Verified, VerifyError>,
    crl_given: bool,
    violations: Vec<PolicyError<'a>>,
) -> Outcome<'a> {
    use Status::{Failed, NotChecked, Skipped};
    let good = Status::Ok;
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

fn render_json(report: &Report<'_>, o: &Outcome<'_>, code: u8) -> String {
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
    let doc = json!({
        "verified": code == 0,
        "exit_code": code,
        "error": o.error.map(|e| e.to_string()),
        "report": {
            "version": report.version(),
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
            },
            "crl": crl,
            "policy": {
                "status": o.policy.name(),
                "violations": o.violations.iter().map(|p| json!({
                    "field": p.field,
                    "relation": p.relation.name(),
                    "expected": value_json(&p.expected),
                    "actual": value_json(&p.actual),
                    "message": p.to_string(),
                })).collect::<Vec<_>>(),
            },
        },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn render_human(o: &Outcome<'_>) -> String {
    let mut out = String::new();
    let mut line = |name: &str, status: Status, detail: String| {
        let _ = writeln!(out, "{name:<20}{}{detail}", status.name().replace('_', " "));
    };
    let v = o.verified.as_ref();
    line(
        "certificate chain",
        o.chain,
        v.map(|v| {
            let root = if v.pinned_root { "pinned" } else { "built-in" };
            format!(
                " ({root} {} ARK -> {} -> {})",
                v.product, v.intermediate, v.signer
            )
        })
        .unwrap_or_default(),
    );
    line("report signature", o.signature, String::new());
    line(
        "binding",
        o.binding,
        v.map(|v| {
            format!(
                " (CHIP_ID {}, REPORTED_TCB 0x{:016x} = certificate TCB)",
                v.chip_id.name().replace('_', " "),
                v.tcb.raw()
            )
        })
        .unwrap_or_default(),
    );
    let crl_detail = match v.map(|v| v.crl) {
        Some(CrlStatus::Checked(c)) => {
            format!(" (issued {}, nothing of ours revoked)", c.this_update)
        }
        _ if o.crl == Status::NotChecked => " (no CRL given)".to_string(),
        _ => String::new(),
    };
    line("revocation (CRL)", o.crl, crl_detail);
    line("policy", o.policy, String::new());
    for p in &o.violations {
        let _ = writeln!(out, "  {p}");
    }
    out
}

/// Runs `snp-report verify` with parsed arguments.
pub fn run(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(OPTIONS)?;
    let [_, file] = args.positional() else {
        return Err(Failure::usage(USAGE));
    };
    let product = product_arg(args.value("product"))?;
    let bytes = read_input(file)?;
    let mut scratch = Vec::new();
    let parsed = parse_report(&bytes, &mut scratch, product)?;
    let report = parsed.report;

    let mut certs = Certs::default();
    for (opt, name) in [("vcek", "--vcek"), ("chain", "--chain")] {
        if let Some(path) = args.value(opt) {
            certs.add_file(name, path)?;
        }
    }
    if let Some(path) = args.value("crl") {
        certs.crl = Some(crl_der("--crl", &read_input(path)?)?);
    }
    if let Some(path) = args.value("certs") {
        certs.add_table(path)?;
    }
    let Some(signer) = certs.signer.as_deref() else {
        return Err(Failure::usage(
            "no VCEK or VLEK certificate: give --vcek FILE, or --certs FILE with the extended \
             report's certificate table",
        ));
    };
    let pinned = args.value("pin-ark").map(read_input).transpose()?;
    let pinned = match pinned {
        Some(bytes) => Some(
            certificates("--pin-ark", &bytes)?
                .into_iter()
                .next()
                .unwrap_or_default(),
        ),
        None => None,
    };

    let mut options = PolicyOptions {
        report_data: hex_option::<64>(args, "report-data")?,
        host_data: hex_option::<32>(args, "host-data")?,
        measurement: hex_option::<48>(args, "measurement")?,
        minimum_guest_svn: number(args, "min-guest-svn")?.unwrap_or(0),
        vmpl: number(args, "vmpl")?,
        ..PolicyOptions::default()
    };
    options.guest_policy.allow_debug = args.flag("allow-debug");
    if let Some(spec) = args.value("min-tcb") {
        options.minimum_tcb = Some(min_tcb(spec, &report)?);
    }

    let verify_options = VerifyOptions {
        product,
        now: now(),
    };
    let evidence = Evidence {
        signer,
        intermediate: certs.intermediate.as_deref(),
        ark: certs.ark.as_deref(),
        crl: certs.crl.as_deref(),
    };
    let aws;
    let crypto: &dyn Crypto = match args.value("backend").unwrap_or("aws-lc") {
        "aws-lc" => {
            aws = AwsLcCrypto::new();
            &aws
        }
        "core" => &CoreCrypto,
        other => {
            return Err(Failure::usage(format!(
                "--backend {other:?}: expected aws-lc or core"
            )));
        }
    };
    let result = match &pinned {
        Some(ark) => {
            let product = product
                .or(report.product())
                .or_else(|| {
                    Certificate::from_der(signer)
                        .ok()
                        .and_then(|c| classify(&c))
                        .and_then(|(_, p)| p)
                })
                .ok_or_else(|| Failure::usage("--pin-ark needs --product"))?;
            Verifier::with_pinned_root(crypto, ark, product, verify_options)
                .and_then(|mut v| v.verify(&report, &evidence))
        }
        None => Verifier::new(crypto, verify_options).verify(&report, &evidence),
    };
    let violations: Vec<PolicyError<'_>> = if result.is_ok() {
        policy::violations(&report, &options).collect()
    } else {
        Vec::new()
    };
    let o = outcome(result, evidence.crl.is_some(), violations);
    let code = match (&o.error, o.violations.is_empty()) {
        (Some(e), _) => exit_code(e),
        (None, false) => EXIT_POLICY,
        (None, true) => crate::exit::OK,
    };
    if args.flag("json") {
        println!("{}", render_json(&report, &o, code));
    } else {
        print!("{}", render_human(&o));
    }
    match (o.error, o.violations.first()) {
        (Some(e), _) => Err(Failure::new(code, e)),
        (None, Some(p)) => Err(Failure::new(
            code,
            format!("policy: {p} ({} violation(s))", o.violations.len()),
        )),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        Args::parse(v.iter().map(|s| s.to_string()), &["json", "allow-debug"]).unwrap()
    }

    #[test]
    fn hex_options() {
        let a = args(&[
            "--host-data",
            &"ab".repeat(32),
            "--report-data",
            &"01".repeat(32),
        ]);
        assert_eq!(hex_option::<32>(&a, "host-data").unwrap(), Some([0xAB; 32]));
        let rd = hex_option::<64>(&a, "report-data").unwrap().unwrap();
        assert_eq!((&rd[..32], &rd[32..]), (&[1u8; 32][..], &[0u8; 32][..]));
        let bad = args(&["--measurement", "abcd"]);
        assert_eq!(hex_option::<48>(&bad, "measurement").unwrap_err().code, 1);
    }

    #[test]
    fn min_tcb_forms() {
        let mut b = [0u8; 1184];
        b[0] = 2;
        b[0x34] = 1;
        let r = Report::parse(&b).unwrap();
        let p = min_tcb("bl=3,tee=0,snp=8,ucode=115", &r).unwrap();
        assert_eq!((p.bootloader, p.snp, p.microcode, p.fmc), (3, 8, 115, None));
        assert_eq!(min_tcb("0x7308000000000003", &r).unwrap(), p);
        assert_eq!(min_tcb("7308000000000003", &r).unwrap(), p);
        assert!(min_tcb("bl=3,foo=1", &r).is_err());
        assert!(min_tcb("bl=300", &r).is_err());
    }
}
