//! Images made here open with real cryptsetup, and images made by real cryptsetup open here.
//! Needs `cryptsetup` and `mkfs.ext4` (ci/setup.sh installs them); no root.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use csc_mount::luks2::Kdf;
use csc_mount::{LocalFile, image};
use csc_testkit::sample_tree;

#[test]
fn our_image_opens_with_cryptsetup_and_decrypts_to_the_ext4_image() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("tree");
    sample_tree(&dir);
    let pass = key(0x42);
    let key_file = t.path().join("key.bin");
    write_key(&key_file, 0x42);
    let (img, plain) = make_image(&dir, t.path(), &pass, 40 << 20);

    let dump = run(Command::new("cryptsetup").arg("luksDump").arg(&img));
    for want in [
        "Version:       \t2",
        "cipher: aes-xts-plain64",
        "sector: 4096 [bytes]",
        "PBKDF:      pbkdf2",
        "Iterations: 1000",
        "Key:        512 bits",
    ] {
        assert!(dump.contains(want), "luksDump lacks {want:?}:\n{dump}");
    }
    let theirs = cryptsetup_volume_key(&img, &key_file);
    let store = LocalFile::open(&img, false).unwrap();
    let (header, ours) = image::open(&store, &pass).unwrap();
    assert_eq!(theirs.len(), 64);
    assert_eq!(ours.expose(), &theirs[..]);

    let out = t.path().join("decrypted.ext4");
    image::decrypt_to(&store, &header, &ours, &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&plain).unwrap());
}

fn luks_format(img: &Path, key_file: &Path, extra: &[&str]) {
    let f = std::fs::File::create(img).unwrap();
    f.set_len(20 << 20).unwrap();
    run(Command::new("cryptsetup")
        .args([
            "luksFormat",
            "--type",
            "luks2",
            "--batch-mode",
            "--key-file",
        ])
        .arg(key_file)
        .args(extra)
        .arg(img));
}

fn opens_like_cryptsetup(extra: &[&str], check: impl Fn(&Kdf)) {
    let t = tempfile::tempdir().unwrap();
    let key_file = t.path().join("key.bin");
    write_key(&key_file, 7);
    let img = t.path().join("cs.img");
    luks_format(&img, &key_file, extra);
    let store = LocalFile::open(&img, false).unwrap();
    let (header, key) = image::open(&store, &common::key(7)).unwrap();
    check(&header.keyslots[0].kdf);
    assert_eq!(key.expose(), &cryptsetup_volume_key(&img, &key_file)[..]);
    let wrong = image::open(&store, &common::key(8)).unwrap_err();
    assert!(wrong.to_string().contains("no keyslot opened"), "{wrong}");
}

#[test]
fn cryptsetup_pbkdf2_image_opens() {
    opens_like_cryptsetup(
        &[
            "--sector-size",
            "4096",
            "--cipher",
            "aes-xts-plain64",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
        ],
        |k| {
            assert!(
                matches!(
                    k,
                    Kdf::Pbkdf2 {
                        iterations: 1000,
                        ..
                    }
                ),
                "{k:?}"
            )
        },
    );
}

#[test]
fn cryptsetup_pbkdf2_sha512_512_byte_sectors_opens() {
    opens_like_cryptsetup(
        &[
            "--sector-size",
            "512",
            "--hash",
            "sha512",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
        ],
        |k| assert!(matches!(k, Kdf::Pbkdf2 { .. }), "{k:?}"),
    );
}

#[test]
fn cryptsetup_argon2id_image_opens() {
    opens_like_cryptsetup(
        &[
            "--pbkdf",
            "argon2id",
            "--pbkdf-memory",
            "1024",
            "--pbkdf-force-iterations",
            "4",
            "--pbkdf-parallel",
            "2",
        ],
        |k| {
            assert!(
                matches!(
                    k,
                    Kdf::Argon2id {
                        time: 4,
                        memory_kib: 1024,
                        cpus: 2,
                        ..
                    }
                ),
                "{k:?}"
            )
        },
    );
}

#[test]
fn cryptsetup_second_keyslot_opens() {
    let t = tempfile::tempdir().unwrap();
    let k1 = t.path().join("k1");
    let k2 = t.path().join("k2");
    write_key(&k1, 1);
    write_key(&k2, 2);
    let img = t.path().join("cs.img");
    let fast = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"];
    luks_format(&img, &k1, &fast);
    run(Command::new("cryptsetup")
        .args(["luksAddKey", "--batch-mode", "--key-file"])
        .arg(&k1)
        .args(fast)
        .arg(&img)
        .arg(&k2));
    let store = LocalFile::open(&img, false).unwrap();
    let (header, key) = image::open(&store, &common::key(2)).unwrap();
    assert_eq!(header.keyslots.len(), 2);
    assert_eq!(key.expose(), &cryptsetup_volume_key(&img, &k1)[..]);
}
