//! `importkey`: creates or imports a key into Azure Key Vault (premium) or a managed HSM,
//! exportable, with a release policy that lets only an attested confidential container get it.
//!
//! Upstream's flags and configuration file work unchanged: `-c CONFIG` (required), `-kh KEY`
//! (an oct key: a file's bytes, or hex), `-kp PEM` (an RSA private key), `-a` (get the token
//! from IMDS), `-out` (write the 32-byte octet key to `keyfile.bin`). The configuration is
//! `{"key": {kid, kty, key_ops, authority: {endpoint}, akv: {endpoint, api_version,
//! bearer_token}}, "key_derivation": {salt, label}, "claims": [[{claim, equals}]],
//! "identity": {client_id}}`; member names match case-insensitively, as in Go.
//!
//! Added: `-security-policy FILE` (the base64 security policy, as in ARM's `ccePolicy`) sets
//! the `x-ms-sevsnpvm-hostdata` condition of every claim group to its SHA-256 (or is the only
//! condition when the configuration has no claims); `-ca-file` and `-imds-url` (see
//! [`crate::azure`]).
//!
//! Deliberately unlike upstream: the plaintext key and the import request (which holds it) are
//! never printed; `keyfile.bin` and `private_key.pem` are written with mode 0600 and truncated;
//! a configuration still holding the examples' `<placeholders>`, a policy without conditions,
//! an oct key that is not 16, 24 or 32 bytes, or a flag that does not fit the key type is
//! refused before anything is sent; every failure exits non-zero (1 usage, configuration or
//! I/O; 4 the vault or IMDS failed; 6 malformed key material).

mod config;
mod material;
mod policy;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use csc_azure::identity::{Credential, TokenProvider};
use csc_azure::keyvault::KeyVaultClient;

use crate::args::Args;
use crate::azure::{self, Endpoints};
use crate::exit::Failure;
use crate::input::read_input;
use crate::policydigest;
use crate::secret_file::write_secret_file;

pub use config::{
    AkvConfig, AuthorityConfig, IdentityConfig, ImportKeyConfig, KeyBlob, KeyDerivation,
    api_version,
};
pub use material::{
    derive_octet_key, ec_jwk, key_ops, modulus_bits, oct_key_from_arg, pkcs8_pem, rsa_jwk,
    with_rsa_key,
};
pub use policy::{HOST_DATA_CLAIM, release_policy};

use config::{is_placeholder, require};
use material::{ec_material, oct_material, rsa_material};

