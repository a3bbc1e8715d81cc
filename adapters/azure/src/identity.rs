//! Access tokens: IMDS managed identity (system- or user-assigned) and workload identity
//! federation (the AKS environment variables), cached and refreshed before they expire.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use http::Method;
use http::header::{AUTHORIZATION, HeaderName};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::error::{Error, Result, Service};
use crate::http::{HttpClient, Request};
use crate::secret::SecretString;
use crate::url::{form_encode, query_escape};

/// The IMDS base URL on Azure.
pub const IMDS_BASE: &str = "http://169.254.169.254";
/// The Entra ID authority host used when `AZURE_AUTHORITY_HOST` is not set.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// Key Vault's token resource.
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";
/// Managed HSM's token resource.
pub const MANAGED_HSM_RESOURCE: &str = "https://managedhsm.azure.net";

/// The token resource for a Key Vault or managed HSM endpoint, chosen as upstream does.
pub fn key_vault_resource(endpoint: &str) -> &'static str {
    if endpoint.contains("managedhsm") {
        MANAGED_HSM_RESOURCE
    } else {
        VAULT_RESOURCE
    }
}

/// An access token and when it stops being valid.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The bearer token.
    pub token: SecretString,
    /// Expiry as the service stated it.
    pub expires_at: SystemTime,
    /// When the cache fetches a new one (before expiry).
    pub refresh_at: SystemTime,
}

impl AccessToken {
    fn new(token: String, lifetime: Duration, margin: Duration) -> Self {
        let now = SystemTime::now();
        let early = lifetime.saturating_sub(margin).max(lifetime / 2);
        AccessToken {
            token: SecretString::new(token),
            expires_at: now + lifetime,
            refresh_at: now + early,
        }
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token.expose())
    }
}

/// Where tokens come from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credential {
    /// IMDS managed identity.
    ManagedIdentity {
        /// IMDS base URL (`http://169.254.169.254` on Azure; the emulator's URL in tests).
        base_url: String,
        /// A user-assigned identity's client id; `None` for the system-assigned identity.
        client_id: Option<String>,
    },
    /// Workload identity federation: a federated token file exchanged at Entra ID with the
    /// AAD v2 client-credentials grant.
    WorkloadIdentity {
        /// Authority host (`https://login.microsoftonline.com`, or the emulator's URL).
        authority_host: String,
        /// Tenant id.
        tenant_id: String,
        /// Application (client) id.
        client_id: String,
        /// The projected service account token, re-read for every exchange.
        token_file: PathBuf,
    },
    /// A fixed token given by the caller (upstream's `bearer_token` key blob field).
    Static(SecretString),
}

impl Credential {
    /// The system-assigned (or, with `client_id`, user-assigned) managed identity at IMDS.
    pub fn managed_identity(client_id: Option<String>) -> Self {
        Credential::ManagedIdentity {
            base_url: IMDS_BASE.to_string(),
            client_id: client_id.filter(|c| !c.is_empty()),
        }
    }

    /// Workload identity from `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
    /// `AZURE_FEDERATED_TOKEN_FILE` (all three non-empty) and optionally
    /// `AZURE_AUTHORITY_HOST`. `None` when it is not configured.
    pub fn workload_identity_from_env() -> Option<Self> {
        Self::workload_identity_from(|k| std::env::var(k).ok())
    }

