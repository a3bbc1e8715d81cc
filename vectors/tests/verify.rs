//! Every `snp_report` vector through the whole verification (chain against the built-in roots,
//! report signature, binding), with both crypto backends; the reuse of a verified chain; the
//! property that any changed signed byte fails; and what only a synthetic PKI can show (VLEK,
//! CRL, expiry, binding mismatches, pinned roots).

mod support;

use std::sync::OnceLock;

use csc_core::input;
use csc_core::report::{Report, TcbLayout, TcbVersion};
use csc_core::verify::{
    BindingError, Category, ChainError, ChipIdCheck, CrlStatus, Crypto, Evidence, Role, Verifier,
    VerifyError, VerifyOptions, roots, verify,
};
use csc_core::{Product, abi};
use csc_vectors::synth::{Endorsement, Pki};
use csc_vectors::{read, vectors_of};
use proptest::prelude::*;
use support::{NOW, backends, cert_der};

fn report_bytes(v: &serde_json::Value) -> Vec<u8> {
    let bytes = read(v["report"]["file"].as_str().unwrap());
    let mut scratch = vec![0u8; bytes.len()];
    let p = input::parse(&bytes, &mut scratch, None).unwrap();
    p.report.as_bytes().to_vec()
}

fn options(v: &serde_json::Value) -> VerifyOptions {
    VerifyOptions {
        product: v["product"].as_str().and_then(Product::from_name),
        now: Some(NOW),
    }
}

#[test]
fn every_snp_report_vector() {
    let vectors = vectors_of("snp_report");
    assert_eq!(vectors.len(), 10);
    let mut seen = (0, 0, 0);
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let bytes = report_bytes(v);
        let opts = options(v);
        let report = Report::parse_with_product(&bytes, opts.product).unwrap();
        let expect = v["expect_signature"].as_str().unwrap();
        for (name, crypto) in backends() {
            if expect == "unverifiable" {
                // No VCEK exists for this report: verification must say the certificate is
                // missing or unreadable, never succeed.
                let e = verify(&*crypto, &report, &Evidence::signer(&[]), &opts).unwrap_err();
                assert_eq!(e.category(), Category::Malformed, "{id} [{name}]: {e}");
                continue;
            }
            let vcek = cert_der(&v["signer"]);
            let got = verify(&*crypto, &report, &Evidence::signer(&vcek), &opts);
            match expect {
                "valid" => {
                    let ok = got.unwrap_or_else(|e| panic!("{id} [{name}]: {e}"));
                    assert_eq!(Some(ok.product), opts.product, "{id}");
                    assert_eq!((ok.signer, ok.intermediate), (Role::Vcek, Role::Ask));
                    assert_eq!(ok.chip_id, ChipIdCheck::Matched, "{id}");
                    assert_eq!(ok.tcb.raw(), report.reported_tcb().raw(), "{id}");
                    assert_eq!(ok.crl, CrlStatus::NotChecked);
                    assert!(!ok.pinned_root);
                }
                "invalid" => {
                    let e = got.expect_err(id);
                    assert_eq!(e, VerifyError::ReportSignature, "{id} [{name}]");
                    assert_eq!(e.category(), Category::Signature);
                }
                other => panic!("{id}: unknown expectation {other}"),
            }
            // The manifest's binding expectations, checked on their own.
            let b = &v["bindings"];
            if b.get("chip_id_matches_hwid").is_some()
                || b.get("reported_tcb_matches_cert").is_some()
            {
                let product = opts.product.unwrap();
                let ark = csc_core::verify::TrustedArk::builtin(&*crypto, product).unwrap();
                let ask = ark
                    .verify_intermediate(&*crypto, roots::ask(product), Role::Ask, Some(NOW))
                    .unwrap();
                let signer = ask.verify_signer(&*crypto, &vcek, Some(NOW)).unwrap();
                let binding = signer.check_binding(&report);
                if let Some(want) = b["chip_id_matches_hwid"].as_bool() {
                    let chip_ok = !matches!(binding, Err(BindingError::ChipId { .. }));
                    assert_eq!(chip_ok, want, "{id} [{name}]: {binding:?}");
                }
                if let Some(want) = b["reported_tcb_matches_cert"].as_bool() {
                    assert_eq!(
                        signer.tcb()
                            == TcbVersion::new(report.reported_tcb().raw(), product.tcb_layout()),
                        want,
                        "{id}"
                    );
                }
            }
        }
        match expect {
            "valid" => seen.0 += 1,
            "invalid" => seen.1 += 1,
            _ => seen.2 += 1,
        }
    }
    assert_eq!(seen, (5, 4, 1), "valid, invalid, unverifiable");
}

