//! The dm-crypt path, exercised for real inside the small VM of `shared/vm` (this machine's
//! kernel has no device-mapper): builds `csc-mount-vmcheck` for musl, makes an image here, boots
//! the VM with it and expects `VM-DMCRYPT-OK`. Nothing is skipped: a missing VM kit, a failed
//! build or a VM that does not boot fails the test.
//!
//! Environment: `CSC_VM_DIR` (the directory with `prepare.sh` and `run-in-vm.sh`; default
//! `../shared/vm` beside the workspace, then `/work/shared/vm`), `CSC_VM_WORKDIR` (the kernel
//! and busybox extracted by `prepare.sh`; default `/var/tmp/csc-vm`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use csc_testkit::sample_tree;
use csc_testkit::vm::{vm_dir, workspace};

fn build_vmcheck() -> PathBuf {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
        .join("vm-musl");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo)
        .current_dir(workspace())
        .args([
            "build",
            "--quiet",
            "-p",
            "csc-mount",
            "--bin",
            "csc-mount-vmcheck",
            "--features",
            "vm-check",
            "--target",
            "x86_64-unknown-linux-musl",
            "--target-dir",
        ])
        .arg(&target_dir));
    target_dir.join("x86_64-unknown-linux-musl/debug/csc-mount-vmcheck")
}

#[test]
fn dm_crypt_path_in_vm() {
    let kit = vm_dir();
    let work = std::env::var_os("CSC_VM_WORKDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/csc-vm"));
    run(Command::new("bash").arg(kit.join("prepare.sh")).arg(&work));
    let program = build_vmcheck();

    let t = tempfile::tempdir().unwrap();
    let files = t.path().join("files");
    let tree = files.join("tree");
    sample_tree(&tree);
    write_key(&files.join("key.bin"), 0x5a);
    let (img, plain) = make_image(&tree, t.path(), &key(0x5a), 40 << 20);
    std::fs::rename(&img, files.join("image.luks")).unwrap();
    std::fs::remove_file(plain).unwrap();

    let out = Command::new("bash")
        .arg(kit.join("run-in-vm.sh"))
        .arg(&work)
        .arg(&program)
        .env("VM_FILES", &files)
        .env("VM_TIMEOUT", "400")
        .output()
        .expect("run-in-vm.sh runs");
    let console = String::from_utf8_lossy(&out.stdout);
    println!("{console}");
    assert!(
        out.status.success() && console.contains("VM-DMCRYPT-OK"),
        "VM run failed (status {:?}):\n{console}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "dm device: dm-0 name=csc-crypt-0",
        "logical_block_size=4096",
        "dm-crypt read-only: 4 files identical",
        "userspace view read dm-crypt's file",
        "dm-crypt read the userspace view's file",
    ] {
        assert!(console.contains(step), "missing {step:?} in:\n{console}");
    }
}
