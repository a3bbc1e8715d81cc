//! The userspace path end to end with the real kernel: FUSE file of the decrypted view, loop
//! device, ext4, atomic symlink; and the error paths, each leaving nothing mounted. Runs as
//! root (CI does).

mod common;

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::*;
use csc_mount::mount::{Exposure, MountRequest};
use csc_mount::{CacheConfig, Error, FuseOptions, LocalFile, image};
use csc_testkit::{assert_clean, sample_tree};

fn request(
    img: &Path,
    pub_dir: &Path,
    work: &Path,
    rw: bool,
    byte: u8,
) -> Result<MountRequest, Error> {
    let store = Arc::new(LocalFile::open(img, rw)?);
    let (header, key) = image::open(store.as_ref(), &key(byte))?;
    Ok(MountRequest {
        store,
        header,
        key,
        mount_point: pub_dir.join("fs"),
        name: "0".into(),
        read_write: rw,
        cache: CacheConfig::default(),
        exposure: Exposure::Userspace,
        work_dir: work.to_path_buf(),
        fuse: FuseOptions::default(),
    })
}

fn setup() -> (
    tempfile::TempDir,
    Vec<(std::path::PathBuf, Vec<u8>)>,
    std::path::PathBuf,
) {
    let t = tempfile::tempdir().unwrap();
    let files = sample_tree(&t.path().join("tree"));
    let (img, _) = make_image(&t.path().join("tree"), t.path(), &key(1), 40 << 20);
    std::fs::create_dir(t.path().join("pub")).unwrap();
    (t, files, img)
}

#[test]
fn read_only_mount_reads_every_file_back_and_tears_down_cleanly() {
    let (t, files, img) = setup();
    let m = csc_mount::mount(request(&img, &t.path().join("pub"), t.path(), false, 1).unwrap())
        .unwrap();
    let fs = t.path().join("pub/fs");
    assert_eq!(std::fs::read_link(&fs).unwrap(), Path::new(".filesystem-0"));
    for (name, data) in &files {
        assert_eq!(
            &std::fs::read(fs.join(name)).unwrap(),
            data,
            "{}",
            name.display()
        );
    }
    let err = std::fs::write(fs.join("new"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    assert!(
        m.cache()
            .stats()
            .misses
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    m.teardown().unwrap();
    assert!(std::fs::symlink_metadata(&fs).is_err(), "symlink removed");
    assert_clean(t.path());
}

#[test]
fn read_write_mount_keeps_fsynced_data_and_fsck_is_clean() {
    let (t, files, img) = setup();
    let pub_dir = t.path().join("pub");
    let m = csc_mount::mount(request(&img, &pub_dir, t.path(), true, 1).unwrap()).unwrap();
    let fs = pub_dir.join("fs");
    let payload: Vec<u8> = (0..2_500_000u32).map(|i| (i * 7 + 3) as u8).collect();
    {
        let mut f = std::fs::File::create(fs.join("written.bin")).unwrap();
        f.write_all(&payload).unwrap();
        f.sync_all().unwrap();
        // An unaligned overwrite inside an existing file.
        let g = std::fs::OpenOptions::new()
            .write(true)
            .open(fs.join("small.bin"))
            .unwrap();
        g.write_all_at(b"patched", 3).unwrap();
        g.sync_all().unwrap();
    }
    m.teardown().unwrap();
    assert_clean(t.path());

    let m = csc_mount::mount(request(&img, &pub_dir, t.path(), false, 1).unwrap()).unwrap();
    assert_eq!(std::fs::read(fs.join("written.bin")).unwrap(), payload);
    let mut small = files[1].1.clone();
    small[3..10].copy_from_slice(b"patched");
    assert_eq!(std::fs::read(fs.join("small.bin")).unwrap(), small);
    for (name, data) in files.iter().skip(2) {
        assert_eq!(&std::fs::read(fs.join(name)).unwrap(), data);
    }
    m.teardown().unwrap();
    assert_clean(t.path());

    let store = LocalFile::open(&img, false).unwrap();
    let (header, key) = image::open(&store, &key(1)).unwrap();
    let plain = t.path().join("check.ext4");
    image::decrypt_to(&store, &header, &key, &plain).unwrap();
    run(Command::new("e2fsck").arg("-fn").arg(&plain));
}

#[test]
fn wrong_key_is_refused_before_anything_is_mounted() {
    let (t, _, img) = setup();
    let err = request(&img, &t.path().join("pub"), t.path(), false, 2).unwrap_err();
    assert!(err.to_string().contains("no keyslot opened"), "{err}");
    assert_clean(t.path());
}

#[test]
fn tampered_headers_are_refused() {
    let (t, _, img) = setup();
    // A byte of the primary JSON area, a byte of the secondary binary header, and a primary
    // whose checksum was recomputed but whose JSON no longer matches the secondary's.
    for (offset, expect) in [
        (4096 + 20u64, "primary header: checksum mismatch"),
        (16384 + 30, "secondary header"),
    ] {
        let copy = t.path().join("tampered.luks");
        std::fs::copy(&img, &copy).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&copy)
            .unwrap();
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, offset).unwrap();
        f.write_all_at(&[b[0] ^ 0x20], offset).unwrap();
        drop(f);
        let err = request(&copy, &t.path().join("pub"), t.path(), false, 1).unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
    }
    assert_clean(t.path());
}

#[test]
fn truncated_images_fail_cleanly() {
    let (t, _, img) = setup();
    // Cut inside the header: refused when reading it.
    let short = t.path().join("short.luks");
    std::fs::copy(&img, &short).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&short)
        .unwrap()
        .set_len(20_000)
        .unwrap();
    let err = request(&short, &t.path().join("pub"), t.path(), false, 1).unwrap_err();
    assert!(err.to_string().contains("too small"), "{err}");
    // Cut inside the data: the header is fine, ext4 refuses the short device, nothing stays.
    std::fs::copy(&img, &short).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&short)
        .unwrap()
        .set_len(24 << 20)
        .unwrap();
    let err = csc_mount::mount(request(&short, &t.path().join("pub"), t.path(), false, 1).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("mount ext4"), "{err}");
    assert!(std::fs::symlink_metadata(t.path().join("pub/fs")).is_err());
    assert_clean(t.path());
}

#[test]
fn existing_or_busy_mount_points_are_refused() {
    let (t, _, img) = setup();
    let pub_dir = t.path().join("pub");
    std::fs::create_dir(pub_dir.join("fs")).unwrap();
    let err = csc_mount::mount(request(&img, &pub_dir, t.path(), false, 1).unwrap()).unwrap_err();
    assert!(matches!(err, Error::MountPointExists(_)), "{err}");
    std::fs::remove_dir(pub_dir.join("fs")).unwrap();

    // The private directory is already a mount point (a second mount of the same name).
    let first = csc_mount::mount(request(&img, &pub_dir, t.path(), false, 1).unwrap()).unwrap();
    std::fs::remove_file(pub_dir.join("fs")).unwrap();
    let err = csc_mount::mount(request(&img, &pub_dir, t.path(), false, 1).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Busy(_)), "{err}");
    first.teardown().unwrap();

    // No parent directory.
    let mut req = request(&img, &pub_dir, t.path(), false, 1).unwrap();
    req.mount_point = t.path().join("missing/fs");
    let err = csc_mount::mount(req).unwrap_err();
    assert!(matches!(err, Error::NoParent(_)), "{err}");
    assert_clean(t.path());
}
