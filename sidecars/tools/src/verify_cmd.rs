//! `snp-report verify`: checks a report's signature, its AMD certificate chain (against the
//! built-in anchors of its product, or pinned ones), the CRL if given, the binding of report and
//! certificate (and, for an Azure HCL report, of its variable data to REPORT_DATA), and the
//! caller's policy; prints each check's outcome. Certificates are read by role from every file
//! given, in any order; those that are not part of the chain are ignored.
//!
//! Exit codes: 0 verified; 2 report signature invalid; 3 certificate chain invalid (tampered,
//! wrong product, wrong root, revoked, expired at the time verified); 4 report and certificate
//! (or HCL variable data) do not match; 5 policy violation; 6 malformed input; 1 usage or I/O
//! error.

use std::time::{SystemTime, UNIX_EPOCH};

use csc_core::cert::{Certificate, Time};
use csc_core::certtable::{self, Kind};
use csc_core::hcl::HclReport;
use csc_core::hex;
use csc_core::policy::{self, PolicyError, PolicyOptions, Remedy};
use csc_core::report::{Report, TcbParts, TcbVersion};
use csc_core::verify::{
    Anchors, Category, CoreCrypto, Crypto, Evidence, Role, Verifier, VerifyError, VerifyOptions,
    classify, select,
};
use csc_crypto::verify::AwsLcCrypto;

use crate::args::Args;
use crate::exit::Failure;
use crate::input::{parse_report, product_arg, read_input};
use crate::rfc3339;
use crate::verify_out::{Settings, outcome, render_human, render_json};

/// Usage of the command.
pub const USAGE: &str =
    "usage: snp-report verify REPORT [--vcek FILE] [--chain FILE] [--crl FILE] \
[--certs FILE] [--pin-ark FILE] [--product milan|genoa|turin] [--at RFC3339] [--report-data HEX] \
[--host-data HEX] [--measurement HEX] [--min-tcb SPEC] [--min-guest-svn N] [--vmpl N] \
[--allow-debug] [--permit-provisional-firmware] [--backend aws-lc|core] [--json]

REPORT: a raw report, hex text, or an Azure vTPM HCL report (whose variable data must hash to \
REPORT_DATA). --vcek and --chain: PEM or DER files; their certificates are read by role (VCEK or \
VLEK, ASK or ASVK, ARK) in any order, and the ones that are not part of the chain are ignored. \
AMD's ARK and ASK (and ASVK where built in) need not be given. --pin-ark FILE: trust this ARK \
instead of AMD's, with any ASK or ASVK in the same file. --at: check certificate validity at this \
time instead of now (e.g. 2024-03-01T12:00:00Z). --permit-provisional-firmware: accept committed \
TCB and firmware below current instead of requiring them equal.";

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
    "permit-provisional-firmware",
    "at",
    "backend",
    "json",
];

/// The flag that accepts what a policy [`Remedy`] names.
pub fn remedy_flag(r: Remedy) -> &'static str {
    match r {
        Remedy::PermitProvisionalFirmware => "--permit-provisional-firmware",
        _ => "",
    }
}

/// A violation as printed: the core's message and the flag that would accept it.
fn violation_message(p: &PolicyError<'_>) -> String {
    match p.remedy.map(remedy_flag).filter(|f| !f.is_empty()) {
        Some(flag) => format!("{p}; to accept it, pass {flag}"),
        None => p.to_string(),
    }
}

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

/// The certificates gathered from --vcek, --chain and --certs: a pool read by role.
#[derive(Debug, Default)]
struct Certs {
    pool: Vec<Vec<u8>>,
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
    /// Adds every certificate of a file; each must be a readable certificate.
    fn add_file(&mut self, name: &str, path: &str) -> Result<(), Failure> {
        let bytes = read_input(path)?;
        for der in certificates(name, &bytes)? {
            Certificate::from_der(&der)
                .map_err(|e| Failure::malformed(format!("{name} ({path}): {e}")))?;
            self.pool.push(der);
        }
        Ok(())
    }

    /// Adds the certificates of an extended-report certificate table, and its CRL if none was
    /// given.
    fn add_table(&mut self, path: &str) -> Result<(), Failure> {
        let bytes = read_input(path)?;
        let table = certtable::parse(&bytes)
            .map_err(|e| Failure::malformed(format!("--certs {path}: {e}")))?;
        for entry in table.iter().filter(|e| !e.data.is_empty()) {
            match entry.kind {
                Kind::Vcek | Kind::Vlek | Kind::Ask | Kind::Ark => {
                    Certificate::from_der(entry.data).map_err(|e| {
                        Failure::malformed(format!("--certs {path}: {:?} entry: {e}", entry.kind))
                    })?;
                    self.pool.push(entry.data.to_vec());
                }
                Kind::Crl if self.crl.is_none() => self.crl = Some(entry.data.to_vec()),
                Kind::Crl | Kind::Other(_) => {}
            }
        }
        Ok(())
    }