#[test]
fn a_verified_chain_is_reused() {
    let v = vectors_of("snp_report")
        .into_iter()
        .find(|v| v["id"] == "oak-genoa-v5-report")
        .unwrap();
    let bytes = report_bytes(&v);
    let report = Report::parse(&bytes).unwrap();
    let vcek = cert_der(&v["signer"]);
    for (name, crypto) in backends() {
        let mut verifier = Verifier::new(&*crypto, options(&v));
        let first = verifier.verify(&report, &Evidence::signer(&vcek)).unwrap();
        assert!(!first.cached_chain, "[{name}]");
        let second = verifier.verify(&report, &Evidence::signer(&vcek)).unwrap();
        assert!(second.cached_chain, "[{name}]");
        assert_eq!(
            Verifier::signer(&verifier).unwrap().product(),
            Product::Genoa
        );
        // A bad report with the known VCEK still fails, on its signature.
        let mut bad = bytes.clone();
        bad[0x50] ^= 1;
        let e = verifier
            .verify(&Report::parse(&bad).unwrap(), &Evidence::signer(&vcek))
            .unwrap_err();
        assert_eq!(e, VerifyError::ReportSignature);
        // Giving the built-in ASK and ARK explicitly changes nothing.
        let ev = Evidence {
            signer: &vcek,
            intermediate: Some(roots::ask(Product::Genoa)),
            ark: Some(roots::ark(Product::Genoa)),
            crl: None,
        };
        assert!(verifier.verify(&report, &ev).unwrap().cached_chain);
        // Another product's ARK is refused.
        let ev = Evidence {
            ark: Some(roots::ark(Product::Milan)),
            ..ev
        };
        assert_eq!(
            verifier.verify(&report, &ev).unwrap_err(),
            VerifyError::Chain(ChainError::RootMismatch {
                product: Product::Genoa
            })
        );
    }
}

/// A valid vector: report bytes, VCEK, options.
type Case = (Vec<u8>, Vec<u8>, VerifyOptions);

/// Each valid vector report with its VCEK.
fn valid_cases() -> &'static Vec<Case> {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        vectors_of("snp_report")
            .iter()
            .filter(|v| v["expect_signature"] == "valid")
            .map(|v| (report_bytes(v), cert_der(&v["signer"]), options(v)))
            .collect()
    })
}

fn verifies(crypto: &dyn Crypto, case: usize, pos: usize, x: u8) -> bool {
    let (bytes, vcek, opts) = &valid_cases()[case % valid_cases().len()];
    let mut bytes = bytes.clone();
    bytes[pos] ^= x;
    match Report::parse_with_product(&bytes, opts.product) {
        Ok(r) => verify(crypto, &r, &Evidence::signer(vcek), opts).is_ok(),
        Err(_) => false,
    }
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const SIGNED_AND_SIGNATURE: usize = abi::SIGNED_LEN + 2 * abi::ECDSA_COMPONENT_SIZE;

proptest! {
    #![proptest_config(cases(1024))]
    /// Any single changed byte of the signed area (or of r, s) makes verification fail.
    #[test]
    fn any_changed_report_byte_fails_aws_lc(case in 0usize..5, pos in 0..SIGNED_AND_SIGNATURE, x in 1u8..=255) {
        let crypto = csc_crypto::verify::AwsLcCrypto::new();
        prop_assert!(!verifies(&crypto, case, pos, x));
    }
}

proptest! {
    #![proptest_config(cases(128))]
    #[test]
    fn any_changed_report_byte_fails_core(case in 0usize..5, pos in 0..SIGNED_AND_SIGNATURE, x in 1u8..=255) {
        prop_assert!(!verifies(&csc_core::verify::CoreCrypto, case, pos, x));
    }
}

#[test]
fn unmodified_property_inputs_verify() {
    assert_eq!(valid_cases().len(), 5);
    for (name, crypto) in backends() {
        for (bytes, vcek, opts) in valid_cases() {
            let r = Report::parse_with_product(bytes, opts.product).unwrap();
            verify(&*crypto, &r, &Evidence::signer(vcek), opts)
                .unwrap_or_else(|e| panic!("[{name}] {e}"));
        }
    }
}

// --- Synthetic PKI: VLEK, CRL, expiry, binding mismatches, pinned roots ---

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::new("Genoa"))
}

