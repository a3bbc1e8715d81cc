//! Secure key release: a fresh wrapping key, its JWK set as runtime data, an MAA token, the
//! Key Vault / managed HSM release (JWS verified), and the unwrap into a JWK.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use csc_azure::http::HttpClient;
use csc_azure::identity::{Credential, TokenProvider};
use csc_azure::keyvault::KeyVaultClient;
use csc_azure::secret::SecretString;
use csc_core::jwk::{KeyOps, PRIVATE_JWK_CAPACITY, PUBLIC_JWK_SET_CAPACITY, ReleasedKeyType};
use csc_core::rsa::oaep::OaepDecrypt;
use zeroize::Zeroizing;

use crate::attest::{Attester, Evidence, Timings};
use crate::error::{ReleaseError, Result};
use crate::pool::KeyPool;

/// What a caller asks to release (upstream's `/key/release` body).
#[derive(Clone, Default)]
pub struct KeyRequest {
    /// The MAA endpoint (host, or base URL).
    pub maa_endpoint: String,
    /// The Key Vault or managed HSM endpoint (host, or base URL).
    pub akv_endpoint: String,
    /// `name` or `name/version`.
    pub kid: String,
    /// A bearer token for the vault; when absent, one is obtained from the identity.
    pub access_token: Option<SecretString>,
}

impl fmt::Debug for KeyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRequest")
            .field("maa_endpoint", &self.maa_endpoint)
            .field("akv_endpoint", &self.akv_endpoint)
            .field("kid", &self.kid)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A released key as JWK JSON text. Wiped on drop; `Debug` shows only its type.
pub struct ReleasedJwk {
    json: Zeroizing<String>,
    kty: String,
}

impl ReleasedJwk {
    /// The JWK JSON text (secret: never log it).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The key type the vault said (`oct-HSM`, `RSA-HSM`, ...).
    pub fn kty(&self) -> &str {
        &self.kty
    }
}

impl fmt::Debug for ReleasedJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReleasedJwk({}, redacted)", self.kty)
    }
}

/// What happened in one release, for accounts such as `skr demo`'s (no secrets).
#[derive(Debug, Clone, Default)]
pub struct ReleaseAccount {
    /// Report, certificates and local verification timings.
    pub attest: Timings,
    /// What the local check established.
    pub verified: Option<String>,
    /// Getting a wrapping key (from the pool or made now).
    pub key_ms: f64,
    /// MAA round trip.
    pub maa_ms: f64,
    /// Key Vault token and release round trip (JWS verification included).
    pub release_ms: f64,
    /// Unwrap and JWK rendering.
    pub unwrap_ms: f64,
    /// The MAA token's claims a release policy usually tests.
    pub claims: Option<String>,
    /// The wrapping scheme the vault used.
    pub enc: String,
}

/// Releases keys. Shareable (`Arc`), every method `&self`.
#[derive(Debug)]
pub struct Releaser {
    attester: Arc<Attester>,
    pool: KeyPool,
    credential: Credential,
    tokens: std::sync::Mutex<Vec<(String, Arc<TokenProvider>)>>,
}

impl Releaser {
    /// A releaser over `attester`, keeping `pool` wrapping keys ready, getting vault tokens
    /// from `credential` when a request carries none.
    pub fn new(attester: Arc<Attester>, pool: usize, credential: Credential) -> Releaser {
        Releaser {
            attester,
            pool: KeyPool::new(pool),
            credential,
            tokens: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The attester.
    pub fn attester(&self) -> &Arc<Attester> {
        &self.attester
    }

    /// The wrapping-key pool.
    pub fn pool(&self) -> &KeyPool {
        &self.pool
    }

    fn http(&self) -> &HttpClient {
        self.attester.http()
    }

    /// One token provider per credential, shared by requests (its cache is what saves the
    /// IMDS round trip).
    fn token_provider(&self, static_token: Option<&SecretString>) -> Arc<TokenProvider> {
        if let Some(t) = static_token {
            return Arc::new(TokenProvider::new(
                self.http().clone(),
                Credential::Static(t.clone()),
            ));
        }
        let mut cached = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, p)) = cached.first() {
            return p.clone();
        }
        let p = Arc::new(TokenProvider::new(
            self.http().clone(),
            self.credential.clone(),
        ));
        cached.push(("default".into(), p.clone()));
        p
    }

    /// Releases the key `req.kid` (upstream's `/key/release`).
    pub async fn release(&self, req: &KeyRequest) -> Result<ReleasedJwk> {
        self.release_with_account(req).await.map(|(k, _)| k)
    }

