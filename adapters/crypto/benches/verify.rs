//! Verification throughput of both backends next to OpenSSL on the same machine, in one run.
//!
//! Criterion measures, per backend (aws-lc-rs, core):
//! - `report_signature`: one report's ECDSA P-384/SHA-384 check against a verified VCEK,
//! - `full_chain`: the one-shot `verify` from scratch (AMD's ARK and ASK are compiled in and
//!   trusted as such, so: VCEK RSA-PSS-4096 check, report signature, binding, and the parsing
//!   and hashing of all three certificates),
//! - `reused_chain`: `Verifier::verify` with the chain already verified (hashing + one ECDSA).
//!
//! For reference, `report_signature/p384-crate` is the same check called on the p384 crate's
//! `VerifyingKey` directly (the core's check is that call plus its key and range checks, see
//! core/src/verify/ecdsa.rs).
//!
//! Then `openssl speed ecdsap384 rsa4096` runs, and a table prints operations per second with
//! the ratio to OpenSSL (for the chain: OpenSSL's time for one RSA-4096 verification plus one
//! P-384 verification, the same cryptographic work).
//!
//! Last, the same comparison measured in alternating rounds in this process (median of 21), so
//! that load from other processes on a shared machine hits every contender alike: the core's and
//! aws-lc's one-shot `verify` against OpenSSL (through the `openssl` crate) checking the VCEK
//! certificate's RSA-PSS signature with the ASK's key and the report's P-384 signature.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::Criterion;
use csc_core::Report;
use csc_core::verify::{
    CoreCrypto, Crypto, Evidence, Role, TrustedArk, Verifier, VerifyOptions, roots, verify,
};
use csc_crypto::verify::AwsLcCrypto;
use csc_vectors::{read, read_cert};
use std::hint::black_box;

const GROUPS: [&str; 3] = ["report_signature", "full_chain", "reused_chain"];

struct Input {
    report: Vec<u8>,
    vcek: Vec<u8>,
}

fn input() -> Input {
    // Azure Container Instances' Milan report and its VCEK (RSA-4096 chain, P-384 VCEK).
    let report = read("shared/vectors/csc/snp_report.bin");
    let vcek = read_cert(&serde_json::json!({
        "file": "shared/vectors/csc/uvm_host_amd_certificate.pem", "index": 0
    }));
    Input { report, vcek }
}

fn bench_backend(c: &mut Criterion, name: &str, crypto: &dyn Crypto, input: &Input) {
    let report = Report::parse(&input.report).expect("report");
    let opts = VerifyOptions::default();
    let ark = TrustedArk::builtin(crypto, csc_core::Product::Milan).expect("ARK");
    let ask = ark
        .verify_intermediate(
            crypto,
            roots::ask(csc_core::Product::Milan),
            Role::Ask,
            None,
        )
        .expect("ASK");
    let signer = ask.verify_signer(crypto, &input.vcek, None).expect("VCEK");
    c.benchmark_group("report_signature")
        .bench_function(name, |b| {
            b.iter(|| {
                signer
                    .verify_signature(crypto, black_box(&report))
                    .expect("valid")
            })
        });
    if name == "core" {
        use p384::ecdsa::signature::Verifier as _;
        let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(signer.public_key()).expect("key");
        let sig = report.signature();
        let (r, s) = (sig.r_be().expect("r"), sig.s_be().expect("s"));
        let sig = p384::ecdsa::Signature::from_scalars(r, s).expect("signature");
        c.benchmark_group("report_signature")
            .bench_function("p384-crate", |b| {
                b.iter(|| {
                    key.verify(black_box(report.signed_bytes()), &sig)
                        .expect("valid")
                })
            });
    }
    let evidence = Evidence::signer(&input.vcek);
    c.benchmark_group("full_chain").bench_function(name, |b| {
        b.iter(|| verify(crypto, black_box(&report), &evidence, &opts).expect("valid"))
    });
    let mut verifier = Verifier::new(crypto, opts);
    verifier.verify(&report, &evidence).expect("valid");
    c.benchmark_group("reused_chain").bench_function(name, |b| {
        b.iter(|| {
            let v = verifier
                .verify(black_box(&report), &evidence)
                .expect("valid");
            assert!(v.cached_chain);
        })
    });
}

/// Mean time per iteration in nanoseconds, from criterion's estimates.
fn mean_ns(dir: &Path, group: &str, bench: &str) -> Option<f64> {
    let file = dir
        .join(group)
        .join(bench)
        .join("new")
        .join("estimates.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    doc["mean"]["point_estimate"].as_f64()
}

/// `openssl speed -mr` results: (P-384 verify/s, RSA-4096 verify/s).
fn openssl_speed(seconds: u32) -> Option<(f64, f64)> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-seconds",
            &seconds.to_string(),
            "-mr",
            "ecdsap384",
            "rsa4096",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(prefix))?;
        line.rsplit(':').next()?.trim().parse().ok()
    };
    Some((field("+F4:")?, field("+F2:")?))
}

/// OpenSSL doing the cryptographic work of one full verification: the VCEK certificate's
/// RSA-PSS-SHA384 signature under the ASK key, then the report's ECDSA P-384 signature.
struct OpensslChain {
    vcek: openssl::x509::X509,
    ask_key: openssl::pkey::PKey<openssl::pkey::Public>,
    report_key: openssl::ec::EcKey<openssl::pkey::Public>,
    digest: Vec<u8>,
    sig: openssl::ecdsa::EcdsaSig,
}

