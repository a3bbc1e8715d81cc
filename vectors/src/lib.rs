//! The project's test vectors: real reports, certificates and key-wrap data copied from
//! `../shared/vectors` with their provenance (`data/MANIFEST.md`, `data/index.json`).
//!
//! This crate only locates and loads them; the checks live in `tests/`, one file per kind of
//! vector, and use the public API of the crates they test.

pub mod synth;

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;

/// The folder holding the vector files.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Maps a path of `index.json` (`shared/vectors/...`) to the file in this crate.
pub fn path(index_path: &str) -> PathBuf {
    data_dir().join(index_path.trim_start_matches("shared/vectors/"))
}

/// Reads a vector file by its index path.
pub fn read(index_path: &str) -> Vec<u8> {
    let p = path(index_path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read vector {}: {e}", p.display()))
}

/// The parsed `index.json`.
pub fn index() -> Value {
    let bytes = read("index.json");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("index.json: {e}"))
}

/// Every vector of one kind (`snp_report`, `cert_chain`, ...).
pub fn vectors_of(kind: &str) -> Vec<Value> {
    let idx = index();
    let all = idx["vectors"].as_array().cloned().unwrap_or_default();
    all.into_iter().filter(|v| v["kind"] == kind).collect()
}

/// Reads `{"file": ..., "decode": "base64"?}` references used by bindings.
pub fn read_ref(r: &Value) -> Vec<u8> {
    let bytes = read(r["file"].as_str().unwrap_or_default());
    match r["decode"].as_str() {
        Some("base64") => {
            let text: Vec<u8> = bytes
                .into_iter()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_else(|e| panic!("{r}: bad base64: {e}"))
        }
        Some(other) => panic!("unknown decode {other}"),
        None => bytes,
    }
}

/// Splits a PEM bundle into the DER of each `CERTIFICATE` block, in order.
pub fn pem_certs(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b) = body.take() {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_else(|e| panic!("bad PEM body: {e}"));
                out.push(der);
            }
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    out
}

/// The PEM text of certificates given as DER, one `CERTIFICATE` block each, in order.
pub fn pem_of(ders: &[&[u8]]) -> String {
    ders.iter()
        .map(|d| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(d);
            format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
        })
        .collect()
}

/// The managed-HSM vector's TLS chain (`csc/skr/mhsm_x5c_expired.json`, `x5c`: leaf first):
/// real certificates that are not AMD's.
pub fn mhsm_tls_chain() -> Vec<Vec<u8>> {
    let j: Value = serde_json::from_slice(&read("shared/vectors/csc/skr/mhsm_x5c_expired.json"))
        .unwrap_or_else(|e| panic!("mhsm_x5c_expired.json: {e}"));
    j["x5c"]
        .as_array()
        .unwrap_or_else(|| panic!("mhsm_x5c_expired.json: no x5c array"))
        .iter()
        .map(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(c.as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("mhsm_x5c_expired.json: bad x5c entry: {e}"))
        })
        .collect()
}

/// The last certificate of [`mhsm_tls_chain`]: a real root that is not AMD's.
pub fn mhsm_tls_root() -> Vec<u8> {
    mhsm_tls_chain()
        .pop()
        .unwrap_or_else(|| panic!("mhsm_x5c_expired.json: empty x5c"))
}

/// Reads `{"file", "index"}` certificate references: a DER file, or the n-th cert of a PEM.
pub fn read_cert(r: &Value) -> Vec<u8> {
    let file = r["file"].as_str().unwrap_or_default();
    let bytes = read(file);
    if file.ends_with(".der") {
        return bytes;
    }
    let idx = r["index"].as_u64().unwrap_or(0) as usize;
    pem_certs(&bytes)
        .into_iter()
        .nth(idx)
        .unwrap_or_else(|| panic!("{file} has no certificate #{idx}"))
}

/// Parses `"0x..."` or a JSON number into a u64.
pub fn as_u64(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap_or_else(|| panic!("not a u64: {v}")),
        Value::String(s) => {
            let s = s.trim_start_matches("0x");
            u64::from_str_radix(s, 16).unwrap_or_else(|e| panic!("{v}: {e}"))
        }
        _ => panic!("not a number: {v}"),
    }
}
