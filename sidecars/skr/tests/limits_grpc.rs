//! The gRPC server under hostile clients, driving the real `skr -simulate -server_type grpc`
//! binary over loopback: silent and preface-only connections, idle connections, a request
//! message that never completes, an open-file limit of 128 with hundreds of idle connections,
//! undecodable protobuf, and the status of an MAA that cannot be reached over TLS.
//!
//! `SKR_UNDER_TEST=/path/to/skr` runs the same checks against another build.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Skr, b64, dead_tls_endpoint};
use http_body_util::BodyExt;
use serde_json::json;
use skr::grpc::pb::key_provider_service_client::KeyProviderServiceClient;
use skr::grpc::pb::{HelloRequest, KeyProviderKeyWrapProtocolInput};
use tonic::Code;
use tonic::codegen::http;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame.
const SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

async fn client(
    addr: std::net::SocketAddr,
) -> Result<KeyProviderServiceClient<tonic::transport::Channel>, tonic::transport::Error> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(3))
        .connect()
        .await?;
    Ok(KeyProviderServiceClient::new(channel))
}

/// SayHello on a new connection, all of it (handshake included) within 5 s.
async fn hello(addr: std::net::SocketAddr) -> Result<String, String> {
    let call = async {
        let mut c = client(addr).await.map_err(|e| e.to_string())?;
        c.say_hello(HelloRequest { name: "x".into() })
            .await
            .map(|r| r.into_inner().message)
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
}

/// Reads until EOF or reset; the frame types the server sent and whether it closed by `limit`.
fn frames_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    s.set_read_timeout(Some(limit)).ok();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break false;
            }
            Err(_) => break true,
        }
    };
    let mut types = Vec::new();
    let mut at = 0;
    while let Some(h) = bytes.get(at..at + 9) {
        let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
        types.push(h[3]);
        at += 9 + len;
    }
    (types, closed)
}

#[test]
fn silent_and_preface_only_connections_are_closed_after_the_handshake_time() {
    let skr = Skr::start(&["-server_type", "grpc"]);
    let start = Instant::now();
    let conns: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = TcpStream::connect(skr.addr).unwrap();
            if i % 2 == 1 {
                s.write_all(PREFACE).unwrap();
            }
            s
        })
        .collect();
    let readers: Vec<_> = conns
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || frames_until_closed(&mut s, Duration::from_secs(30)).1)
        })
        .collect();
    for (i, r) in readers.into_iter().enumerate() {
        assert!(
            r.join().unwrap(),
            "connection {i} still open after {:?}",
            start.elapsed()
        );
    }
    let took = start.elapsed();
    assert!(
        took <= Duration::from_secs(15),
        "closed only after {took:?}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(rt.block_on(hello(skr.addr)).unwrap(), "Hello x");
}

#[test]
fn idle_connections_are_wound_down_and_stalled_messages_cut_off() {
    let skr = Skr::start(&["-server_type", "grpc"]);
    let addr = skr.addr;
    let rt = tokio::runtime::Runtime::new().unwrap();

    // Handshake done, no stream: GOAWAY after the idle time, then closed.
    let mut idle: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(PREFACE).unwrap();
            s.write_all(SETTINGS).unwrap();
            s
        })
        .collect();
    let start = Instant::now();

    // A request whose message never completes: DeadlineExceeded.
    let stalled = rt.spawn(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let (tx, rx) = tokio::sync::mpsc::channel::<
            Result<http_body::Frame<Bytes>, std::convert::Infallible>,
        >(1);
        // A 5-byte gRPC prefix announcing 100 bytes, then 10 of them, then nothing.
        tx.send(Ok(http_body::Frame::data(Bytes::from_static(&[
            0, 0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
        ]))))
        .await
        .unwrap();
        let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        let req = http::Request::post(format!(
            "http://{addr}/key_provider.KeyProviderService/UnWrapKey"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .unwrap();
        let t = Instant::now();
        let resp = send.send_request(req).await.unwrap();
        let header_status = resp.headers().get("grpc-status").cloned();
        let collected = resp.into_body().collect().await.unwrap();
        let status = header_status.or_else(|| {
            collected
                .trailers()
                .and_then(|t| t.get("grpc-status").cloned())
        });
        drop(tx);
        (status.map(|s| s.to_str().unwrap().to_string()), t.elapsed())
    });

    // A real client stays usable: it reconnects after its connection was wound down.
    let mut c = rt.block_on(client(addr)).unwrap();
    assert!(
        rt.block_on(c.say_hello(HelloRequest { name: "a".into() }))
            .is_ok()
    );

    for (i, s) in idle.iter_mut().enumerate() {
        let left = Duration::from_secs(50).saturating_sub(start.elapsed());
        let (types, closed) = frames_until_closed(s, left);
        let took = start.elapsed();
        assert!(closed, "idle connection {i} still open after {took:?}");
        assert!(
            types.contains(&7),
            "idle connection {i}: no GOAWAY (frames {types:?})"
        );
        assert!(
            took >= Duration::from_secs(25) && took <= Duration::from_secs(45),
            "idle connection {i} closed after {took:?}"
        );
    }
    let (status, took) = rt.block_on(stalled).unwrap();
    assert_eq!(
        status.as_deref(),
        Some("4"),
        "stalled message: status {status:?} after {took:?}"
    );
    assert!(
        took <= Duration::from_secs(45),
        "stalled message cut off after {took:?}"
    );

    let r = rt.block_on(c.say_hello(HelloRequest { name: "b".into() }));
    assert_eq!(r.unwrap().into_inner().message, "Hello b");
}

