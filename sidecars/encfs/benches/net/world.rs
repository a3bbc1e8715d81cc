//! What every system under test talks to: the emulators (TLS CA, tokens), Azurite (HTTPS,
//! in memory) and one latency proxy in front of it, shared by all runs so that every figure
//! of a latency comes from the same server through the same proxy.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use csc_testkit::storage::CONTAINER;
use csc_testkit::{HeaderStripper, LatencyProxy, ProxyConfig, Storage, StripConfig};

pub struct World {
    /// Emulators (CA, tokens), Azurite and a client of it.
    pub s: Storage,
    pub proxy: LatencyProxy,
    /// azmount's way into the proxy (see csc-testkit's `strip`).
    strip: HeaderStripper,
    /// The emulators' CA (PEM), trusted by encfs (`-cafile`) and azmount (`SSL_CERT_FILE`).
    pub ca: PathBuf,
}

impl World {
    pub fn start(dir: &Path) -> World {
        let s = Storage::start();
        let proxy =
            LatencyProxy::start(ProxyConfig::new(([127, 0, 0, 1], s.az.port()).into())).unwrap();
        let strip = HeaderStripper::start(
            StripConfig::trusting(
                proxy.addr(),
                s.emu.ca_der(),
                "127.0.0.1",
                &["x-ms-encryption-algorithm"],
            )
            .unwrap(),
        )
        .unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, s.emu.ca_pem()).unwrap();
        World {
            s,
            proxy,
            strip,
            ca,
        }
    }

    /// Uploads `file` as page blob `name`, straight to Azurite.
    pub fn upload(&self, name: &str, file: &Path) {
        self.s.upload(name, file);
    }

    /// Blob `name` through the proxy, with a SAS of `permissions`.
    pub fn url(&self, name: &str, permissions: &str) -> String {
        format!(
            "https://127.0.0.1:{}/devstoreaccount1/{CONTAINER}/{name}?{}",
            self.proxy.port(),
            self.s.az.account_sas(permissions)
        )
    }

    /// Blob `name` as azmount reaches it: plain HTTP to the header stripper, which forwards
    /// over TLS through the proxy (Azurite refuses the encryption header azmount's Put Page
    /// sends without a key).
    pub fn azmount_url(&self, name: &str, permissions: &str) -> String {
        format!(
            "http://127.0.0.1:{}/devstoreaccount1/{CONTAINER}/{name}?{}",
            self.strip.port(),
            self.s.az.account_sas(permissions)
        )
    }

    /// What Azurite serves through the proxy to `lanes` concurrent readers of `request`-byte
    /// ranges covering the first `bytes` of blob `name`, in MB/s.
    pub fn ceiling(&self, name: &str, bytes: u64, request: u64, lanes: u64) -> f64 {
        let c = Arc::new(self.s.client_at(&format!(
            "https://127.0.0.1:{}/devstoreaccount1/{CONTAINER}/{name}",
            self.proxy.port()
        )));
        let count = bytes / request;
        let t0 = Instant::now();
        self.s.rt.block_on(async {
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
