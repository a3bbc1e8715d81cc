//! The simulated platform against independent checkers: its chain with the openssl CLI (PSS
//! chain verification, extension dump) and against AMD's own certificates field by field; its
//! reports with aws-lc-rs (signature over bytes 0..0x2A0 with the key in the VCEK certificate)
//! and the core's report reader.

mod common;

use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use csc_core::Product;
use csc_core::abi::{self, offset};
use csc_core::certtable::Guid;
use csc_core::report::{Report, TcbLayout};
use csc_core::source::{self, ReportRequest, ReportSource, Vmpl};
use csc_simulate::{Platform, PlatformConfig, SimError};

use common::*;

fn platform(product: Product, version: u32) -> Platform {
    let config = PlatformConfig::new(product, version)
        .unwrap()
        .with_security_policy(b"package policy\n");
    Platform::new(config, &cache()).unwrap()
}

fn request(seed: u8, vmpl: u32) -> ReportRequest {
    let mut rd = [0u8; 64];
    for (i, b) in rd.iter_mut().enumerate() {
        *b = seed.wrapping_add(i as u8);
    }
    ReportRequest::new(rd, Vmpl::new(vmpl).unwrap())
}

/// Checks the report's signature with the public key of the VCEK certificate.
fn signature_valid(report: &[u8], vcek_der: &[u8]) -> bool {
    let r = Report::parse(report).unwrap();
    let sig = r.signature();
    let (Some(r_be), Some(s_be)) = (sig.r_be(), sig.s_be()) else {
        return false;
    };
    let rs = [r_be, s_be].concat();
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, public_key_bits(vcek_der))
        .verify(&report[..abi::SIGNED_LEN], &rs)
        .is_ok()
}

#[test]
fn reports_of_every_product_and_version_are_signed_by_the_vcek() {
    for (product, version) in EVERY {
        let p = platform(product, version);
        let req = request(version as u8, 1);
        let bytes = p.report(&req).unwrap();
        let r = Report::parse(&bytes).unwrap();
        let what = format!("{product} v{version}");
        assert_eq!(r.version(), version, "{what}");
        assert_eq!(r.report_data(), &req.report_data, "{what}");
        assert_eq!(r.vmpl(), 1, "{what}");
        assert_eq!(
            r.host_data(),
            &csc_core::runtime::host_data_for(b"package policy\n")
        );
        assert_eq!(r.chip_id(), p.chip_id(), "{what}");
        assert_eq!(r.reported_tcb().raw(), p.reported_tcb().raw(), "{what}");
        assert_eq!(r.current_tcb().raw(), p.reported_tcb().raw(), "{what}");
        assert_eq!(r.report_id_ma(), &[0xFF; 32]);
        assert_eq!(r.signer_info().0, 0, "{what}: signed by the VCEK");
        assert_eq!(
            r.reserved_nonzero().count(),
            0,
            "{what}: reserved bytes are zero"
        );
        if version >= 3 {
            // The CPUID bytes identify the product, and with it the TCB layout.
            assert_eq!(r.product(), Some(product), "{what}");
            assert_eq!(r.tcb_layout(), product.tcb_layout(), "{what}");
        } else {
            assert_eq!(r.cpuid(), None);
        }
        if product == Product::Turin {
            assert!(r.chip_id()[8..].iter().all(|b| *b == 0), "{what}");
            assert_eq!(r.reported_tcb().parts().fmc, Some(1));
        }
        assert_eq!(r.launch_mit_vector().is_some(), version >= 5);
        assert!(signature_valid(&bytes, p.chain().vcek), "{what}");

        // One flipped bit anywhere in the signed range breaks the signature.
        let mut tampered = bytes;
        tampered[offset::REPORT_DATA] ^= 1;
        assert!(!signature_valid(&tampered, p.chain().vcek), "{what}");
        // Re-signing makes a chosen report valid again (for negative policy tests).
        p.sign(&mut tampered).unwrap();
        assert!(signature_valid(&tampered, p.chain().vcek), "{what}");
    }
}

