//! The real `encfs` binary over page blobs in Azurite (started by the test, TLS from the
//! emulators' CA): SAS and bearer-token (`azure_url_private`, tokens from the emulated IMDS)
//! access, files read back byte for byte, read-write data that survives `kill -9`, clean
//! blocks never re-uploaded, and a concurrent writer detected by the ETag condition instead
//! of overwritten (or read). Runs as root (CI does).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use csc_testkit::{Storage, assert_clean, sample_tree};

/// Blob storage, a scratch directory with the emulators' CA, and an image of the sample tree.
struct World {
    s: Storage,
    t: tempfile::TempDir,
    ca: PathBuf,
    files: Vec<(PathBuf, Vec<u8>)>,
    img: PathBuf,
}

fn world(byte: u8) -> World {
    let s = Storage::start();
    let t = tempfile::tempdir().unwrap();
    let ca = t.path().join("ca.pem");
    std::fs::write(&ca, s.emu.ca_pem()).unwrap();
    let files = sample_tree(&t.path().join("tree"));
    let img = t.path().join("image.luks");
    make_image(&t.path().join("tree"), t.path(), &img, byte, 40 << 20);
    std::fs::create_dir(t.path().join("pub")).unwrap();
    World {
        s,
        t,
        ca,
        files,
        img,
    }
}

impl World {
    /// Uploads the image as page blob `name`.
    fn upload(&self, name: &str) {
        self.s.upload(name, &self.img);
    }

    fn start(&self, b64: &str, tag: &str) -> Encfs {
        let imds = self.s.emu.endpoints().imds.clone();
        start(
            b64,
            self.t.path(),
            tag,
            &["-cafile", self.ca.to_str().unwrap(), "-imds", &imds],
        )
    }
}

fn private_entry(mount_point: &Path, url: &str, byte: u8, rw: bool) -> String {
    format!(
        r#"{{"mount_point": "{}", "azure_url": "{url}", "azure_url_private": true, "raw_key": "{}", "read_write": {rw}}}"#,
        mount_point.display(),
        raw_key(byte)
    )
}

/// `key=value` of the last "source requests" log line.
fn logged(log: &str, key: &str) -> u64 {
    let line = log
        .lines()
        .rfind(|l| l.contains("source requests"))
        .unwrap_or_else(|| panic!("no request counts in:\n{log}"));
    let v = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"));
    v.parse().unwrap()
}

#[test]
fn sas_and_bearer_page_blobs_read_back_byte_for_byte() {
    let w = world(8);
    w.upload("ro.luks");
    let sas = format!("{}?{}", w.s.blob_url("ro.luks"), w.s.az.account_sas("rl"));
    let mp_sas = w.t.path().join("pub/sas");
    let mp_private = w.t.path().join("pub/private");
    let b64 = input(&[
        fs_entry(&mp_sas, &sas, 8, false),
        private_entry(&mp_private, &w.s.blob_url("ro.luks"), 8, false),
    ]);
    let e = w.start(&b64, "ro").ready();
    for mp in [&mp_sas, &mp_private] {
        for (name, data) in &w.files {
            let got = std::fs::read(mp.join(name)).unwrap();
            assert!(&got == data, "{}: {} differs", mp.display(), name.display());
        }
    }
    let log = e.stop();
    assert!(logged(&log, "reads") > 0, "{log}");
    assert_eq!(logged(&log, "writes"), 0, "{log}");
    assert!(
        !log.contains("sig="),
        "the SAS signature never shows: {log}"
    );
    assert_clean(w.t.path());
}

#[test]
fn read_write_blob_survives_kill_9_never_reuploads_clean_blocks_and_fscks_clean() {
    let w = world(9);
    w.upload("rw.luks");
    let mp = w.t.path().join("pub/rw");
    let b64 = input(&[private_entry(&mp, &w.s.blob_url("rw.luks"), 9, true)]);

    // Reading every file: a read-write ext4 mount writes its superblock and journal, but the
    // blocks only read are never uploaded again.
    let e = w.start(&b64, "read").ready();
    for (name, data) in &w.files {
        assert!(&std::fs::read(mp.join(name)).unwrap() == data);
    }
    let log = e.stop();
    let (read, written) = (logged(&log, "read_bytes"), logged(&log, "written_bytes"));
    assert!(read > 4_000_000, "{log}");
    assert!(written * 3 < read, "clean blocks re-uploaded: {log}");

    let e = w.start(&b64, "rw1").ready();
    let payload: Vec<u8> = (0..2_000_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
    {
        let mut f = std::fs::File::create(mp.join("written.bin")).unwrap();
        f.write_all(&payload).unwrap();
        f.sync_all().unwrap();
        std::fs::File::open(&mp).unwrap().sync_all().unwrap();
    }
    let (status, _) = e.signal(libc::SIGKILL);
    assert!(!status.success());

    let e = w.start(&b64, "rw2").ready();
    assert_eq!(std::fs::read(mp.join("written.bin")).unwrap(), payload);
    for (name, data) in &w.files {
        assert!(&std::fs::read(mp.join(name)).unwrap() == data);
    }
    // Written and not fsync'd: written back at SIGTERM.
    std::fs::write(mp.join("at-exit.txt"), b"written back on SIGTERM").unwrap();
    e.stop();
    assert_clean(w.t.path());

    let e = w.start(&b64, "rw3").ready();
    assert_eq!(
        std::fs::read(mp.join("at-exit.txt")).unwrap(),
        b"written back on SIGTERM"
    );
    e.stop();
    assert_clean(w.t.path());
    let local = w.t.path().join("downloaded.luks");
    w.s.download("rw.luks", &local);
    let (status, out) = fsck(&local, w.t.path(), 9);
    assert!(status.success(), "e2fsck: {out}");
}

#[test]
fn a_concurrent_writer_is_detected_not_overwritten() {
    let w = world(10);
    w.upload("shared.luks");
    let mp = w.t.path().join("pub/shared");
    let b64 = input(&[private_entry(&mp, &w.s.blob_url("shared.luks"), 10, true)]);
    let e = w.start(&b64, "owner").ready();
    // Someone else writes the last page of the blob behind encfs's back.
    let c = w.s.client("shared.luks");
    let size = std::fs::metadata(&w.img).unwrap().len();
    let foreign = vec![0x5au8; 512];
    w.s.rt
        .block_on(c.write_pages(size - 512, &foreign, None))
        .unwrap();
    // Every request is conditioned on the ETag encfs holds: the change is noticed at the
    // next read of the blob or at the latest when the write is saved.
    let outcome = (|| {
        let mut f = std::fs::File::create(mp.join("late.bin"))?;
        f.write_all(&[1u8; 100_000])?;
        f.sync_all()
    })();
    let err = outcome.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    let (_, log) = e.signal(libc::SIGTERM);
    assert!(log.contains("modified by another writer"), "{log}");
    // The foreign page is still there.
    let got = w.s.rt.block_on(c.read_range(size - 512, 512)).unwrap();
    assert_eq!(&got[..], &foreign[..]);
    assert_clean(w.t.path());
}

#[test]
fn a_missing_blob_fails_clearly_with_nothing_mounted() {
    let w = world(11);
    let mp = w.t.path().join("pub/x");
    let b64 = input(&[private_entry(&mp, &w.s.blob_url("absent.luks"), 11, false)]);
    let (status, out) = w.start(&b64, "absent").failed();
    assert!(!status.success());
    assert!(
        out.contains("opening the image") && out.contains("404"),
        "{out}"
    );
    assert_clean(w.t.path());
    assert!(std::fs::symlink_metadata(&mp).is_err());
}
