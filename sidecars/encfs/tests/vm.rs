//! The deployed path, for real: the static (musl) `encfs` binary inside the VM of
//! `shared/vm` (this machine's kernel has no device-mapper), unlocking through the kernel's
//! dm-crypt, as ACI runs it. The guest script `ci/vm/encfs-guest.sh` does, for local images
//! on virtio disks and for page blobs in Azurite reached through the latency proxy: read-only
//! and read-write filesystems read back, a write fsynced then `kill -9`, restart (the dead
//! run's mounts, dm and loop devices cleared), the fsynced file intact, SIGTERM leaving no
//! mount, loop or dm device. Afterwards the read-write images (the disk file, the downloaded
//! blob) must pass `e2fsck -fn` and hold the files written in the VM.
//!
//! The whole test runs in a network namespace of its own with only loopback (it re-executes
//! itself under `unshare --net`): Azurite, the proxy and qemu's user network live there, so
//! the guest reaches the host's loopback as 10.0.2.2 and nothing else.
//!
//! Environment: `ENCFS_STATIC_BIN` (a static encfs; built here with the images' profile when
//! absent), `CSC_VM_DIR` (the VM kit; default `../shared/vm` beside the workspace, then
//! `/work/shared/vm`), `CSC_VM_WORKDIR` (its kernel and busybox; default `/var/tmp/csc-vm`).
//! Nothing is skipped: a missing kit, a failed build or a VM that does not boot fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use csc_testkit::storage::CONTAINER;
use csc_testkit::vm::{vm_dir, workspace};
use csc_testkit::{LatencyProxy, ProxyConfig, Storage, sample_tree};

const NETNS_MARK: &str = "CSC_ENCFS_VM_NETNS";
const KEY: u8 = 0x3c;
/// The host's loopback as qemu's user network shows it to the guest.
const HOST_FROM_GUEST: &str = "10.0.2.2";
/// Delay per request the proxy adds for the guest's blob traffic.
const BLOB_DELAY: Duration = Duration::from_millis(5);

/// The static encfs: `ENCFS_STATIC_BIN`, or built with the container images' command (so
/// that the image build reuses it).
fn static_encfs() -> PathBuf {
    if let Some(p) = std::env::var_os("ENCFS_STATIC_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "ENCFS_STATIC_BIN={} is not a file",
            p.display()
        );
        return p;
    }
    let target = "x86_64-unknown-linux-musl";
    let profile = "ci-image";
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let (status, out) = run(Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--quiet", "--locked", "--profile", profile])
        .args([
            "--target",
            target,
            "-p",
            "skr",
            "-p",
            "encfs",
            "-p",
            "csc-tools",
        ])
        .args(["--bin", "skr", "--bin", "encfs", "--bin", "get-snp-report"]));
    assert!(status.success(), "static build failed: {out}");
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
        .join(target)
        .join(profile)
        .join("encfs")
}

/// Re-runs this test alone in a new network namespace (loopback only).
fn rerun_in_netns(test: &str) {
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("unshare")
        .args(["--net", "--"])
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(NETNS_MARK, "1")
        .status()
        .expect("unshare runs (util-linux)");
    assert!(status.success(), "the test in its network namespace failed");
}

fn sh(cmd: &mut Command) -> String {
    let (status, out) = run(cmd);
    assert!(status.success(), "{cmd:?}: {out}");
    out
}