    /// As [`Releaser::release`], also saying what happened at each step.
    pub async fn release_with_account(
        &self,
        req: &KeyRequest,
    ) -> Result<(ReleasedJwk, ReleaseAccount)> {
        for (name, value) in [
            ("maa_endpoint", &req.maa_endpoint),
            ("akv_endpoint", &req.akv_endpoint),
            ("kid", &req.kid),
        ] {
            if value.trim().is_empty() {
                return Err(ReleaseError::Request(format!("{name} is empty")));
            }
        }
        let mut account = ReleaseAccount::default();

        let start = Instant::now();
        let key = self.pool.take().await?;
        let mut jwks_buf = [0u8; PUBLIC_JWK_SET_CAPACITY];
        let jwks = csc_core::jwk::render_public_jwk_set(key.public_key(), &mut jwks_buf)
            .map_err(|e| ReleaseError::WrappingKey(e.to_string()))?
            .as_bytes()
            .to_vec();
        account.key_ms = ms(start);

        let (evidence, timings): (Evidence, Timings) = self.attester.evidence_timed(&jwks).await?;
        account.attest = timings;
        account.verified = Some(describe(&evidence));

        let start = Instant::now();
        let token = self
            .attester
            .maa_token_for(&req.maa_endpoint, &jwks, &evidence)
            .await?;
        account.maa_ms = ms(start);
        let claims = token_claims(token.expose());
        account.claims = claims.clone();

        let start = Instant::now();
        let tokens = self.token_provider(req.access_token.as_ref());
        let kv_error = |source: csc_azure::Error| {
            let refused = matches!(
                source,
                csc_azure::Error::Status {
                    status: 401 | 403,
                    ..
                }
            );
            ReleaseError::KeyVault {
                endpoint: req.akv_endpoint.clone(),
                kid: req.kid.clone(),
                source: Box::new(source),
                claims: if refused { claims.clone() } else { None },
            }
        };
        let client = KeyVaultClient::new(self.http().clone(), &req.akv_endpoint, tokens)
            .map_err(kv_error)?;
        let released = client
            .release(&req.kid, &token, None)
            .await
            .map_err(kv_error)?;
        account.release_ms = ms(start);
        account.enc = released.enc.clone();

        let start = Instant::now();
        let jwk = unwrap_to_jwk(&key, &released)?;
        account.unwrap_ms = ms(start);
        Ok((jwk, account))
    }
}

/// Unwraps a release with `key` and renders the JWK upstream returns.
pub fn unwrap_to_jwk<K: OaepDecrypt + ?Sized>(
    key: &K,
    released: &csc_azure::keyvault::ReleasedKey,
) -> Result<ReleasedJwk> {
    let kty = ReleasedKeyType::from_kty(&released.kty).ok_or_else(|| {
        ReleaseError::Unwrap(format!("released key type {} not supported", released.kty))
    })?;
    let ops = KeyOps::from_names(released.key_ops.iter().map(String::as_str))
        .map_err(|e| ReleaseError::Unwrap(format!("key_ops: {e}")))?;
    let plain =
        csc_crypto::unwrap::unwrap_release(key, &released.enc, released.ciphertext.expose())
            .map_err(|e| ReleaseError::Unwrap(e.to_string()))?;
    let mut out = Zeroizing::new(vec![0u8; PRIVATE_JWK_CAPACITY]);
    let text = csc_core::jwk::render_released_key(kty, plain.as_bytes(), ops.as_slice(), &mut out)
        .map_err(|e| ReleaseError::Unwrap(e.to_string()))?;
    Ok(ReleasedJwk {
        json: Zeroizing::new(text.to_string()),
        kty: released.kty.clone(),
    })
}

fn describe(e: &Evidence) -> String {
    format!(
        "{} report signed by its {}, chain to {} ARK, REPORTED_TCB {:#018x}",
        e.verified.product,
        e.verified.signer,
        if e.verified.pinned_root {
            "the pinned"
        } else {
            "AMD's"
        },
        e.tcb
    )
}

/// The claims of an MAA token that release policies usually test, read from its payload
/// (unverified: for messages only).
pub fn token_claims(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let o = v.as_object()?;
    let picked: Vec<String> = [
        "iss",
        "x-ms-attestation-type",
        "x-ms-compliance-status",
        "x-ms-sevsnpvm-hostdata",
        "x-ms-sevsnpvm-is-debuggable",
        "x-ms-sevsnpvm-vmpl",
        "x-ms-sevsnpvm-launchmeasurement",
    ]
    .iter()
    .filter_map(|k| o.get(*k).map(|v| format!("{k}={v}")))
    .collect();
    (!picked.is_empty()).then(|| picked.join(", "))
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
