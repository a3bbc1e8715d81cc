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

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use csc_azure::gocompat::lowercase_keys;
use csc_azure::identity::{Credential, TokenProvider};
use csc_azure::jose::b64url_encode;
use csc_azure::keyvault::{ClaimCondition, KeyVaultClient, ReleasePolicy};
use csc_azure::secret::SecretString;
use csc_core::base64::{self, Alphabet};
use csc_core::jwk::{self, KeyOps};
use csc_core::keywrap::hkdf;
use csc_core::keywrap::pkcs8::{self, PrivateKeyDer};
use csc_core::rsa::pkcs1::RsaPrivateKeyDer;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::args::Args;
use crate::azure::{self, Endpoints};
use crate::exit::Failure;
use crate::input::read_input;
use crate::policydigest;

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

/// The claim that carries HOST_DATA in an MAA token.
pub const HOST_DATA_CLAIM: &str = "x-ms-sevsnpvm-hostdata";
/// The octet key file `-out` writes.
pub const KEY_FILE: &str = "keyfile.bin";
/// The private key file written for a generated RSA key.
pub const PRIVATE_KEY_FILE: &str = "private_key.pem";

/// The import configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportKeyConfig {
    /// The key and where it goes.
    pub key: KeyBlob,
    /// HKDF salt and label for `-out` with RSA keys.
    pub key_derivation: KeyDerivation,
    /// One `anyOf` entry per inner list; each list's conditions must all hold.
    pub claims: Vec<Vec<ClaimCondition>>,
    /// The managed identity `-a` uses.
    pub identity: IdentityConfig,
}

/// `key` of the configuration (upstream's `KeyBlob`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyBlob {
    /// Key name in the vault.
    pub kid: String,
    /// `oct-HSM` (or empty) or `RSA-HSM`.
    pub kty: String,
    /// Permitted operations (all when empty).
    pub key_ops: Vec<String>,
    /// The attestation authority (MAA) the release policy trusts.
    pub authority: AuthorityConfig,
    /// The vault.
    pub akv: AkvConfig,
}

/// `key.authority`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuthorityConfig {
    /// MAA host (`sharedeus2.eus2.attest.azure.net`) or base URL.
    pub endpoint: String,
}

/// `key.akv`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AkvConfig {
    /// Vault host (`myhsm.managedhsm.azure.net`) or base URL.
    pub endpoint: String,
    /// `api-version=7.4` (upstream's form) or `7.4`.
    pub api_version: String,
    /// A token for the vault, used unless `-a` is given.
    #[serde(deserialize_with = "secret")]
    pub bearer_token: Option<SecretString>,
}

/// `key_derivation`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct KeyDerivation {
    /// HKDF salt, hex (random 32 bytes when empty).
    pub salt: String,
    /// HKDF info (`Symmetric Encryption Key` when empty).
    pub label: String,
}

/// `identity`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdentityConfig {
    /// Client id of a user-assigned identity; empty for the system-assigned one.
    pub client_id: String,
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.filter(|s| !s.is_empty()).map(SecretString::new))
}

impl ImportKeyConfig {
    /// Parses the configuration file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<ImportKeyConfig, Failure> {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| Failure::usage(format!("import key configuration is not JSON: {e}")))?;
        serde_json::from_value(lowercase_keys(v)).map_err(|e| {
            Failure::usage(format!(
                "import key configuration is not the expected JSON: {e}"
            ))
        })
    }
}

/// True for the `<...>` placeholders of the example configurations.
fn is_placeholder(s: &str) -> bool {
    let s = s.trim();
    s.starts_with('<') && s.ends_with('>')
}

fn require(what: &str, value: &str) -> Result<(), Failure> {
    if value.trim().is_empty() {
        return Err(Failure::usage(format!("{what} is missing")));
    }
    if is_placeholder(value) {
        return Err(Failure::usage(format!(
            "{what} is still the example's placeholder {value}: fill it in"
        )));
    }
    Ok(())
}

