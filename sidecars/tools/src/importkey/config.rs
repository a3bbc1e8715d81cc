//! importkey's configuration file: upstream's `{"key", "key_derivation", "claims",
//! "identity"}` with Go's case-insensitive member names, and the checks that refuse the
//! examples' `<placeholders>` and empty required values before anything is sent.

use csc_azure::gocompat::lowercase_keys;
use csc_azure::keyvault::ClaimCondition;
use csc_azure::secret::SecretString;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::exit::Failure;

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
pub(super) fn is_placeholder(s: &str) -> bool {
    let s = s.trim();
    s.starts_with('<') && s.ends_with('>')
}

pub(super) fn require(what: &str, value: &str) -> Result<(), Failure> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn cfg(json: &str) -> ImportKeyConfig {
        ImportKeyConfig::parse(json.as_bytes()).unwrap()
    }

    pub(crate) const BASE: &str = r#"{
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
    fn api_version_forms() {
        assert_eq!(
            api_version("api-version=7.4").unwrap().as_deref(),
            Some("7.4")
        );
        assert_eq!(api_version("7.5").unwrap().as_deref(), Some("7.5"));
        assert_eq!(api_version("").unwrap(), None);
        assert!(api_version("7.4&x=y").is_err());
    }
}