/// The Oak Genoa report as a template (version 5, Genoa CPUID bytes).
fn template() -> Vec<u8> {
    read("shared/vectors/oak/genoa_oc_report.bin")
}

fn endorsement(hwid: Option<&[u8]>) -> Endorsement {
    Endorsement::genoa(hwid, ("250101000000Z", "320101000000Z"))
}

fn set_signing_key(report: &mut [u8], key: u32, mask_chip: bool) {
    let v = (key << 2) | (u32::from(mask_chip) << 1);
    report[abi::offset::SIGNER_INFO..abi::offset::SIGNER_INFO + 4]
        .copy_from_slice(&v.to_le_bytes());
}

/// Evidence for a synthetic VCEK: a pinned root has no built-in ASK, so it comes along.
fn with_ask<'a>(pki: &'a Pki, vcek: &'a [u8]) -> Evidence<'a> {
    Evidence {
        signer: vcek,
        intermediate: Some(&pki.ask.der),
        ..Evidence::default()
    }
}

fn pinned(crypto: &dyn Crypto) -> Verifier<&dyn Crypto> {
    let opts = VerifyOptions {
        product: None,
        now: Some(NOW),
    };
    Verifier::with_pinned_root(crypto, &pki().ark.der, Product::Genoa, opts).unwrap()
}

#[test]
fn vlek_chain_through_a_caller_supplied_asvk() {
    let pki = pki();
    let vlek = pki.endorser(&endorsement(None));
    let mut report = template();
    set_signing_key(&mut report, 1, false);
    vlek.sign_report(&mut report);
    let r = Report::parse(&report).unwrap();
    for (name, crypto) in backends() {
        let ev = Evidence {
            signer: &vlek.der,
            intermediate: Some(&pki.asvk.der),
            ark: Some(&pki.ark.der),
            crl: None,
        };
        let ok = pinned(&*crypto)
            .verify(&r, &ev)
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        assert_eq!(
            (ok.signer, ok.intermediate, ok.chip_id),
            (Role::Vlek, Role::Asvk, ChipIdCheck::NotApplicable)
        );
        assert!(ok.pinned_root);
        // Without the ASVK there is nothing to check the VLEK against.
        let ev = Evidence {
            intermediate: None,
            ..ev
        };
        assert_eq!(
            pinned(&*crypto).verify(&r, &ev).unwrap_err(),
            VerifyError::Missing { role: Role::Asvk }
        );
        // Against AMD's built-in ARK (no pin) the synthetic ASVK fails: caller chains are
        // always checked against the built-in root.
        let ev = Evidence {
            intermediate: Some(&pki.asvk.der),
            ark: None,
            ..ev
        };
        let e = verify(
            &*crypto,
            &r,
            &ev,
            &VerifyOptions {
                product: None,
                now: Some(NOW),
            },
        )
        .unwrap_err();
        assert_eq!(e.category(), Category::Chain, "[{name}] {e}");
        let ev = Evidence {
            ark: Some(&pki.ark.der),
            ..ev
        };
        let e = verify(&*crypto, &r, &ev, &VerifyOptions::default()).unwrap_err();
        assert_eq!(
            e,
            VerifyError::Chain(ChainError::RootMismatch {
                product: Product::Genoa
            })
        );
    }
}