/// The release policy upstream's tool builds (version `1.0.0`, one `anyOf` entry per claim
/// group, authority `https://<authority endpoint>`), with the HOST_DATA condition set to
/// `host_data_hex` when given. Refuses placeholders and policies without conditions.
pub fn release_policy(
    cfg: &ImportKeyConfig,
    host_data_hex: Option<&str>,
) -> Result<ReleasePolicy, Failure> {
    let endpoint = cfg.key.authority.endpoint.trim();
    require("key.authority.endpoint", endpoint)?;
    let authority = if endpoint.contains("://") {
        endpoint.trim_end_matches('/').to_string()
    } else {
        format!("https://{}", endpoint.trim_end_matches('/'))
    };
    let mut claims = cfg.claims.clone();
    if let Some(hd) = host_data_hex {
        if claims.is_empty() {
            claims.push(Vec::new());
        }
        for group in &mut claims {
            match group.iter_mut().find(|c| c.claim == HOST_DATA_CLAIM) {
                Some(c) => c.equals = hd.to_string(),
                None => group.push(ClaimCondition {
                    claim: HOST_DATA_CLAIM.into(),
                    equals: hd.to_string(),
                }),
            }
        }
    }
    if claims.is_empty() || claims.iter().any(Vec::is_empty) {
        return Err(Failure::usage(
            "the release policy would have a claim group without conditions (any attested \
             environment could get the key): give claims in the configuration or \
             -security-policy",
        ));
    }
    for c in claims.iter().flatten() {
        require("a claim name", &c.claim)?;
        require(&format!("claim {}", c.claim), &c.equals)?;
    }
    Ok(ReleasePolicy::new(&authority, claims))
}

/// The API version from upstream's `api-version=7.4` form (or plain `7.4`).
pub fn api_version(config: &str) -> Result<Option<String>, Failure> {
    let v = config.trim();
    let v = v.strip_prefix("api-version=").unwrap_or(v);
    if v.is_empty() {
        return Ok(None);
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(Failure::usage(format!(
            "key.akv.api_version {config:?} is not an API version such as api-version=7.4"
        )));
    }
    Ok(Some(v.to_string()))
}

fn hex_decode(text: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let t = text.trim().as_bytes();
    let len = csc_core::hex::decoded_len(t)
        .map_err(|e| Failure::malformed(format!("{what} is not hex: {e}")))?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    let n = csc_core::hex::decode_into(t, &mut out)
        .map_err(|e| Failure::malformed(format!("{what} is not hex: {e}")))?;
    out.truncate(n);
    Ok(out)
}

/// Sizes an oct-HSM key may have, in bytes.
const OCT_SIZES: [usize; 3] = [16, 24, 32];

/// The oct key `-kh` names: an existing file's bytes (upstream's reading) when the file is a
/// valid key size, else the file's text as hex; a string that is not a file is hex.
pub fn oct_key_from_arg(arg: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let path = Path::new(arg);
    if path.exists() {
        let bytes = Zeroizing::new(read_input(arg)?);
        if OCT_SIZES.contains(&bytes.len()) {
            return Ok(bytes);
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Failure::malformed(format!(
                "-kh file {arg} is {} bytes: neither a 16, 24 or 32-byte key nor hex text",
                bytes.len()
            ))
        })?;
        return hex_decode(text, &format!("-kh file {arg}"));
    }
    hex_decode(arg, "-kh (not an existing file, so read as hex)")
}

/// The `key_ops` of the configuration, checked: only the operations jwx accepts (a key with
/// any other could be imported, but skr could never hand it out).
pub fn key_ops(names: &[String]) -> Result<KeyOps, Failure> {
    KeyOps::from_names(names.iter().map(String::as_str))
        .map_err(|e| Failure::usage(format!("key.key_ops: {e}")))
}

/// Bits of a big-endian modulus.
pub fn modulus_bits(n: &[u8]) -> usize {
    let n = &n[n.iter().position(|b| *b != 0).unwrap_or(n.len())..];
    n.first()
        .map(|top| (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize))
        .unwrap_or(0)
}

/// An RSA private key as a JWK (`kty` RSA, as jwx renders it), checked for consistency by the
/// core's renderer.
pub fn rsa_jwk(key: &RsaPrivateKeyDer<'_>, ops: &KeyOps) -> Result<Value, Failure> {
    let mut buf = Zeroizing::new(vec![0u8; 8 * key.n.len() + 1024]);
    let text = jwk::render_rsa_private(key, ops.as_slice(), &mut buf)
        .map_err(|e| Failure::malformed(format!("RSA private key: {e}")))?;
    serde_json::from_str(text).map_err(|e| Failure::malformed(format!("RSA JWK: {e}")))
}

