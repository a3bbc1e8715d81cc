//! Azurite (the Azure Storage emulator, npm package `azurite`) for blob tests: found on PATH
//! or installed under the target directory with npm, started over HTTPS with a certificate
//! from the emulator's CA and OAuth enabled, stopped on drop.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use csc_azure::Service;
use csc_azure::http::{HttpClient, Request};
use csc_azure::identity::TokenProvider;
use csc_emulate::Emulator;
use http::header::HeaderName;

/// The resource bearer tokens for blob storage are asked for.
pub const STORAGE: &str = "https://storage.azure.com";

/// The well-known development account.
pub const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service.
#[derive(Debug)]
pub struct Azurite {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn binary() -> PathBuf {
    if let Some(p) = on_path("azurite-blob") {
        return p;
    }
    let prefix = crate::scratch::target_tmp().join("azurite");
    let bin = prefix.join("node_modules/.bin/azurite-blob");
    if !bin.is_file() {
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg("azurite@3")
            .status()
            .expect("npm is needed to install azurite (ci/setup.sh installs both)");
        assert!(status.success(), "npm install azurite failed");
    }
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Azurite {
    /// Starts Azurite with TLS from `emu`'s CA and OAuth (bearer tokens) enabled.
    pub fn start(emu: &Emulator) -> Azurite {
        Self::start_for(emu, &[])
    }

    /// As [`Azurite::start`], its certificate also valid for `names` (e.g. the address a VM
    /// reaches the host by).
    pub fn start_for(emu: &Emulator, names: &[&str]) -> Azurite {
        let dir = tempfile::tempdir().unwrap();
        let mut all = vec!["127.0.0.1", "localhost"];
        all.extend_from_slice(names);
        let cert = emu.issue_server_cert(&all).unwrap();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, &cert.pem).unwrap();
        std::fs::write(&key_path, &cert.key_pem).unwrap();
        let port = free_port();
        let child = Command::new(binary())
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .current_dir(dir.path())
            .arg("--cert")
            .arg(&cert_path)
            .arg("--key")
            .arg(&key_path)
            .args([
                "--oauth",
                "basic",
                "--silent",
                "--inMemoryPersistence",
                "--disableTelemetry",
            ])
            .args(
                std::env::var("AZURITE_DEBUG_LOG")
                    .map(|p| vec!["-d".to_string(), p])
                    .unwrap_or_default(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("azurite-blob starts");
        let az = Azurite {
            child,
            port,
            _dir: dir,
        };
        let t0 = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "azurite did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        az
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:<port>/devstoreaccount1`.
    pub fn account_url(&self) -> String {
        format!("https://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// An account SAS (blob service, all resource types) signed with the account key.
    pub fn account_sas(&self, permissions: &str) -> String {
        let (sv, ss, srt, se, spr) = ("2019-12-12", "b", "sco", "2099-01-01T00:00:00Z", "https");
        let to_sign = format!("{ACCOUNT}\n{permissions}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n");
        let key = base64::engine::general_purpose::STANDARD
            .decode(ACCOUNT_KEY)
            .unwrap();
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key),
            to_sign.as_bytes(),
        );
        let sig = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
        format!(
            "sv={sv}&ss={ss}&srt={srt}&sp={permissions}&se={se}&spr={spr}&sig={}",
            csc_azure::url::query_escape(&sig)
        )
    }

    /// Creates container `name` with a bearer token from `tokens`; `public` opens it to
    /// anonymous reads.
    pub async fn create_container(
        &self,
        http: &HttpClient,
        tokens: &TokenProvider,
        name: &str,
        public: bool,
    ) {
        let url = format!("{}/{name}?restype=container", self.account_url());
        let mut req = Request::new(Service::Blob, http::Method::PUT, url)
            .header(HeaderName::from_static("x-ms-version"), "2020-10-02")
            .unwrap();
        if public {
            req = req
                .header(
                    HeaderName::from_static("x-ms-blob-public-access"),
                    "container",
                )
                .unwrap();
        }
        let req = tokens.authorize(req, STORAGE).await.unwrap();
        http.send(req).await.unwrap();
    }
}