#[test]
fn binding_mismatches_are_binding_errors() {
    let pki = pki();
    let template = template();
    let chip = &template[abi::offset::CHIP_ID..abi::offset::CHIP_ID + 64];
    let vcek = pki.endorser(&endorsement(Some(chip)));
    let check = |report: &[u8], crypto: &dyn Crypto| {
        let r = Report::parse(report).unwrap();
        pinned(crypto).verify(&r, &with_ask(pki, &vcek.der))
    };
    for (name, crypto) in backends() {
        let mut ok = template.clone();
        vcek.sign_report(&mut ok);
        assert_eq!(
            check(&ok, &*crypto).unwrap().chip_id,
            ChipIdCheck::Matched,
            "[{name}]"
        );

        // The report says VLEK, the certificate is a VCEK.
        let mut r = template.clone();
        set_signing_key(&mut r, 1, false);
        vcek.sign_report(&mut r);
        assert_eq!(
            check(&r, &*crypto).unwrap_err(),
            VerifyError::Binding(BindingError::SigningKey {
                report: csc_core::report::SigningKey::Vlek,
                cert: Role::Vcek
            })
        );
        // Another chip.
        let mut r = template.clone();
        r[abi::offset::CHIP_ID + 63] ^= 1;
        vcek.sign_report(&mut r);
        let e = check(&r, &*crypto).unwrap_err();
        assert!(
            matches!(
                e,
                VerifyError::Binding(BindingError::ChipId { len: 64, .. })
            ),
            "{e}"
        );
        assert!(e.to_string().contains("CHIP_ID: expected d2421d97"), "{e}");
        // MASK_CHIP_KEY: CHIP_ID zeroed, nothing to compare.
        let mut r = template.clone();
        set_signing_key(&mut r, 0, true);
        r[abi::offset::CHIP_ID..abi::offset::CHIP_ID + 64].fill(0);
        vcek.sign_report(&mut r);
        assert_eq!(check(&r, &*crypto).unwrap().chip_id, ChipIdCheck::Masked);
        // REPORTED_TCB other than the certificate's (CURRENT_TCB is never used).
        let mut r = template.clone();
        r[abi::offset::REPORTED_TCB + 6] = 24;
        vcek.sign_report(&mut r);
        let e = check(&r, &*crypto).unwrap_err();
        assert_eq!(
            e,
            VerifyError::Binding(BindingError::Tcb {
                report: TcbVersion::new(0x5418_0000_0000_000a, TcbLayout::Zen3Zen4),
                cert: TcbVersion::new(0x5419_0000_0000_000a, TcbLayout::Zen3Zen4),
            })
        );
        let mut r = template.clone();
        r[abi::offset::CURRENT_TCB + 6] = 30;
        vcek.sign_report(&mut r);
        assert!(
            check(&r, &*crypto).is_ok(),
            "CURRENT_TCB is not REPORTED_TCB"
        );
        // A Milan report (CPUID family 0x19 model 0x01) against the Genoa chain.
        let mut r = template.clone();
        r[abi::offset::CPUID_FAM_ID + 1] = 0x01;
        vcek.sign_report(&mut r);
        assert_eq!(
            check(&r, &*crypto).unwrap_err(),
            VerifyError::Binding(BindingError::Product {
                report: Product::Milan,
                chain: Product::Genoa
            })
        );
    }
}