/// Reads an RSA private key (PEM `PRIVATE KEY` or `RSA PRIVATE KEY`, or DER), calls `f` with it.
pub fn with_rsa_key<T>(
    input: &[u8],
    f: impl FnOnce(&RsaPrivateKeyDer<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let mut scratch = Zeroizing::new(vec![0u8; input.len()]);
    match pkcs8::read(input, &mut scratch) {
        Ok(PrivateKeyDer::Rsa(k)) => f(&k),
        Ok(PrivateKeyDer::Ec(_)) => Err(Failure::malformed(
            "the key is an EC key; -kp takes an RSA key",
        )),
        Err(e) => Err(Failure::malformed(format!("RSA private key: {e}"))),
    }
}

fn pkcs8_of(pair: &KeyPair) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let der: Pkcs8V1Der<'_> = pair
        .as_der()
        .map_err(|_| Failure::usage("could not encode the RSA key as PKCS#8"))?;
    Ok(Zeroizing::new(der.as_ref().to_vec()))
}

/// PEM text of PKCS#8 DER (`PRIVATE KEY`, 64-column base64).
pub fn pkcs8_pem(der: &[u8]) -> Zeroizing<String> {
    let mut b64 = Zeroizing::new(vec![
        0u8;
        base64::encoded_len(der.len(), Alphabet::Standard)
    ]);
    let text = base64::encode_into(der, Alphabet::Standard, &mut b64).unwrap_or("");
    let mut out = Zeroizing::new(String::from("-----BEGIN PRIVATE KEY-----\n"));
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// The octet key `-out` writes for an RSA key: the core's encfs derivation (HKDF-SHA256 of the
/// private exponent with the hex salt and the label), so encfs derives the same key from the
/// released RSA key.
pub fn derive_octet_key(
    key: &RsaPrivateKeyDer<'_>,
    salt_hex: &str,
    label: &str,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let k = hkdf::derive_key(key.d, salt_hex, label).map_err(Failure::malformed)?;
    Ok(Zeroizing::new(k.as_bytes().to_vec()))
}

/// Writes a secret file: created with mode 0600 (and set to 0600 if it existed), truncated.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)
}

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
            .map_err(|f| Failure::usage(format!("{}\n{USAGE}", f.message)))?;
        let config = match args.value("c") {
            Some(c) if !c.is_empty() && args.positional().is_empty() => PathBuf::from(c),
            _ => return Err(Failure::usage(USAGE)),
        };
        Ok(Options {
            config,
            key_hex: args.value("kh").map(str::to_string),
            key_pem: args.value("kp").map(PathBuf::from),
            azure_token: args.flag("a"),
            out: args.flag("out"),
            security_policy: args.value("security-policy").map(PathBuf::from),
            dir,
            endpoints: Endpoints::from_args(args, env),
        })
    }
}

/// The key to import and what to tell the operator about it.
struct Material {
    jwk: Value,
    octet: Option<Zeroizing<Vec<u8>>>,
    notes: Vec<String>,
}

fn oct_material(opts: &Options, cfg: &ImportKeyConfig) -> Result<Material, Failure> {
    if opts.key_pem.is_some() {
        return Err(Failure::usage(
            "-kp is for RSA-HSM keys; this key is oct-HSM",
        ));
    }
    let (key, origin) = match &opts.key_hex {
        Some(arg) => (oct_key_from_arg(arg)?, "given with -kh"),
        None => {
            let mut k = Zeroizing::new(vec![0u8; 32]);
            aws_lc_rs::rand::fill(&mut k)
                .map_err(|_| Failure::usage("the random generator failed"))?;
            (k, "generated")
        }
    };
    if !OCT_SIZES.contains(&key.len()) {
        return Err(Failure::malformed(format!(
            "an oct-HSM key is 16, 24 or 32 bytes; this one is {}",
            key.len()
        )));
    }
    key_ops(&cfg.key.key_ops)?;
    let mut jwk = json!({"kty": "oct-HSM", "k": b64url_encode(&key), "key_size": key.len() * 8});
    if !cfg.key.key_ops.is_empty() {
        jwk["key_ops"] = json!(cfg.key.key_ops);
    }
    let mut note = format!(
        "Symmetric key ({} bits) {origin}, not printed",
        key.len() * 8
    );
    if !opts.out && opts.key_hex.is_none() {
        note.push_str("; no copy is kept (-out writes one to keyfile.bin)");
    }
    Ok(Material {
        jwk,
        octet: Some(key),
        notes: vec![note],
    })
}

