//! Verification of MAA tokens: RS256 signature against the keys MAA publishes at `/certs`
//! (never a key or URL named by the token itself), issuer, validity period, and the claims a
//! relying party depends on: x-ms-runtime, x-ms-sevsnpvm-hostdata, x-ms-sevsnpvm-reportdata.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use csc_core::hex::Hex;
use http::Method;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::error::{Error, Result, Service};
use crate::gocompat::decode_hex;
use crate::http::{HttpClient, Request};
use crate::jose::{Compact, JoseError, JwsAlgorithm, b64std, b64url};

/// One signing key from the JWKS document.
#[derive(Debug, Clone)]
enum KeyMaterial {
    Cert(Vec<u8>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// The provider's signing keys (`{"keys":[{"kid","kty","x5c"|"n","e"}]}`).
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<(String, KeyMaterial)>,
}

impl Jwks {
    /// Parses a JWKS document; keys that are neither an x5c certificate nor an RSA key are
    /// skipped (MAA publishes only RSA keys).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let bad = |d: &str| Error::malformed(Service::Maa, "signing keys (/certs)", d);
        let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(&e.to_string()))?;
        let list = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no keys array"))?;
        let mut keys = Vec::new();
        for k in list {
            let kid = k
                .get("kid")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let x5c0 = k
                .get("x5c")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str);
            if let Some(c) = x5c0 {
                keys.push((
                    kid,
                    KeyMaterial::Cert(b64std(c).map_err(|e| bad(&e.to_string()))?),
                ));
            } else if k.get("kty").and_then(Value::as_str) == Some("RSA") {
                let part = |name: &str| {
                    k.get(name)
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(&format!("RSA key without {name}")))
                        .and_then(|s| b64url(s).map_err(|e| bad(&e.to_string())))
                };
                keys.push((
                    kid,
                    KeyMaterial::Rsa {
                        n: part("n")?,
                        e: part("e")?,
                    },
                ));
            }
        }
        if keys.is_empty() {
            return Err(bad("no usable key"));
        }
        Ok(Jwks { keys })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies `token`'s signature with the key its `kid` names (or, without a `kid`, any key).
    fn verify(&self, token: &Compact, alg: JwsAlgorithm) -> std::result::Result<(), JoseError> {
        let kid = token.header.get("kid").and_then(Value::as_str);
        let candidates: Vec<_> = self
            .keys
            .iter()
            .filter(|(k, _)| kid.is_none_or(|want| want == k))
            .collect();
        if candidates.is_empty() {
            return Err(JoseError::UnknownKid {
                kid: kid.unwrap_or("").to_string(),
            });
        }
        let mut last = JoseError::NoKeys;
        for (_, key) in candidates {
            let r = match key {
                KeyMaterial::Cert(der) => token.verify_with_cert(alg, der),
                KeyMaterial::Rsa { n, e } => token.verify_with_rsa(alg, n, e),
            };
            match r {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// The verified claims of an MAA token.
#[derive(Debug, Clone)]
pub struct MaaClaims {
    /// `iss`.
    pub issuer: String,
    /// `exp`.
    pub expires_at: SystemTime,
    /// `x-ms-runtime`: the runtime data as MAA read it (the JWK set for SKR).
    pub runtime: Option<Value>,
    /// `x-ms-sevsnpvm-hostdata`, decoded.
    pub host_data: Option<Vec<u8>>,
    /// `x-ms-sevsnpvm-reportdata`, decoded.
    pub report_data: Option<Vec<u8>>,
    /// Every claim, for policies that look at others.
    pub all: Map<String, Value>,
}

impl MaaClaims {
    /// The keys of `x-ms-runtime` (`x-ms-runtime.keys`), empty if absent.
    pub fn runtime_keys(&self) -> &[Value] {
        self.runtime
            .as_ref()
            .and_then(|r| r.get("keys"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// What the relying party expects in the token; each `Some` is checked.
#[derive(Debug, Clone, Default)]
pub struct MaaExpectations {
    /// The runtime data sent with the evidence: `x-ms-runtime` must equal it as JSON.
    pub runtime_data: Option<Vec<u8>>,
    /// HOST_DATA of the report (SHA-256 of the security policy).
    pub host_data: Option<Vec<u8>>,
    /// REPORT_DATA of the report (64 bytes).
    pub report_data: Option<Vec<u8>>,
}

/// Verifies tokens of one MAA instance. Its keys are fetched from `{base}/certs` on first use
/// and again when a token names a key not seen before (key rollover), at most once a minute.
#[derive(Debug)]
pub struct MaaVerifier {
    http: HttpClient,
    base: String,
    issuer: String,
    algorithms: Vec<JwsAlgorithm>,
    leeway: Duration,
    keys: Mutex<Option<(Instant, Jwks)>>,
}

const MIN_REFETCH: Duration = Duration::from_secs(60);

impl MaaVerifier {
    /// A verifier for the instance at `endpoint` (host or base URL); the expected issuer is
    /// that base URL. Only RS256 is accepted.
    pub fn new(http: HttpClient, endpoint: &str) -> Self {
        let base = super::base_url(endpoint);
        MaaVerifier {
            http,
            issuer: base.clone(),
            base,
            algorithms: vec![JwsAlgorithm::Rs256],
            leeway: Duration::from_secs(60),
            keys: Mutex::new(None),
        }
    }

    /// Uses fixed keys instead of fetching `/certs`.
    pub fn with_keys(self, keys: Jwks) -> Self {
        MaaVerifier {
            keys: Mutex::new(Some((Instant::now(), keys))),
            ..self
        }
    }

    /// Clock skew tolerated on `exp` and `nbf`.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Fetches the signing keys now.
    pub async fn refresh_keys(&self) -> Result<()> {
        let jwks = self.fetch_keys().await?;
        *self.keys.lock().await = Some((Instant::now(), jwks));
        Ok(())
    }

    async fn fetch_keys(&self) -> Result<Jwks> {
        let req = Request::new(Service::Maa, Method::GET, format!("{}/certs", self.base));
        let resp = self.http.send(req).await?;
        Jwks::parse(&resp.body)
    }

    /// Verifies signature, issuer and validity period; returns the claims.
    pub async fn verify(&self, token: &str) -> Result<MaaClaims> {
        let reject = |d: JoseError| Error::rejected(Service::Maa, "MAA token", d);
        let compact = Compact::parse(token).map_err(reject)?;
        let alg = compact.algorithm(&self.algorithms).map_err(reject)?;
        {
            let mut keys = self.keys.lock().await;
            let result = match keys.as_ref() {
                Some((_, jwks)) => jwks.verify(&compact, alg),
                None => Err(JoseError::NoKeys),
            };
            if let Err(first) = result {
                let stale = keys
                    .as_ref()
                    .is_none_or(|(at, _)| at.elapsed() >= MIN_REFETCH);
                if !stale {
                    return Err(reject(first));
                }
                let jwks = self.fetch_keys().await?;
                let again = jwks.verify(&compact, alg);
                *keys = Some((Instant::now(), jwks));
                again.map_err(reject)?;
            }
        }
        let claims = compact.payload_json().map_err(reject)?;
        self.check_claims(claims)
    }

    fn check_claims(&self, all: Map<String, Value>) -> Result<MaaClaims> {
        let reject = |d: String| Error::rejected(Service::Maa, "MAA token claims", d);
        let issuer = all
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| reject("no iss".into()))?
            .to_string();
        if issuer.trim_end_matches('/') != self.issuer {
            return Err(reject(format!(
                "issuer {issuer:?} is not {:?}",
                self.issuer
            )));
        }
        let now = SystemTime::now();
        let time = |name: &str| {
            all.get(name)
                .and_then(Value::as_u64)
                .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        };
        let exp = time("exp").ok_or_else(|| reject("no exp".into()))?;
        if exp + self.leeway < now {
            return Err(reject(format!(
                "expired {}s ago",
                now.duration_since(exp).unwrap_or_default().as_secs()
            )));
        }
        if let Some(nbf) = time("nbf")
            && nbf > now + self.leeway
        {
            return Err(reject("not valid yet (nbf in the future)".into()));
        }
        let hex_claim = |name: &str| -> Result<Option<Vec<u8>>> {
            match all.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => decode_hex(s)
                    .map(Some)
                    .ok_or_else(|| reject(format!("{name} is not hex"))),
                Some(_) => Err(reject(format!("{name} is not a string"))),
            }
        };
        Ok(MaaClaims {
            issuer,
            expires_at: exp,
            runtime: all.get("x-ms-runtime").cloned(),
            host_data: hex_claim("x-ms-sevsnpvm-hostdata")?,
            report_data: hex_claim("x-ms-sevsnpvm-reportdata")?,
            all,
        })
    }

    /// [`MaaVerifier::verify`] and then the expectations.
    pub async fn verify_expecting(
        &self,
        token: &str,
        expect: &MaaExpectations,
    ) -> Result<MaaClaims> {
        let claims = self.verify(token).await?;
        check_expectations(&claims, expect)?;
        Ok(claims)
    }
}

/// Compares claims with what the relying party expects.
pub fn check_expectations(claims: &MaaClaims, expect: &MaaExpectations) -> Result<()> {
    let reject = |d: String| Error::rejected(Service::Maa, "MAA token claims", d);
    if let Some(rd) = &expect.runtime_data {
        let want: Value = serde_json::from_slice(rd)
            .map_err(|e| Error::Config(format!("expected runtime data is not JSON: {e}")))?;
        match &claims.runtime {
            Some(got) if *got == want => {}
            Some(_) => {
                return Err(reject(
                    "x-ms-runtime differs from the runtime data sent".into(),
                ));
            }
            None => return Err(reject("no x-ms-runtime claim".into())),
        }
    }
    let cmp = |name: &str, got: &Option<Vec<u8>>, want: &Option<Vec<u8>>| match (got, want) {
        (_, None) => Ok(()),
        (Some(g), Some(w)) if g == w => Ok(()),
        (Some(g), Some(w)) => Err(reject(format!(
            "{name} is {} , expected {}",
            Hex(g),
            Hex(w)
        ))),
        (None, Some(_)) => Err(reject(format!("no {name} claim"))),
    };
    cmp(
        "x-ms-sevsnpvm-hostdata",
        &claims.host_data,
        &expect.host_data,
    )?;
    cmp(
        "x-ms-sevsnpvm-reportdata",
        &claims.report_data,
        &expect.report_data,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_parsing() {
        assert!(Jwks::parse(b"{}").is_err());
        assert!(Jwks::parse(br#"{"keys":[]}"#).is_err());
        assert!(Jwks::parse(br#"{"keys":[{"kty":"RSA","kid":"a"}]}"#).is_err());
        let k = Jwks::parse(
            br#"{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"},{"kty":"EC"}]}"#,
        )
        .unwrap();
        assert_eq!(k.len(), 1);
    }
}