impl OpensslChain {
    fn new(input: &Input) -> Self {
        let report = Report::parse(&input.report).expect("report");
        let vcek = openssl::x509::X509::from_der(&input.vcek).expect("VCEK");
        let ask = openssl::x509::X509::from_der(roots::ask(csc_core::Product::Milan)).expect("ASK");
        let report_key = vcek.public_key().expect("key").ec_key().expect("EC key");
        let sig = report.signature();
        let (r, s) = (sig.r_be().expect("r"), sig.s_be().expect("s"));
        let sig = openssl::ecdsa::EcdsaSig::from_private_components(
            openssl::bn::BigNum::from_slice(&r).expect("r"),
            openssl::bn::BigNum::from_slice(&s).expect("s"),
        )
        .expect("signature");
        let digest = openssl::hash::hash(
            openssl::hash::MessageDigest::sha384(),
            report.signed_bytes(),
        )
        .expect("digest")
        .to_vec();
        OpensslChain {
            vcek,
            ask_key: ask.public_key().expect("ASK key"),
            report_key,
            digest,
            sig,
        }
    }

    fn report_signature(&self) -> bool {
        self.sig
            .verify(&self.digest, &self.report_key)
            .expect("ecdsa")
    }

    fn full_chain(&self) -> bool {
        self.vcek.verify(&self.ask_key).expect("rsa-pss") && self.report_signature()
    }
}

/// Median time per operation of each contender, measured in alternating rounds.
fn interleaved(label: &str, ops: &mut [(&str, &mut dyn FnMut())], per_round: u32) {
    const ROUNDS: usize = 21;
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); ops.len()];
    for _ in 0..ROUNDS {
        for (i, (_, op)) in ops.iter_mut().enumerate() {
            let t = std::time::Instant::now();
            for _ in 0..per_round {
                op();
            }
            times[i].push(t.elapsed().as_nanos() as f64 / f64::from(per_round));
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            t[ROUNDS / 2]
        })
        .collect();
    let base = medians[ops.len() - 1];
    for ((name, _), ns) in ops.iter().zip(&medians) {
        println!(
            "{label:18}{name:>10}{:>14.0}{:>13.2}x (interleaved)",
            1e9 / ns,
            base / ns
        );
    }
}

fn interleaved_all(input: &Input) {
    let report = Report::parse(&input.report).expect("report");
    let opts = VerifyOptions::default();
    let evidence = Evidence::signer(&input.vcek);
    let aws = AwsLcCrypto::new();
    let ossl = OpensslChain::new(input);
    assert!(ossl.full_chain());
    let ark = TrustedArk::builtin(&CoreCrypto, csc_core::Product::Milan).expect("ARK");
    let ask = ark
        .verify_intermediate(
            &CoreCrypto,
            roots::ask(csc_core::Product::Milan),
            Role::Ask,
            None,
        )
        .expect("ASK");
    let signer = ask
        .verify_signer(&CoreCrypto, &input.vcek, None)
        .expect("VCEK");
    println!(
        "\n=== the same, interleaved rounds in this process (median of 21), ratio to OpenSSL ==="
    );
    interleaved(
        "report_signature",
        &mut [
            ("core", &mut || {
                black_box(
                    signer
                        .verify_signature(&CoreCrypto, black_box(&report))
                        .is_ok(),
                );
            }),
            ("aws-lc", &mut || {
                black_box(signer.verify_signature(&aws, black_box(&report)).is_ok());
            }),
            ("openssl", &mut || {
                black_box(ossl.report_signature());
            }),
        ],
        20,
    );
    interleaved(
        "full_chain",
        &mut [
            ("core", &mut || {
                black_box(verify(&CoreCrypto, black_box(&report), &evidence, &opts).is_ok());
            }),
            ("aws-lc", &mut || {
                black_box(verify(&aws, black_box(&report), &evidence, &opts).is_ok());
            }),
            ("openssl", &mut || {
                black_box(ossl.full_chain());
            }),
        ],
        20,
    );
}

fn main() {
    let dir: PathBuf = std::env::temp_dir().join("csc-verify-bench");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let input = input();
    let aws = AwsLcCrypto::new();
    bench_backend(&mut c, "aws-lc", &aws, &input);
    bench_backend(&mut c, "core", &CoreCrypto, &input);
    c.final_summary();

    let Some((ossl_ec, ossl_rsa)) = openssl_speed(3) else {
        println!("openssl speed did not run; no baseline to compare with");
        return;
    };
    let ossl_chain = 1.0 / (1.0 / ossl_rsa + 1.0 / ossl_ec);
    println!();
    println!(
        "OpenSSL ({}) on this machine: P-384 verify {ossl_ec:.0}/s, RSA-4096 verify {ossl_rsa:.0}/s",
        Command::new("openssl")
            .arg("version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    );
    println!(
        "{:<18}{:>10}{:>14}{:>14}",
        "operation", "backend", "ops/s", "vs OpenSSL"
    );
    for group in GROUPS {
        let baseline = if group == "full_chain" {
            ossl_chain
        } else {
            ossl_ec
        };
        for backend in ["aws-lc", "core", "p384-crate"] {
            let Some(ns) = mean_ns(&dir, group, backend) else {
                continue;
            };
            let ops = 1e9 / ns;
            println!(
                "{group:<18}{backend:>10}{ops:>14.0}{:>13.2}x",
                ops / baseline
            );
        }
    }
    println!(
        "(baseline: report_signature and reused_chain vs OpenSSL P-384 verify; full_chain vs \
         OpenSSL 1 x RSA-4096 + 1 x P-384 verify = {ossl_chain:.0}/s)"
    );
    interleaved_all(&input);
}
