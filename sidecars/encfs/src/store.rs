//! Opening an image: a blob (anonymous / SAS, or bearer tokens for `azure_url_private`) or a
//! local file (`file://`, for testing), always behind csc-mount's [`Counting`] wrapper so
//! that the number of remote range requests can be reported.

use std::sync::Arc;

use csc_azure::blob::{BlobAuth, BlobClient};
use csc_azure::http::HttpClient;
use csc_azure::identity::{Credential, TokenProvider};
use csc_mount::store::Counters;
use csc_mount::{BlockStore, Counting, LocalFile, StoreError};
use tokio::runtime::Handle;

use crate::blob::BlobStore;
use crate::input::{Identity, SourceSpec};

/// The token resource for every storage account (used where upstream's per-account resource
/// cannot be formed, e.g. emulators on an IP address).
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com";

/// What opening stores needs: the runtime, one HTTP client and, for private blobs, tokens.
#[derive(Debug)]
pub struct StoreContext {
    /// Runtime that runs the HTTP connections.
    pub rt: Handle,
    /// HTTP client (trusted roots, deadlines, retries).
    pub http: HttpClient,
    /// Token provider for private blobs (managed or workload identity).
    pub tokens: Arc<TokenProvider>,
}

impl StoreContext {
    /// A context whose tokens come from workload identity if the environment configures it,
    /// else from IMDS (`imds` overrides its base URL), as upstream chooses.
    pub fn new(rt: Handle, http: HttpClient, identity: &Identity, imds: Option<&str>) -> Self {
        let client_id = Some(identity.client_id.clone()).filter(|c| !c.is_empty());
        let credential = match imds {
            Some(base) => Credential::ManagedIdentity {
                base_url: base.to_string(),
                client_id,
            },
            None => Credential::from_env_or_managed_identity(client_id),
        };
        let tokens = Arc::new(TokenProvider::new(http.clone(), credential));
        Self { rt, http, tokens }
    }
}

/// An opened image.
#[derive(Debug)]
pub struct Opened {
    /// The store (counted).
    pub store: Arc<dyn BlockStore>,
    /// Its request counters.
    pub counters: Arc<Counters>,
    /// `PageBlob`, `BlockBlob` or `file`.
    pub kind: String,
}

/// The token resource for a blob URL: upstream's `https://<account host>` for Azure storage
/// hosts (`<account>.blob.<suffix>`), [`STORAGE_RESOURCE`] for anything else.
pub fn token_resource(url: &str) -> String {
    let resource = BlobClient::default_resource(url);
    let host = resource.trim_start_matches("https://");
    let is_account_host = host
        .split_once('.')
        .is_some_and(|(account, rest)| !account.is_empty() && rest.starts_with("blob."));
    if is_account_host {
        resource
    } else {
        STORAGE_RESOURCE.to_string()
    }
}

/// Opens `spec` (read-write when `writable`). Blocking: call it outside the runtime.
pub fn open(spec: &SourceSpec, writable: bool, ctx: &StoreContext) -> Result<Opened, StoreError> {
    match spec {
        SourceSpec::Local(path) => {
            let counted = Counting::new(LocalFile::open(path, writable)?);
            let counters = counted.counters();
            Ok(Opened {
                store: Arc::new(counted),
                counters,
                kind: "file".into(),
            })
        }
        SourceSpec::Blob { url, private } => {
            let auth = if *private {
                BlobAuth::Bearer {
                    tokens: ctx.tokens.clone(),
                    resource: token_resource(url),
                }
            } else {
                BlobAuth::Anonymous
            };
            let client = BlobClient::new(ctx.http.clone(), url, auth)
                .map_err(|e| StoreError::Remote(e.to_string()))?;
            let blob = BlobStore::open(client, url, ctx.rt.clone(), writable)?;
            let kind = blob.blob_type().to_string();
            let counted = Counting::new(blob);
            let counters = counted.counters();
            Ok(Opened {
                store: Arc::new(counted),
                counters,
                kind,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_resources() {
        assert_eq!(
            token_resource("https://acct.blob.core.windows.net/c/b?sv=1"),
            "https://acct.blob.core.windows.net"
        );
        assert_eq!(
            token_resource("https://acct.blob.core.chinacloudapi.cn/c/b"),
            "https://acct.blob.core.chinacloudapi.cn"
        );
        assert_eq!(
            token_resource("https://127.0.0.1:10000/devstoreaccount1/c/b"),
            STORAGE_RESOURCE
        );
        assert_eq!(
            token_resource("https://storage.example.com/c/b"),
            STORAGE_RESOURCE
        );
    }
}