/// Usage text.
pub const USAGE: &str = "\
usage: importkey -c CONFIG [-kh KEY] [-kp PEM] [-a] [-out] [-security-policy FILE]
                 [-ca-file PEM] [-imds-url URL]
  -c CONFIG     import configuration (JSON: key, key_derivation, claims, identity)
  -kh KEY       oct key: a file (16, 24 or 32 bytes, or hex text) or a hex string
  -kp PEM       RSA private key (PKCS#8 or PKCS#1 PEM) instead of a new RSA-2048 key, or for
                an EC-HSM key an EC private key (PKCS#8 PEM) instead of a new P-256 key
  -a            get the vault token from the managed identity (IMDS)
  -out          write the 32-byte octet key to keyfile.bin (derived by HKDF for RSA keys)
  -security-policy FILE
                base64 security policy: require its SHA-256 as x-ms-sevsnpvm-hostdata";

/// The octet key file `-out` writes.
pub const KEY_FILE: &str = "keyfile.bin";
/// The private key file written for a generated RSA key.
pub const PRIVATE_KEY_FILE: &str = "private_key.pem";

/// The command line, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-c`.
    pub config: PathBuf,
    /// `-kh`.
    pub key_hex: Option<String>,
    /// `-kp`.
    pub key_pem: Option<PathBuf>,
    /// `-a`.
    pub azure_token: bool,
    /// `-out`.
    pub out: bool,
    /// `-security-policy`.
    pub security_policy: Option<PathBuf>,
    /// Where the files are written (the working directory).
    pub dir: PathBuf,
    /// Service endpoints and trust.
    pub endpoints: Endpoints,
}

/// Flags without a value.
pub const FLAGS: &[&str] = &["a", "out"];

impl Options {
    /// Reads the command line.
    pub fn from_args(
        args: &Args,
        env: impl Fn(&str) -> Option<String>,
        dir: PathBuf,
    ) -> Result<Options, Failure> {
        let mut known = vec!["c", "kh", "kp", "a", "out", "security-policy"];
        known.extend(azure::OPTIONS);
        args.reject_unknown(&known)
            .map_err(|e| Failure::usage(format!("{e}\n{USAGE}")))?;
        let config = match args.value("c") {
            Some(c) if !c.is_empty() && args.positional().is_empty() => PathBuf::from(c),
            _ => return Err(Failure::usage(USAGE)),
        };
        Ok(Options {
            config,
            key_hex: args.value("kh").map(str::to_string),
            key_pem: args.value("kp").map(PathBuf::from),
            azure_token: args.bool("a"),
            out: args.bool("out"),
            security_policy: args.value("security-policy").map(PathBuf::from),
            dir,
            endpoints: Endpoints::from_args(args, env),
        })
    }
}

/// Runs the tool: builds the policy and the key, writes the requested files, imports, and
/// prints the notes, then the key id and the release policy JSON (upstream's last two lines).
pub fn run(opts: &Options, out: &mut impl Write) -> Result<(), Failure> {
    let bytes = read_input(&opts.config.display().to_string())?;
    let cfg = ImportKeyConfig::parse(&bytes)?;
    require("key.kid", &cfg.key.kid)?;
    require("key.akv.endpoint", &cfg.key.akv.endpoint)?;
    let api_version = api_version(&cfg.key.akv.api_version)?;
    let host_data = match &opts.security_policy {
        Some(path) => {
            let text = read_input(&path.display().to_string())?;
            Some(policydigest::digest_hex(&policydigest::decode_policy(
                &text,
            )?))
        }
        None => None,
    };
    let policy = release_policy(&cfg, host_data.as_deref())?;
    let credential = if opts.azure_token {
        opts.endpoints.managed_identity(&cfg.identity.client_id)
    } else {
        match &cfg.key.akv.bearer_token {
            Some(t) if !is_placeholder(t.expose()) => Credential::Static(t.clone()),
            _ => {
                return Err(Failure::usage(
                    "no token for the vault: set key.akv.bearer_token (az account \
                     get-access-token --resource https://managedhsm.azure.net) or pass -a",
                ));
            }
        }
    };
    let http = opts.endpoints.http()?;
    let material = match cfg.key.kty.as_str() {
        "" | "oct-HSM" => oct_material(opts, &cfg)?,
        "RSA-HSM" => rsa_material(opts, &cfg)?,
        "EC-HSM" => ec_material(opts, &cfg)?,
        other => {
            return Err(Failure::usage(format!(
                "Key not supported: kty {other:?} (oct-HSM, RSA-HSM or EC-HSM)"
            )));
        }
    };
    let w = |r: std::io::Result<()>| r.map_err(|e| Failure::usage(format!("cannot write: {e}")));
    for note in &material.notes {
        w(writeln!(out, "{note}"))?;
    }
    if opts.out
        && let Some(k) = &material.octet
    {
        let path = opts.dir.join(KEY_FILE);
        write_secret_file(&path, k)?;
        w(writeln!(
            out,
            "Octet key written to {} (mode 0600)",
            path.display()
        ))?;
    }
    let tokens = Arc::new(TokenProvider::new(http.clone(), credential));
    let imported = azure::runtime()?.block_on(async {
        let kv = KeyVaultClient::new(http, &cfg.key.akv.endpoint, tokens)
            .map_err(azure::service_failure)?;
        kv.import_key(&cfg.key.kid, &material.jwk, &policy, api_version.as_deref())
            .await
            .map_err(azure::service_failure)
    })?;
    let policy_json = serde_json::to_string(&policy)
        .map_err(|e| Failure::usage(format!("release policy: {e}")))?;
    w(writeln!(out, "{}", imported.kid))?;
    w(writeln!(out, "{policy_json}"))
}
