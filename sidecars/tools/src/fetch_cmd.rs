//! Getting a report from the platform: `snp-report fetch` and `get-snp-report`.
//!
//! ```text
//! snp-report fetch [--report-data HEX] [--vmpl N] [--certs-out DIR] [--out FILE] [--hex]
//!                  [--simulate [--product P] [--report-version V]] [--source NAME]
//!                  [--configfs-tsm DIR] [--sev-guest DEV] [--sev DEV]
//! get-snp-report [REPORT_DATA_HEX] [--simulate]
//! ```
//! Report data is hex, decoded and zero-padded to 64 bytes (not hashed), as upstream's C tool
//! does. The source is detected (configfs-tsm, `/dev/sev-guest`, `/dev/sev`) unless forced;
//! the simulated platform only when asked for (`--simulate` or `CSC_SIMULATE=1`), and then
//! standard error says so on every run.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

#[cfg(feature = "simulate")]
use csc_core::Product;
use csc_core::abi::{REPORT_SIZE, size};
use csc_core::certtable::{self, Kind};
use csc_core::source::{self, ReportRequest, Vmpl};
use csc_sev::{Choice, Chosen, Paths, SourceKind};

use crate::args::Args;
use crate::exit::{self, Failure};

/// Usage of `snp-report fetch`.
pub const USAGE: &str = "usage: snp-report fetch [--report-data HEX] [--vmpl 0-3] [--certs-out DIR] [--out FILE] [--hex] [--simulate [--product milan|genoa|turin] [--report-version 2|3|5]] [--source configfs-tsm|sev-guest|sev] [--configfs-tsm DIR] [--sev-guest DEV] [--sev DEV]";

/// Options of `fetch` that take no value.
pub const FLAGS: &[&str] = &["hex", "simulate"];

/// Report data from hex text: decoded and zero-padded to 64 bytes, as upstream's tool does.
pub fn report_data_arg(hex: &str) -> Result<[u8; size::REPORT_DATA], Failure> {
    let text = hex.trim();
    let text = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let mut out = [0u8; size::REPORT_DATA];
    csc_core::hex::decode_into(text.as_bytes(), &mut out).map_err(|e| {
        Failure::usage(format!(
            "report data {:?}: {e} (at most {} bytes as hex)",
            text.chars().take(40).collect::<String>(),
            size::REPORT_DATA
        ))
    })?;
    Ok(out)
}

/// What a tool built without the `simulate` feature says when asked for the simulator.
#[cfg(not(feature = "simulate"))]
pub const NO_SIMULATOR: &str = "this build has no simulated platform (csc-tools was built without its `simulate` feature, as shipped); on a machine without SEV-SNP use a build with `--features simulate`, or serve one with tsm-simulate";

/// The source to use, from the options shared by both tools.
pub fn choose(args: &Args) -> Result<Chosen, Failure> {
    let mut paths = Paths::default();
    for (opt, slot) in [
        ("configfs-tsm", &mut paths.configfs_tsm),
        ("sev-guest", &mut paths.sev_guest),
        ("sev", &mut paths.sev),
    ] {
        if let Some(v) = args.value(opt) {
            *slot = PathBuf::from(v);
        }
    }
    let force = match args.value("source") {
        None => None,
        Some(name) => Some(SourceKind::from_name(name).ok_or_else(|| {
            Failure::usage(format!(
                "unknown source {name:?}; expected configfs-tsm, sev-guest, sev or simulated"
            ))
        })?),
    };
    let simulate = args.bool("simulate");
    let wants_sim_options =
        args.value("product").is_some() || args.value("report-version").is_some();
    #[cfg(feature = "simulate")]
    let choice = {
        let simulation = if wants_sim_options {
            let sim_by_env = csc_simulate::requested_by_env().map_err(Failure::usage)?;
            if !(simulate || sim_by_env || force == Some(SourceKind::Simulated)) {
                return Err(Failure::usage(
                    "--product and --report-version choose the simulated platform's part; they need --simulate",
                ));
            }
            let product =
                crate::input::product_arg(args.value("product"))?.unwrap_or(Product::Milan);
            let version = match args.value("report-version") {
                None => 3,
                Some(v) => v.parse().map_err(|_| {
                    Failure::usage(format!("--report-version {v:?} is not a number"))
                })?,
            };
            Some(csc_simulate::PlatformConfig::new(product, version).map_err(Failure::usage)?)
        } else {
            None
        };
        Choice {
            paths,
            force,
            simulate,
            simulation,
            key_cache: None,
        }
    };
    #[cfg(not(feature = "simulate"))]
    let choice = {
        if simulate || wants_sim_options {
            return Err(Failure::usage(NO_SIMULATOR));
        }
        Choice { paths, force }
    };
    csc_sev::choose(&choice).map_err(|e| Failure::new(exit::PLATFORM, e))
}