    /// Like [`Credential::workload_identity_from_env`] with a custom variable lookup.
    pub fn workload_identity_from(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let client_id = var("AZURE_CLIENT_ID")?;
        let tenant_id = var("AZURE_TENANT_ID")?;
        let token_file = var("AZURE_FEDERATED_TOKEN_FILE")?;
        let authority_host =
            var("AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.to_string());
        Some(Credential::WorkloadIdentity {
            authority_host,
            tenant_id,
            client_id,
            token_file: PathBuf::from(token_file),
        })
    }

    /// Workload identity if the environment configures it, else the managed identity: the
    /// precedence upstream uses.
    pub fn from_env_or_managed_identity(client_id: Option<String>) -> Self {
        Self::workload_identity_from_env().unwrap_or_else(|| Self::managed_identity(client_id))
    }
}

/// Fetches tokens for resources and caches them until shortly before they expire.
#[derive(Debug)]
pub struct TokenProvider {
    http: HttpClient,
    credential: Credential,
    margin: Duration,
    cache: Mutex<HashMap<String, AccessToken>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenProvider {
    /// A provider that refreshes tokens 5 minutes before expiry (or at half their lifetime
    /// for short-lived tokens).
    pub fn new(http: HttpClient, credential: Credential) -> Self {
        TokenProvider {
            http,
            credential,
            margin: Duration::from_secs(300),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how long before expiry a token is refreshed.
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The credential.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// A token for `resource` (e.g. `https://vault.azure.net`), from the cache if still fresh.
    /// Concurrent callers wait for one fetch.
    pub async fn token(&self, resource: &str) -> Result<AccessToken> {
        if let Credential::Static(t) = &self.credential {
            return Ok(static_token(t));
        }
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.get(resource)
            && SystemTime::now() < t.refresh_at
        {
            return Ok(t.clone());
        }
        let fresh = self.fetch(resource).await?;
        cache.insert(resource.to_string(), fresh.clone());
        Ok(fresh)
    }

    async fn fetch(&self, resource: &str) -> Result<AccessToken> {
        let (service, resp) = match &self.credential {
            Credential::ManagedIdentity {
                base_url,
                client_id,
            } => {
                let mut url = format!(
                    "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
                    base_url.trim_end_matches('/'),
                    query_escape(resource)
                );
                if let Some(id) = client_id {
                    url.push_str("&client_id=");
                    url.push_str(&query_escape(id));
                }
                let req = Request::new(Service::Imds, Method::GET, url)
                    .header(HeaderName::from_static("metadata"), "true")?;
                (Service::Imds, self.http.send(req).await?)
            }
            Credential::WorkloadIdentity {
                authority_host,
                tenant_id,
                client_id,
                token_file,
            } => {
                let assertion = tokio::fs::read_to_string(token_file)
                    .await
                    .map_err(|source| Error::Io {
                        what: "federated token file",
                        path: token_file.display().to_string(),
                        source,
                    })?;
                let assertion = SecretString::new(assertion.trim().to_string());
                let scope = format!("{}/.default", resource.trim_end_matches('/'));
                let body = form_encode(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("scope", &scope),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.expose()),
                ]);
                let url = format!(
                    "{}/{}/oauth2/v2.0/token",
                    authority_host.trim_end_matches('/'),
                    query_escape(tenant_id)
                );
                let req = Request::new(Service::Aad, Method::POST, url)
                    .body("application/x-www-form-urlencoded", body);
                (Service::Aad, self.http.send(req).await?)
            }
            Credential::Static(t) => return Ok(static_token(t)),
        };
        let parsed: TokenResponse = serde_json::from_slice(&resp.body)
            .map_err(|e| Error::malformed(service, "token response", e))?;
        if parsed.access_token.is_empty() {
            return Err(Error::malformed(
                service,
                "token response",
                "empty access_token",
            ));
        }
        let lifetime = match parsed.expires_in {
            Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            _ => None,
        }
        .ok_or_else(|| Error::malformed(service, "token response", "missing or bad expires_in"))?;
        Ok(AccessToken::new(
            parsed.access_token,
            Duration::from_secs(lifetime),
            self.margin,
        ))
    }

    /// A request with `Authorization: Bearer` for `resource` added.
    pub async fn authorize(&self, req: Request, resource: &str) -> Result<Request> {
        let token = self.token(resource).await?;
        req.secret_header(AUTHORIZATION, &token.bearer())
    }
}

/// A caller-given token: its expiry is unknown, so it is treated as always fresh.
fn static_token(t: &SecretString) -> AccessToken {
    let far = SystemTime::now() + Duration::from_secs(3600);
    AccessToken {
        token: t.clone(),
        expires_at: far,
        refresh_at: far,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_identity_needs_all_three_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(
            Credential::workload_identity_from(env(&[
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_TENANT_ID", "t"),
            ]))
            .is_none()
        );
        assert!(
            Credential::workload_identity_from(env(&[
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_TENANT_ID", ""),
                ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ]))
            .is_none()
        );
        let Some(Credential::WorkloadIdentity { authority_host, .. }) =
            Credential::workload_identity_from(env(&[
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/f"),
            ]))
        else {
            panic!("expected workload identity");
        };
        assert_eq!(authority_host, DEFAULT_AUTHORITY_HOST);
    }

    #[test]
    fn refresh_comes_before_expiry() {
        let t = AccessToken::new(
            "x".into(),
            Duration::from_secs(3600),
            Duration::from_secs(300),
        );
        assert_eq!(
            t.expires_at.duration_since(t.refresh_at).unwrap(),
            Duration::from_secs(300)
        );
        let short = AccessToken::new(
            "x".into(),
            Duration::from_secs(10),
            Duration::from_secs(300),
        );
        assert_eq!(
            short.expires_at.duration_since(short.refresh_at).unwrap(),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn vault_resource_follows_the_endpoint() {
        assert_eq!(
            key_vault_resource("x.managedhsm.azure.net"),
            MANAGED_HSM_RESOURCE
        );
        assert_eq!(key_vault_resource("x.vault.azure.net"), VAULT_RESOURCE);
    }
}
