//! Local emulators of the Azure services the sidecars speak to: IMDS (managed identity tokens
//! and THIM), Entra ID's token endpoint (workload identity), AMD KDS and AzCache, MAA and a
//! managed HSM / Key Vault. One process serves them all on loopback over TLS from its own CA,
//! with per-service fault injection. They speak the real wire formats, so the clients under
//! test differ from production only in their endpoint URLs.
//!
//! Used by tests, benchmarks and the demo; never by production paths.
//!
//! ```no_run
//! # async fn demo() -> Result<(), csc_emulate::EmulateError> {
//! use std::sync::Arc;
//! use csc_emulate::{start, EmulatorConfig, maa::UncheckedSignaturePlaceholder};
//! let emu = start(EmulatorConfig::new(Arc::new(UncheckedSignaturePlaceholder::default()))).await?;
//! println!("{}", serde_json::to_string(emu.endpoints()).unwrap());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fault;
pub mod hsm;
pub mod http;
pub mod identity;
pub mod jwt;
pub mod kds;
pub mod maa;
pub mod pki;
mod server;
pub mod uvm;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

pub use fault::{Fault, FaultRule, Target};
pub use kds::KdsStore;
pub use maa::{CoreReportVerifier, ReportVerifier, UncheckedSignaturePlaceholder};

/// Errors of the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulateError {
    /// Generating the CA or a certificate failed.
    #[error("emulator PKI: {0}")]
    Pki(String),
    /// The configuration is unusable.
    #[error("emulator configuration: {0}")]
    Config(String),
    /// Binding the socket or writing the CA file failed.
    #[error("emulator I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// How the emulator is set up.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Where to write the CA certificate (PEM); not written when `None`.
    pub ca_file: Option<PathBuf>,
    /// Certificates the KDS (and AzCache) serve.
    pub kds: KdsStore,
    /// The THIM JSON document IMDS serves, if any.
    pub thim: Option<String>,
    /// Decides whether reports sent to MAA are genuine.
    pub report_verifier: Arc<dyn ReportVerifier>,
    /// Tenant id of the emulated Entra ID.
    pub tenant_id: String,
    /// Lifetime of identity tokens.
    pub token_lifetime: Duration,
    /// Lifetime of MAA tokens.
    pub maa_token_lifetime: Duration,
    /// The federated token the Entra ID endpoint expects as assertion (`None`: any).
    pub federated_token: Option<String>,
    /// Further host names the TLS certificate names (the services' hosts in a deployment
    /// whose name resolution maps them to this emulator).
    pub hostnames: Vec<String>,
}

impl EmulatorConfig {
    /// Defaults: any port, no CA file, empty KDS, no THIM document, tenant
    /// `00000000-0000-4000-8000-0000000000e1`, one-hour tokens. The report verifier must be
    /// chosen explicitly.
    pub fn new(report_verifier: Arc<dyn ReportVerifier>) -> Self {
        EmulatorConfig {
            port: 0,
            ca_file: None,
            kds: KdsStore::new(),
            thim: None,
            report_verifier,
            tenant_id: "00000000-0000-4000-8000-0000000000e1".into(),
            token_lifetime: Duration::from_secs(3600),
            maa_token_lifetime: Duration::from_secs(3600),
            federated_token: None,
            hostnames: Vec::new(),
        }
    }
}

/// Where each emulated service is; printed as JSON by `azure-emulator` on start.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoints {
    /// The one base URL every service is under (`https://localhost:<port>`).
    pub base: String,
    /// IMDS base URL (token path `/metadata/identity/oauth2/token`).
    pub imds: String,
    /// THIM URL.
    pub thim: String,
    /// AMD KDS base URL.
    pub kds: String,
    /// AzCache base URL.
    pub azcache: String,
    /// MAA base URL; also the issuer of its tokens and the release policy authority.
    pub maa: String,
    /// Managed HSM base URL.
    pub hsm: String,
    /// Entra ID authority host (for `AZURE_AUTHORITY_HOST`).
    pub authority: String,
    /// Tenant id.
    pub tenant_id: String,
    /// The CA certificate file, if written.
    pub ca_file: Option<String>,
    /// The report verifier in use.
    pub report_verifier: String,
}

/// Shared state of the running emulator.
#[derive(Debug)]
pub struct State {
    /// The configuration.
    pub config: EmulatorConfig,
    /// The CA and TLS certificate.
    pub pki: pki::Pki,
    /// The RSA signers, filled in by a background thread after start.
    signers: std::sync::OnceLock<Result<pki::Signers, String>>,
    /// Faults and counters.
    pub faults: fault::Faults,
    /// KDS contents (may be extended while running).
    pub kds: RwLock<KdsStore>,
    /// HSM keys.
    pub hsm: hsm::Hsm,
    /// `https://localhost:<port>`.
    pub base_url: String,
    /// The endpoints.
    pub endpoints: Endpoints,
}