fn vmpl_arg(v: Option<&str>) -> Result<Vmpl, Failure> {
    match v {
        None => Ok(Vmpl::ZERO),
        Some(s) => s
            .trim()
            .parse::<u32>()
            .ok()
            .and_then(Vmpl::new)
            .ok_or_else(|| Failure::usage(format!("--vmpl {s:?}: expected 0, 1, 2 or 3"))),
    }
}

/// Gets a report (and the certificate table if `certs`) and checks it binds the request.
fn obtain(
    chosen: &Chosen,
    request: &ReportRequest,
    certs: bool,
) -> Result<([u8; REPORT_SIZE], Vec<u8>), Failure> {
    let platform = |e: &dyn std::fmt::Display| Failure::new(exit::PLATFORM, e);
    let mut buf = [0u8; REPORT_SIZE];
    if !certs {
        embassy_futures::block_on(source::fetch(&chosen.source, request, &mut buf))
            .map_err(|e| platform(&e))?;
        return Ok((buf, Vec::new()));
    }
    // Ask with a generous buffer; the source says how much it needs if that is not enough.
    let mut table = vec![0u8; 64 * 1024];
    loop {
        let got = embassy_futures::block_on(source::fetch_extended(
            &chosen.source,
            request,
            &mut buf,
            &mut table,
        ));
        match got {
            Ok((_, used)) => {
                table.truncate(used);
                return Ok((buf, table));
            }
            Err(source::FetchError::Source(e))
                if csc_core::source::SourceError::certs_needed(&e)
                    .is_some_and(|n| n > table.len() && n <= csc_sev::CERTS_LIMIT) =>
            {
                let n = csc_core::source::SourceError::certs_needed(&e).unwrap_or(0);
                table = vec![0u8; n];
            }
            Err(e) => return Err(platform(&e)),
        }
    }
}

/// Writes each certificate of `table` into `dir` as `<kind>.der` (`<guid>.bin` for unknown
/// GUIDs); returns the file names.
fn write_certs(dir: &Path, table: &[u8]) -> Result<Vec<String>, Failure> {
    let parsed = certtable::parse(table)
        .map_err(|e| Failure::new(exit::PLATFORM, format!("certificate table: {e}")))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut names = Vec::new();
    for entry in parsed.iter() {
        let mut name = match entry.kind {
            Kind::Other(_) => format!("{}.bin", entry.guid),
            kind => format!("{}.der", kind.name()),
        };
        if names.contains(&name) {
            name = format!("{}-{}", names.len(), name);
        }
        let path = dir.join(&name);
        std::fs::write(&path, entry.data)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
        names.push(name);
    }
    Ok(names)
}

fn hex_line(report: &[u8]) -> String {
    format!("{}\n", csc_core::hex::Hex(report))
}

