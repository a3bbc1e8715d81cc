//! Key Vault and managed HSM: secure key release with an MAA token, with the JWS answer
//! verified (algorithm fixed by us, x5c chain to trusted roots, the vault's host name), and
//! import of a key with a release policy (the `importkey` tool's job).
//!
//! The released key stays wrapped: the verified `key_hsm` ciphertext is handed to the core,
//! which unwraps it with the ephemeral RSA key (RSA-OAEP + AES-KWP).

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use http::Method;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result, Service};
use crate::http::{HttpClient, Request};
use crate::identity::{TokenProvider, key_vault_resource};
use crate::jose::{Compact, JwsAlgorithm, b64std, b64url, b64url_encode};
use crate::secret::{SecretBytes, SecretString};

/// The API version of release (fixed by upstream) and the default for import.
pub const KEY_VAULT_API_VERSION: &str = "7.4";

/// One `allOf` condition: a claim of the MAA token and the value it must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimCondition {
    /// Claim name, e.g. `x-ms-sevsnpvm-hostdata`.
    pub claim: String,
    /// Required value, as text.
    pub equals: String,
}

/// One `anyOf` entry: an attestation authority and conditions that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityConditions {
    /// The MAA base URL, e.g. `https://sharedeus2.eus2.attest.azure.net`.
    pub authority: String,
    /// The conditions.
    #[serde(rename = "allOf")]
    pub all_of: Vec<ClaimCondition>,
}

/// A key release policy, as upstream writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePolicy {
    /// `1.0.0` (upstream's tests) or `0.2`.
    pub version: String,
    /// Any one entry must be satisfied.
    #[serde(rename = "anyOf")]
    pub any_of: Vec<AuthorityConditions>,
}

impl ReleasePolicy {
    /// One `anyOf` entry per inner list of conditions, all for `authority` (upstream's
    /// `claims` config).
    pub fn new(authority: &str, claims: Vec<Vec<ClaimCondition>>) -> Self {
        ReleasePolicy {
            version: "1.0.0".into(),
            any_of: claims
                .into_iter()
                .map(|all_of| AuthorityConditions {
                    authority: authority.to_string(),
                    all_of,
                })
                .collect(),
        }
    }
}

/// A released key, verified but still wrapped for the ephemeral key.
#[derive(Debug, Clone)]
pub struct ReleasedKey {
    /// The key's id URL as the vault states it.
    pub kid: String,
    /// Key type: `oct-HSM`, `RSA-HSM`, `EC-HSM`, `oct`, `RSA`, `EC`.
    pub kty: String,
    /// Permitted operations.
    pub key_ops: Vec<String>,
    /// The wrapping scheme (`request.enc`): `CKM_RSA_AES_KEY_WRAP`, `RSA_AES_KEY_WRAP_256`...
    pub enc: String,
    /// `key_hsm.ciphertext`: RSA-OAEP(KEK) || AES-KWP(KEK, key).
    pub ciphertext: SecretBytes,
}

/// A key as the vault describes it after import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedKey {
    /// The key's id URL.
    pub kid: String,
    /// Key type.
    pub kty: String,
    /// Permitted operations.
    pub key_ops: Vec<String>,
    /// The release policy as stored, if returned.
    pub release_policy: Option<Value>,
}

/// Checks release responses: RS256 only (the algorithm Key Vault signs with), chain to the
/// given roots, leaf valid for the vault's host name.
#[derive(Debug, Clone)]
pub struct JwsVerifier {
    roots: Arc<Vec<TrustAnchor<'static>>>,
    algorithms: Vec<JwsAlgorithm>,
}

