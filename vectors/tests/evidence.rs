//! What real Azure evidence needs from the verifier: the HCL variable-data binding (genuine
//! report passes, tampered variable data fails with both digests), chains read by role in any
//! order with extra certificates ignored, ASVKs trusted with the root (so a VLEK report
//! verifies with only its VLEK), issuing certificates' key usage, and provisional firmware.

mod support;

use std::sync::OnceLock;

use csc_core::cert::Certificate;
use csc_core::hcl::{HclReport, RuntimeHash};
use csc_core::hex::Hex;
use csc_core::input;
use csc_core::policy::{self, PolicyOptions, Remedy};
use csc_core::report::Report;
use csc_core::verify::{
    Anchors, BindingError, Category, ChainError, Evidence, Role, Verifier, VerifyError,
    VerifyOptions, may_issue_certificates, roots, select,
};
use csc_core::{Product, abi};
use csc_vectors::synth::{Endorsement, Pki, der};
use csc_vectors::{mhsm_tls_root, pem_certs, read};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use support::{NOW, backends};

const AZ_HCL: &str = "shared/vectors/trustee/az_milan_v3_hcl_report.bin";
const AZ_VCEK: &str = "shared/vectors/trustee/az_milan_v3_vcek.der";
const AZ_PROVISIONAL: &str = "shared/vectors/az-cvm-vtpm/hcl_report_snp.bin";

fn opts() -> VerifyOptions {
    VerifyOptions {
        product: None,
        now: Some(NOW),
    }
}

/// The HCL report with one byte of its variable data (the JSON key set) changed.
fn tampered_hcl() -> Vec<u8> {
    let mut bytes = read(AZ_HCL);
    let at = bytes
        .windows(5)
        .position(|w| w == b"\"kty\"")
        .expect("a JWK in the variable data");
    bytes[at + 1] ^= 0x20; // "kty" -> "Kty"
    bytes
}

#[test]
fn genuine_azure_hcl_report_verifies_with_its_variable_data_bound() {
    let bytes = read(AZ_HCL);
    let vcek = read(AZ_VCEK);
    let hcl = HclReport::parse(&bytes, None).unwrap();
    for (name, crypto) in backends() {
        let ok = Verifier::new(&*crypto, opts())
            .verify_hcl(&hcl, &Evidence::signer(&vcek))
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        assert_eq!(ok.hcl_variable_data, Some(RuntimeHash::Sha256));
        assert_eq!(ok.product, Product::Milan);
        // The same through the input reader: an HCL input is always bound.
        let mut scratch = vec![0u8; bytes.len()];
        let parsed = input::parse(&bytes, &mut scratch, None).unwrap();
        let via_input = Verifier::new(&*crypto, opts())
            .verify_input(&parsed, &Evidence::signer(&vcek))
            .unwrap();
        assert_eq!(via_input.hcl_variable_data, Some(RuntimeHash::Sha256));
        // A plain report has no variable data to bind.
        let plain = Verifier::new(&*crypto, opts())
            .verify(hcl.report(), &Evidence::signer(&vcek))
            .unwrap();
        assert_eq!(plain.hcl_variable_data, None);
    }
}