fn rsa_material(opts: &Options, cfg: &ImportKeyConfig) -> Result<Material, Failure> {
    if opts.key_hex.is_some() {
        return Err(Failure::usage(
            "-kh is for oct-HSM keys; this key is RSA-HSM",
        ));
    }
    let ops = key_ops(&cfg.key.key_ops)?;
    let (input, origin) = match &opts.key_pem {
        Some(path) => (
            Zeroizing::new(read_input(&path.display().to_string())?),
            format!("read from {}", path.display()),
        ),
        None => {
            let pair = KeyPair::generate(KeySize::Rsa2048)
                .map_err(|e| Failure::usage(format!("RSA key generation failed: {e}")))?;
            let der = pkcs8_of(&pair)?;
            let path = opts.dir.join(PRIVATE_KEY_FILE);
            write_secret_file(&path, pkcs8_pem(&der).as_bytes())?;
            (
                der,
                format!(
                    "generated; private key written to {} (mode 0600)",
                    path.display()
                ),
            )
        }
    };
    with_rsa_key(&input, |key| {
        let mut notes = vec![format!("RSA key ({} bits) {origin}", modulus_bits(key.n))];
        let jwk = rsa_jwk(key, &ops)?;
        let octet = if opts.out {
            let salt = if cfg.key_derivation.salt.is_empty() {
                let mut s = [0u8; 32];
                aws_lc_rs::rand::fill(&mut s)
                    .map_err(|_| Failure::usage("the random generator failed"))?;
                csc_core::hex::Hex(&s).to_string()
            } else {
                cfg.key_derivation.salt.clone()
            };
            let label = if cfg.key_derivation.label.is_empty() {
                hkdf::DEFAULT_LABEL
            } else {
                cfg.key_derivation.label.as_str()
            };
            let key = derive_octet_key(key, &salt, label)?;
            notes.push(format!(
                "Symmetric key derived from the RSA key, not printed (salt: {salt} label: {label})"
            ));
            Some(key)
        } else {
            None
        };
        Ok(Material { jwk, octet, notes })
    })
}

/// An EC private key (PKCS#8 DER) as a JWK (`kty` EC, `crv`, `x`, `y`, `d`).
pub fn ec_jwk(pkcs8_der: &[u8], ops: &KeyOps) -> Result<Value, Failure> {
    let mut buf = Zeroizing::new(vec![0u8; jwk::PRIVATE_JWK_CAPACITY]);
    let text = jwk::render_released_key(
        jwk::ReleasedKeyType::Ec,
        pkcs8_der,
        ops.as_slice(),
        &mut buf,
    )
    .map_err(|e| Failure::malformed(format!("EC private key: {e}")))?;
    serde_json::from_str(text).map_err(|e| Failure::malformed(format!("EC JWK: {e}")))
}

