//! The header stripper against a small TLS server that answers each request with the head
//! it received: the dropped header is gone, everything else (other headers, bodies, several
//! requests on one connection) arrives intact and over TLS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use csc_testkit::{HeaderStripper, StripConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A TLS server for 127.0.0.1 that answers every request with `<head>` + `|` + `<body>`.
fn echo_server() -> (SocketAddr, CertificateDer<'static>) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if tls.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    tls.read_exact(&mut body).unwrap();
                    let mut answer = head.into_bytes();
                    answer.push(b'|');
                    answer.extend_from_slice(&body);
                    let out = tls.get_mut();
                    write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                        answer.len()
                    )
                    .unwrap();
                    out.write_all(&answer).unwrap();
                    out.flush().unwrap();
                }
            });
        }
    });
    (addr, cert)
}

fn response(r: &mut BufReader<TcpStream>) -> Vec<u8> {
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    body
}

#[test]
fn dropped_headers_vanish_and_everything_else_arrives() {
    let (target, cert) = echo_server();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let stripper = HeaderStripper::start(StripConfig {
        target,
        tls: Arc::new(tls),
        server_name: "127.0.0.1".into(),
        drop_headers: vec!["X-Ms-Encryption-Algorithm".into()],
    })
    .unwrap();
    let conn = TcpStream::connect(stripper.addr()).unwrap();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    // A large body sent in pieces, then a second request on the same connection.
    write!(
        w,
        "PUT /c/b?comp=page HTTP/1.1\r\nHost: h\r\nx-ms-encryption-algorithm: AES256\r\nx-ms-range: bytes=0-299999\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    for piece in body.chunks(70_000) {
        w.write_all(piece).unwrap();
        w.flush().unwrap();
    }
    let got = response(&mut r);
    let split = got.iter().position(|b| *b == b'|').unwrap();
    let head = String::from_utf8_lossy(&got[..split]).to_string();
    assert!(!head.to_ascii_lowercase().contains("encryption"), "{head}");
    assert!(head.contains("x-ms-range: bytes=0-299999\r\n"), "{head}");
    assert!(
        head.starts_with("PUT /c/b?comp=page HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(got[split + 1..] == body[..], "body changed");

    write!(
        w,
        "GET /c/b HTTP/1.1\r\nHost: h\r\nX-MS-ENCRYPTION-ALGORITHM: AES256\r\n\r\n"
    )
    .unwrap();
    let got = response(&mut r);
    let head = String::from_utf8_lossy(&got).to_string();
    assert_eq!(head, "GET /c/b HTTP/1.1\r\nHost: h\r\n\r\n|");
}
