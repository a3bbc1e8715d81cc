//! Every certificate vector (`cert_signed_by`, `cert_chain`, `thim_json`, `x5c_chain`) against
//! the core's certificate reader, with both crypto backends.

mod support;

use csc_core::cert::amd::AmdExtensions;
use csc_core::cert::{Certificate, Civil, PublicKey, SignatureScheme, Time};
use csc_core::verify::x509::{self, X509Error};
use csc_core::verify::{Category, ChainError, Crypto, Role, TrustedArk, VerifyError, roots};
use csc_vectors::{read, vectors_of};
use proptest::prelude::*;
use serde_json::Value;
use support::{NOW, backends, cert_der, product_of_root};

#[test]
fn cert_signed_by_vectors() {
    let vectors = vectors_of("cert_signed_by");
    assert_eq!(vectors.len(), 9);
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let child_der = cert_der(&v["child"]);
        let issuer_der = cert_der(&v["issuer"]);
        let child = Certificate::from_der(&child_der).unwrap();
        let issuer = Certificate::from_der(&issuer_der).unwrap();
        let valid = v["expect"] == "valid";
        for (name, crypto) in backends() {
            let got = x509::check_signed_by(&*crypto, &child, &issuer);
            if valid {
                assert_eq!(got, Ok(SignatureScheme::RsaPssSha384), "{id} [{name}]");
            } else {
                assert!(got.is_err(), "{id} [{name}]: {got:?}");
                // Not only the names: the signature itself does not verify with that key.
                assert_eq!(
                    x509::check_signature(&*crypto, &child, &issuer.public_key()),
                    Err(X509Error::Signature),
                    "{id} [{name}]"
                );
            }
        }
    }
    // "An ASK must never be accepted as a root".
    let ask = roots::ask(csc_core::Product::Milan);
    assert!(
        TrustedArk::pinned(&csc_core::verify::CoreCrypto, ask, csc_core::Product::Milan).is_err()
    );
}

fn check_leaf_ext(id: &str, leaf: &Certificate<'_>, want: &Value) {
    let ext = AmdExtensions::from_cert(leaf).unwrap();
    let Some(want) = want.as_object() else { return };
    for (k, v) in want {
        let got: Value = match k.as_str() {
            "1" => ext.struct_version.into(),
            "2" => ext.product_name.into(),
            "3.1" => ext.bl_spl.into(),
            "3.2" => ext.tee_spl.into(),
            "3.3" => ext.snp_spl.into(),
            "3.8" => ext.ucode_spl.into(),
            "3.9" => ext.fmc_spl.into(),
            "4" => ext
                .hwid
                .map(|h| csc_core::hex::Hex(&h[..8]).to_string())
                .into(),
            other => panic!("{id}: unknown extension key {other}"),
        };
        assert_eq!(&got, v, "{id}: extension {k}");
    }
}

#[test]
fn cert_chain_vectors() {
    let vectors = vectors_of("cert_chain");
    assert_eq!(vectors.len(), 10);
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let (leaf_der, inter_der, root_der) = (
            cert_der(&v["leaf"]),
            cert_der(&v["intermediate"]),
            cert_der(&v["root"]),
        );
        let leaf = Certificate::from_der(&leaf_der).unwrap();
        let inter = Certificate::from_der(&inter_der).unwrap();
        let root = Certificate::from_der(&root_der).unwrap();
        let valid = v["expect"] == "valid";
        if let Some(names) = v["names"].as_object() {
            for (role, cert) in [("leaf", &leaf), ("intermediate", &inter), ("root", &root)] {
                assert_eq!(
                    cert.subject().common_name(),
                    names[role].as_str(),
                    "{id}: {role} name"
                );
            }
        }
        if let Some(want) = v.get("leaf_ext") {
            check_leaf_ext(id, &leaf, want);
        }
        if let Some(validity) = v["leaf_validity"].as_array() {
            let fmt = |t: Time| t.to_string().trim_end_matches(" UTC").to_string();
            assert_eq!(fmt(leaf.validity().not_before), validity[0], "{id}");
            assert_eq!(fmt(leaf.validity().not_after), validity[1], "{id}");
        }
        let product = product_of_root(&root_der);
        for (name, crypto) in backends() {
            // AMD's profile: the root must be the built-in one, then ASK, then VCEK.
            let ark = TrustedArk::builtin(&*crypto, product).unwrap();
            ark.check_same_root(&*crypto, &root_der).unwrap();
            let result = ark
                .verify_intermediate(&*crypto, &inter_der, Role::Ask, Some(NOW))
                .and_then(|ask| ask.verify_signer(&*crypto, &leaf_der, Some(NOW)));
            // The generic path check agrees.
            let path =
                x509::verify_path(&*crypto, &[leaf.clone(), inter.clone()], &root, Some(NOW));
            if valid {
                let signer = result.unwrap_or_else(|e| panic!("{id} [{name}]: {e}"));
                assert_eq!(signer.role(), Role::Vcek, "{id}");
                assert_eq!(path, Ok(()), "{id} [{name}]");
            } else {
                let e = result.expect_err(id);
                assert_eq!(e.category(), Category::Chain, "{id} [{name}]: {e}");
                assert!(path.is_err(), "{id} [{name}]");
            }
            // The per-link expectations of negative vectors.
            let link = |c: &Certificate<'_>, i: &Certificate<'_>| {
                x509::check_signature(&*crypto, c, &i.public_key()).is_ok()
            };
            for (key, child, issuer) in [
                ("root_self_signed", &root, &root),
                ("intermediate_signed_by_root", &inter, &root),
                ("leaf_signed_by_intermediate", &leaf, &inter),
            ] {
                if let Some(want) = v[key].as_bool() {
                    assert_eq!(link(child, issuer), want, "{id} [{name}]: {key}");
                }
            }
        }
    }
}

