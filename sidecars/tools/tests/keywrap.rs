//! Drives the `keywrap` binary: results on stdout, and the documented exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

fn keywrap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keywrap"))
        .args(args)
        .output()
        .expect("run keywrap")
}

fn vector(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/data")
        .join(rel)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

// RFC 5649 section 6.
const KEK: &str = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";
const KEY20: &str = "c37b7e6492584340bed12207808941155068f738";
const WRAPPED20: &str = "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a";

#[test]
fn aes_commands_on_both_backends() {
    for backend in ["aws-lc", "core"] {
        let o = keywrap(&[
            "unwrap",
            "--kek",
            KEK,
            "--padded",
            "--in",
            WRAPPED20,
            "--backend",
            backend,
        ]);
        assert_eq!(
            (o.status.code(), stdout(&o)),
            (Some(0), KEY20.to_string()),
            "{backend}"
        );
        let o = keywrap(&[
            "wrap",
            "--kek",
            KEK,
            "--padded",
            "--in",
            KEY20,
            "--backend",
            backend,
        ]);
        assert_eq!(
            (o.status.code(), stdout(&o)),
            (Some(0), WRAPPED20.to_string())
        );
        // RFC 3394 section 4.1.
        let o = keywrap(&[
            "unwrap",
            "--kek",
            "000102030405060708090A0B0C0D0E0F",
            "--plain",
            "--in",
            "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
            "--backend",
            backend,
        ]);
        assert_eq!(stdout(&o), "00112233445566778899aabbccddeeff");
        // Wrong KEK (upstream's negative vector): integrity failure, exit 2.
        let bad_kek = "5840df6e29b02af1ab493b70ddf16ea1ae8338f4dcc176a8";
        let o = keywrap(&[
            "unwrap",
            "--kek",
            bad_kek,
            "--padded",
            "--in",
            WRAPPED20,
            "--backend",
            backend,
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(o.stdout.is_empty());
        assert!(String::from_utf8_lossy(&o.stderr).contains("integrity"));
    }
}

#[test]
fn malformed_and_usage_exit_codes() {
    let o = keywrap(&["unwrap", "--kek", "zz", "--padded", "--in", WRAPPED20]);
    assert_eq!(o.status.code(), Some(6));
    let o = keywrap(&["unwrap", "--kek", "00", "--padded", "--in", WRAPPED20]);
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = keywrap(&["unwrap", "--kek", KEK, "--padded", "--in", "0011"]);
    assert_eq!(o.status.code(), Some(6));
    let o = keywrap(&["unwrap", "--kek", KEK, "--in", WRAPPED20]);
    assert_eq!(o.status.code(), Some(1));
    let o = keywrap(&[
        "unwrap", "--kek", KEK, "--padded", "--plain", "--in", WRAPPED20,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = keywrap(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(1));
    let o = keywrap(&[
        "rsa-aes-unwrap",
        "--key",
        "/nonexistent",
        "--alg",
        "CKM_RSA_AES_KEY_WRAP",
        "--in",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = keywrap(&[
        "rsa-aes-unwrap",
        "--key",
        "/nonexistent",
        "--alg",
        "RSA_OAEP",
        "--in",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn rsa_aes_unwrap_of_the_upstream_vector() {
    let key = vector("csc/skr/rsa_aes_kwp_private_key.pem");
    let blob = vector("csc/skr/rsa_aes_kwp_ciphertext.b64url");
    let expected = std::fs::read_to_string(vector("csc/skr/rsa_aes_kwp_expected_key.hex")).unwrap();
    let (key, blob) = (key.to_str().unwrap(), blob.to_str().unwrap());
    for backend in ["aws-lc", "core"] {
        let o = keywrap(&[
            "rsa-aes-unwrap",
            "--key",
            key,
            "--alg",
            "CKM_RSA_AES_KEY_WRAP",
            "--in",
            blob,
            "--backend",
            backend,
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(stdout(&o), expected.trim());
        let o = keywrap(&[
            "rsa-aes-unwrap",
            "--key",
            key,
            "--alg",
            "RSA_AES_KEY_WRAP_256",
            "--in",
            blob,
            "--backend",
            backend,
        ]);
        assert_eq!(o.status.code(), Some(3), "{backend}");
    }
    // Raw bytes work as well, and a flipped bit in the key-wrap part is an integrity failure.
    let text = std::fs::read(vector("csc/skr/rsa_aes_kwp_ciphertext.b64url")).unwrap();
    let mut raw = vec![0u8; text.len()];
    let n = csc_core::base64::decode_into(&text, &mut raw).unwrap();
    raw.truncate(n);
    let dir = std::env::temp_dir().join(format!("keywrap-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let raw_path = dir.join("blob.bin");
    let raw_arg = raw_path.to_str().unwrap();
    let run = |key: &str, input: &str| {
        keywrap(&[
            "rsa-aes-unwrap",
            "--key",
            key,
            "--alg",
            "CKM_RSA_AES_KEY_WRAP",
            "--in",
            input,
        ])
    };
    std::fs::write(&raw_path, &raw).unwrap();
    assert_eq!(stdout(&run(key, raw_arg)), expected.trim());
    raw[280] ^= 0x10;
    std::fs::write(&raw_path, &raw).unwrap();
    assert_eq!(run(key, raw_arg).status.code(), Some(2));
    // Too short to hold an RSA block: malformed.
    std::fs::write(&raw_path, &raw[..100]).unwrap();
    assert_eq!(run(key, raw_arg).status.code(), Some(6));
    // A key file that is not a key: malformed.
    assert_eq!(run(raw_arg, blob).status.code(), Some(6));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every AES-KWP vector of vectors/data (index.json kinds `kwp_json` and `wycheproof_keywrap`)
/// through the binary, on both backends: valid ones unwrap to the key and wrap back to the same
/// bytes; invalid ones exit 2 (integrity) or 6 (a length no wrapping produces).
#[test]
fn every_kwp_vector_through_the_binary() {
    use csc_vectors::{read, vectors_of};
    let mut cases: Vec<(String, String, Option<String>)> = Vec::new();
    for v in vectors_of("kwp_json") {
        let file: serde_json::Value =
            serde_json::from_slice(&read(v["file"].as_str().unwrap())).unwrap();
        let kek = file["kek"].as_str().unwrap().to_string();
        for p in file["vectors"].as_array().unwrap() {
            let key = p["key_data"].as_str().unwrap().to_lowercase();
            cases.push((
                kek.clone(),
                p["wrapped"].as_str().unwrap().to_string(),
                Some(key),
            ));
        }
        for n in file["negative"].as_array().unwrap() {
            let kek = n["kek"].as_str().unwrap().to_string();
            cases.push((kek, n["wrapped"].as_str().unwrap().to_string(), None));
        }
    }
    for v in vectors_of("wycheproof_keywrap") {
        let file: serde_json::Value =
            serde_json::from_slice(&read(v["file"].as_str().unwrap())).unwrap();
        for t in file["testGroups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["tests"].as_array().unwrap())
        {
            let valid = t["result"] == "valid";
            cases.push((
                t["key"].as_str().unwrap().to_string(),
                t["ct"].as_str().unwrap().to_string(),
                valid.then(|| t["msg"].as_str().unwrap().to_string()),
            ));
        }
    }
    assert!(cases.len() > 250, "{} vectors", cases.len());
    for backend in ["aws-lc", "core"] {
        for (kek, wrapped, key) in &cases {
            // Empty input cannot be passed as --in; it is a length error in the library tests.
            if wrapped.is_empty() {
                continue;
            }
            let o = keywrap(&[
                "unwrap",
                "--kek",
                kek,
                "--padded",
                "--in",
                wrapped,
                "--backend",
                backend,
            ]);
            match key {
                Some(key) => {
                    assert_eq!(
                        o.status.code(),
                        Some(0),
                        "{backend} {wrapped}: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                    assert_eq!(stdout(&o), *key, "{backend} {wrapped}");
                    if !key.is_empty() {
                        let o = keywrap(&[
                            "wrap",
                            "--kek",
                            kek,
                            "--padded",
                            "--in",
                            key,
                            "--backend",
                            backend,
                        ]);
                        assert_eq!(stdout(&o), wrapped.to_lowercase(), "{backend} wrap {key}");
                    }
                }
                None => assert!(
                    matches!(o.status.code(), Some(2 | 6)),
                    "{backend} {wrapped}: exit {:?}",
                    o.status.code()
                ),
            }
        }
    }
}
