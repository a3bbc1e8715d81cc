//! The real `encfs` binary over local image files (`file://`), through the userspace AES-XTS
//! path with the kernel's FUSE, loop and ext4: files read back byte for byte, read-write data
//! that survives `kill -9`, and bad inputs that each end in a clear error with nothing left
//! mounted. Runs as root (CI does).

mod common;

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use common::*;
use csc_testkit::{assert_clean, sample_tree};

struct Setup {
    t: tempfile::TempDir,
    files: Vec<(PathBuf, Vec<u8>)>,
    img: PathBuf,
    mount_point: PathBuf,
}

fn setup(byte: u8) -> Setup {
    let t = tempfile::tempdir().unwrap();
    let files = sample_tree(&t.path().join("tree"));
    let img = t.path().join("image.luks");
    make_image(&t.path().join("tree"), t.path(), &img, byte, 40 << 20);
    std::fs::create_dir(t.path().join("pub")).unwrap();
    let mount_point = t.path().join("pub/share");
    Setup {
        t,
        files,
        img,
        mount_point,
    }
}

fn url(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn assert_files(mount_point: &Path, files: &[(PathBuf, Vec<u8>)]) {
    for (name, data) in files {
        let got = std::fs::read(mount_point.join(name)).unwrap();
        assert!(&got == data, "{} differs", name.display());
    }
}

#[test]
fn read_only_image_reads_back_byte_for_byte_and_tears_down_on_sigterm() {
    let s = setup(3);
    let b64 = input(&[fs_entry(&s.mount_point, &url(&s.img), 3, false)]);
    let e = start(&b64, s.t.path(), "ro", &[]).ready();
    assert_eq!(
        std::fs::read_link(&s.mount_point).unwrap(),
        Path::new(".filesystem-0")
    );
    assert_files(&s.mount_point, &s.files);
    let err = std::fs::write(s.mount_point.join("new"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    let log = e.stop();
    assert!(log.contains("ready"), "{log}");
    assert!(log.contains("every filesystem unmounted"), "{log}");
    assert!(std::fs::symlink_metadata(&s.mount_point).is_err());
    assert!(!s.t.path().join("ro.ready").exists(), "ready file removed");
    assert_clean(s.t.path());
}

#[test]
fn two_filesystems_come_up_together_and_go_down_together() {
    let s = setup(4);
    let img2 = s.t.path().join("second.luks");
    std::fs::copy(&s.img, &img2).unwrap();
    let mp2 = s.t.path().join("pub/other");
    let b64 = input(&[
        fs_entry(&s.mount_point, &url(&s.img), 4, false),
        fs_entry(&mp2, &url(&img2), 4, false),
    ]);
    let e = start(&b64, s.t.path(), "two", &[]).ready();
    assert_files(&s.mount_point, &s.files);
    assert_files(&mp2, &s.files);
    e.stop();
    assert_clean(s.t.path());
}

#[test]
fn read_write_fsynced_bytes_survive_kill_9_and_fsck_is_clean() {
    let s = setup(5);
    let b64 = input(&[fs_entry(&s.mount_point, &url(&s.img), 5, true)]);
    let e = start(&b64, s.t.path(), "rw1", &[]).ready();
    let payload: Vec<u8> = (0..1_500_000u32)
        .map(|i| (i * 7 + i / 4096) as u8)
        .collect();
    {
        let mut f = std::fs::File::create(s.mount_point.join("written.bin")).unwrap();
        f.write_all(&payload).unwrap();
        f.sync_all().unwrap();
        // Overwrite inside an existing file, then fsync it.
        let g = std::fs::OpenOptions::new()
            .write(true)
            .open(s.mount_point.join("sub/medium.bin"))
            .unwrap();
        g.write_all_at(b"patched by the test", 12_345).unwrap();
        g.sync_all().unwrap();
        std::fs::File::open(&s.mount_point)
            .unwrap()
            .sync_all()
            .unwrap();
        std::fs::File::open(s.mount_point.join("sub"))
            .unwrap()
            .sync_all()
            .unwrap();
    }
    let (status, _) = e.signal(libc::SIGKILL);
    assert!(!status.success());

    // The next run finds what the dead one left (symlink, mounts), clears it and remounts.
    let e = start(&b64, s.t.path(), "rw2", &[]).ready();
    assert_eq!(
        std::fs::read(s.mount_point.join("written.bin")).unwrap(),
        payload
    );
    let medium = std::fs::read(s.mount_point.join("sub/medium.bin")).unwrap();
    assert_eq!(&medium[12_345..12_345 + 19], b"patched by the test");
    let mut files = s.files.clone();
    for (name, data) in &mut files {
        if name == Path::new("sub/medium.bin") {
            data[12_345..12_345 + 19].copy_from_slice(b"patched by the test");
        }
    }
    assert_files(&s.mount_point, &files);
    let log = e.stop();
    assert!(
        log.contains("previous run"),
        "stale state was reported: {log}"
    );
    assert_clean(s.t.path());
    let (status, out) = fsck(&s.img, s.t.path(), 5);
    assert!(status.success(), "e2fsck: {out}");
}

fn expect_failure(s: &Setup, b64: &str, tag: &str, needle: &str) -> String {
    let (status, out) = start(b64, s.t.path(), tag, &[]).failed();
    assert!(!status.success(), "{tag}: {out}");
    assert!(out.contains(needle), "{tag}: wanted {needle:?} in:\n{out}");
    assert_eq!(
        std::fs::read(s.t.path().join(format!("{tag}.ready"))).unwrap(),
        b"0\n",
        "{tag}: ready file says failed"
    );
    assert_clean(s.t.path());
    out
}

#[test]
fn bad_inputs_fail_clearly_and_leave_nothing_mounted() {
    let s = setup(6);
    // Wrong key.
    let b64 = input(&[fs_entry(&s.mount_point, &url(&s.img), 7, false)]);
    let out = expect_failure(&s, &b64, "wrongkey", "unlocking the image");
    assert!(!out.contains(&raw_key(7)), "the key never shows in logs");
    assert!(std::fs::symlink_metadata(&s.mount_point).is_err());

    // Tampered header: one byte of the primary header's JSON area changed.
    let tampered = s.t.path().join("tampered.luks");
    std::fs::copy(&s.img, &tampered).unwrap();
    {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tampered)
            .unwrap();
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, 4096 + 20).unwrap();
        f.write_all_at(&[b[0] ^ 0x01], 4096 + 20).unwrap();
    }
    let b64 = input(&[fs_entry(&s.mount_point, &url(&tampered), 6, false)]);
    expect_failure(&s, &b64, "tampered", "reading the LUKS2 header");

    // Truncated image: header intact, data segment cut short.
    let truncated = s.t.path().join("truncated.luks");
    std::fs::copy(&s.img, &truncated).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(20 << 20)
        .unwrap();
    let b64 = input(&[fs_entry(&s.mount_point, &url(&truncated), 6, false)]);
    expect_failure(&s, &b64, "truncated", "azure_filesystems[0]");

    // Unreachable blob (nothing listens on port 1).
    let b64 = input(&[fs_entry(
        &s.mount_point,
        "https://127.0.0.1:1/devstoreaccount1/c/image.luks",
        6,
        false,
    )]);
    expect_failure(&s, &b64, "unreachable", "opening the image");

    // Busy mount point: a directory that is not ours.
    std::fs::create_dir(&s.mount_point).unwrap();
    std::fs::write(s.mount_point.join("keep"), b"mine").unwrap();
    let b64 = input(&[fs_entry(&s.mount_point, &url(&s.img), 6, false)]);
    expect_failure(&s, &b64, "busy", "preparing the mount point");
    assert_eq!(std::fs::read(s.mount_point.join("keep")).unwrap(), b"mine");
    std::fs::remove_dir_all(&s.mount_point).unwrap();

    // Busy mount point: another live encfs serves it.
    let b64 = input(&[fs_entry(&s.mount_point, &url(&s.img), 6, false)]);
    let first = start(&b64, s.t.path(), "owner", &[]).ready();
    let (status, out) = start(&b64, s.t.path(), "second", &[]).failed();
    assert!(!status.success());
    assert!(out.contains("preparing the mount point"), "{out}");
    assert_files(&s.mount_point, &s.files);
    first.stop();
    assert_clean(s.t.path());

    // A second filesystem that fails tears down the first one, which was fine.
    let other = s.t.path().join("pub/other");
    let b64 = input(&[
        fs_entry(&s.mount_point, &url(&s.img), 6, false),
        fs_entry(&other, &url(&truncated), 6, false),
    ]);
    expect_failure(&s, &b64, "second-bad", "azure_filesystems[1]");
    assert!(std::fs::symlink_metadata(&s.mount_point).is_err());
}

#[test]
fn invalid_input_is_refused_before_anything_is_touched() {
    let t = tempfile::tempdir().unwrap();
    let mp = t.path().join("mnt");
    let b64 = input(&[format!(
        r#"{{"mount_point": "{}", "azure_url": "file:///nonexistent", "key": {{"kid": "k", "kty": "RSA-HSM", "authority": {{"endpoint": "maa.example"}}, "akv": {{"endpoint": "hsm.example"}}}}}}"#,
        mp.display()
    )]);
    let (status, out) = start(&b64, t.path(), "invalid", &[]).failed();
    assert!(!status.success());
    assert!(out.contains("key_derivation"), "{out}");
    assert!(!mp.exists());
}

#[test]
fn command_line_and_input_errors_exit_as_upstream() {
    let bin = env!("CARGO_BIN_EXE_encfs");
    let t = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin).arg("-h").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("-base64"));
    let out = std::process::Command::new(bin)
        .arg("-nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "Go's flag package exits 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -nope"));
    for (b64, needle) in [
        ("", "no input"),
        ("!!!", "not base64"),
        ("bm90IGpzb24=", "EncfsSideCarArgs"),
    ] {
        let out = std::process::Command::new(bin)
            .env("EncfsSideCarArgs", b64)
            .env_remove("LogFile")
            .current_dir(t.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{b64:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("level=fatal") && err.contains(needle),
            "{b64:?}: {err}"
        );
        // The default ready file (upstream's `result`) says start-up failed.
        assert_eq!(std::fs::read(t.path().join("result")).unwrap(), b"0\n");
    }
}

/// No system CA store (as in a minimal VM or initramfs): rustls finds no roots when
/// SSL_CERT_FILE and SSL_CERT_DIR name nothing.
const NO_ROOTS: [(&str, &str); 2] = [
    ("SSL_CERT_FILE", "/nonexistent/ca-certificates.crt"),
    ("SSL_CERT_DIR", "/nonexistent/certs"),
];

#[test]
fn file_sources_and_raw_keys_need_no_tls_roots_https_names_what_needs_them() {
    let s = setup(6);
    let b64 = input(&[fs_entry(&s.mount_point, &url(&s.img), 6, false)]);
    let e = start_with_env(&b64, s.t.path(), "noroots", &[], &NO_ROOTS).ready();
    assert_files(&s.mount_point, &s.files);
    e.stop();
    assert_clean(s.t.path());

    // An HTTPS source with no roots: a clear error naming the filesystem, the service and
    // the URL, before any connection is made (the port is a closed loopback one).
    let mp = s.t.path().join("pub/remote");
    let b64 = input(&[fs_entry(
        &mp,
        "https://127.0.0.1:9/container/image.luks",
        6,
        false,
    )]);
    let (status, out) = start_with_env(&b64, s.t.path(), "https-noroots", &[], &NO_ROOTS).failed();
    assert!(!status.success());
    assert!(out.contains("azure_filesystems[0]"), "{out}");
    assert!(
        out.contains("https://127.0.0.1:9/container/image.luks") && out.contains("uses HTTPS"),
        "{out}"
    );
    assert!(out.contains("no trusted root certificates"), "{out}");
    assert_clean(s.t.path());
}