#[test]
fn at_an_open_file_limit_of_128_idle_connections_do_not_lock_out_say_hello() {
    let skr = Skr::start_limited(&["-server_type", "grpc"], Some(128));
    let mut idle = Vec::new();
    for i in 0..400 {
        // A server that stopped accepting leaves connects hanging: do not wait for them.
        let Ok(mut s) = TcpStream::connect_timeout(&skr.addr, Duration::from_secs(1)) else {
            continue;
        };
        if i % 2 == 0 {
            let _ = s.write_all(PREFACE);
            let _ = s.write_all(SETTINGS);
        }
        idle.push(s);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cpu0 = skr.cpu_time();
    let t0 = Instant::now();
    for i in 0..5 {
        let t = Instant::now();
        let r = rt.block_on(hello(skr.addr));
        assert_eq!(
            r.as_deref(),
            Ok("Hello x"),
            "try {i} after {:?}",
            t.elapsed()
        );
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "try {i}: {:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let cpu = skr.cpu_time().saturating_sub(cpu0);
    eprintln!(
        "skr CPU {cpu:?} in {:?} with 400 idle connections at 128 open files",
        t0.elapsed()
    );
    assert!(cpu < Duration::from_secs(2), "skr used {cpu:?} of CPU");
    drop(idle);
}

async fn raw_call(addr: std::net::SocketAddr, method: &str, message: &[u8]) -> String {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(message);
    let req = http::Request::post(format!(
        "http://{addr}/key_provider.KeyProviderService/{method}"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(http_body_util::Full::new(Bytes::from(framed)))
    .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let header_status = resp.headers().get("grpc-status").cloned();
    let collected = resp.into_body().collect().await.unwrap();
    header_status
        .or_else(|| {
            collected
                .trailers()
                .and_then(|t| t.get("grpc-status").cloned())
        })
        .map(|s| s.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn undecodable_protobuf_is_invalid_argument() {
    let skr = Skr::start(&["-server_type", "grpc"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (method, message) in [
        ("SayHello", &[0xff, 0xff, 0xff][..]),
        // Field 1, length-delimited, longer than the message.
        ("UnWrapKey", &[0x0a, 0x7f, 0x01][..]),
        ("GetReport", &[0x0a][..]),
    ] {
        let status = rt.block_on(raw_call(skr.addr, method, message));
        assert_eq!(status, "3", "{method}: grpc-status {status}");
    }
    // A valid message still works through the same path.
    assert_eq!(
        rt.block_on(raw_call(skr.addr, "SayHello", &[0x0a, 0x01, b'x'])),
        "0"
    );
}

#[test]
fn an_maa_that_fails_tls_is_unavailable_not_permission_denied() {
    let skr = Skr::start(&["-server_type", "grpc"]);
    let (dead, _h) = dead_tls_endpoint();
    let annotation = b64(
        json!({"kid": skr.kid("rsa").split('/').next().unwrap(), "wrapped_data": b64(&[0; 256]), "kms_endpoint": skr.akv(), "attester_endpoint": dead})
            .to_string()
            .as_bytes(),
    );
    let input = json!({"op": "keyunwrap", "keyunwrapparams": {"dc": {"Parameters": {"attestation-agent": [b64(b"skr")]}}, "annotation": annotation}});
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt
        .block_on(async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", skr.addr))
                .unwrap()
                .connect()
                .await
                .unwrap();
            KeyProviderServiceClient::new(channel)
                .un_wrap_key(KeyProviderKeyWrapProtocolInput {
                    key_provider_key_wrap_protocol_input: input.to_string().into_bytes(),
                })
                .await
        })
        .unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert!(e.message().contains("MAA"), "{e:?}");
}
