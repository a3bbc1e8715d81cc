//! End to end over HTTP: the real `skr -simulate` binary (simulated platform and Azure
//! emulators in its process) on a loopback port, driven with upstream's client shapes and with
//! malformed bodies on every route; SIGTERM ends it cleanly.

mod common;

use std::time::Duration;

use common::{Conn, Skr, b64, call};
use serde_json::{Value, json};

fn sha256(b: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b)
        .as_ref()
        .to_vec()
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn every_route_with_upstream_shapes_malformed_bodies_and_sigterm() {
    let mut skr = Skr::start(&[]);
    let addr = skr.addr;
    let mut c = Conn::open(addr);

    // GET /status
    assert_eq!(
        c.request("GET", "/status", b""),
        (200, r#"{"message":"Status OK"}"#.to_string())
    );

    // POST /attest/raw (upstream's test runtime data)
    let rd = br#"{"akey" : "avalue"}"#;
    let (s, body) = c.request(
        "POST",
        "/attest/raw",
        json!({"runtime_data": b64(rd)}).to_string().as_bytes(),
    );
    assert_eq!(s, 200, "{body}");
    let report_hex = json_of(&body)["report"].as_str().unwrap().to_string();
    assert_eq!(report_hex.len(), 2368);
    let report: Vec<u8> = (0..report_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&report_hex[i..i + 2], 16).unwrap())
        .collect();
    assert_eq!(
        &report[80..112],
        &sha256(rd)[..],
        "REPORT_DATA = SHA-256(runtime data)"
    );
    assert!(report[112..144].iter().all(|b| *b == 0));

    // POST /attest/combined
    let (s, body) = c.request(
        "POST",
        "/attest/combined",
        json!({"runtime_data": b64(rd)}).to_string().as_bytes(),
    );
    assert_eq!(s, 200, "{body}");
    let v = json_of(&body);
    for k in [
        "endorsed_tcb",
        "endorsements",
        "evidence",
        "uvm_endorsements",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {body}");
    }
    assert_eq!(v["endorsed_tcb"].as_str().unwrap().len(), 16);
    let chain = common_decode(v["endorsements"].as_str().unwrap());
    assert_eq!(
        String::from_utf8_lossy(&chain)
            .matches("BEGIN CERTIFICATE")
            .count(),
        3
    );
    assert_eq!(common_decode(v["evidence"].as_str().unwrap()).len(), 1184);

    // POST /attest/maa
    let (s, body) = c.request(
        "POST",
        "/attest/maa",
        json!({"maa_endpoint": skr.maa(), "runtime_data": b64(br#"{"keys":[]}"#)})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        json_of(&body)["token"].as_str().unwrap().split('.').count(),
        3
    );

    // POST /key/release: oct and RSA keys; `key` is a JSON string as upstream.
    for (which, kty, member) in [("oct", "oct", "k"), ("rsa", "RSA", "d")] {
        let (s, body) = c.request(
            "POST",
            "/key/release",
            json!({"maa_endpoint": skr.maa(), "akv_endpoint": skr.akv(), "kid": skr.kid(which), "access_token": ""})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(s, 200, "{body}");
        let key = json_of(json_of(&body)["key"].as_str().unwrap());
        assert_eq!(key["kty"], kty);
        assert!(key[member].is_string(), "{which}: no {member}");
    }

    // A key that does not exist: 403 with one JSON error naming the step.
    let (s, body) = c.request(
        "POST",
        "/key/release",
        json!({"maa_endpoint": skr.maa(), "akv_endpoint": skr.akv(), "kid": "no-such-key"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(s, 403, "{body}");
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("no-such-key"),
        "{body}"
    );

    // Malformed bodies on every route: 400 (or 413) with one JSON error, never a crash.
    let big = vec![b'a'; 2 * 1024 * 1024];
    let routes = [
        "/attest/raw",
        "/attest/combined",
        "/attest/maa",
        "/key/release",
    ];
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("truncated", br#"{"runtime_data": "eyJ"#.to_vec()),
        ("not an object", b"[1,2,3]".to_vec()),
        ("wrong types", br#"{"runtime_data": 5, "maa_endpoint": [], "akv_endpoint": {}, "kid": true}"#.to_vec()),
        ("bad base64", br#"{"runtime_data": "*&^%", "maa_endpoint": "m", "akv_endpoint": "a", "kid": "k/../x"}"#.to_vec()),
        ("only unknown fields", br#"{"unknown": "x", "other": {"deep": [1]}}"#.to_vec()),
        ("invalid UTF-8", b"{\"runtime_data\": \"\xff\xfe\"}".to_vec()),
        ("deep nesting", "[".repeat(100_000).into_bytes()),
        ("oversized", big.clone()),
    ];
    for route in routes {
        for (what, body) in &bad {
            let (s, answer) = call(addr, "POST", route, body);
            assert!(s == 400 || s == 413, "{route} {what}: status {s}: {answer}");
            let v = json_of(&answer);
            assert!(
                v["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{route} {what}: {answer}"
            );
        }
    }
    // Unknown fields next to valid ones are ignored, as upstream.
    let (s, body) = c.request(
        "POST",
        "/attest/raw",
        json!({"runtime_data": b64(b"x"), "extra": {"a": 1}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(s, 200, "{body}");
    // A client that sends part of a body and stops does not hold the server.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"POST /attest/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ru")
            .unwrap();
        assert_eq!(
            call(addr, "GET", "/status", b"").0,
            200,
            "a stalled client blocks others"
        );
    }
    assert_eq!(
        call(addr, "GET", "/nope", b""),
        (404, "404 page not found".to_string())
    );
    assert_eq!(c.request("GET", "/status", b"").0, 200, "still serving");

    // SIGTERM: a clean exit.
    drop(c);
    skr.terminate();
    let status = skr
        .wait(Duration::from_secs(20))
        .expect("skr did not exit on SIGTERM");
    assert!(status.success(), "{status:?}");
}

fn common_decode(s: &str) -> Vec<u8> {
    let mut out = vec![0u8; csc_core::base64::decoded_len_max(s.len())];
    let n = csc_core::base64::decode_into(s.as_bytes(), &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn simulate_honours_the_security_policy_it_is_given() {
    // The policy of the security context is the one the simulated platform is launched with:
    // HOST_DATA is its SHA-256, and a key whose (upstream-standard) release policy names that
    // HOST_DATA is released.
    let policy = b"package policy\n\n# a test's own policy\n";
    let skr = Skr::start_with_env(&[], &[("UVM_SECURITY_POLICY", &b64(policy))]);
    let want = csc_core::hex::Hex(&sha256(policy)).to_string();
    assert_eq!(skr.sim["host_data"].as_str(), Some(want.as_str()));
    let (s, body) = call(
        skr.addr,
        "POST",
        "/key/release",
        json!({"maa_endpoint": skr.maa(), "akv_endpoint": skr.akv(), "kid": skr.kid("oct")})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(s, 200, "{body}");
}

#[test]
fn bad_configuration_exits_with_a_message() {
    let out = std::process::Command::new(common::exe())
        .args(["-port", "notaport"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-port"));
}
