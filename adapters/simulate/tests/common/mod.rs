//! Helpers shared by the integration tests: a key cache kept under the target directory (so keys
//! are made once per checkout), PEM and DER walking, and the openssl CLI.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use csc_core::Product;
use csc_core::der::{Tlv, read_single, tag};
use csc_simulate::KeyCache;

/// Every product and report version the simulated platform makes.
pub const EVERY: [(Product, u32); 8] = [
    (Product::Milan, 2),
    (Product::Milan, 3),
    (Product::Milan, 5),
    (Product::Genoa, 2),
    (Product::Genoa, 3),
    (Product::Genoa, 5),
    (Product::Turin, 3),
    (Product::Turin, 5),
];

/// The key cache all tests share.
pub fn cache() -> KeyCache {
    csc_testkit::key_cache()
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    csc_testkit::scratch(&format!("csc-simulate-{name}"))
}

/// A file of the shared vectors.
pub fn vector(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/data")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The DER of the first certificate in a PEM file, or the bytes themselves if already DER.
pub fn der_of(bytes: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// The fields of a certificate this crate must reproduce in AMD's shape.
#[derive(Debug)]
pub struct Shape {
    /// The signature AlgorithmIdentifier inside TBS, raw.
    pub tbs_alg: Vec<u8>,
    /// The outer signature AlgorithmIdentifier, raw.
    pub alg: Vec<u8>,
    /// Version, serial present.
    pub version: u64,
    /// Issuer: (attribute OID raw, string tag, value).
    pub issuer: Vec<(Vec<u8>, u8, String)>,
    /// Subject.
    pub subject: Vec<(Vec<u8>, u8, String)>,
    /// Validity time tags.
    pub time_tags: (u8, u8),
    /// SPKI AlgorithmIdentifier, raw.
    pub spki_alg: Vec<u8>,
    /// Public key bits length.
    pub key_bits_len: usize,
    /// Extensions: (OID raw, critical, value).
    pub extensions: Vec<(Vec<u8>, bool, Vec<u8>)>,
    /// Signature length.
    pub sig_len: usize,
}

fn name(t: Tlv<'_>) -> Vec<(Vec<u8>, u8, String)> {
    let mut out = Vec::new();
    let mut r = t.contents();
    while !r.is_empty() {
        let set = r.read(tag::SET).unwrap();
        let mut s = set.contents();
        let atv = s.read(tag::SEQUENCE).unwrap();
        let mut a = atv.contents();
        let oid = a.read(tag::OID).unwrap();
        let v = a.read_any().unwrap();
        out.push((
            oid.raw.to_vec(),
            v.tag,
            String::from_utf8(v.value.to_vec()).unwrap(),
        ));
    }
    out
}

/// Walks a certificate.
pub fn shape(der: &[u8]) -> Shape {
    let mut cert = read_single(der, tag::SEQUENCE).unwrap().contents();
    let tbs = cert.read(tag::SEQUENCE).unwrap();
    let alg = cert.read(tag::SEQUENCE).unwrap();
    let sig = cert.read(tag::BIT_STRING).unwrap();
    cert.finish().unwrap();
    let mut t = tbs.contents();
    let version = t
        .read(tag::context(0))
        .unwrap()
        .contents()
        .read(tag::INTEGER);
    let version = version.unwrap().u64().unwrap();
    t.read(tag::INTEGER).unwrap();
    let tbs_alg = t.read(tag::SEQUENCE).unwrap();
    let issuer = name(t.read(tag::SEQUENCE).unwrap());
    let mut validity = t.read(tag::SEQUENCE).unwrap().contents();
    let time_tags = (
        validity.read_any().unwrap().tag,
        validity.read_any().unwrap().tag,
    );
    let subject = name(t.read(tag::SEQUENCE).unwrap());
    let mut spki = t.read(tag::SEQUENCE).unwrap().contents();
    let spki_alg = spki.read(tag::SEQUENCE).unwrap();
    let key_bits = spki.read(tag::BIT_STRING).unwrap();
    let mut extensions = Vec::new();
    let mut exts = t
        .read(tag::context(3))
        .unwrap()
        .contents()
        .read(tag::SEQUENCE)
        .unwrap()
        .contents();
    while !exts.is_empty() {
        let mut e = exts.read(tag::SEQUENCE).unwrap().contents();
        let oid = e.read(tag::OID).unwrap().raw.to_vec();
        let critical = e
            .read_optional(tag::BOOLEAN)
            .unwrap()
            .map(|b| b.boolean().unwrap())
            .unwrap_or(false);
        let value = e.read(tag::OCTET_STRING).unwrap().value.to_vec();
        extensions.push((oid, critical, value));
    }
    t.finish().unwrap();
    Shape {
        tbs_alg: tbs_alg.raw.to_vec(),
        alg: alg.raw.to_vec(),
        version,
        issuer,
        subject,
        time_tags,
        spki_alg: spki_alg.raw.to_vec(),
        key_bits_len: key_bits.value.len(),
        extensions,
        sig_len: sig.value.len(),
    }
}

/// The subjectPublicKey bits of a certificate (for EC: the SEC1 point).
pub fn public_key_bits(der: &[u8]) -> Vec<u8> {
    let mut cert = read_single(der, tag::SEQUENCE).unwrap().contents();
    let mut t = cert.read(tag::SEQUENCE).unwrap().contents();
    t.read(tag::context(0)).unwrap();
    for _ in 0..5 {
        t.read_any().unwrap();
    }
    let mut spki = t.read(tag::SEQUENCE).unwrap().contents();
    spki.read(tag::SEQUENCE).unwrap();
    spki.read(tag::BIT_STRING)
        .unwrap()
        .bit_string_bytes()
        .unwrap()
        .to_vec()
}

/// Runs openssl with `args`, returning (success, stdout + stderr).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is installed (ci/setup.sh installs it)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}
