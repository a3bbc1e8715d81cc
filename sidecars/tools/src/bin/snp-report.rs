//! `snp-report`: read, print and check SEV-SNP attestation reports.
//!
//! ```text
//! snp-report show FILE [--json] [--product milan|genoa|turin]
//! snp-report fetch [--report-data HEX] [--vmpl N] [--certs-out DIR] [--out FILE] [--hex] [--simulate]
//! snp-report verify FILE [--vcek FILE] [--chain FILE] [--crl FILE] [--certs FILE] ... [--json]
//! snp-report derive-key --field LIST [--vmpl N] [--svn N] [--tcb HEX] [--out FILE] [--simulate]
//! ```
//! FILE is a raw 1184-byte report, hex text (as `get-snp-report` prints), or an Azure vTPM HCL
//! report; `-` reads standard input.

use std::process::ExitCode;

use csc_tools::args::Args;
use csc_tools::exit::{self, Failure};
use csc_tools::input::{parse_report, product_arg, read_input};
use csc_tools::show;

const USAGE: &str = "usage: snp-report show FILE [--json] [--product milan|genoa|turin]\n       \
snp-report fetch [--report-data HEX] [--vmpl N] [--certs-out DIR] [--out FILE] [--hex] [--simulate]\n       \
snp-report verify FILE [--vcek FILE] [--chain FILE] [--crl FILE] [--certs FILE] [--json] (verify --help for more)\n       \
snp-report derive-key --field LIST [--vmpl N] [--svn N] [--tcb HEX] [--out FILE] [--simulate] (derive-key --help for more)";

fn show(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(&["json", "product"])?;
    let [_, file] = args.positional() else {
        return Err(Failure::usage(USAGE));
    };
    let product = product_arg(args.value("product"))?;
    let bytes = read_input(file)?;
    let mut scratch = Vec::new();
    let parsed = parse_report(&bytes, &mut scratch, product)?;
    if args.bool("json") {
        println!("{}", show::json(&parsed)?);
    } else {
        print!("{}", show::human(&parsed));
    }
    Ok(())
}

fn run() -> Result<(), Failure> {
    let args = csc_tools::args::parse(
        std::env::args().skip(1),
        &[
            "json",
            "help",
            "h",
            "hex",
            "simulate",
            "allow-debug",
            "permit-provisional-firmware",
        ],
    )?;
    if args.bool("help") || args.bool("h") {
        match args.positional().first().map(String::as_str) {
            Some("verify") => println!("{}", csc_tools::verify_cmd::USAGE),
            Some("fetch") => println!("{}", csc_tools::fetch_cmd::USAGE),
            Some("derive-key") => println!("{}", csc_tools::derive_cmd::USAGE),
            _ => println!("{USAGE}"),
        }
        return Ok(());
    }
    match args.positional().first().map(String::as_str) {
        Some("show") => show(&args),
        Some("fetch") => csc_tools::fetch_cmd::fetch(&args),
        Some("verify") => csc_tools::verify_cmd::run(&args),
        Some("derive-key") => csc_tools::derive_cmd::run(&args),
        Some(other) => Err(Failure::usage(format!(
            "unknown command {other:?}; {USAGE}"
        ))),
        None => Err(Failure::usage(USAGE)),
    }
}

fn main() -> ExitCode {
    csc_tools::log_warnings();
    exit::finish("snp-report", run())
}