#[test]
fn tampered_vcek_fails_on_its_algorithm_identifier() {
    // The derived negative flips a byte of the signature algorithm inside the signed part: the
    // inner and outer algorithms then differ, which is a chain error, not malformed input.
    let der = read("shared/vectors/negative/virtee_vcek_milan_tampered_byte40.der");
    let ark = TrustedArk::builtin(&csc_core::verify::CoreCrypto, csc_core::Product::Milan).unwrap();
    let ask = ark
        .verify_intermediate(
            &csc_core::verify::CoreCrypto,
            roots::ask(csc_core::Product::Milan),
            Role::Ask,
            None,
        )
        .unwrap();
    assert_eq!(
        ask.verify_signer(&csc_core::verify::CoreCrypto, &der, None)
            .unwrap_err(),
        VerifyError::Chain(ChainError::AlgorithmMismatch { cert: Role::Vcek })
    );
}

/// Reads a JSON string member, undoing escapes with the core's JSON reader.
fn json_string(doc: &str, key: &str) -> String {
    let root = csc_core::json::parse(doc).unwrap();
    let csc_core::json::Value::Object(obj) = root else {
        panic!("not an object")
    };
    let v = csc_core::json::get(obj, key).unwrap().unwrap();
    let csc_core::json::Value::String(s) = v else {
        panic!("{key} is not a string")
    };
    let mut buf = vec![0u8; doc.len()];
    let text = s.unescape_into(&mut buf).unwrap();
    text.to_string()
}

fn pem_certs_core(text: &[u8]) -> Vec<Vec<u8>> {
    csc_core::pem::blocks(text)
        .map(|b| {
            let b = b.unwrap();
            let mut out = vec![0u8; b.decoded_len_max()];
            b.decode_into(&mut out).unwrap().to_vec()
        })
        .collect()
}

#[test]
fn thim_json_vectors() {
    let vectors = vectors_of("thim_json");
    assert_eq!(vectors.len(), 1);
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let doc = String::from_utf8(read(v["file"].as_str().unwrap())).unwrap();
        let vcek = pem_certs_core(json_string(&doc, "vcekCert").as_bytes());
        let chain = pem_certs_core(json_string(&doc, "certificateChain").as_bytes());
        assert_eq!((vcek.len(), chain.len()), (1, 2), "{id}: ASK then ARK");
        assert_eq!(vcek[0], support::cert_der(&v["same_vcek_as"]), "{id}");
        for (product, file) in v["ark_equals"].as_object().unwrap() {
            let p = csc_core::Product::from_name(product).unwrap();
            assert_eq!(chain[1], roots::ark(p), "{id}: ARK is AMD's {product}");
            assert_eq!(pem_certs_core(&read(file.as_str().unwrap()))[0], chain[1]);
        }
        let tcbm = u64::from_str_radix(&json_string(&doc, "tcbm"), 16).unwrap();
        assert_eq!(format!("{tcbm:016x}"), v["tcbm"], "{id}");
        let leaf = Certificate::from_der(&vcek[0]).unwrap();
        let ext = AmdExtensions::from_cert(&leaf).unwrap();
        let product = ext.product().unwrap();
        assert_eq!(
            ext.tcb(product.tcb_layout()).raw(),
            tcbm,
            "{id}: tcbm = VCEK SPLs"
        );
        assert_eq!(
            csc_core::hex::Hex(&ext.hwid.unwrap()[..8]).to_string(),
            v["hwid_prefix"],
            "{id}"
        );
        for (name, crypto) in backends() {
            let ark = TrustedArk::builtin(&*crypto, product).unwrap();
            ark.check_same_root(&*crypto, &chain[1]).unwrap();
            let ask = ark
                .verify_intermediate(&*crypto, &chain[0], Role::Ask, Some(NOW))
                .unwrap();
            let signer = ask.verify_signer(&*crypto, &vcek[0], Some(NOW));
            assert_eq!(signer.is_ok(), v["expect"] == "valid", "{id} [{name}]");
        }
    }
}

fn time_of(text: &str) -> Time {
    // "2022-12-01T00:00:00"
    let n = |r: std::ops::Range<usize>| text[r].parse::<u16>().unwrap();
    Time::from_civil(Civil {
        year: n(0..4),
        month: n(5..7) as u8,
        day: n(8..10) as u8,
        hour: n(11..13) as u8,
        minute: n(14..16) as u8,
        second: n(17..19) as u8,
    })
    .unwrap()
}

