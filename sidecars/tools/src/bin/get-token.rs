//! `get-token -r RESOURCE [-c CLIENT_ID]`: fetches a managed identity token from IMDS and
//! shows it, as upstream's tool does (see `csc_tools::token`).

use std::process::ExitCode;

use csc_tools::exit;
use csc_tools::token;

fn main() -> ExitCode {
    csc_tools::log_warnings();
    let result = csc_tools::args::parse(std::env::args().skip(1), &[]).and_then(|args| {
        token::run(
            &args,
            |k| std::env::var(k).ok(),
            &mut std::io::stdout().lock(),
        )
    });
    exit::finish("get-token", result)
}