impl JwsVerifier {
    /// Trusts these root certificates (DER).
    pub fn new(roots: &[CertificateDer<'_>]) -> Result<Self> {
        let mut anchors = Vec::new();
        for r in roots {
            let a = webpki::anchor_from_trusted_cert(r)
                .map_err(|e| Error::Config(format!("trusted root rejected: {e}")))?;
            anchors.push(a.to_owned());
        }
        if anchors.is_empty() {
            return Err(Error::Config(
                "no trusted root certificates to check Key Vault's signed release answers (install the system's CA certificates, point SSL_CERT_FILE at a PEM bundle, or give a CA file)".into(),
            ));
        }
        Ok(JwsVerifier {
            roots: Arc::new(anchors),
            algorithms: vec![JwsAlgorithm::Rs256],
        })
    }

    /// The system roots plus the HTTP client's extra roots.
    pub fn from_http_config(cfg: &crate::http::HttpConfig) -> Result<Self> {
        let mut roots: Vec<CertificateDer<'static>> = Vec::new();
        if cfg.system_roots {
            roots.extend(rustls_native_certs::load_native_certs().certs);
        }
        roots.extend(cfg.extra_roots.iter().cloned());
        Self::new(&roots)
    }

    /// Replaces the accepted algorithms (default: RS256).
    pub fn with_algorithms(mut self, algs: Vec<JwsAlgorithm>) -> Self {
        self.algorithms = algs;
        self
    }

    /// Verifies a compact JWS from `host` and returns its payload.
    pub fn verify(&self, jws: &str, host: &str, now: UnixTime) -> Result<Vec<u8>> {
        let reject = |what: &'static str, d: String| Error::rejected(Service::KeyVault, what, d);
        let compact = Compact::parse(jws).map_err(|e| reject("release JWS", e.to_string()))?;
        let alg = compact
            .algorithm(&self.algorithms)
            .map_err(|e| reject("release JWS", e.to_string()))?;
        let x5c: Vec<CertificateDer<'static>> = compact
            .header
            .get("x5c")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| reject("release JWS", "header has no x5c chain".into()))?
            .iter()
            .map(|c| {
                c.as_str()
                    .ok_or_else(|| "x5c entry is not a string".to_string())
                    .and_then(|text| b64std(text).map_err(|e| e.to_string()))
                    .map(CertificateDer::from)
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| reject("JWS x5c chain", e))?;
        let leaf = &x5c[0];
        if let Some(t) = compact.header.get("x5t#S256").and_then(Value::as_str) {
            let want = b64url_encode(digest(&SHA256, leaf).as_ref());
            if t.trim_end_matches('=') != want {
                return Err(reject(
                    "JWS x5c chain",
                    "x5t#S256 does not match the leaf certificate".into(),
                ));
            }
        }
        compact
            .verify_with_cert(alg, leaf)
            .map_err(|e| reject("release JWS signature", e.to_string()))?;
        self.verify_chain(&x5c, host, now)?;
        Ok(compact.payload)
    }

    /// Checks an x5c chain (leaf first; every further element may serve as intermediate) to
    /// the trusted roots at `now`, and that the leaf is valid for `host`. No revocation check.
    pub fn verify_chain(
        &self,
        x5c: &[CertificateDer<'_>],
        host: &str,
        now: UnixTime,
    ) -> Result<()> {
        let reject = |d: String| Error::rejected(Service::KeyVault, "JWS x5c chain", d);
        let Some((leaf, rest)) = x5c.split_first() else {
            return Err(reject("empty chain".into()));
        };
        let ee = webpki::EndEntityCert::try_from(leaf)
            .map_err(|e| reject(format!("leaf certificate: {e}")))?;
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.roots,
            rest,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| reject(e.to_string()))?;
        let name = ServerName::try_from(host)
            .map_err(|_| reject(format!("{host:?} is not a host name")))?;
        ee.verify_is_valid_for_subject_name(&name)
            .map_err(|e| reject(format!("leaf certificate is not valid for {host}: {e}")))?;
        Ok(())
    }
}

/// A client of one Key Vault or managed HSM.
#[derive(Debug, Clone)]
pub struct KeyVaultClient {
    http: HttpClient,
    base: String,
    host: String,
    tokens: Arc<TokenProvider>,
    resource: String,
    verifier: JwsVerifier,
}

impl KeyVaultClient {
    /// `endpoint` is the vault's host (`myhsm.managedhsm.azure.net`, as upstream configures
    /// it) or a base URL (`https://localhost:8443` for the emulator). The token resource is
    /// chosen as upstream does; release answers are checked against the HTTP client's roots.
    pub fn new(http: HttpClient, endpoint: &str, tokens: Arc<TokenProvider>) -> Result<Self> {
        let verifier = JwsVerifier::from_http_config(http.config())?;
        let base = crate::maa::base_url(endpoint);
        let authority = base.split_once("://").map(|(_, a)| a).unwrap_or(&base);
        let host = host_of(authority).to_string();
        Ok(KeyVaultClient {
            resource: key_vault_resource(&host).to_string(),
            http,
            base,
            host,
            tokens,
            verifier,
        })
    }

