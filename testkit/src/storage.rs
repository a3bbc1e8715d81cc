//! Blob storage for blocking tests and benches: the emulators (TLS CA, managed-identity
//! tokens), Azurite with a certificate from their CA, a client trusting only that CA, bearer
//! tokens from the emulated IMDS, and container [`CONTAINER`] created.

use std::path::Path;
use std::sync::Arc;

use csc_azure::blob::{BlobAuth, BlobClient};
use csc_azure::http::{HttpClient, HttpConfig};
use csc_azure::identity::{Credential, TokenProvider};
use csc_emulate::{Emulator, EmulatorConfig, UncheckedSignaturePlaceholder};

use crate::azurite::{Azurite, STORAGE};

/// The container [`Storage::start`] creates.
pub const CONTAINER: &str = "images";
/// Upload chunk (the largest Put Page).
const PUT: usize = 4 << 20;

/// Running emulators and Azurite, with a runtime to drive the async client from plain code.
#[derive(Debug)]
pub struct Storage {
    /// Drives the client (and serves the emulators).
    pub rt: tokio::runtime::Runtime,
    /// The emulated IMDS (tokens) and the CA every certificate comes from.
    pub emu: Emulator,
    /// The blob service.
    pub az: Azurite,
    /// Trusts only the emulators' CA.
    pub http: HttpClient,
    /// Managed-identity tokens from the emulated IMDS.
    pub tokens: Arc<TokenProvider>,
}

impl Storage {
    /// Starts everything on loopback.
    pub fn start() -> Storage {
        Self::start_for(&[])
    }

    /// As [`Storage::start`], Azurite's certificate also valid for `names` (e.g. the address a
    /// VM reaches the host by).
    pub fn start_for(names: &[&str]) -> Storage {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emu = rt.block_on(async {
            csc_emulate::start(EmulatorConfig::new(Arc::new(
                UncheckedSignaturePlaceholder {
                    compliance_status: None,
                },
            )))
            .await
            .unwrap()
        });
        let az = Azurite::start_for(&emu, names);
        let http = {
            let _in = rt.enter();
            HttpClient::new(HttpConfig {
                system_roots: false,
                extra_roots: vec![emu.ca_der()],
                ..HttpConfig::default()
            })
            .unwrap()
        };
        let tokens = Arc::new(TokenProvider::new(
            http.clone(),
            Credential::ManagedIdentity {
                base_url: emu.endpoints().imds.clone(),
                client_id: None,
            },
        ));
        let s = Storage {
            rt,
            emu,
            az,
            http,
            tokens,
        };
        s.rt.block_on(s.az.create_container(&s.http, &s.tokens, CONTAINER, false));
        s
    }

    /// Bearer-token access with the emulated IMDS's tokens.
    pub fn bearer(&self) -> BlobAuth {
        BlobAuth::Bearer {
            tokens: self.tokens.clone(),
            resource: STORAGE.into(),
        }
    }

    /// Blob `name` of [`CONTAINER`], straight to Azurite, without credentials.
    pub fn blob_url(&self, name: &str) -> String {
        format!("{}/{CONTAINER}/{name}", self.az.account_url())
    }

    /// A bearer-token client of the blob at `url`.
    pub fn client_at(&self, url: &str) -> BlobClient {
        BlobClient::new(self.http.clone(), url, self.bearer()).unwrap()
    }

    /// A bearer-token client of blob `name` (see [`Storage::blob_url`]).
    pub fn client(&self, name: &str) -> BlobClient {
        self.client_at(&self.blob_url(name))
    }

    /// Uploads `file` as page blob `name` (all-zero chunks are left unwritten: a page blob
    /// reads them as zeros).
    pub fn upload(&self, name: &str, file: &Path) {
        let data = std::fs::read(file).unwrap();
        let c = self.client(name);
        self.rt.block_on(async {
            c.create_page_blob(data.len() as u64, false).await.unwrap();
            for (i, chunk) in data.chunks(PUT).enumerate() {
                if chunk.iter().any(|b| *b != 0) {
                    c.write_pages((i * PUT) as u64, chunk, None).await.unwrap();
                }
            }
        });
    }

    /// Writes the whole of blob `name` to `to`.
    pub fn download(&self, name: &str, to: &Path) {
        let c = self.client(name);
        let data = self.rt.block_on(async {
            let size = c.properties().await.unwrap().size;
            c.read_range(0, size).await.unwrap()
        });
        std::fs::write(to, &data).unwrap();
    }
}
