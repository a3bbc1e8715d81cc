//! `keywrap`: AES key wrap and Key Vault release unwrapping, offline, for debugging releases and
//! making test data.
//!
//! ```text
//! keywrap unwrap --kek HEX (--padded | --plain) --in HEX [--backend aws-lc|core]
//! keywrap wrap   --kek HEX (--padded | --plain) --in HEX [--backend aws-lc|core]
//! keywrap rsa-aes-unwrap --key PEM --alg CKM_RSA_AES_KEY_WRAP|RSA_AES_KEY_WRAP_256|RSA_AES_KEY_WRAP_384
//!                        --in FILE [--backend aws-lc|core]
//! ```
//! `--padded` is RFC 5649 (KWP), `--plain` RFC 3394 (KW). For `rsa-aes-unwrap`, `--key` is a
//! PKCS#1 or PKCS#8 RSA private key file (PEM or DER) and `--in` a file (or `-`) holding the
//! wrapped key as base64url/base64 text or raw bytes. Results are printed as lowercase hex.
//! The default backend is aws-lc-rs; `--backend core` uses the no_std core's constant-time RSA
//! (crypto-bigint). AES key wrap is the core's on both (over the `aes` crate, AES-NI where the
//! CPU has it): the workspace has one AES.
//!
//! Exit codes: 0 success, 2 key-wrap integrity check failed, 3 RSA-OAEP part failed,
//! 6 malformed input, 1 usage or I/O error.

use std::process::ExitCode;

use csc_core::hex::Hex;
use csc_core::keywrap::{
    BlockCipher, Kek, KeyWrapError, Mode, ReleaseError, WrapAlgorithm, aes_kw, unwrap_rsa_aes_with,
};
use csc_core::rsa::oaep::OaepDecrypt;
use csc_core::rsa::private::RsaPrivateKey;
use csc_crypto::unwrap::{AwsLcRsaKey, FastAes, UnwrapKeyError, blinding_seed};
use csc_tools::args::Args;
use csc_tools::exit::{self, Failure};
use csc_tools::input::read_input;
use zeroize::Zeroizing;

const USAGE: &str = "usage: keywrap unwrap|wrap --kek HEX (--padded | --plain) --in HEX [--backend aws-lc|core]\n       keywrap rsa-aes-unwrap --key PEM --alg CKM_RSA_AES_KEY_WRAP|RSA_AES_KEY_WRAP_256|RSA_AES_KEY_WRAP_384 --in FILE [--backend aws-lc|core]";

/// The key-wrap integrity check failed.
const INTEGRITY: u8 = 2;
/// The RSA-OAEP part of a release failed.
const OAEP: u8 = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    AwsLc,
    Core,
}

fn backend(args: &Args) -> Result<Backend, Failure> {
    match args.value("backend") {
        None | Some("aws-lc") => Ok(Backend::AwsLc),
        Some("core") => Ok(Backend::Core),
        Some(other) => Err(Failure::usage(format!(
            "unknown backend {other:?}; expected aws-lc or core"
        ))),
    }
}

fn required<'a>(args: &'a Args, name: &str) -> Result<&'a str, Failure> {
    args.value(name)
        .ok_or_else(|| Failure::usage(format!("--{name} is required; {USAGE}")))
}

fn hex_arg(args: &Args, name: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let text = required(args, name)?;
    let mut out = Zeroizing::new(vec![0u8; text.len() / 2 + 1]);
    let n = csc_core::hex::decode_into(text.as_bytes(), &mut out)
        .map_err(|e| Failure::malformed(format!("--{name}: {e}")))?;
    out.truncate(n);
    Ok(out)
}

fn key_wrap_failure(e: KeyWrapError) -> Failure {
    match e {
        KeyWrapError::Integrity => Failure::new(INTEGRITY, e),
        _ => Failure::malformed(e),
    }
}

fn aes_command(args: &Args, unwrap: bool) -> Result<(), Failure> {
    args.reject_unknown(&["kek", "padded", "plain", "in", "backend"])?;
    let mode = match (args.bool("padded"), args.bool("plain")) {
        (true, false) => Mode::Kwp,
        (false, true) => Mode::Kw,
        _ => {
            return Err(Failure::usage(format!(
                "give one of --padded or --plain; {USAGE}"
            )));
        }
    };
    let kek = hex_arg(args, "kek")?;
    let input = hex_arg(args, "in")?;
    let mut out = Zeroizing::new(vec![0u8; input.len() + 16]);
    let result = match backend(args)? {
        Backend::AwsLc => run_aes::<FastAes>(&kek, mode, unwrap, &input, &mut out),
        Backend::Core => run_aes::<Kek>(&kek, mode, unwrap, &input, &mut out),
    };
    let len = result.map_err(key_wrap_failure)?;
    println!("{}", Hex(&out[..len]));
    Ok(())
}

