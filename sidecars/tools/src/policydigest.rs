//! `securitypolicydigest`: the hex SHA-256 of a base64 security policy, which is what the
//! Azure host puts in HOST_DATA and what a release policy's `x-ms-sevsnpvm-hostdata` claim
//! must equal.
//!
//! Upstream's flags: `-p BASE64` (the policy as given to ARM's `ccePolicy`), `-f FILE` (a file
//! holding it), `-v` (also print the decoded policy). Differences, both deliberate: giving
//! neither `-p` nor `-f` is a usage error (upstream prints the digest of nothing), and errors go
//! to standard error. Every failure exits with 1, as upstream's.

use std::io::Write;

use csc_core::base64;
use csc_core::hex::Hex;
use csc_core::runtime::host_data_for;

use crate::args::Args;
use crate::exit::Failure;
use crate::input::read_input;

/// Usage text.
pub const USAGE: &str = "usage: securitypolicydigest (-p BASE64 | -f FILE) [-v]";

/// Decodes a base64 policy (standard alphabet with padding, as upstream requires; the
/// URL-safe alphabet and white space are tolerated).
pub fn decode_policy(text: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut out = vec![0u8; base64::decoded_len_max(text.len())];
    let n = base64::decode_into(text, &mut out).map_err(|e| {
        Failure::usage(format!(
            "could not decode: base64 encoding (Std, with padding) required: {e}"
        ))
    })?;
    out.truncate(n);
    Ok(out)
}

/// Lowercase hex of SHA-256 of the decoded policy.
pub fn digest_hex(policy: &[u8]) -> String {
    Hex(&host_data_for(policy)).to_string()
}

/// Runs the tool; writes the result to `out`.
pub fn run(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    args.reject_unknown(&["p", "f", "v"])
        .map_err(|e| Failure::usage(format!("{e}\n{USAGE}")))?;
    if !args.positional().is_empty() {
        return Err(Failure::usage(USAGE));
    }
    let encoded = match (args.value("p"), args.value("f")) {
        (Some(_), Some(_)) => {
            return Err(Failure::usage(format!(
                "cannot specify both -p and -f\n{USAGE}"
            )));
        }
        (Some(p), None) => p.as_bytes().to_vec(),
        (None, Some(f)) => read_input(f)?,
        (None, None) => return Err(Failure::usage(USAGE)),
    };
    let policy = decode_policy(&encoded)?;
    let digest = digest_hex(&policy);
    let written = if args.bool("v") {
        writeln!(out, "inittimeData {}", String::from_utf8_lossy(&policy))
            .and_then(|()| writeln!(out, "inittimeData sha-256 digest {digest}"))
    } else {
        writeln!(out, "{digest}")
    };
    written.map_err(|e| Failure::usage(format!("cannot write the digest: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(v: &[&str]) -> Result<String, Failure> {
        let args = crate::args::parse(v.iter().map(|s| s.to_string()), &["v"])?;
        let mut out = Vec::new();
        run(&args, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn digest_of_a_known_text() {
        // "abc" is YWJj; SHA-256("abc") is the FIPS 180-2 example.
        assert_eq!(
            run_with(&["-p", "YWJj"]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
        );
        let verbose = run_with(&["-p", "YWJj", "-v"]).unwrap();
        assert_eq!(
            verbose,
            "inittimeData abc\ninittimeData sha-256 digest \
             ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
        );
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &[][..],
            &["-p", "YWJj", "-f", "x"][..],
            &["-p", "YWJj", "extra"][..],
            &["-q", "1"][..],
            &["-p", "not base64!"][..],
            &["-f", "/nonexistent/policy"][..],
        ] {
            let f = run_with(bad).unwrap_err();
            assert_eq!(f.code, crate::exit::USAGE, "{bad:?}: {}", f.message);
        }
    }
}
