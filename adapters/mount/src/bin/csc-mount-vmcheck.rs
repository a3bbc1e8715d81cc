//! Test program (feature `vm-check`) that runs inside the test VM (see `tests/dm_vm.rs`), as root on a kernel with device-mapper:
//! mounts `image.luks` (key `key.bin`) through dm-crypt read-only and checks every file of
//! `tree/`, writes through dm-crypt read-write, reads that back through the userspace view and
//! the other way round, and checks that each teardown leaves no mount, loop or dm device.
//! Prints `VM-DMCRYPT-OK` on success; any failure exits non-zero.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use csc_mount::mount::{Exposure, MountRequest, Mounted};
use csc_mount::{CacheConfig, FuseOptions, LocalFile, Passphrase, image};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn mount(exposure: Exposure, rw: bool) -> Res<Mounted> {
    let store = Arc::new(LocalFile::open(Path::new("image.luks"), rw)?);
    let pass = Passphrase::from_file(Path::new("key.bin"))?;
    let (header, key) = image::open(store.as_ref(), &pass)?;
    std::fs::create_dir_all("/mnt/remote")?;
    let m = csc_mount::mount(MountRequest {
        store,
        header,
        key,
        mount_point: PathBuf::from("/mnt/remote/fs"),
        name: "0".into(),
        read_write: rw,
        cache: CacheConfig::default(),
        exposure,
        work_dir: PathBuf::from("/tmp"),
        fuse: FuseOptions::default(),
    })?;
    println!("mounted {exposure:?} rw={rw}");
    Ok(m)
}

fn files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) -> Res<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            files(&p, base, out)?;
        } else {
            out.push(p.strip_prefix(base)?.to_path_buf());
        }
    }
    Ok(())
}

fn check_tree(fs: &Path) -> Res<usize> {
    let mut list = Vec::new();
    files(Path::new("tree"), Path::new("tree"), &mut list)?;
    for f in &list {
        let want = std::fs::read(Path::new("tree").join(f))?;
        let got = std::fs::read(fs.join(f))?;
        if want != got {
            return Err(format!("{} differs", f.display()).into());
        }
    }
    Ok(list.len())
}

fn check_clean() -> Res<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    if let Some(l) = info
        .lines()
        .find(|l| l.contains("/mnt/remote") || l.contains("fuse"))
    {
        return Err(format!("left mounted: {l}").into());
    }
    for e in std::fs::read_dir("/sys/block")? {
        let name = e?.file_name().to_string_lossy().to_string();
        if name.starts_with("dm-") {
            return Err(format!("dm device left: {name}").into());
        }
        let backing = Path::new("/sys/block")
            .join(&name)
            .join("loop/backing_file");
        if backing.exists() {
            return Err(format!("loop device left: {name}").into());
        }
    }
    if Path::new("/mnt/remote/fs").exists() {
        return Err("symlink left".into());
    }
    Ok(())
}

fn table_of_dm() -> Res<String> {
    // The crypt target's status line, as the kernel reports it (no key in it).
    let mut out = String::new();
    for e in std::fs::read_dir("/sys/block")? {
        let name = e?.file_name().to_string_lossy().to_string();
        if name.starts_with("dm-") {
            let dm_name = std::fs::read_to_string(format!("/sys/block/{name}/dm/name"))?;
            let size = std::fs::read_to_string(format!("/sys/block/{name}/size"))?;
            let lbs =
                std::fs::read_to_string(format!("/sys/block/{name}/queue/logical_block_size"))?;
            out = format!(
                "{name} name={} sectors={} logical_block_size={}",
                dm_name.trim(),
                size.trim(),
                lbs.trim()
            );
        }
    }
    Ok(out)
}

fn run() -> Res<()> {
    if !csc_mount::dm::available() {
        return Err("no /dev/mapper/control in the VM".into());
    }
    let fs = Path::new("/mnt/remote/fs");

    let m = mount(Exposure::DmCrypt, false)?;
    println!("dm device: {}", table_of_dm()?);
    let n = check_tree(fs)?;
    println!("dm-crypt read-only: {n} files identical");
    m.teardown()?;
    check_clean()?;

    let m = mount(Exposure::DmCrypt, true)?;
    let payload: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(fs.join("from-dm.bin"), &payload)?;
    std::fs::File::open(fs.join("from-dm.bin"))?.sync_all()?;
    m.teardown()?;
    check_clean()?;

    let m = mount(Exposure::Userspace, true)?;
    if std::fs::read(fs.join("from-dm.bin"))? != payload {
        return Err("userspace view reads dm-crypt's write differently".into());
    }
    check_tree(fs)?;
    std::fs::write(fs.join("from-user.bin"), &payload[..777_777])?;
    std::fs::File::open(fs.join("from-user.bin"))?.sync_all()?;
    m.teardown()?;
    check_clean()?;
    println!("userspace view read dm-crypt's file and wrote one");

    let m = mount(Exposure::DmCrypt, false)?;
    if std::fs::read(fs.join("from-user.bin"))? != payload[..777_777] {
        return Err("dm-crypt reads the userspace view's write differently".into());
    }
    check_tree(fs)?;
    m.teardown()?;
    check_clean()?;
    println!("dm-crypt read the userspace view's file");
    Ok(())
}

fn main() {
    match run() {
        Ok(()) => println!("VM-DMCRYPT-OK"),
        Err(e) => {
            println!("VM-DMCRYPT-FAILED: {e}");
            std::process::exit(1);
        }
    }
}
