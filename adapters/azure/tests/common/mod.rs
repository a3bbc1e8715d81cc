//! Shared test setup: an emulator loaded with real vectors, and clients that trust its CA.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use csc_azure::http::{HttpClient, HttpConfig, RetryPolicy};
use csc_core::report::Product;
use csc_emulate::kds::{KeyKind, pem_to_der};
use csc_emulate::{Emulator, EmulatorConfig, KdsStore, UncheckedSignaturePlaceholder, start};

/// `vectors/data/<rel>`.
pub fn vector(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/data")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The Milan chain of the production ACI report: VCEK, ASK, ARK PEM blocks.
pub fn milan_pem() -> String {
    String::from_utf8(vector("csc/uvm_host_amd_certificate.pem")).unwrap()
}

/// Splits a PEM bundle into its blocks.
pub fn pem_blocks(pem: &str) -> Vec<String> {
    pem.split_inclusive("-----END CERTIFICATE-----")
        .filter(|b| b.contains("BEGIN"))
        .map(|b| format!("{}\n", b.trim_start()))
        .collect()
}

/// A KDS holding the real Milan VCEK of `csc/snp_report.bin`, the Milan cert_chain, the
/// Turin VCEK of `ms-tav/turin_attestation_report.bin` with the Turin ASK+ARK, and a CRL.
pub fn real_kds() -> KdsStore {
    let mut kds = KdsStore::new();
    let blocks = pem_blocks(&milan_pem());
    kds.insert_vcek_for_report(
        &vector("csc/snp_report.bin"),
        Product::Milan,
        pem_to_der(blocks[0].as_bytes()).unwrap(),
    )
    .unwrap();
    kds.insert_chain(
        Product::Milan,
        KeyKind::Vcek,
        format!("{}{}", blocks[1], blocks[2]),
    );
    kds.insert_vcek_for_report(
        &vector("ms-tav/turin_attestation_report.bin"),
        Product::Turin,
        pem_to_der(&vector("ms-tav/turin_vcek.pem")).unwrap(),
    )
    .unwrap();
    let turin_chain = format!(
        "{}{}",
        String::from_utf8(vector("amd/turin_ask.pem")).unwrap(),
        String::from_utf8(vector("amd/turin_ark.pem")).unwrap()
    );
    kds.insert_chain(Product::Turin, KeyKind::Vcek, turin_chain.clone());
    kds.insert_chain(Product::Turin, KeyKind::Vlek, turin_chain);
    kds.insert_crl(Product::Milan, KeyKind::Vcek, b"0\x03\x02\x01\x00".to_vec());
    kds
}

/// An emulator with the real vectors loaded and the explicit placeholder verifier.
pub async fn emulator() -> Emulator {
    emulator_with(|_| {}).await
}

/// Like [`emulator`], with the configuration adjusted first.
pub async fn emulator_with(f: impl FnOnce(&mut EmulatorConfig)) -> Emulator {
    let mut cfg = EmulatorConfig::new(Arc::new(UncheckedSignaturePlaceholder {
        compliance_status: Some("azure-compliant-uvm".into()),
    }));
    cfg.kds = real_kds();
    cfg.thim = Some(String::from_utf8(vector("csc/uvm_host_amd_certificate.json")).unwrap());
    f(&mut cfg);
    start(cfg).await.expect("emulator starts")
}

/// Retries fast so that fault tests take milliseconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        total_budget: Duration::from_secs(10),
    }
}

/// HTTP settings trusting only the emulator's CA.
pub fn http_config(emu: &Emulator) -> HttpConfig {
    HttpConfig {
        system_roots: false,
        extra_roots: vec![emu.ca_der()],
        attempt_timeout: Duration::from_secs(3),
        retry: fast_retry(),
        ..HttpConfig::default()
    }
}

/// A client trusting only the emulator's CA.
pub fn http(emu: &Emulator) -> HttpClient {
    HttpClient::new(http_config(emu)).unwrap()
}
