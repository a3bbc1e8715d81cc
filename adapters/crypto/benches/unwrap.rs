//! Key unwrap speed: RSA-2048 OAEP decryption, AES-KWP unwrap and a whole Key Vault release,
//! for the core's backend (no_std: crypto-bigint RSA, its KWP over the `aes` crate) and aws-lc-rs
//! (its RSA and its own KWP), beside the system's OpenSSL doing the same operations in process,
//! measured in the same run. Ends with a table of operations per second and ratios to OpenSSL, and the output
//! of `openssl speed rsa2048` for reference.
//!
//! `cargo bench -p csc-crypto --bench unwrap`

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::Criterion;
use csc_core::keywrap::{BlockCipher, Kek, Mode, WrapAlgorithm, aes_kw, unwrap_rsa_aes_with};
use csc_core::rsa::oaep::{OaepDecrypt, OaepHash};
use csc_core::rsa::private::RsaPrivateKey;
use csc_core::secret::BlindingSeed;
use csc_crypto::unwrap::{AwsLcRsaKey, FastAes};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::{CipherCtx, CipherCtxFlags};
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};

const PEM: &[u8] = include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_private_key.pem");
const KEK: [u8; 32] = [0x4B; 32];
const KEY: [u8; 32] = [0x6C; 32];

struct Fixture {
    core: RsaPrivateKey,
    aws: AwsLcRsaKey,
    ossl: PKey<Private>,
    /// RSA-OAEP-SHA1 of KEK.
    oaep_ct: Vec<u8>,
    /// AES-KWP of KEY under KEK.
    kwp: Vec<u8>,
    /// oaep_ct || kwp: a CKM_RSA_AES_KEY_WRAP release.
    release: Vec<u8>,
}

fn fixture() -> Fixture {
    let mut scratch = vec![0u8; PEM.len()];
    let core = RsaPrivateKey::from_pem_or_der(PEM, &mut scratch).expect("core key");
    let aws = AwsLcRsaKey::from_pem_or_der(PEM).expect("aws-lc key");
    let ossl = PKey::from_rsa(Rsa::private_key_from_pem(PEM).expect("openssl key")).unwrap();
    let oaep_ct = aws.encrypt_oaep(OaepHash::Sha1, &KEK).unwrap();
    let mut kwp = vec![0u8; 48];
    let n = aes_kw::wrap(&Kek::new(&KEK).unwrap(), Mode::Kwp, &KEY, &mut kwp)
        .unwrap()
        .len();
    kwp.truncate(n);
    let mut release = oaep_ct.clone();
    release.extend_from_slice(&kwp);
    Fixture {
        core,
        aws,
        ossl,
        oaep_ct,
        kwp,
        release,
    }
}

fn openssl_oaep_decrypt(ctx: &mut PkeyCtx<Private>, ct: &[u8], out: &mut [u8]) -> usize {
    ctx.decrypt(ct, Some(out)).expect("openssl OAEP decrypt")
}

