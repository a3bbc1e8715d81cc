//! `snp-report verify` on what real Azure evidence needs, driving the real binary: the HCL
//! variable-data binding (exit 4 with both digests), `--permit-provisional-firmware` named by
//! the policy error that needs it, chain files read by role in any order with extra
//! certificates ignored, `--at` to verify at a past time, and ASK/ASVK anchors given with a
//! pinned root so a VLEK report verifies with only its VLEK. Human and `--json` output both.

mod common;

use std::process::Output;

use common::{code, p, snp_report, write};
use csc_core::hex::Hex;
use csc_vectors::synth::{Endorsement, Pki};
use csc_vectors::{mhsm_tls_root, pem_certs, pem_of, read};
use serde_json::Value;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

const AZ_HCL: &str = "shared/vectors/trustee/az_milan_v3_hcl_report.bin";
const AZ_VCEK: &str = "shared/vectors/trustee/az_milan_v3_vcek.der";

#[test]
fn azure_hcl_report_binds_its_variable_data() {
    let dir = tempfile::tempdir().unwrap();
    let vcek = p(AZ_VCEK);
    // Genuine: verified, binding reported with the digest.
    let out = snp_report(&["verify", &p(AZ_HCL), "--vcek", &vcek, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    let hcl = &doc["checks"]["binding"]["hcl_variable_data"];
    assert_eq!(hcl["status"], "ok");
    assert_eq!(hcl["hash"], "SHA-256");
    assert_eq!(hcl["variable_data_digest"], hcl["report_data"]);
    assert_eq!(doc["report"]["format"], "hcl");
    let human = snp_report(&["verify", &p(AZ_HCL), "--vcek", &vcek]);
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("HCL variable data SHA-256"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );

    // Tampered variable data: a binding failure (exit 4) naming both digests.
    let mut bytes = read(AZ_HCL);
    let at = bytes.windows(5).position(|w| w == b"\"kty\"").unwrap();
    bytes[at + 1] ^= 0x20;
    let var_at = csc_core::hcl::VARIABLE_DATA_OFFSET;
    let var_len = u32::from_le_bytes(bytes[var_at - 4..var_at].try_into().unwrap()) as usize;
    let digest = {
        use sha2_digest::sha256;
        sha256(&bytes[var_at..var_at + var_len])
    };
    let report_data = Hex(&bytes[0x20 + 0x50..0x20 + 0x70]).to_string();
    let tampered = write(dir.path(), "tampered.bin", &bytes);
    let out = snp_report(&["verify", &tampered, "--vcek", &vcek]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&Hex(&digest).to_string()), "{err}");
    assert!(err.contains(&report_data), "{err}");
    let out = snp_report(&["verify", &tampered, "--vcek", &vcek, "--json"]);
    assert_eq!(code(&out), 4);
    let doc = json(&out);
    assert_eq!(doc["verified"], false);
    assert_eq!(doc["checks"]["report_signature"]["status"], "ok");
    assert_eq!(doc["checks"]["binding"]["status"], "failed");
    let hcl = &doc["checks"]["binding"]["hcl_variable_data"];
    assert_eq!(hcl["status"], "failed");
    assert_eq!(hcl["variable_data_digest"], Hex(&digest).to_string());
    assert_eq!(hcl["report_data"], report_data);
    // The same as hex text (how get-snp-report prints it).
    let as_hex = write(
        dir.path(),
        "tampered.hex",
        Hex(&bytes).to_string().as_bytes(),
    );
    assert_eq!(code(&snp_report(&["verify", &as_hex, "--vcek", &vcek])), 4);
}

/// SHA-256 through aws-lc-rs (the test's own, independent of the core's sha2 use).
mod sha2_digest {
    pub fn sha256(data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
            .as_ref()
            .to_vec()
    }
}

const LONG: (&str, &str) = ("250101000000Z", "491231000000Z");

#[test]
fn provisional_firmware_is_permitted_only_by_the_flag_the_error_names() {
    let pki = Pki::new("Genoa");
    let dir = tempfile::tempdir().unwrap();
    let template = read("shared/vectors/oak/genoa_oc_report.bin");
    let vcek = pki.endorser(&Endorsement::genoa(Some(&template[0x1A0..0x1E0]), LONG));
    // COMMITTED_TCB one microcode step below CURRENT_TCB, COMMITTED_BUILD one below the
    // current build: firmware installed but not yet committed.
    let mut provisional = template.clone();
    provisional[0x1E0 + 7] -= 1;
    provisional[0x1EC] -= 1;
    vcek.sign_report(&mut provisional);
    let f = |name: &str, bytes: &[u8]| write(dir.path(), name, bytes);
    let report = f("provisional.bin", &provisional);
    let (vcek_f, ask, ark) = (
        f("vcek.der", &vcek.der),
        f("ask.der", &pki.ask.der),
        f("ark.der", &pki.ark.der),
    );
    let base = [
        "verify",
        report.as_str(),
        "--vcek",
        vcek_f.as_str(),
        "--chain",
        ask.as_str(),
        "--pin-ark",
        ark.as_str(),
    ];
    let run = |extra: &[&str]| snp_report(&[&base[..], extra].concat());

    let out = run(&[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("COMMITTED_TCB"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--permit-provisional-firmware"),
        "{}",
        stderr(&out)
    );
    let doc = json(&run(&["--json"]));
    let v = doc["checks"]["policy"]["violations"].as_array().unwrap();
    let fields: Vec<&str> = v.iter().map(|x| x["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["COMMITTED_TCB", "COMMITTED_BUILD"]);
    for x in v {
        assert_eq!(x["remedy"], "permit_provisional_firmware");
        assert_eq!(x["remedy_flag"], "--permit-provisional-firmware");
    }
    assert_eq!(doc["options"]["permit_provisional_firmware"], false);

    let out = run(&["--permit-provisional-firmware", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["options"]["permit_provisional_firmware"], true);
    assert_eq!(doc["checks"]["policy"]["status"], "ok");
    let out = run(&["--permit-provisional-firmware"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("provisional firmware permitted"));

    // Committed above current is not provisional: no flag accepts it, none is named.
    let mut odd = template.clone();
    odd[0x1E0 + 7] += 1;
    vcek.sign_report(&mut odd);
    let odd_f = f("odd.bin", &odd);
    let mut args = base.to_vec();
    args[1] = &odd_f;
    args.push("--permit-provisional-firmware");
    let out = snp_report(&args);
    assert_eq!(code(&out), 5);
    assert!(!stderr(&out).contains("--permit-provisional-firmware"));
}

#[test]
fn chain_files_are_read_by_role_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let report = p("shared/vectors/csc/snp_report.bin");
    let chain = pem_certs(&read("shared/vectors/csc/uvm_host_amd_certificate.pem"));
    let (vcek, ask, ark) = (&chain[0][..], &chain[1][..], &chain[2][..]);
    let extra = mhsm_tls_root();
    let genoa_ask = csc_core::verify::roots::ask(csc_core::Product::Genoa);
    // One bundle, root first, with a TLS root and another product's ASK mixed in.
    let bundle = write(
        dir.path(),
        "bundle.pem",
        pem_of(&[ark, &extra, genoa_ask, ask, vcek]).as_bytes(),
    );
    let out = snp_report(&["verify", &report, "--chain", &bundle, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["checks"]["certificate_chain"]["signer"], "VCEK");
    // The VCEK given with --chain and the rest with --vcek: roles, not options, decide.
    let v = write(dir.path(), "v.pem", pem_of(&[ark, ask]).as_bytes());
    let c = write(dir.path(), "c.pem", pem_of(&[vcek, &extra]).as_bytes());
    let out = snp_report(&["verify", &report, "--vcek", &v, "--chain", &c]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A VLEK chain given as [ASK, ARK, ASVK] (the ASK must not be taken for the ASVK).
    let pki = Pki::new("Genoa");
    let template = read("shared/vectors/oak/genoa_oc_report.bin");
    let vlek = pki.endorser(&Endorsement::genoa(None, LONG));
    let mut vr = template.clone();
    vr[0x48] = 1 << 2;
    vlek.sign_report(&mut vr);
    let f = |name: &str, bytes: &[u8]| write(dir.path(), name, bytes);
    let (vr_f, vlek_f, ark_f) = (
        f("vlek.bin", &vr),
        f("vlek.der", &vlek.der),
        f("ark.der", &pki.ark.der),
    );
    let chain_f = f(
        "ask-ark-asvk.pem",
        pem_of(&[&pki.ask.der, &pki.ark.der, &pki.asvk.der]).as_bytes(),
    );
    let out = snp_report(&[
        "verify",
        &vr_f,
        "--vcek",
        &vlek_f,
        "--chain",
        &chain_f,
        "--pin-ark",
        &ark_f,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        json(&out)["checks"]["certificate_chain"]["intermediate"],
        "ASVK"
    );
}

#[test]
fn at_verifies_certificate_validity_at_a_past_time() {
    let pki = Pki::new("Genoa");
    let dir = tempfile::tempdir().unwrap();
    let template = read("shared/vectors/oak/genoa_oc_report.bin");
    // A short-lived VLEK: valid in the first half of 2024 only.
    let vlek = pki.endorser(&Endorsement::genoa(
        None,
        ("240101000000Z", "240630235959Z"),
    ));
    let mut vr = template.clone();
    vr[0x48] = 1 << 2;
    vlek.sign_report(&mut vr);
    let f = |name: &str, bytes: &[u8]| write(dir.path(), name, bytes);
    let (vr_f, vlek_f, asvk_f, ark_f) = (
        f("vlek.bin", &vr),
        f("vlek.der", &vlek.der),
        f("asvk.der", &pki.asvk.der),
        f("ark.der", &pki.ark.der),
    );
    let base = [
        "verify",
        vr_f.as_str(),
        "--vcek",
        vlek_f.as_str(),
        "--chain",
        asvk_f.as_str(),
        "--pin-ark",
        ark_f.as_str(),
    ];
    let run = |extra: &[&str]| snp_report(&[&base[..], extra].concat());
    // Now: expired.
    let out = run(&[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
    // When the evidence was made: verified, and the time is in the output.
    let out = run(&["--at", "2024-03-01T12:00:00Z", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["options"]["at"], "2024-03-01 12:00:00 UTC");
    assert_eq!(doc["options"]["time_source"], "--at");
    let out = run(&["--at", "2024-03-01T13:00:00+01:00"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(--at)"));
    // Before it was issued.
    let out = run(&["--at", "2023-12-31T23:59:59Z"]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("not valid before"),
        "{}",
        stderr(&out)
    );
    // Not a time: a usage error naming the form.
    let out = run(&["--at", "yesterday"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("YYYY-MM-DD"), "{}", stderr(&out));

    // A real VCEK (issued 2022-11-29) checked at a time before it existed.
    let report = p("shared/vectors/csc/snp_report.bin");
    let vcek = p("shared/vectors/csc/uvm_host_amd_certificate.pem");
    let out = snp_report(&[
        "verify",
        &report,
        "--vcek",
        &vcek,
        "--at",
        "2022-01-01T00:00:00Z",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("VCEK is not valid before"));
    assert_eq!(
        code(&snp_report(&[
            "verify",
            &report,
            "--vcek",
            &vcek,
            "--at",
            "2023-01-01T00:00:00Z"
        ])),
        0
    );
}

#[test]
fn a_vlek_report_verifies_with_only_its_vlek_when_the_asvk_is_pinned_with_the_root() {
    let pki = Pki::new("Genoa");
    let dir = tempfile::tempdir().unwrap();
    let template = read("shared/vectors/oak/genoa_oc_report.bin");
    let vlek = pki.endorser(&Endorsement::genoa(None, LONG));
    let mut vr = template.clone();
    vr[0x48] = 1 << 2;
    vlek.sign_report(&mut vr);
    let f = |name: &str, bytes: &[u8]| write(dir.path(), name, bytes);
    let (vr_f, vlek_f) = (f("vlek.bin", &vr), f("vlek.der", &vlek.der));
    let anchors = f(
        "anchors.pem",
        pem_of(&[&pki.asvk.der, &pki.ark.der, &pki.ask.der]).as_bytes(),
    );
    let out = snp_report(&[
        "verify",
        &vr_f,
        "--vcek",
        &vlek_f,
        "--pin-ark",
        &anchors,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["checks"]["certificate_chain"]["intermediate"], "ASVK");
    assert_eq!(doc["checks"]["certificate_chain"]["root"], "pinned");
    // An ASVK of another PKI pinned with this root is refused (exit 3), not trusted.
    let other = Pki::new("Genoa");
    let forged = f(
        "forged.pem",
        pem_of(&[&pki.ark.der, &other.asvk.der]).as_bytes(),
    );
    let out = snp_report(&["verify", &vr_f, "--vcek", &vlek_f, "--pin-ark", &forged]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("ASVK"), "{}", stderr(&out));
}
