//! The `azure-emulator` binary: starts fast, prints its endpoints as JSON, writes its CA,
//! takes faults over its admin routes, and stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;

async fn request(ca_pem: &str, port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("localhost:{port}"))
        .header("metadata", "true")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).to_string())
}

#[tokio::test]
async fn binary_prints_endpoints_serves_and_takes_faults() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let thim = dir.path().join("thim.json");
    std::fs::write(
        &thim,
        r#"{"vcekCert":"","tcbm":"01","certificateChain":"","cacheControl":"1"}"#,
    )
    .unwrap();
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_azure-emulator"))
        .args([
            "--report-verifier",
            "unchecked-signature-placeholder",
            "--ca-file",
        ])
        .arg(&ca)
        .arg("--thim")
        .arg(&thim)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started = t0.elapsed();
    eprintln!("azure-emulator ready after {started:?}");
    assert!(started < Duration::from_secs(10), "{started:?}");
    let ep: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ep["report_verifier"], "unchecked-signature-placeholder");
    assert_eq!(ep["ca_file"], ca.display().to_string());
    let port: u16 = ep["base"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ca_pem = std::fs::read_to_string(&ca).unwrap();

    let (status, body) =
        request(&ca_pem, port, "GET", "/metadata/THIM/amd/certification", "").await;
    assert_eq!((status, body.contains("\"tcbm\":\"01\"")), (200, true));
    let (status, _) = request(
        &ca_pem,
        port,
        "POST",
        "/emulator/faults/thim",
        r#"{"fault":{"kind":"status","status":503},"times":1}"#,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) =
        request(&ca_pem, port, "GET", "/metadata/THIM/amd/certification", "").await;
    assert_eq!(status, 503, "{body}");
    let (_, counts) = request(&ca_pem, port, "GET", "/emulator/requests", "").await;
    let counts: serde_json::Value = serde_json::from_str(&counts).unwrap();
    assert_eq!(counts["thim"], 2);
    let (status, _) = request(&ca_pem, port, "GET", "/certs", "").await;
    assert_eq!(status, 200);

    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn binary_refuses_to_start_without_an_explicit_verifier() {
    let out = Command::new(env!("CARGO_BIN_EXE_azure-emulator"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--report-verifier must be given"));
}