fn openssl_kwp_unwrap(kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> usize {
    let mut ctx = CipherCtx::new().unwrap();
    ctx.set_flags(CipherCtxFlags::FLAG_WRAP_ALLOW);
    ctx.decrypt_init(Some(Cipher::aes_256_wrap_pad()), Some(kek), None)
        .unwrap();
    let n = ctx.cipher_update(wrapped, Some(out)).unwrap();
    n + ctx.cipher_final(&mut out[n..]).unwrap()
}

fn kwp_unwrap<C: BlockCipher>(kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> usize {
    let c = C::new(kek).unwrap();
    aes_kw::unwrap(&c, Mode::Kwp, wrapped, out).unwrap().len()
}

fn aws_lc_kwp_unwrap(kek: &[u8], wrapped: &[u8], out: &mut [u8]) -> usize {
    use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrapPadded};
    let k = KeyEncryptionKey::new(&AES_256, kek).unwrap();
    k.unwrap_with_padding(wrapped, out).unwrap().len()
}

fn benches(c: &mut Criterion, f: &Fixture) {
    let seed = BlindingSeed::new([7; 32]);
    let mut out = [0u8; 512];
    let mut ossl_ctx = PkeyCtx::new(&f.ossl).unwrap();
    ossl_ctx.decrypt_init().unwrap();
    ossl_ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    ossl_ctx.set_rsa_oaep_md(openssl::md::Md::sha1()).unwrap();
    ossl_ctx.set_rsa_mgf1_md(openssl::md::Md::sha1()).unwrap();
    // Same answer from all three before timing anything.
    assert_eq!(
        f.core
            .decrypt_oaep(OaepHash::Sha1, &f.oaep_ct, &seed, &mut out)
            .unwrap(),
        KEK
    );
    assert_eq!(
        openssl_oaep_decrypt(&mut ossl_ctx, &f.oaep_ct, &mut out),
        32
    );
    assert_eq!(out[..32], KEK);
    assert_eq!(openssl_kwp_unwrap(&KEK, &f.kwp, &mut out), 32);
    assert_eq!(out[..32], KEY);

    let mut g = c.benchmark_group("rsa2048_oaep_sha1_decrypt");
    g.bench_function("core", |b| {
        b.iter(|| {
            f.core
                .decrypt_oaep(OaepHash::Sha1, black_box(&f.oaep_ct), &seed, &mut out)
                .map(<[u8]>::len)
        })
    });
    g.bench_function("aws-lc", |b| {
        b.iter(|| {
            f.aws
                .decrypt_oaep(OaepHash::Sha1, black_box(&f.oaep_ct), &seed, &mut out)
                .map(<[u8]>::len)
        })
    });
    g.bench_function("openssl", |b| {
        b.iter(|| openssl_oaep_decrypt(&mut ossl_ctx, black_box(&f.oaep_ct), &mut out))
    });
    g.finish();

    let mut g = c.benchmark_group("kwp_unwrap_aes256_32B");
    g.bench_function("core", |b| {
        b.iter(|| kwp_unwrap::<Kek>(&KEK, black_box(&f.kwp), &mut out))
    });
    g.bench_function("aws-lc", |b| {
        b.iter(|| aws_lc_kwp_unwrap(&KEK, black_box(&f.kwp), &mut out))
    });
    g.bench_function("openssl", |b| {
        b.iter(|| openssl_kwp_unwrap(&KEK, black_box(&f.kwp), &mut out))
    });
    g.finish();

    let alg = WrapAlgorithm::CkmRsaAesKeyWrap;
    let mut g = c.benchmark_group("release_unwrap_rsa2048");
    g.bench_function("core", |b| {
        b.iter(|| {
            unwrap_rsa_aes_with::<Kek, _>(&f.core, alg, black_box(&f.release), &seed, &mut out)
                .map(<[u8]>::len)
        })
    });
    g.bench_function("aws-lc", |b| {
        b.iter(|| {
            unwrap_rsa_aes_with::<FastAes, _>(&f.aws, alg, black_box(&f.release), &seed, &mut out)
                .map(<[u8]>::len)
        })
    });
    g.bench_function("openssl", |b| {
        b.iter(|| {
            let mut kek = [0u8; 256];
            let n = openssl_oaep_decrypt(&mut ossl_ctx, black_box(&f.oaep_ct), &mut kek);
            openssl_kwp_unwrap(&kek[..n], &f.kwp, &mut out)
        })
    });
    g.finish();
}

/// Median time per operation in nanoseconds, from criterion's estimates.
fn median_ns(dir: &Path, group: &str, id: &str) -> Option<f64> {
    let path = dir.join(group).join(id).join("new").join("estimates.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn summary(dir: &Path) {
    println!(
        "\n=== key unwrap, operations per second (median), ratio to OpenSSL {} ===",
        openssl::version::version()
    );
    for (group, ids) in [
        (
            "rsa2048_oaep_sha1_decrypt",
            &["core", "aws-lc", "openssl"][..],
        ),
        ("kwp_unwrap_aes256_32B", &["core", "aws-lc", "openssl"][..]),
        ("release_unwrap_rsa2048", &["core", "aws-lc", "openssl"][..]),
    ] {
        let base = median_ns(dir, group, "openssl");
        for id in ids {
            let Some(ns) = median_ns(dir, group, id) else {
                continue;
            };
            let ratio = base.map(|b| b / ns).unwrap_or(f64::NAN);
            println!(
                "{group:28} {id:9} {:>12.0} op/s  {:>9.2} us/op  x{ratio:.3} of openssl",
                1e9 / ns,
                ns / 1e3
            );
        }
    }
    match std::process::Command::new("openssl")
        .args(["speed", "-seconds", "3", "rsa2048"])
        .output()
    {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            for line in text
                .lines()
                .filter(|l| l.contains("sign/s") || l.starts_with("rsa "))
            {
                println!("openssl speed: {line}");
            }
            if let Some(sign_per_s) = text
                .lines()
                .find(|l| l.starts_with("rsa 2048"))
                .and_then(|l| l.split_whitespace().nth(5))
                .and_then(|s| s.parse::<f64>().ok())
            {
                for id in ["core", "aws-lc"] {
                    if let Some(ns) = median_ns(dir, "rsa2048_oaep_sha1_decrypt", id) {
                        println!(
                            "OAEP decrypt {id} vs `openssl speed rsa2048` sign/s ({sign_per_s:.0}): x{:.3}",
                            1e9 / ns / sign_per_s
                        );
                    }
                }
            }
        }
        Err(e) => println!("openssl speed: not run ({e})"),
    }
}

/// Median time per operation of each contender, measured in alternating rounds so that load
/// from other processes (this machine is shared) hits all of them alike.
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
            "{label:28} {name:9} {:>12.0} op/s  {:>9.2} us/op  x{:.3} of openssl (interleaved)",
            1e9 / ns,
            ns / 1e3,
            base / ns
        );
    }
}