#[test]
fn tampered_hcl_variable_data_is_a_binding_failure_with_both_digests() {
    let bytes = tampered_hcl();
    let vcek = read(AZ_VCEK);
    let hcl = HclReport::parse(&bytes, None).unwrap();
    let computed: [u8; 32] = Sha256::digest(hcl.runtime_data()).into();
    let report_data = &hcl.report().report_data()[..32];
    assert_ne!(&computed[..], report_data);
    for (name, crypto) in backends() {
        // The signature still holds (it does not cover the variable data)...
        Verifier::new(&*crypto, opts())
            .verify(hcl.report(), &Evidence::signer(&vcek))
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        // ...but the HCL report does not.
        let mut scratch = vec![0u8; bytes.len()];
        let parsed = input::parse(&bytes, &mut scratch, None).unwrap();
        for got in [
            Verifier::new(&*crypto, opts()).verify_hcl(&hcl, &Evidence::signer(&vcek)),
            Verifier::new(&*crypto, opts()).verify_input(&parsed, &Evidence::signer(&vcek)),
        ] {
            let e = got.unwrap_err();
            assert_eq!(e.category(), Category::Binding, "[{name}] {e}");
            let VerifyError::Binding(BindingError::HclVariableData {
                hash,
                computed: c,
                report_data: rd,
                len,
            }) = e
            else {
                panic!("[{name}] {e:?}");
            };
            assert_eq!((hash, len), (RuntimeHash::Sha256, 32));
            assert_eq!((&c[..], &rd[..]), (&computed[..], report_data));
            let msg = e.to_string();
            assert!(msg.contains(&Hex(&computed).to_string()), "{msg}");
            assert!(msg.contains(&Hex(report_data).to_string()), "{msg}");
        }
    }
    // Variable data cut short (size field lowered by one): also unbound.
    let mut short = read(AZ_HCL);
    let size_at = csc_core::hcl::REQUEST_DATA_OFFSET + 16;
    let n = u32::from_le_bytes(short[size_at..size_at + 4].try_into().unwrap());
    short[size_at..size_at + 4].copy_from_slice(&(n - 1).to_le_bytes());
    let hcl = HclReport::parse(&short, None).unwrap();
    assert!(matches!(
        hcl.check_binding(),
        Err(BindingError::HclVariableData { .. })
    ));
}

#[test]
fn genuine_provisional_firmware_passes_only_when_permitted() {
    // A genuine Azure HCL report with COMMITTED_TCB (ucode 115) below CURRENT_TCB (ucode 206).
    let bytes = read(AZ_PROVISIONAL);
    let hcl = HclReport::parse(&bytes, Some(Product::Milan)).unwrap();
    hcl.check_binding().unwrap();
    let r = hcl.report();
    assert!(r.committed_tcb().raw() != r.current_tcb().raw());
    let strict = PolicyOptions::default();
    let found: Vec<_> = policy::violations(r, &strict).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].field, "COMMITTED_TCB");
    assert_eq!(found[0].remedy, Some(Remedy::PermitProvisionalFirmware));
    assert!(
        found[0].to_string().contains("permit provisional firmware"),
        "{}",
        found[0]
    );
    let permitted = PolicyOptions {
        permit_provisional_firmware: true,
        ..PolicyOptions::default()
    };
    assert_eq!(policy::violations(r, &permitted).count(), 0);
}

// --- Chains read by role ---

fn az_chain() -> Vec<Vec<u8>> {
    // [VCEK, ASK, ARK] of the ACI report.
    pem_certs(&read("shared/vectors/csc/uvm_host_amd_certificate.pem"))
}

#[test]
fn chains_are_read_by_role_in_any_order() {
    let chain = az_chain();
    let (vcek, ask, ark) = (&chain[0], &chain[1], &chain[2]);
    let report = read("shared/vectors/csc/snp_report.bin");
    let r = Report::parse_with_product(&report, Some(Product::Milan)).unwrap();
    let extra = mhsm_tls_root();
    let genoa_ask = roots::ask(Product::Genoa);
    let orders: [Vec<&[u8]>; 4] = [
        vec![ark, ask, vcek],
        vec![&extra, ask, vcek, ark],
        vec![genoa_ask, ark, &extra, vcek, ask],
        vec![ask, ark, vcek, genoa_ask],
    ];
    for order in &orders {
        let ev = select(order, &r).unwrap();
        assert_eq!(ev.signer, &vcek[..]);
        assert_eq!(ev.intermediate, Some(&ask[..]));
        assert_eq!(ev.ark, Some(&ark[..]));
        for (name, crypto) in backends() {
            Verifier::new(&*crypto, opts())
                .verify(&r, &ev)
                .unwrap_or_else(|e| panic!("[{name}] {e}"));
        }
    }
    // Nothing but extras: no signer.
    assert_eq!(
        select(&[&extra[..], ask], &r).unwrap_err(),
        VerifyError::Missing { role: Role::Vcek }
    );
    // A VCEK for another chip is passed over for the one of this chip.
    let other_chip = read("shared/vectors/virtee-sev/vcek_milan.der");
    let ev = select(&[&other_chip[..], vcek, ask], &r).unwrap();
    assert_eq!(ev.signer, &vcek[..]);
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::new("Genoa"))
}

