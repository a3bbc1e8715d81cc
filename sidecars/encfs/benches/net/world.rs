//! What every system under test talks to: the emulators (TLS CA, tokens), Azurite (HTTPS,
//! in memory) and one latency proxy in front of it, shared by all runs so that every figure
//! of a latency comes from the same server through the same proxy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use csc_azure::Service;
use csc_azure::blob::{BlobAuth, BlobClient};
use csc_azure::http::{HttpClient, HttpConfig, Request};
use csc_azure::identity::{Credential, TokenProvider};
use csc_emulate::{Emulator, EmulatorConfig, UncheckedSignaturePlaceholder};
use csc_testkit::{HeaderStripper, LatencyProxy, ProxyConfig, StripConfig};
use http::header::HeaderName;

use crate::common::azurite::Azurite;

const STORAGE: &str = "https://storage.azure.com";
const CONTAINER: &str = "images";
/// Upload chunk (the largest Put Page).
const PUT: usize = 4 << 20;

pub struct World {
    pub rt: tokio::runtime::Runtime,
    /// Keeps the emulated IMDS (tokens) and the CA alive.
    _emu: Emulator,
    pub az: Azurite,
    pub proxy: LatencyProxy,
    /// azmount's way into the proxy (see csc-testkit's `strip`).
    strip: HeaderStripper,
    http: HttpClient,
    tokens: Arc<TokenProvider>,
    /// The emulators' CA (PEM), trusted by encfs (`-cafile`) and azmount (`SSL_CERT_FILE`).
    pub ca: PathBuf,
}

impl World {
    pub fn start(dir: &Path) -> World {
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
        let az = Azurite::start(&emu);
        let proxy =
            LatencyProxy::start(ProxyConfig::new(([127, 0, 0, 1], az.port()).into())).unwrap();
        let strip = HeaderStripper::start(
            StripConfig::trusting(
                proxy.addr(),
                emu.ca_der(),
                "127.0.0.1",
                &["x-ms-encryption-algorithm"],
            )
            .unwrap(),
        )
        .unwrap();
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
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, emu.ca_pem()).unwrap();
        let w = World {
            rt,
            _emu: emu,
            az,
            proxy,
            strip,
            http,
            tokens,
            ca,
        };
        w.rt.block_on(async {
            let req = Request::new(
                Service::Blob,
                http::Method::PUT,
                format!("{}/{CONTAINER}?restype=container", w.az.account_url()),
            )
            .header(HeaderName::from_static("x-ms-version"), "2020-10-02")
            .unwrap();
            let req = w.tokens.authorize(req, STORAGE).await.unwrap();
            w.http.send(req).await.unwrap();
        });
        w
    }

    fn client(&self, url: &str) -> BlobClient {
        BlobClient::new(
            self.http.clone(),
            url,
            BlobAuth::Bearer {
                tokens: self.tokens.clone(),
                resource: STORAGE.into(),
            },
        )
        .unwrap()
    }

    /// Uploads `file` as page blob `name`, straight to Azurite (all-zero chunks are left
    /// unwritten: a page blob reads them as zeros).
    pub fn upload(&self, name: &str, file: &Path) {
        let data = std::fs::read(file).unwrap();
        let c = self.client(&format!("{}/{CONTAINER}/{name}", self.az.account_url()));
        self.rt.block_on(async {
            c.create_page_blob(data.len() as u64, false).await.unwrap();
            for (i, chunk) in data.chunks(PUT).enumerate() {
                if chunk.iter().any(|b| *b != 0) {
                    c.write_pages((i * PUT) as u64, chunk, None).await.unwrap();
                }
            }
        });
    }

    /// Blob `name` through the proxy, with a SAS of `permissions`.
    pub fn url(&self, name: &str, permissions: &str) -> String {
        format!(
            "https://127.0.0.1:{}/devstoreaccount1/{CONTAINER}/{name}?{}",
            self.proxy.port(),
            self.az.account_sas(permissions)
        )
    }

    /// Blob `name` as azmount reaches it: plain HTTP to the header stripper, which forwards
    /// over TLS through the proxy (Azurite refuses the encryption header azmount's Put Page
    /// sends without a key).
    pub fn azmount_url(&self, name: &str, permissions: &str) -> String {
        format!(
            "http://127.0.0.1:{}/devstoreaccount1/{CONTAINER}/{name}?{}",
            self.strip.port(),
            self.az.account_sas(permissions)
        )
    }

    /// What Azurite serves through the proxy to `lanes` concurrent readers of `request`-byte
    /// ranges covering the first `bytes` of blob `name`, in MB/s.
    pub fn ceiling(&self, name: &str, bytes: u64, request: u64, lanes: u64) -> f64 {
        let c = Arc::new(self.client(&format!(
            "https://127.0.0.1:{}/devstoreaccount1/{CONTAINER}/{name}",
            self.proxy.port()
        )));
        let count = bytes / request;
        let t0 = Instant::now();
        self.rt.block_on(async {
            let tasks: Vec<_> = (0..lanes)
                .map(|lane| {
                    let c = c.clone();
                    tokio::spawn(async move {
                        let mut i = lane;
                        while i < count {
                            let got = c.read_range(i * request, request).await.unwrap();
                            assert_eq!(got.len() as u64, request);
                            i += lanes;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        (count * request) as f64 / 1e6 / t0.elapsed().as_secs_f64()
    }
}