/// `snp-report fetch`.
pub fn fetch(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(&[
        "report-data",
        "vmpl",
        "certs-out",
        "out",
        "hex",
        "simulate",
        "product",
        "report-version",
        "source",
        "configfs-tsm",
        "sev-guest",
        "sev",
    ])?;
    if args.positional().len() > 1 {
        return Err(Failure::usage(USAGE));
    }
    let report_data = match args.value("report-data") {
        Some(h) => report_data_arg(h)?,
        None => [0; size::REPORT_DATA],
    };
    let request = ReportRequest::new(report_data, vmpl_arg(args.value("vmpl"))?);
    let hex = args.bool("hex");
    let out = args.value("out");
    if out.is_none() && !hex && std::io::stdout().is_terminal() {
        return Err(Failure::usage(
            "refusing to write a binary report to a terminal: use --hex or --out FILE",
        ));
    }
    let chosen = choose(args)?;
    let certs_dir = args.value("certs-out");
    let (report, table) = obtain(&chosen, &request, certs_dir.is_some())?;

    let bytes = if hex {
        hex_line(&report).into_bytes()
    } else {
        report.to_vec()
    };
    match out {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| Failure::usage(format!("cannot write {path}: {e}")))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&bytes)
                .and_then(|()| stdout.flush())
                .map_err(|e| Failure::usage(format!("cannot write standard output: {e}")))?;
        }
    }
    let mut summary = format!(
        "snp-report: report (version {}, {}) from {}",
        u32::from_le_bytes([report[0], report[1], report[2], report[3]]),
        request.vmpl,
        chosen.reason
    );
    if let Some(dir) = certs_dir {
        let names = write_certs(Path::new(dir), &table)?;
        if names.is_empty() {
            summary.push_str("; the host supplied no certificates");
        } else {
            summary.push_str(&format!("; certificates in {dir}: {}", names.join(", ")));
        }
    }
    #[cfg(feature = "simulate")]
    if chosen.simulated() {
        summary.push_str(&format!(
            "; {}: not evidence of real hardware",
            csc_simulate::MARKER
        ));
    }
    eprintln!("{summary}");
    Ok(())
}

/// `get-snp-report [REPORT_DATA_HEX]`: the report as lowercase hex and a newline on standard
/// output, like upstream's C tool.
pub fn get_snp_report(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(&["simulate", "vmpl", "source"])?;
    let report_data = match args.positional() {
        [] => [0; size::REPORT_DATA],
        [hex] => report_data_arg(hex)?,
        _ => {
            return Err(Failure::usage(
                "usage: get-snp-report [REPORT_DATA_HEX] [--simulate] [--vmpl 0-3]",
            ));
        }
    };
    let request = ReportRequest::new(report_data, vmpl_arg(args.value("vmpl"))?);
    let chosen = choose(args)?;
    let (report, _) = obtain(&chosen, &request, false)?;
    if chosen.simulated() {
        eprintln!("get-snp-report: {}", chosen.reason);
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(hex_line(&report).as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::usage(format!("cannot write standard output: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_data_is_zero_padded_not_hashed() {
        let rd = report_data_arg("0102ab").unwrap();
        assert_eq!(&rd[..3], &[1, 2, 0xab]);
        assert!(rd[3..].iter().all(|b| *b == 0));
        assert_eq!(report_data_arg("0xFF").unwrap()[0], 0xFF);
        assert_eq!(report_data_arg("").unwrap(), [0; 64]);
        assert!(report_data_arg(&"aa".repeat(64)).is_ok());
        let e = report_data_arg(&"aa".repeat(65)).unwrap_err();
        assert!(e.message.contains("at most 64 bytes"), "{}", e.message);
        assert!(report_data_arg("abc").is_err());
        assert!(report_data_arg("zz").is_err());
    }

    #[test]
    fn vmpl_values() {
        assert_eq!(vmpl_arg(None).unwrap(), Vmpl::ZERO);
        assert_eq!(vmpl_arg(Some("3")).unwrap().get(), 3);
        assert!(vmpl_arg(Some("4")).is_err());
        assert!(vmpl_arg(Some("-1")).is_err());
    }
}
