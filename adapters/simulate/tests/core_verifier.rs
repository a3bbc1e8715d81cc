//! The simulated platform against the project's own verifier: every product and report version
//! verifies when the simulated ARK is pinned, with the core's own backend and with aws-lc-rs,
//! and the same evidence is refused against AMD's built-in roots, so a simulated report can
//! never pass for a real one.

mod common;

use csc_core::Product;
use csc_core::report::Report;
use csc_core::source::{ReportRequest, Vmpl};
use csc_core::verify::{
    ChainError, CoreCrypto, Evidence, Role, Verifier, VerifyError, VerifyOptions,
};
use csc_crypto::check::{CheckError, ReportChecker};
use csc_crypto::verify::AwsLcCrypto;
use csc_simulate::{Platform, PlatformConfig};

use common::*;

fn platform(product: Product, version: u32) -> Platform {
    let config = PlatformConfig::new(product, version).unwrap();
    Platform::new(config, &cache()).unwrap()
}

#[test]
fn simulated_reports_verify_only_against_the_pinned_simulated_root() {
    for (product, version) in EVERY {
        let p = platform(product, version);
        let bytes = p
            .report(&ReportRequest::new([0x5a; 64], Vmpl::ZERO))
            .unwrap();
        let report = Report::parse_with_product(&bytes, Some(product)).unwrap();
        let chain = p.chain();
        let evidence = Evidence {
            signer: chain.vcek,
            intermediate: Some(chain.ask),
            ark: Some(chain.ark),
            crl: None,
        };
        let what = format!("{product:?} v{version}");

        // Pinned: both backends accept, and say the root was pinned.
        let mut core =
            Verifier::with_pinned_root(CoreCrypto, chain.ark, product, VerifyOptions::default())
                .unwrap();
        let ok = core
            .verify(&report, &evidence)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(ok.pinned_root, "{what}");
        assert_eq!(ok.signer, Role::Vcek, "{what}");
        assert_eq!(ok.tcb, p.reported_tcb(), "{what}");
        let checker = ReportChecker::pinned(chain.ark, product).unwrap();
        checker
            .check(&bytes, chain.to_pem().as_bytes(), Some(product))
            .unwrap_or_else(|e| panic!("{what}: {e}"));

        // Against AMD's roots: refused at the root, with either backend.
        for result in [
            Verifier::new(CoreCrypto, VerifyOptions::default()).verify(&report, &evidence),
            Verifier::new(AwsLcCrypto::new(), VerifyOptions::default()).verify(&report, &evidence),
        ] {
            match result {
                Err(VerifyError::Chain(_)) => {}
                other => panic!("{what}: simulated evidence against AMD roots gave {other:?}"),
            }
        }
        // Without the simulated ARK in the evidence the built-in ASK cannot have signed the
        // simulated VCEK either.
        let no_ark = Evidence {
            ark: None,
            intermediate: None,
            ..evidence
        };
        assert!(
            Verifier::new(CoreCrypto, VerifyOptions::default())
                .verify(&report, &no_ark)
                .is_err(),
            "{what}"
        );
        match ReportChecker::amd().check(&bytes, chain.to_pem().as_bytes(), Some(product)) {
            Err(CheckError::Verify(VerifyError::Chain(_))) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn a_simulated_report_fails_when_tampered_or_paired_with_another_platform() {
    let p = platform(Product::Genoa, 5);
    let chain = p.chain();
    let pem = chain.to_pem();
    let checker = ReportChecker::pinned(chain.ark, Product::Genoa).unwrap();
    let mut bytes = p.report(&ReportRequest::new([1; 64], Vmpl::ZERO)).unwrap();
    checker.check(&bytes, pem.as_bytes(), None).unwrap();
    bytes[0x50] ^= 1; // REPORT_DATA
    match checker.check(&bytes, pem.as_bytes(), None) {
        Err(CheckError::Verify(VerifyError::ReportSignature)) => {}
        other => panic!("tampered report: {other:?}"),
    }
    // A Milan root pinned, Genoa evidence given.
    let milan = platform(Product::Milan, 5);
    let wrong = ReportChecker::pinned(milan.chain().ark, Product::Milan).unwrap();
    let fresh = p.report(&ReportRequest::new([2; 64], Vmpl::ZERO)).unwrap();
    match wrong.check(&fresh, pem.as_bytes(), None) {
        Err(CheckError::Verify(VerifyError::Chain(ChainError::RootMismatch { .. })))
        | Err(CheckError::Verify(VerifyError::Chain(_))) => {}
        other => panic!("other platform's root: {other:?}"),
    }
    // Garbage chains are named, not panicked on.
    assert!(matches!(
        checker.check(&fresh, b"not pem", None),
        Err(CheckError::Certificates(_))
    ));
    assert!(matches!(
        checker.check(&fresh[..100], pem.as_bytes(), None),
        Err(CheckError::Report(_))
    ));
}
