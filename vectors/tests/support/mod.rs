//! Helpers shared by the certificate and verification vector tests.
#![allow(dead_code)]

use csc_core::cert::Time;
use csc_core::verify::{CoreCrypto, Crypto};
use csc_crypto::verify::AwsLcCrypto;
use csc_vectors::read;
use serde_json::Value;

/// Both backends, named: every vector runs against each.
pub fn backends() -> Vec<(&'static str, Box<dyn Crypto>)> {
    vec![
        ("core", Box::new(CoreCrypto)),
        ("aws-lc", Box::new(AwsLcCrypto::new())),
    ]
}

/// 2026-06-01 00:00:00 UTC: inside the validity of every AMD certificate in the vectors (the
/// Turin VCEK starts 2026-02-05, the Azure VCEK ends 2029-11-29).
pub const NOW: Time = Time(1_780_272_000);

/// Reads `{"file", "index"}`: a DER file, or the n-th CERTIFICATE of a PEM file decoded with
/// the core's PEM reader (and cross-checked against the test crate's own decoder).
pub fn cert_der(r: &Value) -> Vec<u8> {
    let file = r["file"].as_str().unwrap();
    let bytes = read(file);
    if file.ends_with(".der") {
        return bytes;
    }
    let index = r["index"].as_u64().unwrap_or(0) as usize;
    let block = csc_core::pem::blocks(&bytes)
        .map(|b| b.unwrap())
        .filter(|b| b.is("CERTIFICATE"))
        .nth(index)
        .unwrap_or_else(|| panic!("{file}: no certificate #{index}"));
    let mut out = vec![0u8; block.decoded_len_max()];
    let der = block.decode_into(&mut out).unwrap().to_vec();
    assert_eq!(
        der,
        csc_vectors::read_cert(r),
        "{file}#{index}: PEM decoders disagree"
    );
    der
}

/// The product named by a root certificate's common name (`ARK-Milan`).
pub fn product_of_root(der: &[u8]) -> csc_core::Product {
    let c = csc_core::cert::Certificate::from_der(der).unwrap();
    let cn = c.subject().common_name().unwrap();
    csc_core::Product::from_name(cn.trim_start_matches("ARK-")).unwrap()
}