/// The file at `path` inside the ext4 filesystem of encrypted image `img`.
fn file_in_image(img: &Path, work: &Path, path: &str) -> Vec<u8> {
    let plain = work.join("plain.ext4");
    let store = csc_mount::LocalFile::open(img, false).unwrap();
    let (header, vk) = csc_mount::image::open(&store, &key(KEY)).unwrap();
    csc_mount::image::decrypt_to(&store, &header, &vk, &plain).unwrap();
    let out = work.join("extracted");
    sh(Command::new("debugfs")
        .arg("-R")
        .arg(format!("dump {path} {}", out.display()))
        .arg(&plain));
    std::fs::remove_file(&plain).unwrap();
    let data = std::fs::read(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    data
}

/// Checks a read-write image after the VM: clean e2fsck, and the files written in the VM.
fn check_rw_image(img: &Path, work: &Path, payload: &[u8], what: &str) {
    let (status, out) = fsck(img, work, KEY);
    assert!(status.success(), "{what}: e2fsck: {out}");
    assert!(
        file_in_image(img, work, "/fsynced.bin") == payload,
        "{what}: fsynced.bin differs"
    );
    assert_eq!(
        file_in_image(img, work, "/at-exit.txt"),
        b"written back on SIGTERM\n",
        "{what}: at-exit.txt"
    );
}

/// Blob storage and the latency proxy the guest reaches it through.
struct Blobs {
    s: Storage,
    proxy: LatencyProxy,
}

impl Blobs {
    fn start() -> Blobs {
        let s = Storage::start_for(&[HOST_FROM_GUEST]);
        let proxy = LatencyProxy::start(
            ProxyConfig::new(([127, 0, 0, 1], s.az.port()).into()).delay(BLOB_DELAY),
        )
        .unwrap();
        Blobs { s, proxy }
    }

    /// The blob's URL as the guest reaches it: through the proxy, with a SAS.
    fn guest_url(&self, name: &str, permissions: &str) -> String {
        format!(
            "https://{HOST_FROM_GUEST}:{}/devstoreaccount1/{CONTAINER}/{name}?{}",
            self.proxy.port(),
            self.s.az.account_sas(permissions)
        )
    }
}

#[test]
fn static_encfs_with_dm_crypt_in_the_vm() {
    let test = "static_encfs_with_dm_crypt_in_the_vm";
    if std::env::var_os(NETNS_MARK).is_none() {
        return rerun_in_netns(test);
    }
    sh(Command::new("ip").args(["link", "set", "lo", "up"]));
    let kit = vm_dir();
    let vm = std::env::var_os("CSC_VM_WORKDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/csc-vm"));
    sh(Command::new("bash").arg(kit.join("prepare.sh")).arg(&vm));
    let encfs = static_encfs();

    let t = tempfile::tempdir().unwrap();
    let work = t.path();
    let files = work.join("files");
    std::fs::create_dir_all(files.join("modules")).unwrap();
    let tree = work.join("tree");
    sample_tree(&tree);
    std::fs::write(
        files.join("tree.md5"),
        sh(Command::new("sh")
            .arg("-c")
            .arg("find . -type f | sort | xargs md5sum")
            .current_dir(&tree)),
    )
    .unwrap();
    let payload: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 + i / 999) as u8).collect();
    std::fs::write(files.join("payload.bin"), &payload).unwrap();
    std::fs::copy(&encfs, files.join("encfs")).unwrap();
    // The network driver the guest loads for the blob part (not in the kit's module list).
    let kver = std::fs::read_dir(vm.join("kern/lib/modules"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for (m, at) in [
        ("failover", "kernel/net/core/failover.ko"),
        ("net_failover", "kernel/drivers/net/net_failover.ko"),
        ("virtio_net", "kernel/drivers/net/virtio_net.ko"),
    ] {
        std::fs::copy(kver.join(at), files.join(format!("modules/{m}.ko")))
            .unwrap_or_else(|e| panic!("{}: {e}", kver.join(at).display()));
    }

    // The same image four times: two disks, two blobs.
    let img = work.join("image.luks");
    make_image(&tree, work, &img, KEY, 40 << 20);
    let disk_ro = work.join("ro.img");
    let disk_rw = work.join("rw.img");
    std::fs::copy(&img, &disk_ro).unwrap();
    std::fs::copy(&img, &disk_rw).unwrap();
    let blobs = Blobs::start();
    blobs.s.upload("ro.img", &img);
    blobs.s.upload("rw.img", &img);
    std::fs::write(files.join("ca.pem"), blobs.s.emu.ca_pem()).unwrap();
    let inputs = [
        (
            "local",
            [
                fs_entry(Path::new("/mnt/local/ro"), "file:///dev/vda", KEY, false),
                fs_entry(Path::new("/mnt/local/rw"), "file:///dev/vdb", KEY, true),
            ],
        ),
        (
            "blob",
            [
                fs_entry(
                    Path::new("/mnt/blob/ro"),
                    &blobs.guest_url("ro.img", "rl"),
                    KEY,
                    false,
                ),
                fs_entry(
                    Path::new("/mnt/blob/rw"),
                    &blobs.guest_url("rw.img", "rwl"),
                    KEY,
                    true,
                ),
            ],
        ),
    ];
    for (name, entries) in &inputs {
        std::fs::write(files.join(format!("{name}.b64")), input(entries)).unwrap();
    }

    let t0 = Instant::now();
    let out = Command::new("bash")
        .arg(kit.join("run-in-vm.sh"))
        .arg(&vm)
        .arg(workspace().join("ci/vm/encfs-guest.sh"))
        .args(["local", "blob"])
        .env("VM_FILES", &files)
        .env(
            "VM_DISKS",
            format!("{} {}", disk_ro.display(), disk_rw.display()),
        )
        // The kit leaves qemu's arguments open here: add a virtio NIC on qemu's user network.
        .env(
            "VM_ACCEL",
            "-accel tcg,thread=multi -cpu max -nic user,model=virtio-net-pci",
        )
        .env("VM_TIMEOUT", "900")
        .output()
        .expect("run-in-vm.sh runs");
    let console = String::from_utf8_lossy(&out.stdout);
    println!("{console}");
    println!(
        "VM run: {:.0} s; proxy: {:?}",
        t0.elapsed().as_secs_f64(),
        blobs.proxy.stats()
    );
    assert!(
        out.status.success() && console.contains("VM-ENCFS-OK"),
        "VM run failed (status {:?}):\n{console}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        blobs.proxy.stats().requests > 0,
        "the guest's blob traffic went through the proxy"
    );

    check_rw_image(&disk_rw, work, &payload, "local rw disk");
    let (status, out) = fsck(&disk_ro, work, KEY);
    assert!(status.success(), "local ro disk: e2fsck: {out}");
    let blob_rw = work.join("blob-rw.img");
    blobs.s.download("rw.img", &blob_rw);
    check_rw_image(&blob_rw, work, &payload, "rw blob");
}