    /// Uses another JWS verifier (other roots or algorithms).
    pub fn with_verifier(mut self, verifier: JwsVerifier) -> Self {
        self.verifier = verifier;
        self
    }

    /// Overrides the token resource.
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = resource.into();
        self
    }

    /// The host name release answers must be signed for.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// POST `keys/{kid}/release?api-version=7.4` with the MAA token; verifies the answer.
    /// `kid` is `name` or `name/version`. `enc` asks for a wrapping scheme (the vault's
    /// default, `CKM_RSA_AES_KEY_WRAP`, when `None`).
    pub async fn release(
        &self,
        kid: &str,
        maa_token: &SecretString,
        enc: Option<&str>,
    ) -> Result<ReleasedKey> {
        check_key_path(kid)?;
        let url = format!(
            "{}/keys/{kid}/release?api-version={KEY_VAULT_API_VERSION}",
            self.base
        );
        let mut body = json!({ "target": maa_token.expose() });
        if let Some(enc) = enc {
            body["enc"] = Value::String(enc.to_string());
        }
        let req =
            Request::new(Service::KeyVault, Method::POST, url).json(body.to_string().into_bytes());
        let req = self.tokens.authorize(req, &self.resource).await?;
        let resp = self.http.send(req).await?;
        #[derive(Deserialize)]
        struct Answer {
            value: String,
        }
        let answer: Answer = serde_json::from_slice(&resp.body)
            .map_err(|e| Error::malformed(Service::KeyVault, "release response", e))?;
        let payload = self
            .verifier
            .verify(&answer.value, &self.host, UnixTime::now())?;
        parse_release_payload(&payload, kid.split('/').next().unwrap_or(kid))
    }

    /// PUT `keys/{name}?api-version=...` with the key (a JWK), exportable, HSM-protected, with
    /// the release policy.
    pub async fn import_key(
        &self,
        name: &str,
        jwk: &Value,
        policy: &ReleasePolicy,
        api_version: Option<&str>,
    ) -> Result<ImportedKey> {
        check_key_path(name)?;
        if name.contains('/') {
            return Err(Error::Config(format!("key name {name:?} contains '/'")));
        }
        let policy_json = serde_json::to_vec(policy)
            .map_err(|e| Error::Config(format!("release policy: {e}")))?;
        let body = json!({
            "key": jwk,
            "hsm": true,
            "attributes": { "exportable": true },
            "release_policy": {
                "contentType": "application/json; charset=utf-8",
                "data": b64url_encode(&policy_json),
            },
        });
        let url = format!(
            "{}/keys/{name}?api-version={}",
            self.base,
            api_version.unwrap_or(KEY_VAULT_API_VERSION)
        );
        let req =
            Request::new(Service::KeyVault, Method::PUT, url).json(body.to_string().into_bytes());
        let req = self.tokens.authorize(req, &self.resource).await?;
        let resp = self.http.send(req).await?;
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| Error::malformed(Service::KeyVault, "import response", e))?;
        let key = v
            .get("key")
            .ok_or_else(|| Error::malformed(Service::KeyVault, "import response", "no key"))?;
        Ok(ImportedKey {
            kid: str_field(key, "kid"),
            kty: str_field(key, "kty"),
            key_ops: str_list(key.get("key_ops")),
            release_policy: v.get("release_policy").cloned(),
        })
    }
}

fn host_of(authority: &str) -> &str {
    let authority = authority.split('/').next().unwrap_or(authority);
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn check_key_path(kid: &str) -> Result<()> {
    let ok = !kid.is_empty()
        && kid.split('/').count() <= 2
        && kid
            .split('/')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "key id {kid:?} must be `name` or `name/version` (letters, digits, '-')"
        )))
    }
}

