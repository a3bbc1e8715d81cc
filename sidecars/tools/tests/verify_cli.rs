//! `snp-report verify` end to end: the real binary on every report vector and on a synthetic
//! AMD-profile PKI, checking exit codes and the JSON result.

mod common;

use common::{code, p, snp_report, write};
use csc_core::certtable::{self, Guid};
use csc_vectors::synth::{Endorsement, Pki};
use csc_vectors::{pem_of, read, read_cert, vectors_of};
use serde_json::Value;

#[test]
fn every_report_vector_gets_its_exit_code() {
    let mut checked = 0;
    for backend in ["aws-lc", "core"] {
        for v in vectors_of("snp_report") {
            let id = v["id"].as_str().unwrap();
            let report = p(v["report"]["file"].as_str().unwrap());
            let mut args = vec!["verify", &report, "--backend", backend, "--json"];
            let product = v["product"].as_str().unwrap().to_lowercase();
            args.extend(["--product", &product]);
            let signer;
            if let Some(s) = v["signer"]["file"].as_str() {
                signer = p(s);
                args.extend(["--vcek", &signer]);
            }
            let out = snp_report(&args);
            let want = match v["expect_signature"].as_str().unwrap() {
                "valid" => 0,
                "invalid" => 2,
                _ => 1, // no VCEK: a usage error naming what is missing
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(code(&out), want, "{id} [{backend}]: {stderr}");
            if want != 1 {
                let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(doc["exit_code"], want, "{id}");
                assert_eq!(doc["verified"], want == 0, "{id}");
                let sig = &doc["checks"]["report_signature"]["status"];
                assert_eq!(sig, if want == 0 { "ok" } else { "failed" }, "{id}");
                assert_eq!(doc["checks"]["crl"]["status"], "not_checked");
            } else {
                assert!(stderr.contains("--vcek"), "{id}: {stderr}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 20);
}

#[test]
fn chain_vectors_as_caller_supplied_chains() {
    // Each cert_chain vector with its leaf as --vcek and intermediate and root as --chain: the
    // positive ones verify the Milan/Genoa/Turin reports they belong to, the negatives exit 3.
    let reports: Vec<(String, String)> = vectors_of("snp_report")
        .iter()
        .filter(|v| v["expect_signature"] == "valid")
        .map(|v| {
            (
                p(v["report"]["file"].as_str().unwrap()),
                v["signer"]["file"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for v in vectors_of("cert_chain") {
        let id = v["id"].as_str().unwrap();
        let leaf_file = v["leaf"]["file"].as_str().unwrap();
        // The chain vectors whose leaf signs one of the report vectors.
        let Some((report, _)) = reports.iter().find(|(_, s)| s == leaf_file) else {
            continue;
        };
        let leaf = write(
            dir.path(),
            &format!("{id}.leaf.der"),
            &read_cert(&v["leaf"]),
        );
        // The intermediate and the root in one PEM file.
        let pem = pem_of(&[&read_cert(&v["intermediate"]), &read_cert(&v["root"])]);
        let chain = write(dir.path(), &format!("{id}.chain.pem"), pem.as_bytes());
        let out = snp_report(&["verify", report, "--vcek", &leaf, "--chain", &chain]);
        let want = if v["expect"] == "valid" { 0 } else { 3 };
        assert_eq!(
            code(&out),
            want,
            "{id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 8, "checked {checked}");
}

#[test]
fn certificate_table_supplies_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let vcek = read("shared/vectors/oak/genoa_oc_vcek.der");
    let ask = csc_core::verify::roots::ask(csc_core::Product::Genoa);
    let ark = csc_core::verify::roots::ark(csc_core::Product::Genoa);
    let mut buf = vec![0u8; 8192];
    let n = certtable::encode_into(
        &[(Guid::VCEK, &vcek), (Guid::ASK, ask), (Guid::ARK, ark)],
        &mut buf,
    )
    .unwrap();
    let table = write(dir.path(), "certs.bin", &buf[..n]);
    let report = p("shared/vectors/oak/genoa_oc_report.bin");
    let out = snp_report(&["verify", &report, "--certs", &table]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // A table whose ARK is another product's: chain error.
    let n = certtable::encode_into(
        &[
            (Guid::VCEK, &vcek),
            (
                Guid::ARK,
                csc_core::verify::roots::ark(csc_core::Product::Milan),
            ),
        ],
        &mut buf,
    )
    .unwrap();
    let table = write(dir.path(), "wrong-ark.bin", &buf[..n]);
    assert_eq!(
        code(&snp_report(&["verify", &report, "--certs", &table])),
        3
    );
    // A broken table is malformed input.
    let broken = write(dir.path(), "broken.bin", &buf[..30]);
    assert_eq!(
        code(&snp_report(&["verify", &report, "--certs", &broken])),
        6
    );
}

#[test]
fn policy_and_malformed_input() {
    let dir = tempfile::tempdir().unwrap();
    let report = p("shared/vectors/csc/snp_report.bin");
    let vcek = p("shared/vectors/csc/uvm_host_amd_certificate.pem");
    let base = ["verify", report.as_str(), "--vcek", vcek.as_str()];
    let run = |extra: &[&str]| snp_report(&[&base[..], extra].concat());
    // The vector's own values pass; one wrong byte fails with exit 5 and names the field.
    let host = "cadd74f71ebb8fbf9782baab649612520f3c416bc5ce9ac768808ddc8d9b031c";
    let rd = "ee986ff2bd7e3f22e29f640918627816cf8e23b9d9c312767168eab68c861c71";
    assert_eq!(
        code(&run(&[
            "--host-data",
            host,
            "--report-data",
            rd,
            "--min-tcb",
            "0x7308000000000003"
        ])),
        0
    );
    let wrong = host.replace("cadd", "cade");
    let out = run(&["--host-data", &wrong, "--json"]);
    assert_eq!(code(&out), 5);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let viol = &doc["checks"]["policy"]["violations"][0];
    assert_eq!(viol["field"], "HOST_DATA");
    assert_eq!(viol["expected"], wrong);
    assert_eq!(viol["actual"], host);
    assert_eq!(code(&run(&["--min-tcb", "bl=3,tee=0,snp=9,ucode=115"])), 5);
    assert_eq!(code(&run(&["--vmpl", "1"])), 5);
    assert_eq!(code(&run(&["--measurement", "zz"])), 1);
    // Malformed report or certificate: exit 6.
    let short = write(
        dir.path(),
        "short.bin",
        &read("shared/vectors/csc/snp_report.bin")[..1000],
    );
    assert_eq!(code(&snp_report(&["verify", &short, "--vcek", &vcek])), 6);
    let mut cert = read("shared/vectors/virtee-sev/vcek_milan.der");
    cert.truncate(cert.len() - 1);
    let cut = write(dir.path(), "cut.der", &cert);
    assert_eq!(code(&snp_report(&["verify", &report, "--vcek", &cut])), 6);
    assert_eq!(code(&snp_report(&["verify", "/nonexistent/report"])), 1);
    assert_eq!(
        code(&snp_report(&[
            "verify", &report, "--vcek", &vcek, "--bogus", "1"
        ])),
        1
    );
}

fn endorsement(chip: &[u8]) -> Endorsement {
    Endorsement::genoa(Some(chip), ("250101000000Z", "491231000000Z"))
}

#[test]
fn synthetic_chains_with_a_pinned_root() {
    let pki = Pki::new("Genoa");
    let dir = tempfile::tempdir().unwrap();
    let template = read("shared/vectors/oak/genoa_oc_report.bin");
    let vcek = pki.endorser(&endorsement(&template[0x1A0..0x1E0]));
    let mut good = template.clone();
    vcek.sign_report(&mut good);
    let f = |name: &str, bytes: &[u8]| write(dir.path(), name, bytes);
    let (report, vcek_f) = (f("good.bin", &good), f("vcek.der", &vcek.der));
    let (ask, ark) = (f("ask.der", &pki.ask.der), f("ark.der", &pki.ark.der));
    let pinned = ["--pin-ark", ark.as_str(), "--chain", ask.as_str()];
    let run = |report: &str, extra: &[&str]| {
        let out = snp_report(
            &[
                &["verify", report, "--vcek", vcek_f.as_str()][..],
                &pinned,
                extra,
            ]
            .concat(),
        );
        (
            code(&out),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert_eq!(run(&report, &[]).0, 0, "{:?}", run(&report, &[]));
    // Without the pin, the synthetic chain is checked against AMD's ARK and fails.
    let out = snp_report(&["verify", &report, "--vcek", &vcek_f, "--chain", &ask]);
    assert_eq!(code(&out), 3);
    // CRL: clean, revoking the VCEK, signed by the wrong key.
    let clean = f("clean.crl", &pki.ark.crl(&[&[7]]));
    let (c, stdout, _) = run(&report, &["--crl", &clean, "--json"]);
    assert_eq!(c, 0);
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["checks"]["crl"]["status"], "ok");
    assert_eq!(doc["checks"]["certificate_chain"]["root"], "pinned");
    let revoked = f("revoked.crl", &pki.ark.crl(&[&[0]]));
    let (c, stdout, stderr) = run(&report, &["--crl", &revoked, "--json"]);
    assert_eq!(c, 3, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["checks"]["crl"]["status"], "failed");
    assert!(stderr.contains("revoked"), "{stderr}");
    let by_ask = f("by-ask.crl", &pki.ask.crl(&[]));
    assert_eq!(run(&report, &["--crl", &by_ask]).0, 3);
    // Binding: a report for another TCB (signed by the right key) exits 4.
    let mut other_tcb = template.clone();
    other_tcb[0x180 + 6] = 26;
    vcek.sign_report(&mut other_tcb);
    let (c, _, stderr) = run(&f("tcb.bin", &other_tcb), &[]);
    assert_eq!(c, 4, "{stderr}");
    assert!(stderr.contains("REPORTED_TCB"), "{stderr}");
    // VLEK through a caller-supplied ASVK.
    let mut e = endorsement(&[]);
    e.hwid = None;
    let vlek = pki.endorser(&e);
    let mut vr = template.clone();
    vr[0x48] = 1 << 2;
    vlek.sign_report(&mut vr);
    let (vr_f, vlek_f, asvk) = (
        f("vlek.bin", &vr),
        f("vlek.der", &vlek.der),
        f("asvk.der", &pki.asvk.der),
    );
    let out = snp_report(&[
        "verify",
        &vr_f,
        "--vcek",
        &vlek_f,
        "--chain",
        &asvk,
        "--pin-ark",
        &ark,
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["checks"]["certificate_chain"]["intermediate"], "ASVK");
    assert_eq!(doc["checks"]["binding"]["chip_id"], "not_applicable");
    // Without the ASVK: a usage error naming it.
    let out = snp_report(&["verify", &vr_f, "--vcek", &vlek_f, "--pin-ark", &ark]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("ASVK"));
}

#[test]
fn usage_lists_the_command() {
    let out = snp_report(&["verify", "--help"]);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--certs FILE"));
}