    /// The VCEK/VLEK for `report` and the intermediate and root that link to it.
    fn evidence(&self, report: &Report<'_>) -> Result<Evidence<'_>, Failure> {
        let ders: Vec<&[u8]> = self.pool.iter().map(Vec::as_slice).collect();
        let evidence = select(&ders, report).map_err(|_| {
            Failure::usage(
                "no VCEK or VLEK certificate: give --vcek FILE, or --certs FILE with the extended \
                 report's certificate table",
            )
        })?;
        Ok(Evidence {
            crl: self.crl.as_deref(),
            ..evidence
        })
    }
}

/// The anchors of `--pin-ark FILE`: its ARK (or first certificate) as the root, and any ASK or
/// ASVK in the file trusted with it.
fn pinned_anchors(certs: &[Vec<u8>]) -> Anchors<'_> {
    let role_of = |d: &[u8]| {
        Certificate::from_der(d)
            .ok()
            .and_then(|c| classify(&c))
            .map(|(r, _)| r)
    };
    let of = |role: Role| {
        certs
            .iter()
            .find(|d| role_of(d) == Some(role))
            .map(Vec::as_slice)
    };
    Anchors {
        ark: of(Role::Ark)
            .or(certs.first().map(Vec::as_slice))
            .unwrap_or_default(),
        ask: of(Role::Ask),
        asvk: of(Role::Asvk),
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

/// The time certificates are checked at: `--at`, or the system clock.
fn verify_time(args: &Args) -> Result<(Option<Time>, bool), Failure> {
    match args.value("at") {
        Some(text) => rfc3339::parse(text)
            .map(|t| (Some(t), true))
            .ok_or_else(|| Failure::usage(format!("--at {text:?}: expected {}", rfc3339::FORM))),
        None => Ok((now(), false)),
    }
}

/// Runs `snp-report verify` with parsed arguments.
pub fn run(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(OPTIONS)?;
    let [_, file] = args.positional() else {
        return Err(Failure::usage(USAGE));
    };
    let product = product_arg(args.value("product"))?;
    let (at, at_given) = verify_time(args)?;
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
    let evidence = certs.evidence(&report)?;
    let pinned = match args.value("pin-ark") {
        Some(path) => certificates("--pin-ark", &read_input(path)?)?,
        None => Vec::new(),
    };

    let settings = Settings {
        at,
        at_given,
        permit_provisional_firmware: args.bool("permit-provisional-firmware"),
    };
    let mut options = PolicyOptions {
        report_data: hex_option::<64>(args, "report-data")?,
        host_data: hex_option::<32>(args, "host-data")?,
        measurement: hex_option::<48>(args, "measurement")?,
        minimum_guest_svn: number(args, "min-guest-svn")?.unwrap_or(0),
        vmpl: number(args, "vmpl")?,
        permit_provisional_firmware: settings.permit_provisional_firmware,
        ..PolicyOptions::default()
    };
    options.guest_policy.allow_debug = args.bool("allow-debug");
    if let Some(spec) = args.value("min-tcb") {
        options.minimum_tcb = Some(min_tcb(spec, &report)?);
    }

    let verify_options = VerifyOptions { product, now: at };
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
    let result = if pinned.is_empty() {
        Verifier::new(crypto, verify_options).verify_input(&parsed, &evidence)
    } else {
        let product = product
            .or(report.product())
            .or_else(|| {
                Certificate::from_der(evidence.signer)
                    .ok()
                    .and_then(|c| classify(&c))
                    .and_then(|(_, p)| p)
            })
            .ok_or_else(|| Failure::usage("--pin-ark needs --product"))?;
        Verifier::with_pinned_anchors(crypto, &pinned_anchors(&pinned), product, verify_options)
            .and_then(|mut v| v.verify_input(&parsed, &evidence))
    };
    let violations: Vec<PolicyError<'_>> = if result.is_ok() {
        policy::violations(&report, &options).collect()
    } else {
        Vec::new()
    };
    let hcl: Option<&HclReport<'_>> = parsed.hcl.as_ref();
    let o = outcome(result, hcl, evidence.crl.is_some(), violations);
    let code = match (&o.error, o.violations.is_empty()) {
        (Some(e), _) => exit_code(e),
        (None, false) => EXIT_POLICY,
        (None, true) => crate::exit::OK,
    };
    if args.bool("json") {
        let flag = |p: &PolicyError<'_>| p.remedy.map(remedy_flag).filter(|f| !f.is_empty());
        println!(
            "{}",
            render_json(&report, &o, &settings, code, violation_message, flag)
        );
    } else {
        print!("{}", render_human(&o, &settings, violation_message));
    }
    match (o.error, o.violations.first()) {
        (Some(e), _) => Err(Failure::new(code, e)),
        (None, Some(p)) => Err(Failure::new(
            code,
            format!(
                "policy: {} ({} violation(s))",
                violation_message(p),
                o.violations.len()
            ),
        )),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        crate::args::parse(v.iter().map(|s| s.to_string()), &["json", "allow-debug"]).unwrap()
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