#[test]
fn turin_version_2_and_unknown_versions_are_refused() {
    for (product, version) in [
        (Product::Turin, 2),
        (Product::Milan, 1),
        (Product::Genoa, 4),
        (Product::Milan, 6),
    ] {
        let e = PlatformConfig::new(product, version).unwrap_err();
        assert!(matches!(e, SimError::UnsupportedVersion { .. }), "{e}");
    }
    // Fields are public: a config changed after new() is checked again.
    let mut c = PlatformConfig::new(Product::Turin, 3).unwrap();
    c.version = 2;
    assert!(Platform::new(c, &cache()).is_err());
}

#[test]
fn requests_above_the_guest_privilege_fail_like_the_firmware() {
    let mut c = PlatformConfig::new(Product::Milan, 2).unwrap();
    c.guest_vmpl = Vmpl::new(2).unwrap();
    let p = Platform::new(c, &cache()).unwrap();
    let e = p.report(&request(0, 1)).unwrap_err();
    assert!(
        matches!(
            e,
            SimError::VmplBelowFloor {
                requested: 1,
                floor: 2
            }
        ),
        "{e}"
    );
    assert!(p.report(&request(0, 3)).is_ok());
}

#[test]
fn the_chain_verifies_with_openssl_and_fails_against_amd_roots() {
    let dir = scratch("openssl");
    for product in Product::ALL {
        let p = platform(product, 5);
        let c = p.chain();
        let name = product.name().to_ascii_lowercase();
        let file = |n: &str, der: &[u8]| {
            let path = dir.join(format!("{name}_{n}.pem"));
            std::fs::write(&path, csc_simulate::pem(der)).unwrap();
            path.to_string_lossy().into_owned()
        };
        let (ark, ask, vcek) = (file("ark", c.ark), file("ask", c.ask), file("vcek", c.vcek));
        let (ok, out) = openssl(&["verify", "-CAfile", &ark, "-untrusted", &ask, &vcek]);
        assert!(ok && out.contains(": OK"), "{product}: {out}");

        // AMD's real root does not sign the simulated ASK.
        let amd_ark = dir.join(format!("amd_{name}_ark.pem"));
        std::fs::write(&amd_ark, vector(&format!("amd/{name}_ark.pem"))).unwrap();
        let amd_ark = amd_ark.to_string_lossy().into_owned();
        let (ok, out) = openssl(&["verify", "-CAfile", &amd_ark, "-untrusted", &ask, &vcek]);
        assert!(
            !ok,
            "{product}: simulated chain must not verify against AMD's ARK: {out}"
        );
        // Nor does AMD's real ASK vouch for the simulated VCEK.
        let amd_ask = dir.join(format!("amd_{name}_ask.pem"));
        std::fs::write(&amd_ask, vector(&format!("amd/{name}_ask.pem"))).unwrap();
        let amd_ask = amd_ask.to_string_lossy().into_owned();
        let (ok, _) = openssl(&["verify", "-CAfile", &amd_ark, "-untrusted", &amd_ask, &vcek]);
        assert!(!ok, "{product}");

        // The report signature verifies with the key openssl reads from the VCEK.
        let (ok, text) = openssl(&[
            "x509", "-in", &vcek, "-noout", "-text", "-certopt", "ext_dump",
        ]);
        assert!(ok, "{text}");
        assert!(text.contains("ASN1 OID: secp384r1"), "{text}");
        assert!(text.contains("Signature Algorithm: rsassaPss"), "{text}");
        assert!(text.contains("Salt Length: 0x30"), "{text}");
        let tcb = p.reported_tcb().parts();
        let mut expect = vec![
            ("1.3.1", tcb.bootloader),
            ("1.3.2", tcb.tee),
            ("1.3.3", tcb.snp),
            ("1.3.8", tcb.microcode),
        ];
        if let Some(fmc) = tcb.fmc {
            expect.push(("1.3.9", fmc));
        }
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (arc, value) in expect {
            let oid = format!("1.3.6.1.4.1.3704.{arc}:");
            let at = lines
                .iter()
                .position(|l| *l == oid)
                .unwrap_or_else(|| panic!("{oid}: {text}"));
            let hex: Vec<String> = csc_simulate::der::uint_u64(value.into())
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let want = format!("0000 - {}", hex.join(" "));
            assert!(
                lines[at + 1].starts_with(&want),
                "{oid} {want}: {}",
                lines[at + 1]
            );
        }
        assert!(text.contains("1.3.6.1.4.1.3704.1.4:"), "{text}");
        assert!(text.contains("1.3.6.1.4.1.3704.1.3.8:"), "{text}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// AMD's own certificates for each product, to compare shapes with.
fn amd_vcek(product: Product) -> Vec<u8> {
    match product {
        Product::Milan => vector("trustee/az_milan_v3_vcek.der"),
        Product::Genoa => vector("oak/genoa_oc_vcek.der"),
        Product::Turin => der_of(&vector("ms-tav/turin_vcek.pem")),
    }
}

fn attr_types(n: &[(Vec<u8>, u8, String)]) -> Vec<(Vec<u8>, u8)> {
    n.iter().map(|(o, t, _)| (o.clone(), *t)).collect()
}

fn ext_ids(s: &Shape) -> Vec<(Vec<u8>, bool)> {
    s.extensions
        .iter()
        .map(|(o, c, _)| (o.clone(), *c))
        .collect()
}

#[test]
fn certificates_have_amds_profile() {
    for product in Product::ALL {
        let p = platform(product, 3);
        let name = product.name().to_ascii_lowercase();
        let pairs = [
            (
                "ark",
                p.chain().ark.to_vec(),
                der_of(&vector(&format!("amd/{name}_ark.pem"))),
            ),
            (
                "ask",
                p.chain().ask.to_vec(),
                der_of(&vector(&format!("amd/{name}_ask.pem"))),
            ),
            ("vcek", p.chain().vcek.to_vec(), amd_vcek(product)),
        ];
        for (which, ours, amds) in pairs {
            let (o, a) = (shape(&ours), shape(&amds));
            let what = format!("{product} {which}");
            assert_eq!(o.version, a.version, "{what}");
            assert_eq!(o.tbs_alg, a.tbs_alg, "{what}: TBS signature algorithm");
            assert_eq!(o.alg, a.alg, "{what}: signature algorithm");
            assert_eq!(o.spki_alg, a.spki_alg, "{what}: key algorithm");
            assert_eq!(o.key_bits_len, a.key_bits_len, "{what}: key size");
            assert_eq!(o.sig_len, a.sig_len, "{what}: signature size");
            assert_eq!(o.time_tags, a.time_tags, "{what}: validity time types");
            assert_eq!(
                attr_types(&o.issuer),
                attr_types(&a.issuer),
                "{what}: issuer shape"
            );
            assert_eq!(
                attr_types(&o.subject),
                attr_types(&a.subject),
                "{what}: subject shape"
            );
            // Same CN, same C/L/ST/O; only the OU marks the chain as simulated.
            for (mine, theirs) in o
                .subject
                .iter()
                .zip(&a.subject)
                .chain(o.issuer.iter().zip(&a.issuer))
            {
                if theirs.2 == "Engineering" {
                    assert_eq!(mine.2, csc_simulate::certs::SIMULATED_OU);
                } else {
                    assert_eq!(mine.2, theirs.2, "{what}");
                }
            }
            assert_eq!(
                ext_ids(&o),
                ext_ids(&a),
                "{what}: extensions and their order"
            );
            if which == "vcek" {
                for ((oid, _, mine), (_, _, theirs)) in o.extensions.iter().zip(&a.extensions) {
                    let amd_arc = [0x2B, 6, 1, 4, 1, 0x9C, 0x78, 1];
                    let sub = &oid[2 + amd_arc.len()..];
                    match sub {
                        // structVersion, productName, hwID length: identical to AMD's.
                        [1] | [2] => assert_eq!(mine, theirs, "{what} {sub:?}"),
                        [4] => assert_eq!(mine.len(), theirs.len(), "{what} hwID"),
                        // SPLs: DER INTEGERs like AMD's.
                        _ => assert_eq!(mine[0], 0x02, "{what} {sub:?}"),
                    }
                }
            }
        }
    }
}

#[test]
fn hwid_and_spls_bind_the_report_to_the_vcek() {
    for (product, version) in EVERY {
        let p = platform(product, version);
        let s = shape(p.chain().vcek);
        let ext = |sub: &[u8]| {
            s.extensions
                .iter()
                .find(|(o, _, _)| o.ends_with(sub) && o.len() == 2 + 8 + sub.len())
                .map(|(_, _, v)| v.clone())
                .unwrap_or_else(|| panic!("{product}: extension {sub:?}"))
        };
        let hw = ext(&[4]);
        let expect_len = if product == Product::Turin { 8 } else { 64 };
        assert_eq!(hw, p.chip_id()[..expect_len]);
        let parts = p.reported_tcb().parts();
        let int = |v: Vec<u8>| csc_core::der::read_single(&v, 0x02).unwrap().u64().unwrap();
        assert_eq!(int(ext(&[3, 1])), u64::from(parts.bootloader));
        assert_eq!(int(ext(&[3, 2])), u64::from(parts.tee));
        assert_eq!(int(ext(&[3, 3])), u64::from(parts.snp));
        assert_eq!(int(ext(&[3, 8])), u64::from(parts.microcode));
        if product.tcb_layout() == TcbLayout::Zen5 {
            assert_eq!(int(ext(&[3, 9])), u64::from(parts.fmc.unwrap()));
        }
    }
}

#[test]
fn keys_and_roots_are_cached() {
    let a = platform(Product::Genoa, 2);
    let b = platform(Product::Genoa, 5);
    assert_eq!(a.ark_der(), b.ark_der(), "one ARK per product and cache");
    assert_eq!(a.chain().ask, b.chain().ask);
    assert_eq!(a.vcek_public_key(), b.vcek_public_key());
    assert_eq!(a.chip_id(), b.chip_id());
    let m = platform(Product::Milan, 2);
    assert_ne!(a.ark_der(), m.ark_der(), "products have their own roots");
    assert_ne!(a.chip_id(), m.chip_id());
    // Another TCB gets its own VCEK certificate for the same key.
    let mut c = PlatformConfig::new(Product::Genoa, 5).unwrap();
    c.tcb.snp += 1;
    let newer = Platform::new(c, &cache()).unwrap();
    assert_ne!(newer.chain().vcek, a.chain().vcek);
    assert_eq!(newer.vcek_public_key(), a.vcek_public_key());
    let report = newer.report(&request(9, 0)).unwrap();
    assert!(signature_valid(&report, newer.chain().vcek));
    assert!(
        signature_valid(&report, a.chain().vcek),
        "same key, other TCB"
    );
    // Files are private.
    use std::os::unix::fs::PermissionsExt;
    let dir = cache().dir().join("genoa");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in std::fs::read_dir(dir).unwrap() {
        let mode = f.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn a_stale_certificate_in_the_cache_is_replaced() {
    // Keys copied from the shared cache (making RSA-4096 keys takes seconds), certificates not.
    platform(Product::Milan, 2);
    let base = scratch("stale");
    let cache = csc_simulate::KeyCache::open(&base).unwrap();
    std::fs::create_dir(cache.dir().join("milan")).unwrap();
    for key in ["ark.pk8", "ask.pk8", "vcek.pk8"] {
        let from = common::cache().dir().join("milan").join(key);
        std::fs::copy(from, cache.dir().join("milan").join(key)).unwrap();
    }
    let config = PlatformConfig::new(Product::Milan, 2).unwrap();
    let first = Platform::new(config.clone(), &cache).unwrap();
    // Someone swaps the ASK and ARK keys: the cached certificates no longer match them.
    std::fs::rename(
        cache.dir().join("milan/ask.pk8"),
        cache.dir().join("milan/tmp.pk8"),
    )
    .unwrap();
    std::fs::rename(
        cache.dir().join("milan/ark.pk8"),
        cache.dir().join("milan/ask.pk8"),
    )
    .unwrap();
    std::fs::rename(
        cache.dir().join("milan/tmp.pk8"),
        cache.dir().join("milan/ark.pk8"),
    )
    .unwrap();
    let second = Platform::new(config, &cache).unwrap();
    assert_ne!(first.ark_der(), second.ark_der());
    assert_ne!(first.chain().ask, second.chain().ask);
    assert_ne!(first.chain().vcek, second.chain().vcek);
    let dir = scratch("stale-openssl");
    let w = |n: &str, d: &[u8]| {
        let p = dir.join(n);
        std::fs::write(&p, csc_simulate::pem(d)).unwrap();
        p.to_string_lossy().into_owned()
    };
    let c = second.chain();
    let (ark, ask, vcek) = (w("ark", c.ark), w("ask", c.ask), w("vcek", c.vcek));
    let (ok, out) = openssl(&["verify", "-CAfile", &ark, "-untrusted", &ask, &vcek]);
    assert!(ok, "{out}");
    // A corrupt key is an error that names the file, not a panic or a silent new key.
    std::fs::write(cache.dir().join("milan/vcek.pk8"), b"garbage").unwrap();
    let e = Platform::new(PlatformConfig::new(Product::Milan, 2).unwrap(), &cache).unwrap_err();
    assert!(e.to_string().contains("vcek.pk8"), "{e}");
    std::fs::remove_dir_all(base).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn it_is_a_report_source_with_an_extended_certificate_table() {
    let p = platform(Product::Turin, 5);
    assert!(p.simulated());
    assert_eq!(ReportSource::name(&p), "simulated");
    let req = request(3, 0);
    let mut buf = [0u8; abi::REPORT_SIZE];
    let report = embassy_futures::block_on(source::fetch(&p, &req, &mut buf)).unwrap();
    assert_eq!(report.report_data(), &req.report_data);

    let mut small = vec![0u8; 100];
    let mut buf = [0u8; abi::REPORT_SIZE];
    let e = embassy_futures::block_on(source::fetch_extended(&p, &req, &mut buf, &mut small))
        .unwrap_err();
    let source::FetchError::Source(e) = e else {
        panic!("{e:?}")
    };
    use csc_core::source::SourceError;
    let needed = e.certs_needed().unwrap();
    assert_eq!(needed, p.cert_table().len());
    let mut certs = vec![0u8; needed];
    let (_, used) =
        embassy_futures::block_on(source::fetch_extended(&p, &req, &mut buf, &mut certs)).unwrap();
    assert_eq!(used, needed);
    // The table holds VCEK, ASK, ARK under their GUIDs, then a zero entry.
    let entry = |i: usize| {
        let e = &certs[i * 24..(i + 1) * 24];
        let off = u32::from_le_bytes(e[16..20].try_into().unwrap()) as usize;
        let len = u32::from_le_bytes(e[20..24].try_into().unwrap()) as usize;
        (e[..16].to_vec(), certs[off..off + len].to_vec())
    };
    let c = p.chain();
    assert_eq!(entry(0), (Guid::VCEK.0.to_vec(), c.vcek.to_vec()));
    assert_eq!(entry(1), (Guid::ASK.0.to_vec(), c.ask.to_vec()));
    assert_eq!(entry(2), (Guid::ARK.0.to_vec(), c.ark.to_vec()));
    assert!(certs[72..96].iter().all(|b| *b == 0));
}

#[test]
fn futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let p = platform(Product::Milan, 2);
    let req = request(0, 0);
    let mut buf = [0u8; abi::REPORT_SIZE];
    let fut = ReportSource::report(&p, &req, &mut buf);
    is_send(&fut);
    drop(fut);
    let pem = p.chain().to_pem();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 3);
    assert!(format!("{p:?}").contains("chip_id"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    #[test]
    fn any_request_gives_a_valid_binding_report(
        data in proptest::arbitrary::any::<[u8; 64]>(),
        vmpl in 0u32..=3,
        which in 0usize..EVERY.len(),
    ) {
        let (product, version) = EVERY[which];
        let p = platform(product, version);
        let req = ReportRequest::new(data, Vmpl::new(vmpl).unwrap());
        let bytes = p.report(&req).unwrap();
        let r = Report::parse(&bytes).unwrap();
        proptest::prop_assert_eq!(r.report_data(), &data);
        proptest::prop_assert_eq!(r.vmpl(), vmpl);
        proptest::prop_assert!(signature_valid(&bytes, p.chain().vcek));
    }
}
