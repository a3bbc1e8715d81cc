//! `azure-emulator`: serves emulated IMDS/THIM, Entra ID, AMD KDS/AzCache, MAA and managed
//! HSM on loopback over TLS, prints its endpoints and CA path as one JSON line, and runs until
//! SIGINT or SIGTERM.
//!
//! Flags: `--port N` (0 = any), `--ca-file PATH` (default `./azure-emulator-ca.pem`),
//! `--kds-dir DIR` (see `KdsStore::from_dir`), `--thim FILE` (THIM JSON),
//! `--tenant ID`, `--token-lifetime SECS`, `--federated-token TEXT`,
//! `--report-verifier amd|pinned|unchecked-signature-placeholder` (required; the choice is
//! printed and written into every MAA token): `amd` checks reports with the core verifier
//! against AMD's roots, `pinned` against the ARK in `--pinned-ark FILE` (PEM or DER) for
//! `--product Milan|Genoa|Turin` (the simulated platform's root), and the placeholder checks
//! nothing but the presence of a PEM chain;
//! `--compliance-status TEXT` (the x-ms-compliance-status claim when a UVM endorsement verifies;
//! for `amd` and `pinned`, one signed by a certificate given with `--uvm-signer FILE`, PEM or
//! DER, repeatable); `--hostname NAME` (repeatable): further names in the TLS certificate, for
//! deployments that map the services' host names to this emulator.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use csc_emulate::{
    CoreReportVerifier, EmulatorConfig, KdsStore, UncheckedSignaturePlaceholder, start,
};

fn usage(msg: &str) -> ! {
    eprintln!("azure-emulator: {msg}");
    eprintln!(
        "usage: azure-emulator --report-verifier amd|pinned|unchecked-signature-placeholder \
         [--pinned-ark FILE --product NAME] [--port N] \
         [--ca-file PATH] [--kds-dir DIR] [--thim FILE] [--tenant ID] [--token-lifetime SECS] \
         [--federated-token TEXT] [--compliance-status TEXT] [--uvm-signer FILE]... \
         [--hostname NAME]..."
    );
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    let mut ca_file = PathBuf::from("azure-emulator-ca.pem");
    let mut kds_dir = None;
    let mut thim = None;
    let mut tenant = None;
    let mut lifetime = None;
    let mut federated = None;
    let mut verifier = None;
    let mut compliance = None;
    let mut pinned_ark = None;
    let mut product = None;
    let mut uvm_signers = Vec::new();
    let mut hostnames = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--port" => port = value().parse().unwrap_or_else(|_| usage("bad --port")),
            "--ca-file" => ca_file = PathBuf::from(value()),
            "--kds-dir" => kds_dir = Some(PathBuf::from(value())),
            "--thim" => thim = Some(PathBuf::from(value())),
            "--tenant" => tenant = Some(value()),
            "--token-lifetime" => {
                lifetime = Some(
                    value()
                        .parse::<u64>()
                        .unwrap_or_else(|_| usage("bad --token-lifetime")),
                )
            }
            "--federated-token" => federated = Some(value()),
            "--report-verifier" => verifier = Some(value()),
            "--compliance-status" => compliance = Some(value()),
            "--pinned-ark" => pinned_ark = Some(PathBuf::from(value())),
            "--product" => product = Some(value()),
            "--uvm-signer" => uvm_signers.push(PathBuf::from(value())),
            "--hostname" => hostnames.push(value()),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let read_cert = |path: &PathBuf| {
        let bytes =
            std::fs::read(path).unwrap_or_else(|e| usage(&format!("{}: {e}", path.display())));
        if csc_core::pem::is_pem(&bytes) {
            csc_emulate::kds::pem_to_der(&bytes)
                .unwrap_or_else(|| usage(&format!("{}: no PEM certificate", path.display())))
        } else {
            bytes
        }
    };
    let signers: Vec<Vec<u8>> = uvm_signers.iter().map(read_cert).collect();
    let verifier: Arc<dyn csc_emulate::ReportVerifier> = match verifier.as_deref() {
        Some(csc_emulate::maa::UNCHECKED_PLACEHOLDER_NAME) => {
            Arc::new(UncheckedSignaturePlaceholder {
                compliance_status: compliance,
            })
        }
        Some("amd") => Arc::new(
            CoreReportVerifier::amd()
                .with_compliance_status(compliance)
                .with_uvm_signers(signers),
        ),
        Some("pinned") => {
            let Some(path) = pinned_ark else {
                usage("--report-verifier pinned needs --pinned-ark FILE")
            };
            let der = read_cert(&path);
            let name = product.unwrap_or_else(|| usage("--report-verifier pinned needs --product"));
            let product = csc_core::Product::from_name(&name)
                .unwrap_or_else(|| usage(&format!("unknown product {name}")));
            Arc::new(
                CoreReportVerifier::pinned(&der, product)
                    .unwrap_or_else(|e| usage(&e))
                    .with_compliance_status(compliance)
                    .with_uvm_signers(signers),
            )
        }
        Some(other) => usage(&format!("unknown report verifier {other}")),
        None => usage("--report-verifier must be given"),
    };
    let mut config = EmulatorConfig::new(verifier);
    config.port = port;
    config.ca_file = Some(ca_file);
    if let Some(d) = kds_dir {
        config.kds = KdsStore::from_dir(&d).unwrap_or_else(|e| usage(&e.to_string()));
    }
    if let Some(f) = thim {
        config.thim = Some(
            std::fs::read_to_string(&f).unwrap_or_else(|e| usage(&format!("{}: {e}", f.display()))),
        );
    }
    if let Some(t) = tenant {
        config.tenant_id = t;
    }
    if let Some(s) = lifetime {
        config.token_lifetime = Duration::from_secs(s);
    }
    config.federated_token = federated;
    config.hostnames = hostnames;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| usage(&format!("runtime: {e}")));
    rt.block_on(async move {
        let emu = start(config)
            .await
            .unwrap_or_else(|e| usage(&e.to_string()));
        match serde_json::to_string(emu.endpoints()) {
            Ok(line) => println!("{line}"),
            Err(e) => usage(&e.to_string()),
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .unwrap_or_else(|e| usage(&format!("signal: {e}")));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        emu.stop();
    });
}