fn vlek_report(pki: &Pki) -> (Vec<u8>, Vec<u8>) {
    let vlek = pki.endorser(&Endorsement::genoa(
        None,
        ("250101000000Z", "320101000000Z"),
    ));
    let mut report = read("shared/vectors/oak/genoa_oc_report.bin");
    report[abi::offset::SIGNER_INFO..abi::offset::SIGNER_INFO + 4]
        .copy_from_slice(&(1u32 << 2).to_le_bytes());
    vlek.sign_report(&mut report);
    (report, vlek.der.clone())
}

#[test]
fn vlek_chain_given_as_ask_ark_asvk() {
    // The order that failed before: the ASK came first and was taken for the ASVK.
    let pki = pki();
    let (report, vlek) = vlek_report(pki);
    let r = Report::parse(&report).unwrap();
    let pool: Vec<&[u8]> = vec![&pki.ask.der, &pki.ark.der, &pki.asvk.der, &vlek];
    let ev = select(&pool, &r).unwrap();
    assert_eq!(ev.intermediate, Some(&pki.asvk.der[..]));
    for (name, crypto) in backends() {
        let ok = Verifier::with_pinned_root(&*crypto, &pki.ark.der, Product::Genoa, opts())
            .unwrap()
            .verify(&r, &ev)
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        assert_eq!((ok.signer, ok.intermediate), (Role::Vlek, Role::Asvk));
    }
}

// --- Anchors: intermediates trusted with the root ---

#[test]
fn a_vlek_report_verifies_with_only_its_vlek_when_the_asvk_is_anchored() {
    let pki = pki();
    let (report, vlek) = vlek_report(pki);
    let r = Report::parse(&report).unwrap();
    let anchors = Anchors {
        ark: &pki.ark.der,
        ask: Some(&pki.ask.der),
        asvk: Some(&pki.asvk.der),
    };
    for (name, crypto) in backends() {
        let mut v =
            Verifier::with_pinned_anchors(&*crypto, &anchors, Product::Genoa, opts()).unwrap();
        let ok = v
            .verify(&r, &Evidence::signer(&vlek))
            .unwrap_or_else(|e| panic!("[{name}] {e}"));
        assert_eq!((ok.signer, ok.intermediate), (Role::Vlek, Role::Asvk));
        // Giving the anchored ASVK too is the same chain, verified once.
        let again = v
            .verify(
                &r,
                &Evidence {
                    intermediate: Some(&pki.asvk.der),
                    ..Evidence::signer(&vlek)
                },
            )
            .unwrap();
        assert!(again.cached_chain);
        // Without an ASVK anchor, the VLEK alone is not enough.
        let root_only = Anchors {
            asvk: None,
            ..anchors
        };
        let e = Verifier::with_pinned_anchors(&*crypto, &root_only, Product::Genoa, opts())
            .unwrap()
            .verify(&r, &Evidence::signer(&vlek))
            .unwrap_err();
        assert_eq!(e, VerifyError::Missing { role: Role::Asvk });
        // An ASVK of another PKI is refused when anchoring, not trusted.
        let other = Pki::new("Genoa");
        let forged = Anchors {
            asvk: Some(&other.asvk.der),
            ..anchors
        };
        let Err(e) = Verifier::with_pinned_anchors(&*crypto, &forged, Product::Genoa, opts())
        else {
            panic!("[{name}] a forged ASVK was anchored");
        };
        assert!(
            matches!(
                e,
                VerifyError::Chain(ChainError::Signature {
                    cert: Role::Asvk,
                    ..
                })
            ),
            "[{name}] {e}"
        );
    }
}