fn str_field(v: &Value, name: &str) -> String {
    v.get(name)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a verified release payload; the released key's id must name the key asked for.
pub fn parse_release_payload(payload: &[u8], key_name: &str) -> Result<ReleasedKey> {
    let bad = |d: &str| Error::malformed(Service::KeyVault, "release payload", d);
    let v: Value = serde_json::from_slice(payload).map_err(|e| bad(&e.to_string()))?;
    let enc = v
        .pointer("/request/enc")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no request.enc"))?
        .to_string();
    let key = v
        .pointer("/response/key/key")
        .ok_or_else(|| bad("no response.key.key"))?;
    let kid = str_field(key, "kid");
    let named = kid
        .split("/keys/")
        .nth(1)
        .and_then(|rest| rest.split('/').next());
    if named != Some(key_name) {
        return Err(Error::rejected(
            Service::KeyVault,
            "release payload",
            format!("released key {kid:?} is not the key {key_name:?} that was asked for"),
        ));
    }
    let kty = str_field(key, "kty");
    if kty.is_empty() {
        return Err(bad("no kty"));
    }
    let key_hsm = key
        .get("key_hsm")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no key_hsm"))?;
    let key_hsm = b64url(key_hsm).map_err(|e| bad(&format!("key_hsm: {e}")))?;
    let inner: Value =
        serde_json::from_slice(&key_hsm).map_err(|e| bad(&format!("key_hsm JSON: {e}")))?;
    let ct = inner
        .get("ciphertext")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("key_hsm has no ciphertext"))?;
    let ciphertext = b64url(ct).map_err(|e| bad(&format!("ciphertext: {e}")))?;
    if ciphertext.is_empty() {
        return Err(bad("empty ciphertext"));
    }
    Ok(ReleasedKey {
        kid,
        kty,
        key_ops: str_list(key.get("key_ops")),
        enc,
        ciphertext: SecretBytes::new(ciphertext),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_key_paths() {
        assert_eq!(host_of("x.managedhsm.azure.net"), "x.managedhsm.azure.net");
        assert_eq!(host_of("localhost:8443"), "localhost");
        assert_eq!(host_of("[::1]:8443"), "::1");
        assert!(check_key_path("k1").is_ok());
        assert!(check_key_path("k1/0123abcd").is_ok());
        assert!(check_key_path("../x").is_err());
        assert!(check_key_path("a/b/c").is_err());
        assert!(check_key_path("").is_err());
        assert!(check_key_path("a?b").is_err());
    }

    #[test]
    fn payload_parsing() {
        let inner = b64url_encode(br#"{"ciphertext":"AQID","header":{},"schema_version":"1.0"}"#);
        let p = json!({
            "request": {"api-version": "7.4", "enc": "CKM_RSA_AES_KEY_WRAP", "kid": "k"},
            "response": {"key": {"key": {"kid": "https://h/keys/k/v1", "kty": "oct-HSM",
                "key_ops": ["encrypt"], "key_hsm": inner}}}
        });
        let bytes = p.to_string().into_bytes();
        let k = parse_release_payload(&bytes, "k").unwrap();
        assert_eq!(k.ciphertext.expose(), &[1, 2, 3]);
        assert_eq!(k.key_ops, vec!["encrypt"]);
        assert_eq!(k.enc, "CKM_RSA_AES_KEY_WRAP");
        let err = parse_release_payload(&bytes, "other")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not the key"), "{err}");
        assert!(parse_release_payload(b"{}", "k").is_err());
    }

    #[test]
    fn policy_json_shape() {
        let p = ReleasePolicy::new(
            "https://maa",
            vec![vec![ClaimCondition {
                claim: "x-ms-sevsnpvm-vmpl".into(),
                equals: "0".into(),
            }]],
        );
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"version":"1.0.0","anyOf":[{"authority":"https://maa","allOf":[{"claim":"x-ms-sevsnpvm-vmpl","equals":"0"}]}]}"#
        );
    }
}
