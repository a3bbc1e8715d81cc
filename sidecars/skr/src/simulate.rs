//! The simulated run (feature `sandbox`): `skr -simulate` serves the real API against the
//! simulated platform and the in-process Azure emulators, and `skr demo` walks a release through
//! them. Not in production builds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use csc_release::ReleaseConfig;
use csc_release::sandbox::{Sandbox, SandboxKey, SandboxOptions};

use crate::run::{RunError, fail, load_uvm};
use crate::service::ReleaseService;

/// The public half (`n`, `e`) of an RSA JWK, for clients that wrap to it.
fn public_jwk(jwk: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(jwk).unwrap_or_default();
    serde_json::json!({"kty": "RSA", "n": v["n"], "e": v["e"]})
}

/// The sandbox with one oct and one RSA key in its HSM, the keys' names and the RSA key's
/// public JWK.
pub async fn start_sandbox(
    ca_file: Option<std::path::PathBuf>,
    security_policy: Option<String>,
) -> Result<(Sandbox, String, String, serde_json::Value), RunError> {
    let mut options = SandboxOptions {
        ca_file,
        ..SandboxOptions::default()
    };
    if let Some(p) = security_policy {
        options.security_policy = p;
    }
    let sandbox = Sandbox::start(options)
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

/// `-simulate`: the sandbox, launched with the security policy of the security context when
/// one is given (UVM_SECURITY_POLICY, `security-policy-base64`), else the built-in one; one
/// JSON line on standard error with the endpoints and the imported keys' names.
pub async fn serve_config() -> Result<(Sandbox, ReleaseConfig), RunError> {
    let policy = load_uvm()?.security_policy;
    let policy = if policy.is_empty() {
        None
    } else {
        Some(
            String::from_utf8(policy)
                .map_err(|_| RunError("security policy: not UTF-8 text".into()))?,
        )
    };
    let (sandbox, oct, rsa, rsa_public) = start_sandbox(None, policy).await?;
    let e = sandbox.endpoints();
    let line = serde_json::json!({
        "simulate": true,
        "maa_endpoint": host(&e.maa),
        "akv_endpoint": host(&e.hsm),
        "host_data": sandbox.host_data_hex(),
        "keys": {"oct": oct, "rsa": rsa},
        "rsa_public_jwk": rsa_public,
    });
    // One JSON line on standard error, for scripts and tests (no secrets).
    eprintln!("{line}");
    let rc = sandbox.release_config().map_err(|e| fail("sandbox", e))?;
    Ok((sandbox, rc))
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
    let (sandbox, oct, rsa, _) = start_sandbox(None, None).await?;
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
