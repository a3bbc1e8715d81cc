//! Secure key release end to end: the simulated SEV-SNP platform and the Azure emulators
//! (csc-release's sandbox) hold the images' keys in an emulated managed HSM under a release
//! policy; encfs releases them through the shared release flow (report, local verification,
//! MAA token, HSM release, unwrap), makes the key files (an `oct-HSM` key as is, an `RSA-HSM`
//! key through HKDF with `key_derivation`), unlocks, mounts and reads every file back. A key
//! whose policy the platform does not satisfy fails clearly with nothing mounted.

mod common;

use std::path::Path;

use common::*;
use csc_mount::image;
use csc_mount::luks2::{FormatParams, Passphrase};
use csc_mount::mount::Exposure;
use csc_release::sandbox::{Sandbox, SandboxKey, SandboxOptions};
use csc_testkit::{assert_clean, sample_tree};
use encfs::input::Derivation;
use encfs::key::{self, ReleasedKey, SecureKeyRelease};
use encfs::sidecar::{Settings, Sidecar};
use serde_json::json;
use zeroize::Zeroizing;

const SALT: &str = "92a631a6d0f6e4b2";
const LABEL: &str = "Filesystem Encryption Key";

fn image_with(tree: &Path, work: &Path, out: &Path, pass: &Passphrase) {
    let params = FormatParams::default();
    let plain = work.join("plain.ext4");
    image::make_ext4(tree, &plain, (40 << 20) - params.data_offset).unwrap();
    image::encrypt_image(&plain, out, pass, &params, |_, _| {}).unwrap();
    std::fs::remove_file(plain).unwrap();
}

fn key_entry(mount_point: &Path, img: &Path, sandbox: &Sandbox, kid: &str, kty: &str) -> String {
    let mut v = json!({
        "mount_point": mount_point,
        "azure_url": format!("file://{}", img.display()),
        "key": {
            "kid": kid,
            "kty": kty,
            "authority": {"endpoint": sandbox.endpoints().maa},
            "akv": {"endpoint": sandbox.endpoints().hsm},
        },
    });
    if kty.starts_with("RSA") {
        v["key_derivation"] = json!({"salt": SALT, "label": LABEL});
    }
    v.to_string()
}

fn settings(sandbox: &Sandbox, work: &Path) -> Settings {
    Settings {
        exposure: Exposure::Userspace,
        block_size: 512 * 1024,
        cache_size: 16 << 20,
        fuse: csc_mount::FuseOptions::default(),
        work_dir: work.to_path_buf(),
        http: sandbox.http_config(),
        imds: None,
    }
}

#[test]
fn released_oct_and_rsa_keys_unlock_and_mount_their_images() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = tempfile::tempdir().unwrap();
    let sandbox = rt.block_on(async {
        let s = Sandbox::start(SandboxOptions {
            key_cache: Some(t.path().join("platform-keys")),
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        s.ready().await.unwrap();
        s
    });
    let files = sample_tree(&t.path().join("tree"));
    std::fs::create_dir(t.path().join("pub")).unwrap();

    // The key files the HSM's keys make (computed here from what the HSM holds).
    let oct = sandbox.import_key("encfs-oct", SandboxKey::Oct).unwrap();
    let ReleasedKey::Oct(k) = key::released_key_from_jwk(&oct.expected_jwk).unwrap() else {
        panic!("oct key expected")
    };
    let oct_img = t.path().join("oct.luks");
    image_with(
        &t.path().join("tree"),
        t.path(),
        &oct_img,
        &Passphrase::new(k),
    );
    let rsa = sandbox.import_key("encfs-rsa", SandboxKey::Rsa).unwrap();
    let ReleasedKey::Rsa { d } = key::released_key_from_jwk(&rsa.expected_jwk).unwrap() else {
        panic!("RSA key expected")
    };
    let derivation = Derivation {
        salt_hex: SALT.into(),
        label: LABEL.into(),
    };
    let file = key::derive_from_rsa(&d, &derivation).unwrap();
    let rsa_img = t.path().join("rsa.luks");
    image_with(
        &t.path().join("tree"),
        t.path(),
        &rsa_img,
        &Passphrase::new(Zeroizing::new(file.expose().to_vec())),
    );

    let mp_oct = t.path().join("pub/oct");
    let mp_rsa = t.path().join("pub/rsa");
    let b64 = input(&[
        key_entry(&mp_oct, &oct_img, &sandbox, &oct.kid, "oct-HSM"),
        key_entry(&mp_rsa, &rsa_img, &sandbox, &rsa.kid, "RSA-HSM"),
    ]);
    let plan = encfs::input::parse(&b64).unwrap();
    let releaser = SecureKeyRelease::new(sandbox.release_config().unwrap());
    let sidecar = Sidecar::start(&plan, &settings(&sandbox, t.path()), &releaser, &|| None)
        .unwrap_or_else(|e| panic!("{e}"));
    for mp in [&mp_oct, &mp_rsa] {
        for (name, data) in &files {
            let got = std::fs::read(mp.join(name)).unwrap();
            assert!(&got == data, "{}: {} differs", mp.display(), name.display());
        }
    }
    sidecar.shutdown().unwrap();
    assert_clean(t.path());

    // A key whose release policy wants another HOST_DATA: refused by the HSM, reported with
    // the step that failed, nothing mounted.
    let policy = json!({
        "version": "1.0.0",
        "anyOf": [{
            "authority": sandbox.endpoints().maa,
            "allOf": [{"claim": "x-ms-sevsnpvm-hostdata", "equals": "00".repeat(32)}],
        }],
    });
    let other = sandbox
        .import_key_with_policy("encfs-other", SandboxKey::Oct, &policy)
        .unwrap();
    let b64 = input(&[
        key_entry(&mp_oct, &oct_img, &sandbox, &oct.kid, "oct-HSM"),
        key_entry(&mp_rsa, &oct_img, &sandbox, &other.kid, "oct-HSM"),
    ]);
    let plan = encfs::input::parse(&b64).unwrap();
    let releaser = SecureKeyRelease::new(sandbox.release_config().unwrap());
    let err = Sidecar::start(&plan, &settings(&sandbox, t.path()), &releaser, &|| None)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("azure_filesystems[1]") && err.contains("getting the key"),
        "{err}"
    );
    assert!(err.contains("403") || err.contains("policy"), "{err}");
    assert!(std::fs::symlink_metadata(&mp_oct).is_err());
    assert!(std::fs::symlink_metadata(&mp_rsa).is_err());
    assert_clean(t.path());
    drop(sandbox);
}
