//! Every `snp_report` vector parses with exactly the fields its MANIFEST states, and the
//! report_data / host_data bindings hold.

use csc_core::hex::Hex;
use csc_core::input::{self, Format};
use csc_core::{Product, runtime};
use csc_vectors::{as_u64, read, read_ref, vectors_of};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn check_fields(id: &str, r: &csc_core::Report<'_>, f: &Value) {
    let u = |k: &str| as_u64(&f[k]);
    let s = |k: &str| {
        f[k].as_str()
            .unwrap_or_else(|| panic!("{id}: {k} missing"))
            .to_string()
    };
    assert_eq!(u64::from(r.version()), u("version"), "{id}: version");
    assert_eq!(u64::from(r.guest_svn()), u("guest_svn"), "{id}: guest_svn");
    assert_eq!(r.policy().0, u("policy"), "{id}: policy");
    assert_eq!(u64::from(r.vmpl()), u("vmpl"), "{id}: vmpl");
    assert_eq!(
        u64::from(r.signature_algo()),
        u("sig_algo"),
        "{id}: sig_algo"
    );
    assert_eq!(
        r.platform_info().0,
        u("platform_info"),
        "{id}: platform_info"
    );
    let signing_key = (r.signer_info().0 >> 2) & 7;
    assert_eq!(
        u64::from(signing_key),
        u("signing_key"),
        "{id}: signing_key"
    );
    assert_eq!(r.current_tcb().raw(), u("current_tcb"), "{id}: current_tcb");
    assert_eq!(
        r.reported_tcb().raw(),
        u("reported_tcb"),
        "{id}: reported_tcb"
    );
    assert_eq!(
        r.committed_tcb().raw(),
        u("committed_tcb"),
        "{id}: committed_tcb"
    );
    assert_eq!(r.launch_tcb().raw(), u("launch_tcb"), "{id}: launch_tcb");
    let fw = r.current_version();
    assert_eq!(
        (
            u64::from(fw.major),
            u64::from(fw.minor),
            u64::from(fw.build)
        ),
        (u("current_major"), u("current_minor"), u("current_build")),
        "{id}: firmware"
    );
    let raw = r.raw();
    assert_eq!(
        (
            u64::from(raw.cpuid_fam_id),
            u64::from(raw.cpuid_mod_id),
            u64::from(raw.cpuid_step)
        ),
        (u("cpuid_fam_id"), u("cpuid_mod_id"), u("cpuid_step")),
        "{id}: cpuid bytes"
    );
    for (k, v) in [
        ("chip_id", Hex(r.chip_id()).to_string()),
        ("report_data", Hex(r.report_data()).to_string()),
        ("measurement", Hex(r.measurement()).to_string()),
        ("host_data", Hex(r.host_data()).to_string()),
        ("family_id", Hex(r.family_id()).to_string()),
        ("image_id", Hex(r.image_id()).to_string()),
        ("id_key_digest", Hex(r.id_key_digest()).to_string()),
        ("report_id", Hex(r.report_id()).to_string()),
    ] {
        assert_eq!(v, s(k), "{id}: {k}");
    }
}

fn check_tcb(id: &str, r: &csc_core::Report<'_>, tcb: &Value) {
    let want = &tcb["reported_tcb"];
    let p = r.reported_tcb().parts();
    let get = |k: &str| want[k].as_u64();
    assert_eq!(
        get("bootloader"),
        Some(u64::from(p.bootloader)),
        "{id}: bootloader"
    );
    assert_eq!(get("tee"), Some(u64::from(p.tee)), "{id}: tee");
    assert_eq!(get("snp"), Some(u64::from(p.snp)), "{id}: snp");
    assert_eq!(
        get("microcode"),
        Some(u64::from(p.microcode)),
        "{id}: microcode"
    );
    assert_eq!(get("fmc"), p.fmc.map(u64::from), "{id}: fmc");
}

#[test]
fn every_report_vector_parses_with_its_manifest_fields() {
    let vectors = vectors_of("snp_report");
    assert!(
        vectors.len() >= 10,
        "expected every report vector, found {}",
        vectors.len()
    );
    let mut checked = 0;
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let bytes = read(v["report"]["file"].as_str().unwrap());
        let want_format = v["report"]["format"].as_str().unwrap();
        let hint = v["product"].as_str().and_then(Product::from_name);
        let mut scratch = vec![0u8; bytes.len()];
        let parsed =
            input::parse(&bytes, &mut scratch, hint).unwrap_or_else(|e| panic!("{id}: {e}"));
        let expected_format = match want_format {
            "bin" => Format::Binary,
            "hex" => Format::HexBinary,
            "hcl" => Format::Hcl,
            other => panic!("{id}: unknown format {other}"),
        };
        assert_eq!(parsed.format, expected_format, "{id}: format");
        let r = parsed.report;
        // v3+ reports must detect their product from CPUID alone.
        if r.version() >= 3 {
            let mut scratch2 = vec![0u8; bytes.len()];
            let alone = input::parse(&bytes, &mut scratch2, None).unwrap().report;
            assert_eq!(alone.product(), hint, "{id}: product from CPUID");
        }
        assert_eq!(r.product(), hint, "{id}: product");
        if let Some(f) = v.get("fields") {
            check_fields(id, &r, f);
        }
        if let Some(t) = v.get("tcb") {
            check_tcb(id, &r, t);
        }
        let b = &v["bindings"];
        if let Some(src) = b.get("report_data_is_sha256_of") {
            let data = read_ref(src);
            assert_eq!(
                &runtime::report_data_for(&data)[..],
                &r.report_data()[..],
                "{id}: report_data binding"
            );
        }
        if let Some(src) = b.get("host_data_is_sha256_of") {
            let data = read_ref(src);
            assert_eq!(
                &runtime::host_data_for(&data),
                r.host_data(),
                "{id}: host_data binding"
            );
        }
        if let Some(want) = b.get("hcl_var_data_sha256_is_report_data") {
            let h = parsed.hcl.expect("hcl vector parsed as HCL");
            assert_eq!(
                Some(h.runtime_data_bound()),
                want.as_bool(),
                "{id}: HCL binding"
            );
        }
        checked += 1;
    }
    println!("checked {checked} report vectors");
}

#[test]
fn digest_vectors() {
    for v in vectors_of("sha256_of_decoded") {
        let id = v["id"].as_str().unwrap();
        let data = read_ref(&v);
        let want = v["sha256"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no sha256 ({v})"));
        assert_eq!(Hex(&Sha256::digest(&data)).to_string(), want, "{id}");
    }
}

#[test]
fn json_round_trips_every_report_vector() {
    for v in vectors_of("snp_report") {
        let id = v["id"].as_str().unwrap();
        let bytes = read(v["report"]["file"].as_str().unwrap());
        let mut scratch = vec![0u8; bytes.len()];
        let parsed = input::parse(&bytes, &mut scratch, None).unwrap();
        let mut buf = vec![0u8; csc_core::report::json::RENDER_CAPACITY];
        let text = csc_core::report::json::render(&parsed.report, &mut buf).unwrap();
        let _: Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{id}: invalid JSON: {e}"));
        let mut back = [0u8; 1184];
        csc_core::report::json::from_json(text, &mut back).unwrap();
        assert_eq!(&back[..], parsed.report.as_bytes(), "{id}");
    }
}
