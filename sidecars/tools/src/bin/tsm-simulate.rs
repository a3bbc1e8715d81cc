//! `tsm-simulate --mount DIR [...]`: serves a simulated SEV-SNP guest as a configfs-tsm report
//! directory through FUSE until SIGTERM (see `csc_tools::tsm_simulate`). Needs root (FUSE).

use std::process::ExitCode;

use csc_tools::exit;
use csc_tools::tsm_simulate;

fn main() -> ExitCode {
    csc_tools::log_warnings();
    let result = csc_tools::args::parse(std::env::args().skip(1), &[])
        .and_then(|args| tsm_simulate::run(&args));
    exit::finish("tsm-simulate", result)
}
