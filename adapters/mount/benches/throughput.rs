//! Read throughput through the mounted filesystem, from a local source, in one run:
//! sequential (1 MiB reads) and random 4 KiB reads of one file, for
//! - the plain block file: FUSE `data` file (block cache) -> loop -> ext4 (no encryption),
//! - the decrypted userspace view: LUKS2 image -> block cache -> XTS -> FUSE -> loop -> ext4,
//! - and the same file on tmpfs as the baseline, with ratios; plus reads of the FUSE files
//!   themselves (no loop, no ext4) and source range requests per MiB read.
//!
//! Runs as root (mounts). Page caches are dropped (`/proc/sys/vm/drop_caches`) before every
//! measured pass so that each pass goes through the whole stack; the images live on a private
//! tmpfs so the source itself is memory-speed, as in upstream's local-file measurement.
//! `cargo bench -p csc-mount --bench throughput` (env `BENCH_MIB`, default 256).

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use csc_mount::loopdev::LoopDevice;
use csc_mount::luks2::{FormatParams, Passphrase};
use csc_mount::mount::{Exposure, MountRequest};
use csc_mount::source::Counters;
use csc_mount::{
    BlockCache, ByteView, CacheConfig, Counting, FuseFile, FuseOptions, LocalFile, image,
};
use zeroize::Zeroizing;

const UPSTREAM_SEQ_MBS: f64 = 150.0;
const UPSTREAM_RANDOM_IOPS: f64 = 4100.0;
const RANDOM_READS: usize = 20_000;

fn sh(cmd: &mut Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn drop_caches() {
    // SAFETY of the benchmark, not memory: only clean page cache is dropped.
    let _ = std::fs::write("/proc/sys/vm/drop_caches", "3");
}

struct Result {
    seq_mbs: f64,
    rand_iops: f64,
}

fn measure(file: &Path, size: u64) -> Result {
    let f = std::fs::File::open(file).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    drop_caches();
    let t = Instant::now();
    let mut off = 0u64;
    while off < size {
        let n = f.read_at(&mut buf, off).unwrap();
        assert!(n > 0);
        off += n as u64;
    }
    let seq_mbs = size as f64 / t.elapsed().as_secs_f64() / 1e6;

    drop_caches();
    use std::os::fd::AsRawFd;
    // SAFETY: fadvise on a descriptor we own; no memory passed.
    #[allow(unsafe_code)]
    unsafe {
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM);
    }
    let pages = size / 4096;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut small = [0u8; 4096];
    let t = Instant::now();
    for _ in 0..RANDOM_READS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        f.read_exact_at(&mut small, (x % pages) * 4096).unwrap();
    }
    let rand_iops = RANDOM_READS as f64 / t.elapsed().as_secs_f64();
    Result { seq_mbs, rand_iops }
}

fn report(name: &str, r: &Result, base: &Result, counters: Option<(&Counters, u64)>) {
    let per_mib = counters
        .map(|(c, served)| format!("{:6.2}", c.reads_per_mib(served)))
        .unwrap_or_else(|| "     -".into());
    println!(
        "{name:<34} {:8.0} MB/s  x{:5.2} tmpfs  x{:6.1} upstream | {:8.0} 4K/s  x{:5.2} tmpfs  x{:5.1} upstream | {per_mib}",
        r.seq_mbs,
        r.seq_mbs / base.seq_mbs,
        r.seq_mbs / UPSTREAM_SEQ_MBS,
        r.rand_iops,
        r.rand_iops / base.rand_iops,
        r.rand_iops / UPSTREAM_RANDOM_IOPS,
    );
}

fn served_bytes(size: u64) -> u64 {
    size + RANDOM_READS as u64 * 4096
}