#[test]
fn turin_hwid_is_eight_bytes() {
    let pki = Pki::new("Turin");
    let mut report = read("shared/vectors/ms-tav/turin_attestation_report.bin");
    let chip: Vec<u8> = report[abi::offset::CHIP_ID..abi::offset::CHIP_ID + 8].to_vec();
    let e = Endorsement {
        product_name: "Turin".into(),
        bl: 1,
        tee: 1,
        snp: 4,
        ucode: 81,
        fmc: Some(1),
        hwid: Some(chip),
        validity: ("250101000000Z".into(), "320101000000Z".into()),
    };
    let vcek = pki.endorser(&e);
    vcek.sign_report(&mut report);
    let opts = VerifyOptions {
        product: None,
        now: Some(NOW),
    };
    for (name, crypto) in backends() {
        let mut v =
            Verifier::with_pinned_root(&*crypto, &pki.ark.der, Product::Turin, opts).unwrap();
        let ok = v.verify(&Report::parse(&report).unwrap(), &with_ask(&pki, &vcek.der));
        assert_eq!(ok.unwrap().chip_id, ChipIdCheck::Matched, "[{name}]");
        // fmcSPL is part of the binding on Turin.
        let mut r = report.clone();
        r[abi::offset::REPORTED_TCB] = 2;
        vcek.sign_report(&mut r);
        let e = v
            .verify(&Report::parse(&r).unwrap(), &with_ask(&pki, &vcek.der))
            .unwrap_err();
        assert!(
            matches!(e, VerifyError::Binding(BindingError::Tcb { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("fmc=1"), "{e}");
    }
}

#[test]
fn crl_checks() {
    let pki = pki();
    let template = template();
    let chip = &template[abi::offset::CHIP_ID..abi::offset::CHIP_ID + 64];
    let vcek = pki.endorser(&endorsement(Some(chip)));
    let mut report = template.clone();
    vcek.sign_report(&mut report);
    let r = Report::parse(&report).unwrap();
    let clean = pki.ark.crl(&[&[9, 9]]);
    let revokes_ask = pki.ark.crl(&[&[9, 9], &[1, 0, 1]]);
    let revokes_vcek = pki.ark.crl(&[&[0]]);
    let by_ask = pki.ask.crl(&[]);
    for (name, crypto) in backends() {
        let ev = |crl: &[u8]| -> Result<_, _> {
            let ev = Evidence {
                signer: &vcek.der,
                intermediate: Some(&pki.ask.der),
                ark: None,
                crl: Some(crl),
            };
            pinned(&*crypto).verify(&r, &ev)
        };
        match ev(&clean).unwrap_or_else(|e| panic!("[{name}] {e}")).crl {
            CrlStatus::Checked(c) => assert_eq!(c.revoked, 1),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ev(&revokes_ask).unwrap_err(),
            VerifyError::Chain(ChainError::Revoked {
                cert: Role::Ask,
                ..
            })
        ));
        let e = ev(&revokes_vcek).unwrap_err();
        assert!(
            matches!(
                e,
                VerifyError::Chain(ChainError::Revoked {
                    cert: Role::Vcek,
                    ..
                })
            ),
            "{e}"
        );
        assert!(e.to_string().contains("serial 0x00"), "{e}");
        assert_eq!(
            ev(&by_ask).unwrap_err(),
            VerifyError::Chain(ChainError::IssuerName {
                cert: Role::Crl,
                issuer: Role::Ark
            })
        );
        let mut tampered = clean.clone();
        let at = tampered.len() - 10;
        tampered[at] ^= 1;
        assert_eq!(
            ev(&tampered).unwrap_err(),
            VerifyError::Chain(ChainError::Signature {
                cert: Role::Crl,
                issuer: Role::Ark
            })
        );
        assert!(matches!(
            ev(&clean[1..]).unwrap_err(),
            VerifyError::Malformed {
                role: Role::Crl,
                ..
            }
        ));
    }
}

#[test]
fn expired_and_not_yet_valid_certificates() {
    let pki = pki();
    let template = template();
    let chip = &template[abi::offset::CHIP_ID..abi::offset::CHIP_ID + 64];
    let mut e = endorsement(Some(chip));
    e.validity = ("200101000000Z".into(), "210101000000Z".into());
    let old = pki.endorser(&e);
    let mut report = template.clone();
    old.sign_report(&mut report);
    let r = Report::parse(&report).unwrap();
    for (_, crypto) in backends() {
        let err = pinned(&*crypto)
            .verify(&r, &with_ask(pki, &old.der))
            .unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::Chain(ChainError::Expired {
                    cert: Role::Vcek,
                    ..
                })
            ),
            "{err}"
        );
        // Without a time, validity is not checked.
        let opts = VerifyOptions {
            product: None,
            now: None,
        };
        let mut v =
            Verifier::with_pinned_root(&*crypto, &pki.ark.der, Product::Genoa, opts).unwrap();
        assert!(v.verify(&r, &with_ask(pki, &old.der)).is_ok());
        // A pinned root has no built-in ASK to fall back on.
        assert_eq!(
            v.verify(&r, &Evidence::signer(&old.der)).unwrap_err(),
            VerifyError::Missing { role: Role::Ask }
        );
    }
}