fn ec_material(opts: &Options, cfg: &ImportKeyConfig) -> Result<Material, Failure> {
    if opts.key_hex.is_some() {
        return Err(Failure::usage(
            "-kh is for oct-HSM keys; this key is EC-HSM",
        ));
    }
    let ops = key_ops(&cfg.key.key_ops)?;
    let (der, origin) = match &opts.key_pem {
        Some(path) => {
            let input = Zeroizing::new(read_input(&path.display().to_string())?);
            let der = if csc_core::pem::is_pem(&input) {
                let mut out = Zeroizing::new(vec![0u8; input.len()]);
                let n = csc_core::pem::decode_first(&input, "PRIVATE KEY", &mut out)
                    .map_err(|e| {
                        Failure::malformed(format!("EC private key (PKCS#8 PEM expected): {e}"))
                    })?
                    .len();
                out.truncate(n);
                out
            } else {
                input
            };
            (der, format!("read from {}", path.display()))
        }
        None => {
            use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .map_err(|e| Failure::usage(format!("EC key generation failed: {e}")))?;
            let der = Zeroizing::new(
                pair.to_pkcs8v1()
                    .map_err(|_| Failure::usage("could not encode the EC key as PKCS#8"))?
                    .as_ref()
                    .to_vec(),
            );
            let path = opts.dir.join(PRIVATE_KEY_FILE);
            write_secret_file(&path, pkcs8_pem(&der).as_bytes())?;
            (
                der,
                format!(
                    "generated (P-256); private key written to {} (mode 0600)",
                    path.display()
                ),
            )
        }
    };
    let jwk = ec_jwk(&der, &ops)?;
    let crv = jwk["crv"].as_str().unwrap_or("?").to_string();
    if opts.out {
        return Err(Failure::usage(
            "-out writes a key file for oct-HSM and RSA-HSM keys; this key is EC-HSM",
        ));
    }
    Ok(Material {
        jwk,
        octet: None,
        notes: vec![format!("EC key ({crv}) {origin}")],
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> ImportKeyConfig {
        ImportKeyConfig::parse(json.as_bytes()).unwrap()
    }

    const BASE: &str = r#"{
        "Key": {"KID": "k1", "kty": "oct-HSM", "authority": {"endpoint": "maa.example"},
                "akv": {"endpoint": "hsm.managedhsm.azure.net", "api_version": "api-version=7.4",
                        "bearer_token": "tok"}},
        "claims": [[{"claim": "x-ms-sevsnpvm-vmpl", "equals": "0"}],
                   [{"claim": "x-ms-sevsnpvm-hostdata", "equals": "old"}]]
    }"#;

    #[test]
    fn config_members_match_case_insensitively_and_hide_the_token() {
        let c = cfg(BASE);
        assert_eq!(c.key.kid, "k1");
        assert_eq!(c.key.akv.bearer_token.as_ref().unwrap().expose(), "tok");
        assert!(!format!("{c:?}").contains("tok\""), "{c:?}");
        assert!(ImportKeyConfig::parse(b"{").is_err());
        assert!(ImportKeyConfig::parse(br#"{"claims": "x"}"#).is_err());
    }

    #[test]
    fn policy_is_upstreams_with_the_host_data_set() {
        let c = cfg(BASE);
        let p = release_policy(&c, None).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"version":"1.0.0","anyOf":[{"authority":"https://maa.example","allOf":[{"claim":"x-ms-sevsnpvm-vmpl","equals":"0"}]},{"authority":"https://maa.example","allOf":[{"claim":"x-ms-sevsnpvm-hostdata","equals":"old"}]}]}"#
        );
        let p = release_policy(&c, Some("abcd")).unwrap();
        for group in &p.any_of {
            let hd: Vec<_> = group
                .all_of
                .iter()
                .filter(|c| c.claim == HOST_DATA_CLAIM)
                .collect();
            assert_eq!(hd.len(), 1);
            assert_eq!(hd[0].equals, "abcd");
        }
        assert_eq!(p.any_of[0].all_of.len(), 2);

        // No claims at all: only the host data, else refused.
        let mut c = cfg(BASE);
        c.claims.clear();
        assert!(release_policy(&c, None).is_err());
        let p = release_policy(&c, Some("ff")).unwrap();
        assert_eq!(p.any_of.len(), 1);
        assert_eq!(p.any_of[0].all_of.len(), 1);
        // A URL authority is kept as it is.
        c.key.authority.endpoint = "https://localhost:8443/".into();
        assert_eq!(
            release_policy(&c, Some("ff")).unwrap().any_of[0].authority,
            "https://localhost:8443"
        );
    }

    #[test]
    fn placeholders_and_empty_groups_are_refused() {
        let mut c = cfg(BASE);
        c.claims[0][0].equals = "<hash-digest-of-the-security-policy>".into();
        let e = release_policy(&c, None).unwrap_err();
        assert!(e.message.contains("placeholder"), "{}", e.message);
        let mut c = cfg(BASE);
        c.claims.push(Vec::new());
        assert!(release_policy(&c, None).is_err());
        let mut c = cfg(BASE);
        c.key.authority.endpoint = "<maa-endpoint>".into();
        assert!(release_policy(&c, None).is_err());
    }

    #[test]
    fn api_version_forms() {
        assert_eq!(
            api_version("api-version=7.4").unwrap().as_deref(),
            Some("7.4")
        );
        assert_eq!(api_version("7.5").unwrap().as_deref(), Some("7.5"));
        assert_eq!(api_version("").unwrap(), None);
        assert!(api_version("7.4&x=y").is_err());
    }

    #[test]
    fn oct_key_argument_forms() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.bin");
        std::fs::write(&raw, [0x41u8; 32]).unwrap();
        assert_eq!(
            &oct_key_from_arg(raw.to_str().unwrap()).unwrap()[..],
            &[0x41; 32]
        );
        let hex = dir.path().join("hex.txt");
        std::fs::write(&hex, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(
            &oct_key_from_arg(hex.to_str().unwrap()).unwrap()[..],
            &[0xab; 32]
        );
        assert_eq!(
            &oct_key_from_arg(&"0f".repeat(16)).unwrap()[..],
            &[0x0f; 16]
        );
        let e = oct_key_from_arg("not-a-file-nor-hex").unwrap_err();
        assert_eq!(e.code, crate::exit::MALFORMED);
        let junk = dir.path().join("junk.bin");
        std::fs::write(&junk, [0xffu8; 7]).unwrap();
        assert_eq!(
            oct_key_from_arg(junk.to_str().unwrap()).unwrap_err().code,
            crate::exit::MALFORMED
        );
    }

    #[test]
    fn ec_jwk_from_generated_keys_of_both_curves() {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
        };
        let ops = key_ops(&["sign".into(), "verify".into()]).unwrap();
        for (alg, crv, len) in [
            (&ECDSA_P256_SHA256_ASN1_SIGNING, "P-256", 43),
            (&ECDSA_P384_SHA384_ASN1_SIGNING, "P-384", 64),
        ] {
            let der = EcdsaKeyPair::generate(alg).unwrap().to_pkcs8v1().unwrap();
            let j = ec_jwk(der.as_ref(), &ops).unwrap();
            assert_eq!(
                (j["kty"].as_str(), j["crv"].as_str()),
                (Some("EC"), Some(crv))
            );
            for m in ["x", "y", "d"] {
                assert_eq!(j[m].as_str().unwrap().len(), len, "{crv} {m}");
            }
            assert_eq!(j["key_ops"], json!(["sign", "verify"]));
        }
        assert!(ec_jwk(b"not a key", &ops).is_err());
    }

    #[test]
    fn rsa_jwk_from_a_generated_key_and_its_pem() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = pkcs8_of(&pair).unwrap();
        let ops = key_ops(&["unwrapKey".to_string()]).unwrap();
        let jwk = with_rsa_key(&der, |k| {
            assert_eq!(modulus_bits(k.n), 2048);
            rsa_jwk(k, &ops)
        })
        .unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["key_ops"], json!(["unwrapKey"]));
        for m in ["n", "d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk[m].as_str().is_some_and(|v| !v.is_empty()), "{m}");
        }
        // The PEM written for a generated key reads back as the same key.
        let pem = pkcs8_pem(&der);
        let again = with_rsa_key(pem.as_bytes(), |k| rsa_jwk(k, &ops)).unwrap();
        assert_eq!(again, jwk);
        assert_eq!(
            with_rsa_key(b"no key here", |_| Ok(())).unwrap_err().code,
            crate::exit::MALFORMED
        );
        assert!(key_ops(&["exportKey".to_string()]).is_err());
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01]), 1);
    }

    #[test]
    fn octet_key_derivation_agrees_with_aws_lc_hkdf() {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        let d = [0x0bu8; 22];
        let one = [1u8];
        let k = RsaPrivateKeyDer {
            n: &one,
            e: &one,
            d: &d,
            p: &one,
            q: &one,
            dp: &one,
            dq: &one,
            qinv: &one,
        };
        for (salt_hex, label, info) in [
            (
                "000102030405060708090a0b0c",
                "Model Encryption Key",
                "Model Encryption Key",
            ),
            ("", "", hkdf::DEFAULT_LABEL),
        ] {
            let salt = hex_decode(salt_hex, "salt").unwrap();
            let mut want = [0u8; 32];
            Salt::new(HKDF_SHA256, &salt)
                .extract(&d)
                .expand(&[info.as_bytes()], HKDF_SHA256)
                .unwrap()
                .fill(&mut want)
                .unwrap();
            let got = derive_octet_key(&k, salt_hex, label).unwrap();
            assert_eq!(&got[..], &want[..], "{salt_hex} {label}");
        }
        assert!(derive_octet_key(&k, "not hex", "x").is_err());
    }

    #[test]
    fn secret_files_are_0600_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keyfile.bin");
        std::fs::write(&p, vec![9u8; 100]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret_file(&p, &[1, 2, 3]).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), vec![1, 2, 3]);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