fn interleaved_all(f: &Fixture) {
    let seed = BlindingSeed::new([7; 32]);
    let mut out = [0u8; 512];
    let mut out2 = [0u8; 512];
    let mut out3 = [0u8; 512];
    let mut ossl_ctx = PkeyCtx::new(&f.ossl).unwrap();
    ossl_ctx.decrypt_init().unwrap();
    ossl_ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    ossl_ctx.set_rsa_oaep_md(openssl::md::Md::sha1()).unwrap();
    ossl_ctx.set_rsa_mgf1_md(openssl::md::Md::sha1()).unwrap();
    println!("\n=== the same, interleaved rounds (median of 21) ===");
    interleaved(
        "rsa2048_oaep_sha1_decrypt",
        &mut [
            ("core", &mut || {
                black_box(
                    f.core
                        .decrypt_oaep(OaepHash::Sha1, &f.oaep_ct, &seed, &mut out)
                        .is_ok(),
                );
            }),
            ("aws-lc", &mut || {
                black_box(
                    f.aws
                        .decrypt_oaep(OaepHash::Sha1, &f.oaep_ct, &seed, &mut out2)
                        .is_ok(),
                );
            }),
            ("openssl", &mut || {
                black_box(openssl_oaep_decrypt(&mut ossl_ctx, &f.oaep_ct, &mut out3));
            }),
        ],
        10,
    );
    let mut o1 = [0u8; 64];
    let mut o3 = [0u8; 64];
    let mut o4 = [0u8; 64];
    interleaved(
        "kwp_unwrap_aes256_32B",
        &mut [
            ("core", &mut || {
                black_box(kwp_unwrap::<Kek>(&KEK, &f.kwp, &mut o1));
            }),
            ("aws-lc", &mut || {
                black_box(aws_lc_kwp_unwrap(&KEK, &f.kwp, &mut o3));
            }),
            ("openssl", &mut || {
                black_box(openssl_kwp_unwrap(&KEK, &f.kwp, &mut o4));
            }),
        ],
        200,
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("csc-unwrap-bench-{}", std::process::id()));
    let f = fixture();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut c, &f);
    c.final_summary();
    summary(&dir);
    interleaved_all(&f);
    let _ = std::fs::remove_dir_all(&dir);
}
