//! `importkey`: imports a key into Key Vault or a managed HSM with a release policy. See
//! `csc_tools::importkey` for the flags, the configuration and where it differs from upstream.

use std::process::ExitCode;

use csc_tools::exit::{self, Failure};
use csc_tools::importkey::{self, Options};

fn main() -> ExitCode {
    csc_tools::log_warnings();
    let result =
        csc_tools::args::parse(std::env::args().skip(1), importkey::FLAGS).and_then(|args| {
            let dir = std::env::current_dir()
                .map_err(|e| Failure::usage(format!("no working directory: {e}")))?;
            let opts = Options::from_args(&args, |k| std::env::var(k).ok(), dir)?;
            importkey::run(&opts, &mut std::io::stdout().lock())
        });
    exit::finish("importkey", result)
}