#[test]
fn x5c_chain_vectors() {
    // The managed-HSM TLS chain is ordinary web PKI: RSA keys, PKCS#1 v1.5 signatures with
    // SHA-384 (leaf, intermediate) and SHA-256 (the self-signed root). The core reads it and both
    // backends check it with the generic path check.
    use base64::Engine;
    let vectors = vectors_of("x5c_chain");
    assert_eq!(vectors.len(), 1);
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let doc: Value = serde_json::from_slice(&read(v["file"].as_str().unwrap())).unwrap();
        let b64 = |s: &Value| {
            base64::engine::general_purpose::STANDARD
                .decode(s.as_str().unwrap())
                .unwrap()
        };
        let ders: Vec<Vec<u8>> = doc["x5c"].as_array().unwrap().iter().map(b64).collect();
        let root_der = b64(&doc["root"]);
        let chain: Vec<Certificate<'_>> = ders
            .iter()
            .map(|d| Certificate::from_der(d).unwrap())
            .collect();
        let root = Certificate::from_der(&root_der).unwrap();
        assert!(matches!(chain[0].public_key(), PublicKey::Rsa(_)));
        let leaf_cn = chain[0].subject().common_name().unwrap();
        assert!(
            leaf_cn.ends_with(doc["dns_name"].as_str().unwrap()),
            "{id}: {leaf_cn}"
        );
        for (name, crypto) in backends() {
            let ok = x509::verify_path(&*crypto, &chain, &root, None).is_ok();
            assert_eq!(
                ok,
                v["signatures_valid"].as_bool().unwrap(),
                "{id} [{name}]"
            );
            let schemes: Vec<_> = chain
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    x509::check_signed_by(&*crypto, c, chain.get(i + 1).unwrap_or(&root)).unwrap()
                })
                .collect();
            assert!(
                schemes.contains(&SignatureScheme::RsaPkcs1Sha384),
                "{id}: {schemes:?}"
            );
            for (at, want) in v["valid_at"].as_object().unwrap() {
                let r = x509::verify_path(&*crypto, &chain, &root, Some(time_of(at)));
                assert_eq!(
                    r.is_ok(),
                    want.as_bool().unwrap(),
                    "{id} [{name}] at {at}: {r:?}"
                );
                if let Err((_, e)) = r {
                    assert!(matches!(e, X509Error::NotValidAt { .. }), "{id}: {e}");
                    assert!(e.to_string().contains("expired"));
                }
            }
        }
    }
}

fn chain_verifies(crypto: &dyn Crypto, vcek: &[u8]) -> bool {
    let ark = TrustedArk::builtin(crypto, csc_core::Product::Milan).unwrap();
    ark.verify_intermediate(
        crypto,
        roots::ask(csc_core::Product::Milan),
        Role::Ask,
        None,
    )
    .and_then(|ask| ask.verify_signer(crypto, vcek, None))
    .is_ok()
}

fn single_byte_changes(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const VCEK: &str = "shared/vectors/virtee-sev/vcek_milan.der";

proptest! {
    #![proptest_config(single_byte_changes(512))]
    /// Any change of one byte of a VCEK makes its chain fail (to parse or to verify).
    #[test]
    fn any_changed_vcek_byte_fails_aws_lc(pos in 0usize..1360, x in 1u8..=255) {
        let mut der = read(VCEK);
        prop_assume!(pos < der.len());
        der[pos] ^= x;
        prop_assert!(!chain_verifies(&csc_crypto::verify::AwsLcCrypto::new(), &der));
    }
}

proptest! {
    #![proptest_config(single_byte_changes(96))]
    #[test]
    fn any_changed_vcek_byte_fails_core(pos in 0usize..1360, x in 1u8..=255) {
        let mut der = read(VCEK);
        prop_assume!(pos < der.len());
        der[pos] ^= x;
        prop_assert!(!chain_verifies(&csc_core::verify::CoreCrypto, &der));
    }

    /// The same for the ASK: any changed byte breaks the chain under the built-in ARK.
    #[test]
    fn any_changed_ask_byte_fails(pos in 0usize..1677, x in 1u8..=255) {
        let mut der = roots::ask(csc_core::Product::Genoa).to_vec();
        der[pos] ^= x;
        let crypto = csc_crypto::verify::AwsLcCrypto::new();
        let ark = TrustedArk::builtin(&crypto, csc_core::Product::Genoa).unwrap();
        prop_assert!(ark.verify_intermediate(&crypto, &der, Role::Ask, None).is_err());
    }
}

#[test]
fn unmodified_inputs_of_the_property_tests_verify() {
    // So the properties above cannot pass vacuously.
    assert!(chain_verifies(&csc_core::verify::CoreCrypto, &read(VCEK)));
    assert_eq!(read(VCEK).len(), 1360);
    assert_eq!(roots::ask(csc_core::Product::Genoa).len(), 1677);
}
