//! What `main` runs: serve the HTTP API or the gRPC key provider until SIGTERM/SIGINT (against
//! the platform, or, in a build with the `sandbox` feature, against the in-process sandbox with
//! `-simulate`), and wrap mode. `skr demo` is in [`crate::simulate`].

use std::sync::Arc;

use csc_azure::certs::{CertSource, ThimCerts};
use csc_release::{ReleaseConfig, Trust, UvmInfo};

use crate::api::body::decode_base64;
use crate::config::{CertCache, Config, ServerType, WrapMode};
use crate::grpc::{keys, protocol};
use crate::service::ReleaseService;
use crate::uvm;

/// A fatal start-up error, with what to check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunError(pub String);

pub(crate) fn fail(what: &str, e: impl std::fmt::Display) -> RunError {
    RunError(format!("{what}: {e}"))
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM ({e}); stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}

/// Upstream's `certcache` as a certificate source (its `endpoint` honoured for every type).
pub fn cert_source(c: &CertCache) -> Result<CertSource, RunError> {
    CertSource::from_certcache(
        &c.endpoint_type,
        &c.endpoint,
        &c.tee_type,
        &c.api_version,
        &c.client_id,
    )
    .map_err(RunError)
}

/// The decoded security context.
pub fn uvm_info(loaded: &uvm::UvmInformation) -> Result<UvmInfo, RunError> {
    let policy = decode_base64("security policy", &loaded.encoded_security_policy)
        .map_err(|e| fail("security-policy-base64", e))?;
    let reference_info = decode_base64("UVM reference info", &loaded.encoded_uvm_reference_info)
        .map_err(|e| fail("reference-info-base64", e))?;
    let host_certs = if loaded.encoded_host_certs.is_empty() {
        None
    } else {
        let json = decode_base64("host AMD certificates", &loaded.encoded_host_certs)
            .map_err(|e| fail("host-amd-cert-base64", e))?;
        Some(ThimCerts::from_json(&json).map_err(|e| fail("host-amd-cert-base64", e))?)
    };
    Ok(UvmInfo {
        security_policy: policy,
        reference_info,
        reference_info_base64: loaded.encoded_uvm_reference_info.clone(),
        host_certs,
    })
}

/// The security context as the platform gives it (logged notes for missing files).
pub fn load_uvm() -> Result<UvmInfo, RunError> {
    let loaded = uvm::load(|k| std::env::var(k).ok(), std::path::Path::new("/"));
    for note in &loaded.notes {
        tracing::info!("security context: {note}");
    }
    uvm_info(&loaded.info)
}

/// The release configuration for the real platform: certificates from `certcache`, the
/// security context, tokens from workload identity or the managed identity (at `-imds` if
/// given), the system's roots plus `-cafile`, reports checked against AMD's roots (or the ARK
/// of `-trust-ark`).
pub fn platform_config(config: &Config) -> Result<ReleaseConfig, RunError> {
    let client_id = Some(config.azure.identity.client_id.clone()).filter(|c| !c.is_empty());
    let user_agent = Some(config.azure.maaconfig.user_agent.clone()).filter(|u| !u.is_empty());
    let credential = match &config.imds {
        Some(base) if csc_azure::identity::Credential::workload_identity_from_env().is_none() => {
            csc_azure::identity::Credential::ManagedIdentity {
                base_url: base.trim_end_matches('/').to_string(),
                client_id,
            }
        }
        _ => csc_azure::identity::Credential::from_env_or_managed_identity(client_id),
    };
    let mut http = csc_azure::http::HttpConfig::default();
    if let Some(ca) = &config.ca_file {
        http = http
            .with_ca_file(std::path::Path::new(ca))
            .map_err(|e| fail("-cafile", e))?;
    }
    let trust = match &config.trust_ark {
        None => Trust::Amd,
        Some(path) => {
            let t = Trust::from_ark_file(std::path::Path::new(path))
                .map_err(|e| fail("-trust-ark", e))?;
            tracing::warn!(
                "-trust-ark: reports are checked against the ARK in {path}, not AMD's roots; use this only with a simulated guest"
            );
            t
        }
    };
    Ok(ReleaseConfig {
        cert_source: cert_source(&config.azure.certcache)?,
        uvm: load_uvm()?,
        http,
        credential,
        trust,
        maa_user_agent: user_agent,
        ..ReleaseConfig::default()
    })
}

/// Serves until SIGTERM/SIGINT.
pub async fn serve(config: Config) -> Result<(), RunError> {
    if config.exposed {
        tracing::warn!(
            "listening on {} (not loopback): anything that reaches it can obtain MAA tokens and released keys",
            config.listen
        );
    }
    // Keep the sandbox alive while serving.
    #[cfg(feature = "sandbox")]
    let mut _sandbox = None;
    #[cfg(feature = "sandbox")]
    let release_config = if config.simulate {
        let (sandbox, rc) = crate::simulate::serve_config().await?;
        _sandbox = Some(sandbox);
        rc
    } else {
        platform_config(&config)?
    };
    #[cfg(not(feature = "sandbox"))]
    let release_config = platform_config(&config)?;
    // Wrapping keys are made once the server listens, not while it starts.
    let mut release_config = release_config;
    let pool = std::mem::take(&mut release_config.key_pool);
    let (_attester, releaser) =
        csc_release::build(release_config).map_err(|e| fail("start-up", e))?;
    let service = Arc::new(ReleaseService::new(releaser));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| fail(&format!("listening on {}", config.listen), e))?;
    let addr = listener.local_addr().map_err(|e| fail("listener", e))?;
    service.set_ready();
    service.releaser().pool().set_target(pool);
    tracing::info!(
        "{} server listening on {addr}",
        match config.server_type {
            ServerType::Http => "HTTP",
            ServerType::Grpc => "gRPC",
        }
    );
    match config.server_type {
        ServerType::Http => crate::api::http::serve(listener, service, shutdown_signal())
            .await
            .map_err(|e| fail("HTTP server", e)),
        ServerType::Grpc => {
            let server = crate::grpc::server::serve(listener, service, shutdown_signal());
            // Idle HTTP/2 connections must not hold the exit back for long.
            let mut server = std::pin::pin!(server);
            tokio::select! {
                r = &mut server => r.map_err(|e| fail("gRPC server", e)),
                () = async {
                    shutdown_signal().await;
                    tokio::time::sleep(crate::api::http::DRAIN_TIMEOUT).await;
                } => Ok(()),
            }
        }
    }
}

/// Wrap mode: writes the base64 annotation for `infile` to `outfile` (0600).
pub fn wrap(w: &WrapMode) -> Result<(), RunError> {
    let data = std::fs::read(&w.infile).map_err(|e| fail(&w.infile, e))?;
    let annotation = keys::wrap_for_key_path(&w.keypath, &data).map_err(|e| fail("wrap", e))?;
    let json = serde_json::to_vec(&annotation).map_err(|e| fail("wrap", e))?;
    let text = protocol::b64_encode(&json);
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&w.outfile)
        .map_err(|e| fail(&w.outfile, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| fail(&w.outfile, e))
}