#[test]
fn builtin_asvk_slots_are_amd_certificates_signed_by_their_ark() {
    // Each built-in ASVK is checked like the built-in ASK: named SEV-VLEK-<product>, issued and
    // signed by the product's ARK (both backends). Products without one are listed.
    let mut missing = Vec::new();
    for product in Product::ALL {
        let Some(der) = roots::asvk(product) else {
            missing.push(product.name());
            assert_eq!(roots::builtin(product).asvk, None);
            continue;
        };
        for (name, crypto) in backends() {
            let ark = csc_core::verify::TrustedArk::builtin(&*crypto, product).unwrap();
            ark.verify_intermediate(&*crypto, der, Role::Asvk, Some(NOW))
                .unwrap_or_else(|e| panic!("{product} ASVK [{name}]: {e}"));
        }
    }
    // No allowed source carries AMD's ASVKs yet (see vectors/data/MANIFEST.md).
    assert_eq!(missing, ["Milan", "Genoa", "Turin"]);
}

// --- Key usage ---

#[test]
fn issuing_certificates_need_key_cert_sign() {
    let chain = az_chain();
    for der in &chain {
        assert!(may_issue_certificates(&Certificate::from_der(der).unwrap()));
    }
    // An ASK-named certificate, signed by the synthetic ARK, whose key usage is only
    // digitalSignature.
    let pki = pki();
    let ask = Certificate::from_der(&pki.ask.der).unwrap();
    let ku = der::seq(&[
        &der::oid(&[0x55, 0x1D, 0x0F]),
        &[0x01, 0x01, 0xFF],
        &der::octets(&der::tlv(0x03, &[0x07, 0x80])),
    ]);
    let bad = pki.ark.issue(
        &[9],
        "SEV-Genoa",
        ("200101000000Z", "491231000000Z"),
        ask.spki(),
        &[ku],
    );
    assert!(!may_issue_certificates(
        &Certificate::from_der(&bad).unwrap()
    ));
    for (name, crypto) in backends() {
        let ark =
            csc_core::verify::TrustedArk::pinned(&*crypto, &pki.ark.der, Product::Genoa).unwrap();
        let e = ark
            .verify_intermediate(&*crypto, &bad, Role::Ask, None)
            .unwrap_err();
        assert_eq!(
            e,
            VerifyError::Chain(ChainError::KeyUsage { cert: Role::Ask }),
            "[{name}]"
        );
    }
}

// --- Property: selection never depends on order, never panics ---

fn pool() -> &'static Vec<Vec<u8>> {
    static POOL: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut p = az_chain();
        p.push(mhsm_tls_root());
        p.push(roots::ask(Product::Genoa).to_vec());
        p.push(roots::ark(Product::Turin).to_vec());
        p.push(read("shared/vectors/virtee-sev/vcek_milan.der"));
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn selection_is_order_independent(
        order in Just((0..7usize).collect::<Vec<_>>()).prop_shuffle(),
        junk in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let report = read("shared/vectors/csc/snp_report.bin");
        let r = Report::parse_with_product(&report, Some(Product::Milan)).unwrap();
        let p = pool();
        let mut certs: Vec<&[u8]> = order.iter().map(|i| &p[*i][..]).collect();
        certs.push(&junk);
        let ev = select(&certs, &r).unwrap();
        prop_assert_eq!(ev.signer, &p[0][..]);
        prop_assert_eq!(ev.intermediate, Some(&p[1][..]));
        prop_assert_eq!(ev.ark, Some(&p[2][..]));
    }
}
