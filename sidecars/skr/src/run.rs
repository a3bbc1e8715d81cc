//! What `main` runs: serve the HTTP API or the gRPC key provider until SIGTERM/SIGINT (against
//! the platform, or against the in-process sandbox with `-simulate`), wrap mode, and
//! `skr demo`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use csc_azure::certs::{CertSource, ThimCerts};
use csc_release::sandbox::{Sandbox, SandboxKey, SandboxOptions};
use csc_release::{ReleaseConfig, UvmInfo};

use crate::api::body::decode_base64;
use crate::config::{CertCache, Config, ServerType, WrapMode};
use crate::grpc::{keys, protocol};
use crate::service::ReleaseService;
use crate::uvm;

/// A fatal start-up error, with what to check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RunError(pub String);

fn fail(what: &str, e: impl std::fmt::Display) -> RunError {
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
            log::warn!("cannot watch SIGTERM ({e}); stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    log::info!("shutting down");
}

/// Upstream's `certcache` as a certificate source.
pub fn cert_source(c: &CertCache) -> Result<CertSource, RunError> {
    let https = |e: &str| {
        if e.starts_with("https://") || e.starts_with("http://") {
            e.trim_end_matches('/').to_string()
        } else {
            format!("https://{}", e.trim_end_matches('/'))
        }
    };
    Ok(match c.endpoint_type.as_str() {
        "" | "LocalTHIM" if c.endpoint.is_empty() => CertSource::local_thim(),
        "LocalTHIM" => CertSource::LocalThim {
            url: if c.endpoint.starts_with("http") {
                c.endpoint.clone()
            } else {
                format!("http://{}", c.endpoint)
            },
        },
        "AMD" if c.endpoint.is_empty() => CertSource::amd(),
        "AMD" => CertSource::Amd {
            // Upstream's endpoint includes the `/vcek/v1` path the KDS client adds itself.
            base: https(
                c.endpoint
                    .trim_end_matches('/')
                    .trim_end_matches("/vcek/v1"),
            ),
        },
        "AzCache" => {
            let mut s = CertSource::azcache();
            if let CertSource::AzCache {
                base,
                tee_type,
                api_version,
                client_id,
            } = &mut s
            {
                if !c.endpoint.is_empty() {
                    *base = https(&c.endpoint);
                }
                if !c.tee_type.is_empty() {
                    *tee_type = c.tee_type.clone();
                }
                if !c.api_version.is_empty() {
                    *api_version = c.api_version.clone();
                }
                if !c.client_id.is_empty() {
                    *client_id = c.client_id.clone();
                }
            }
            s
        }
        "" => CertSource::local_thim(),
        other => {
            return Err(RunError(format!(
                "invalid endpoint type: {other} (certcache.endpoint_type must be AMD, AzCache or LocalTHIM)"
            )));
        }
    })
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

/// The release configuration for the real platform.
pub fn platform_config(config: &Config) -> Result<ReleaseConfig, RunError> {
    let loaded = uvm::load(|k| std::env::var(k).ok(), std::path::Path::new("/"));
    for note in &loaded.notes {
        log::info!("security context: {note}");
    }
    let client_id = Some(config.azure.identity.client_id.clone()).filter(|c| !c.is_empty());
    let user_agent = Some(config.azure.maaconfig.user_agent.clone()).filter(|u| !u.is_empty());
    Ok(ReleaseConfig {
        cert_source: cert_source(&config.azure.certcache)?,
        uvm: uvm_info(&loaded.info)?,
        credential: csc_azure::identity::Credential::from_env_or_managed_identity(client_id),
        maa_user_agent: user_agent,
        ..ReleaseConfig::default()
    })
}

/// The public half (`n`, `e`) of an RSA JWK, for clients that wrap to it.
fn public_jwk(jwk: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(jwk).unwrap_or_default();
    serde_json::json!({"kty": "RSA", "n": v["n"], "e": v["e"]})
}

/// The sandbox with one oct and one RSA key in its HSM, the keys' names and the RSA key's
/// public JWK.
pub async fn start_sandbox(
    ca_file: Option<std::path::PathBuf>,
) -> Result<(Sandbox, String, String, serde_json::Value), RunError> {
    let sandbox = Sandbox::start(SandboxOptions {
        ca_file,
        ..SandboxOptions::default()
    })
    .await
    .map_err(|e| fail("sandbox", e))?;
    sandbox.ready().await.map_err(|e| fail("sandbox", e))?;
    let oct = sandbox
        .import_key("demo-oct", SandboxKey::Oct)
        .map_err(|e| fail("sandbox key import", e))?;
    let rsa = sandbox
        .import_key("demo-rsa", SandboxKey::Rsa)
        .map_err(|e| fail("sandbox key import", e))?;
    let public = public_jwk(&rsa.expected_jwk);
    Ok((sandbox, oct.kid, rsa.kid, public))
}

fn host(url: &str) -> &str {
    url.strip_prefix("https://")
        .unwrap_or(url)
        .trim_end_matches('/')
}

/// Serves until SIGTERM/SIGINT.
pub async fn serve(config: Config) -> Result<(), RunError> {
    if config.exposed {
        log::warn!(
            "listening on {} (not loopback): anything that reaches it can obtain MAA tokens and released keys",
            config.listen
        );
    }
    // Keep the sandbox alive while serving.
    let mut _sandbox = None;
    let release_config = if config.simulate {
        let (sandbox, oct, rsa, rsa_public) = start_sandbox(None).await?;
        let e = sandbox.endpoints();
        let line = serde_json::json!({
            "simulate": true,
            "maa_endpoint": host(&e.maa),
            "akv_endpoint": host(&e.hsm),
            "keys": {"oct": oct, "rsa": rsa},
            "rsa_public_jwk": rsa_public,
        });
        // One JSON line on standard error, for scripts and tests (no secrets).
        eprintln!("{line}");
        let rc = sandbox.release_config().map_err(|e| fail("sandbox", e))?;
        _sandbox = Some(sandbox);
        rc
    } else {
        platform_config(&config)?
    };
    let (_attester, releaser) =
        csc_release::build(release_config).map_err(|e| fail("start-up", e))?;
    let service = Arc::new(ReleaseService::new(releaser));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| fail(&format!("listening on {}", config.listen), e))?;
    let addr = listener.local_addr().map_err(|e| fail("listener", e))?;
    service.set_ready();
    log::info!(
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

/// A minimal HTTP/1.1 POST over a fresh loopback connection (the demo goes through the real
/// server, not around it).
async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    body: &str,
) -> Result<(u16, String), RunError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| fail("demo client", e))?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| fail("demo client", e))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .await
        .map_err(|e| fail("demo client", e))?;
    let text = String::from_utf8_lossy(&out);
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| RunError("demo client: not an HTTP answer".into()))?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_string()))
}

