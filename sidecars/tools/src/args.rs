//! The tools' command lines, read by csc-cli's Go-style flag parser (`-key value`,
//! `--key=value`, as upstream's tools take them): subcommands and file names may stand between
//! flags, every name not listed as a boolean takes a value, and each command refuses the names
//! it does not know ([`Args::reject_unknown`]) once it knows which command it is.

use csc_cli::flag::{FlagSpec, Flags, Positionals};

use crate::exit::Failure;

/// A parsed command line.
pub type Args = Flags;

/// Reads `argv` (without the program name); `bools` lists the flags that take no value.
pub fn parse(argv: impl IntoIterator<Item = String>, bools: &[&str]) -> Result<Args, Failure> {
    let spec = FlagSpec {
        bools,
        values: None,
        positionals: Positionals::Interspersed,
    };
    Ok(Flags::parse(&spec, argv)?)
}