fn run_aes<C: BlockCipher>(
    kek: &[u8],
    mode: Mode,
    unwrap: bool,
    input: &[u8],
    out: &mut [u8],
) -> Result<usize, KeyWrapError> {
    let c = C::new(kek)?;
    if unwrap {
        aes_kw::unwrap(&c, mode, input, out).map(<[u8]>::len)
    } else {
        aes_kw::wrap(&c, mode, input, out).map(<[u8]>::len)
    }
}

/// Base64 text (either alphabet) if the file is entirely base64 characters, raw bytes otherwise.
fn blob(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let text_like = !bytes.is_empty()
        && bytes.iter().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'+' | b'/' | b'=')
                || b.is_ascii_whitespace()
        });
    if text_like {
        let mut out = Zeroizing::new(vec![0u8; bytes.len()]);
        if let Ok(n) = csc_core::base64::decode_into(bytes, &mut out) {
            out.truncate(n);
            return out;
        }
    }
    Zeroizing::new(bytes.to_vec())
}

fn release_failure(e: ReleaseError) -> Failure {
    match e {
        ReleaseError::Oaep(_) | ReleaseError::KekLength { .. } => Failure::new(OAEP, e),
        ReleaseError::KeyWrap(KeyWrapError::Integrity) => Failure::new(INTEGRITY, e),
        ReleaseError::Algorithm => Failure::usage(e),
        _ => Failure::malformed(e),
    }
}

fn rsa_aes_unwrap(args: &Args) -> Result<(), Failure> {
    args.reject_unknown(&["key", "alg", "in", "backend"])?;
    let alg_name = required(args, "alg")?;
    let alg = WrapAlgorithm::from_name(alg_name).ok_or_else(|| {
        Failure::usage(format!(
            "unknown --alg {alg_name:?}; expected CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384"
        ))
    })?;
    let key_bytes = Zeroizing::new(read_input(required(args, "key")?)?);
    let wrapped = blob(&read_input(required(args, "in")?)?);
    let seed = blinding_seed().map_err(Failure::usage)?;
    let key: Box<dyn OaepDecrypt> = match backend(args)? {
        Backend::AwsLc => Box::new(AwsLcRsaKey::from_pem_or_der(&key_bytes).map_err(
            |e| match e {
                UnwrapKeyError::Random | UnwrapKeyError::Generate => Failure::usage(e),
                _ => Failure::malformed(format!("--key: {e}")),
            },
        )?),
        Backend::Core => {
            let mut scratch = Zeroizing::new(vec![0u8; key_bytes.len()]);
            Box::new(
                RsaPrivateKey::from_pem_or_der(&key_bytes, &mut scratch)
                    .map_err(|e| Failure::malformed(format!("--key: {e}")))?,
            )
        }
    };
    let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
    let result = match backend(args)? {
        Backend::AwsLc => unwrap_rsa_aes_with::<FastAes, _>(&*key, alg, &wrapped, &seed, &mut out),
        Backend::Core => unwrap_rsa_aes_with::<Kek, _>(&*key, alg, &wrapped, &seed, &mut out),
    };
    let released = result.map_err(release_failure)?;
    println!("{}", Hex(released));
    Ok(())
}

fn run() -> Result<(), Failure> {
    let args = csc_tools::args::parse(std::env::args().skip(1), &["padded", "plain", "help", "h"])?;
    if args.bool("help") || args.bool("h") {
        println!("{USAGE}");
        return Ok(());
    }
    let command = match args.positional() {
        [command] => command.as_str(),
        _ => return Err(Failure::usage(USAGE)),
    };
    match command {
        "unwrap" => aes_command(&args, true),
        "wrap" => aes_command(&args, false),
        "rsa-aes-unwrap" => rsa_aes_unwrap(&args),
        other => Err(Failure::usage(format!(
            "unknown command {other:?}; {USAGE}"
        ))),
    }
}

fn main() -> ExitCode {
    csc_tools::log_warnings();
    exit::finish("keywrap", run())
}