fn main() {
    let mib: u64 = std::env::var("BENCH_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    let size = mib << 20;
    let root = tempfile::tempdir().unwrap();
    let mem = root.path().join("mem");
    std::fs::create_dir(&mem).unwrap();
    sh(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2g", "bench"])
        .arg(&mem));
    let guard = scopeguard(mem.clone());

    // The data: one file of pseudo-random bytes.
    let tree = mem.join("tree");
    std::fs::create_dir(&tree).unwrap();
    let mut data = vec![0u8; size as usize];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(tree.join("file.bin"), &data).unwrap();
    drop(data);
    let fs_size = (size + size / 8 + (64 << 20)) / 4096 * 4096;
    let plain = mem.join("plain.ext4");
    image::make_ext4(&tree, &plain, fs_size).unwrap();
    let pass = Passphrase::new(Zeroizing::new(vec![0x33; 32]));
    let luks = mem.join("image.luks");
    image::encrypt_image(&plain, &luks, &pass, &FormatParams::default(), |_, _| {}).unwrap();
    println!(
        "data: {mib} MiB file; ext4 image {} MiB; cache 512 KiB x 32 (upstream defaults)",
        fs_size >> 20
    );
    println!(
        "{:<34} {:>10}  {:>12} {:>16} | {:>10}  {:>12} {:>15} | source reqs/MiB",
        "path", "sequential", "", "", "random 4K", "", ""
    );

    let base = measure(&tree.join("file.bin"), size);
    report("tmpfs (baseline)", &base, &base, None);

    // Plain block file: FUSE data file over the cache, loop, ext4.
    {
        let src = Counting::new(LocalFile::open(&plain, false).unwrap());
        let counters = src.counters();
        let cache = BlockCache::new(Arc::new(src), &CacheConfig::default()).unwrap();
        let view: Arc<dyn ByteView> = Arc::new(cache);
        let fdir = root.path().join("fuse-plain");
        std::fs::create_dir(&fdir).unwrap();
        let fuse = FuseFile::mount(view, &fdir, &FuseOptions::default()).unwrap();
        let raw = measure(&fuse.file(), fs_size);
        let served = counters.read_bytes.load(Ordering::Relaxed);
        let _ = served;
        report(
            "plain FUSE data file (no ext4)",
            &raw,
            &base,
            Some((&counters, served_bytes(fs_size))),
        );
        counters.reads.store(0, Ordering::Relaxed);
        let lo = LoopDevice::attach(&fuse.file(), false, false).unwrap();
        let mnt = root.path().join("plain-mnt");
        std::fs::create_dir(&mnt).unwrap();
        sh(Command::new("mount")
            .args(["-t", "ext4", "-o", "ro,noload"])
            .arg(lo.path())
            .arg(&mnt));
        let r = measure(&mnt.join("file.bin"), size);
        report(
            "plain block file -> loop -> ext4",
            &r,
            &base,
            Some((&counters, served_bytes(size))),
        );
        sh(Command::new("umount").arg(&mnt));
        lo.detach().unwrap();
        fuse.unmount().unwrap();
    }

    // Decrypted userspace view, through the real mount pipeline.
    {
        let src = Arc::new(Counting::new(LocalFile::open(&luks, false).unwrap()));
        let counters = src.counters();
        let (header, key) = image::open(src.as_ref(), &pass).unwrap();
        let pub_dir = root.path().join("pub");
        std::fs::create_dir(&pub_dir).unwrap();
        counters.reads.store(0, Ordering::Relaxed);
        let m = csc_mount::mount(MountRequest {
            source: src,
            header,
            key,
            mount_point: pub_dir.join("fs"),
            name: "bench".into(),
            read_write: false,
            cache: CacheConfig::default(),
            exposure: Exposure::Userspace,
            work_dir: root.path().to_path_buf(),
            fuse: FuseOptions::default(),
        })
        .unwrap();
        let fuse_file = m.fuse_file().unwrap();
        let r = measure(&pub_dir.join("fs/file.bin"), size);
        report(
            "decrypted view -> loop -> ext4",
            &r,
            &base,
            Some((&counters, served_bytes(size))),
        );
        counters.reads.store(0, Ordering::Relaxed);
        let raw = measure(&fuse_file, fs_size);
        report(
            "decrypted FUSE data file (no ext4)",
            &raw,
            &base,
            Some((&counters, served_bytes(fs_size))),
        );
        m.teardown().unwrap();
    }
    println!(
        "targets: plain block file >= 1500 MB/s sequential, decrypted view >= 500 MB/s, random >= 8200 4K/s"
    );
    drop(guard);
}

struct Unmount(PathBuf);
fn scopeguard(p: PathBuf) -> Unmount {
    Unmount(p)
}
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