impl State {
    /// The RSA signers, waiting for their generation to finish if needed.
    pub async fn signers(&self) -> Result<&pki::Signers, String> {
        loop {
            if let Some(r) = self.signers.get() {
                return r.as_ref().map_err(Clone::clone);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A running emulator; stops when dropped.
#[derive(Debug)]
pub struct Emulator {
    state: Arc<State>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

/// Starts the emulator on the current tokio runtime.
pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulateError> {
    let hostnames = config.hostnames.clone();
    let pki = tokio::task::spawn_blocking(move || pki::Pki::generate_for(&hostnames))
        .await
        .map_err(|e| EmulateError::Pki(e.to_string()))??;
    let tls = tokio_rustls::TlsAcceptor::from(Arc::new(pki.tls_config()?));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    if let Some(path) = &config.ca_file {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &pki.root_pem)?;
    }
    let base = format!("https://localhost:{}", addr.port());
    let endpoints = Endpoints {
        imds: base.clone(),
        thim: format!("{base}/metadata/THIM/amd/certification"),
        kds: base.clone(),
        azcache: base.clone(),
        maa: base.clone(),
        hsm: base.clone(),
        authority: base.clone(),
        tenant_id: config.tenant_id.clone(),
        ca_file: config.ca_file.as_ref().map(|p| p.display().to_string()),
        report_verifier: config.report_verifier.name().to_string(),
        base: base.clone(),
    };
    let state = Arc::new(State {
        kds: RwLock::new(config.kds.clone()),
        config,
        pki,
        signers: std::sync::OnceLock::new(),
        faults: fault::Faults::new(),
        hsm: hsm::Hsm::new(),
        base_url: base,
        endpoints,
    });
    let background = state.clone();
    std::thread::spawn(move || {
        let keys = background.pki.generate_signers().map_err(|e| e.to_string());
        let _ = background.signers.set(keys);
    });
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(server::serve(listener, tls, state.clone(), stop_rx));
    Ok(Emulator { state, addr, stop })
}

impl Emulator {
    /// The endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.state.endpoints
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.state.pki.root_pem
    }

    /// The CA certificate, DER (add it to a client's trusted roots).
    pub fn ca_der(&self) -> rustls_pki_types::CertificateDer<'static> {
        self.state.pki.root_der.clone()
    }

    /// Issues a TLS server certificate from the emulator's CA (e.g. for Azurite).
    pub fn issue_server_cert(&self, names: &[&str]) -> Result<pki::Issued, EmulateError> {
        self.state.pki.issue_server_cert(names)
    }

    /// Sets the fault of a service.
    pub fn set_fault(&self, target: Target, rule: FaultRule) {
        self.state.faults.set(target, rule);
    }

    /// Clears all faults.
    pub fn clear_faults(&self) {
        self.state.faults.clear_all();
    }

    /// Requests a service has seen.
    pub fn requests(&self, target: Target) -> u64 {
        self.state.faults.count(target)
    }

    /// Adds certificates to the KDS while running.
    pub fn with_kds<R>(&self, f: impl FnOnce(&mut KdsStore) -> R) -> R {
        f(&mut self.state.kds.write().unwrap_or_else(|p| p.into_inner()))
    }

    /// Imports a key into the HSM directly (JWK, release policy JSON, key_ops); returns
    /// `name/version`.
    pub fn import_key(
        &self,
        name: &str,
        jwk: &serde_json::Value,
        policy: &serde_json::Value,
        key_ops: Vec<String>,
    ) -> Result<String, String> {
        self.state.hsm.insert(name, jwk, policy, key_ops)
    }

    /// Issues an identity token for `audience` (as IMDS would).
    pub async fn issue_token(&self, audience: &str) -> Option<String> {
        let keys = self.state.signers().await.ok()?;
        identity::issue(
            &self.state,
            keys,
            audience,
            identity::SYSTEM_CLIENT_ID,
            None,
        )
        .map(|t| t.0)
    }

    /// Waits until the RSA signers exist (start-up generates them in the background).
    pub async fn ready(&self) -> Result<(), EmulateError> {
        self.state
            .signers()
            .await
            .map(|_| ())
            .map_err(EmulateError::Pki)
    }

    /// Stops serving (also done on drop).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}
