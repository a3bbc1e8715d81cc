//! `securitypolicydigest -p BASE64 | -f FILE [-v]`: prints the hex SHA-256 of a base64 security
//! policy (the HOST_DATA an Azure confidential container group carries).

use std::process::ExitCode;

use csc_tools::exit;
use csc_tools::policydigest;

fn main() -> ExitCode {
    csc_tools::log_warnings();
    let result = csc_tools::args::parse(std::env::args().skip(1), &["v"])
        .and_then(|args| policydigest::run(&args, &mut std::io::stdout().lock()));
    exit::finish("securitypolicydigest", result)
}
