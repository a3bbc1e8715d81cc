//! `get-snp-report [REPORT_DATA_HEX]`: prints an SEV-SNP attestation report as lowercase hex
//! and a newline, as upstream's C tool does. REPORT_DATA_HEX is decoded and zero-padded to 64
//! bytes (not hashed). The source is detected (configfs-tsm, /dev/sev-guest, /dev/sev);
//! `--simulate` or `CSC_SIMULATE=1` uses the simulated platform and says so on standard error.

use std::process::ExitCode;

use csc_tools::exit;
use csc_tools::fetch_cmd;

fn main() -> ExitCode {
    csc_tools::log_warnings();
    let result = csc_tools::args::parse(std::env::args().skip(1), &["simulate"])
        .and_then(|args| fetch_cmd::get_snp_report(&args));
    exit::finish("get-snp-report", result)
}