/// `skr demo`: the sandbox, the real HTTP server on a loopback port, and a release of an oct
/// and an RSA key through it, with an account of each step.
pub async fn demo() -> Result<(), RunError> {
    let t0 = Instant::now();
    println!("skr demo: simulated SEV-SNP platform and Azure emulators, in this process\n");
    let (sandbox, oct, rsa, _) = start_sandbox(None).await?;
    let e = sandbox.endpoints();
    println!(
        "1. sandbox up in {:.0} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    println!("   MAA          {}", e.maa);
    println!("   managed HSM  {}", e.hsm);
    println!(
        "   HOST_DATA    {} (SHA-256 of the security policy)",
        sandbox.host_data_hex()
    );
    println!(
        "   keys         {oct} (oct-HSM), {rsa} (RSA-HSM), release policy: hostdata + not debuggable\n"
    );
    let (attester, releaser) =
        csc_release::build(sandbox.release_config().map_err(|e| fail("sandbox", e))?)
            .map_err(|e| fail("start-up", e))?;
    println!("2. platform: {}", attester.source_reason());
    let (_, timings) = attester
        .evidence_timed(b"skr demo")
        .await
        .map_err(|e| fail("evidence", e))?;
    println!(
        "   report {:.1} ms, certificates {:.1} ms, local verification {:.1} ms (signature, VCEK->ASK->ARK chain, REPORT_DATA binding)\n",
        timings.report_ms, timings.certs_ms, timings.verify_ms
    );
    let service = Arc::new(ReleaseService::new(releaser));
    service.set_ready();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail("listener", e))?;
    let addr = listener.local_addr().map_err(|e| fail("listener", e))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let svc = service.clone();
    let server = tokio::spawn(async move {
        crate::api::http::serve(listener, svc, async {
            let _ = stopped.await;
        })
        .await
    });
    println!("3. skr HTTP API on http://{addr}");
    for (n, (label, kid)) in [("oct", &oct), ("RSA", &rsa)].into_iter().enumerate() {
        // The account comes from the releaser; the JWK through the HTTP path.
        let body = serde_json::json!({
            "maa_endpoint": host(&e.maa),
            "akv_endpoint": host(&e.hsm),
            "kid": kid,
        })
        .to_string();
        let t = Instant::now();
        let (status, answer) = post(addr, "/key/release", &body).await?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "\n{}. POST /key/release {{\"kid\": \"{kid}\"}} -> {status} in {ms:.1} ms",
            4 + n
        );
        if status != 200 {
            let _ = stop.send(());
            return Err(RunError(format!(
                "release of the {label} key failed: {answer}"
            )));
        }
        let req = csc_release::KeyRequest {
            maa_endpoint: host(&e.maa).to_string(),
            akv_endpoint: host(&e.hsm).to_string(),
            kid: kid.clone(),
            access_token: None,
        };
        if let Ok((_, account)) = service.releaser().release_with_account(&req).await {
            println!(
                "   steps (a second release, timed): wrapping key {:.1} ms, report {:.1} ms, certificates {:.1} ms, verification {:.1} ms, MAA {:.1} ms, Key Vault release {:.1} ms, unwrap ({}) {:.1} ms",
                account.key_ms,
                account.attest.report_ms,
                account.attest.certs_ms,
                account.attest.verify_ms,
                account.maa_ms,
                account.release_ms,
                account.enc,
                account.unwrap_ms
            );
            if let Some(c) = &account.claims {
                println!("   MAA token claims: {c}");
            }
        }
        let key: serde_json::Value =
            serde_json::from_str(&answer).map_err(|e| fail("demo answer", e))?;
        println!(
            "   released {label} JWK (a demo key, printed on purpose): {}",
            key["key"].as_str().unwrap_or("")
        );
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    println!("\ndone in {:.0} ms", t0.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
