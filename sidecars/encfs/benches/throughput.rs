//! Read throughput through filesystems mounted by the real `encfs` binary (userspace AES-XTS
//! path, kernel FUSE + loop + ext4), from a local image file and from a page blob in Azurite,
//! beside a plain read of the same data from tmpfs, in one run:
//! - sequential: one 256 MiB file read once with 1 MiB reads on a fresh mount (cold caches);
//! - random: 4 KiB `O_DIRECT` reads at random aligned offsets of that file (no page cache),
//!   one thread and four threads, each for a fixed time on its own fresh mount;
//! - the decrypted userspace view (the FUSE file under the loop device) read sequentially;
//! - remote range requests per MiB the application read (from encfs's request counters,
//!   which include ext4's own metadata reads).
//!
//! Ratios are against tmpfs and against upstream azmount's figures on this kind of machine
//! (~150 MB/s sequential, ~4.1k random 4 KiB reads/s). `ENCFS_BENCH_MIB` changes the size.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::azurite::Azurite;
use common::*;
use csc_azure::Service;
use csc_azure::blob::{BlobAuth, BlobClient};
use csc_azure::http::{HttpClient, HttpConfig, Request};
use csc_azure::identity::{Credential, TokenProvider};
use csc_emulate::{EmulatorConfig, UncheckedSignaturePlaceholder};
use http::header::HeaderName;

const UPSTREAM_SEQ_MBS: f64 = 150.0;
const UPSTREAM_RANDOM_IOPS: f64 = 4100.0;
const RANDOM_TIME: Duration = Duration::from_secs(3);
const KEY: u8 = 0x42;

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn fill(path: &Path, bytes: u64) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut f = File::create(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            chunk.copy_from_slice(&seed.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        std::io::Write::write_all(&mut f, &buf[..n]).unwrap();
        left -= n as u64;
    }
}

/// Reads `path` sequentially with 1 MiB reads; returns bytes and time.
fn sequential(path: &Path) -> (u64, Duration) {
    let mut f = File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let t0 = Instant::now();
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    (total, t0.elapsed())
}

/// 4 KiB reads at random aligned offsets for [`RANDOM_TIME`] on `threads` threads; returns
/// the number of reads and the time.
fn random(path: &Path, direct: bool, threads: usize) -> (u64, Duration) {
    let size = std::fs::metadata(path).unwrap().len();
    let pages = size / 4096;
    let t0 = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                s.spawn(move || {
                    let mut opts = std::fs::OpenOptions::new();
                    opts.read(true);
                    if direct {
                        opts.custom_flags(libc::O_DIRECT);
                    }
                    let f = opts.open(path).unwrap();
                    let mut raw = vec![0u8; 8192];
                    let off = raw.as_ptr().align_offset(4096);
                    let buf = &mut raw[off..off + 4096];
                    let mut seed = 0x2545_f491_4f6c_dd1du64 ^ ((i as u64 + 1) * 0x1000_0001);
                    let mut n = 0u64;
                    while t0.elapsed() < RANDOM_TIME {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        f.read_exact_at(buf, (seed % pages) * 4096).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (counts.iter().sum(), t0.elapsed())
}

/// `key=value` of the last "source requests" log line.
fn logged(log: &str, key: &str) -> u64 {
    let line = log
        .lines()
        .rfind(|l| l.contains("source requests"))
        .unwrap_or_else(|| panic!("no request counts in:\n{log}"));
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .parse()
        .unwrap()
}

/// The file of the FUSE mount encfs made under `dir` (the decrypted view).
fn fuse_view_under(dir: &Path) -> PathBuf {
    let needle = dir.to_string_lossy().to_string();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mp = left.split_whitespace().nth(4).unwrap_or("");
        if mp.starts_with(&needle) && right.starts_with("fuse") {
            let e = std::fs::read_dir(mp).unwrap().next().unwrap().unwrap();
            return e.path();
        }
    }
    panic!("no FUSE mount under {needle}");
}

#[derive(Default)]
struct Row {
    name: &'static str,
    seq_mbs: f64,
    view_mbs: Option<f64>,
    rand1: f64,
    rand4: f64,
    seq_req_per_mib: Option<f64>,
    rand_req_per_mib: Option<f64>,
}

/// Mounts `b64` three times (sequential, view, random) and measures.
fn measure(
    name: &'static str,
    short: &str,
    b64: &str,
    work: &Path,
    extra: &[&str],
    file: &str,
    remote: bool,
) -> Row {
    let mp = work.join("pub/fs");
    let tag = format!("{short}-seq");
    let e = start(b64, work, &tag, extra).ready();
    let (bytes, d) = sequential(&mp.join(file));
    let log = e.stop();
    let seq_mbs = mb_per_s(bytes, d);
    let seq_req = logged(&log, "reads") as f64 / (bytes as f64 / (1 << 20) as f64);

    let tag = format!("{short}-view");
    let e = start(b64, work, &tag, extra).ready();
    let view = fuse_view_under(&work.join(format!("{tag}.tmp")));
    let (vbytes, vd) = sequential(&view);
    e.stop();

    // Each random run on a fresh mount: the kernel's page cache of the FUSE file (filled by
    // its read-ahead) must not carry over from one run to the next.
    let rand = |threads: usize| {
        let tag = format!("{short}-rand{threads}");
        let e = start(b64, work, &tag, extra).ready();
        let (n, d) = random(&mp.join(file), true, threads);
        let log = e.stop();
        (n, d, logged(&log, "reads"))
    };
    let (n1, d1, r1) = rand(1);
    let (n4, d4, r4) = rand(4);
    let rand_req = (r1 + r4) as f64 / ((n1 + n4) as f64 * 4096.0 / (1 << 20) as f64);
    Row {
        name,
        seq_mbs,
        view_mbs: Some(mb_per_s(vbytes, vd)),
        rand1: n1 as f64 / d1.as_secs_f64(),
        rand4: n4 as f64 / d4.as_secs_f64(),
        seq_req_per_mib: remote.then_some(seq_req),
        rand_req_per_mib: remote.then_some(rand_req),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mib: u64 = std::env::var("ENCFS_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let shm = Path::new("/dev/shm");
    let t = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let work = t.path();
    let tree = work.join("tree");
    std::fs::create_dir(&tree).unwrap();
    fill(&tree.join("data.bin"), mib << 20);
    std::fs::create_dir(work.join("pub")).unwrap();
    eprintln!(
        "encfs throughput: {mib} MiB file, working in {}",
        work.display()
    );

    // Baseline: the same bytes on tmpfs.
    let (b, d) = sequential(&tree.join("data.bin"));
    let (n1, d1) = random(&tree.join("data.bin"), false, 1);
    let (n4, d4) = random(&tree.join("data.bin"), false, 4);
    let tmpfs = Row {
        name: "tmpfs (plain file)",
        seq_mbs: mb_per_s(b, d),
        view_mbs: None,
        rand1: n1 as f64 / d1.as_secs_f64(),
        rand4: n4 as f64 / d4.as_secs_f64(),
        ..Row::default()
    };

    let img = work.join("image.luks");
    make_image(&tree, work, &img, KEY, (mib + mib / 8 + 24) << 20);
    std::fs::remove_dir_all(&tree).unwrap();

    let local_b64 = input(&[fs_entry(
        &work.join("pub/fs"),
        &format!("file://{}", img.display()),
        KEY,
        false,
    )]);
    let local = measure(
        "local file",
        "local",
        &local_b64,
        work,
        &[],
        "data.bin",
        false,
    );

    // Azurite: emulators for the TLS CA and tokens, the image as a page blob.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt.block_on(async {
        csc_emulate::start(EmulatorConfig::new(Arc::new(
            UncheckedSignaturePlaceholder {
                compliance_status: None,
            },
        )))
        .await
        .unwrap()
    });
    let az = Azurite::start(&emu);
    let http = {
        let _in = rt.enter();
        HttpClient::new(HttpConfig {
            system_roots: false,
            extra_roots: vec![emu.ca_der()],
            ..HttpConfig::default()
        })
        .unwrap()
    };
    let tokens = Arc::new(TokenProvider::new(
        http.clone(),
        Credential::ManagedIdentity {
            base_url: emu.endpoints().imds.clone(),
            client_id: None,
        },
    ));
    let url = format!("{}/images/image.luks", az.account_url());
    rt.block_on(async {
        let req = Request::new(
            Service::Blob,
            http::Method::PUT,
            format!("{}/images?restype=container", az.account_url()),
        )
        .header(HeaderName::from_static("x-ms-version"), "2020-10-02")
        .unwrap();
        let req = tokens
            .authorize(req, "https://storage.azure.com")
            .await
            .unwrap();
        http.send(req).await.unwrap();
        let c = BlobClient::new(
            http.clone(),
            &url,
            BlobAuth::Bearer {
                tokens: tokens.clone(),
                resource: "https://storage.azure.com".into(),
            },
        )
        .unwrap();
        let data = std::fs::read(&img).unwrap();
        c.create_page_blob(data.len() as u64, false).await.unwrap();
        c.write_pages(0, &data, None).await.unwrap();
    });
    // What Azurite itself serves to ranged GETs from this process, for scale: 512 KiB ranges
    // on 8 concurrent tasks (what the cache's fetch threads do), and 4 KiB ranges one at a time.
    let direct = {
        let c = Arc::new(
            BlobClient::new(
                http.clone(),
                &url,
                BlobAuth::Bearer {
                    tokens: tokens.clone(),
                    resource: "https://storage.azure.com".into(),
                },
            )
            .unwrap(),
        );
        let size = std::fs::metadata(&img).unwrap().len();
        let block = 512 * 1024u64;
        let blocks = size / block;
        let t0 = Instant::now();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8u64)
                .map(|lane| {
                    let c = c.clone();
                    tokio::spawn(async move {
                        let mut i = lane;
                        while i < blocks {
                            c.read_range(i * block, block).await.unwrap();
                            i += 8;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        let seq = mb_per_s(blocks * block, t0.elapsed());
        let t0 = Instant::now();
        let mut n = 0u64;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        rt.block_on(async {
            while t0.elapsed() < RANDOM_TIME {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                c.read_range((seed % (size / 4096)) * 4096, 4096)
                    .await
                    .unwrap();
                n += 1;
            }
        });
        Row {
            name: "Azurite direct GETs",
            seq_mbs: seq,
            view_mbs: None,
            rand1: n as f64 / t0.elapsed().as_secs_f64(),
            rand4: f64::NAN,
            ..Row::default()
        }
    };
    std::fs::remove_file(&img).unwrap();
    let ca = work.join("ca.pem");
    std::fs::write(&ca, emu.ca_pem()).unwrap();
    let sas = format!("{url}?{}", az.account_sas("rl"));
    let blob_b64 = input(&[fs_entry(&work.join("pub/fs"), &sas, KEY, false)]);
    let remote = measure(
        "Azurite page blob",
        "azurite",
        &blob_b64,
        work,
        &["-cafile", ca.to_str().unwrap()],
        "data.bin",
        true,
    );
    assert_clean(work);

    println!(
        "encfs read throughput, {mib} MiB file, userspace AES-XTS view, default cache (512 KiB x 32)"
    );
    println!(
        "{:<20} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "source", "seq MB/s", "view MB/s", "rand/s x1", "rand/s x4", "req/MiB seq", "req/MiB rnd"
    );
    let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
    for r in [&tmpfs, &local, &direct, &remote] {
        println!(
            "{:<20} {:>10.0} {:>12} {:>12.0} {:>12} {:>12} {:>12}",
            r.name,
            r.seq_mbs,
            opt(r.view_mbs, 0),
            r.rand1,
            opt(Some(r.rand4).filter(|v| v.is_finite()), 0),
            opt(r.seq_req_per_mib, 2),
            opt(r.rand_req_per_mib, 0)
        );
    }
    println!("ratios:");
    for r in [&local, &remote] {
        println!(
            "  {:<20} seq {:.3}x tmpfs, {:.1}x upstream ({UPSTREAM_SEQ_MBS} MB/s); random x1 {:.3}x tmpfs, {:.2}x upstream ({UPSTREAM_RANDOM_IOPS}/s); random x4 {:.2}x upstream",
            r.name,
            r.seq_mbs / tmpfs.seq_mbs,
            r.seq_mbs / UPSTREAM_SEQ_MBS,
            r.rand1 / tmpfs.rand1,
            r.rand1 / UPSTREAM_RANDOM_IOPS,
            r.rand4 / UPSTREAM_RANDOM_IOPS,
        );
    }
    println!(
        "  Azurite vs local file: seq {:.2}x, random x1 {:.2}x",
        remote.seq_mbs / local.seq_mbs,
        remote.rand1 / local.rand1
    );
    println!(
        "  Azurite through encfs vs Azurite's own ranged GETs: seq {:.2}x, random x1 {:.2}x",
        remote.seq_mbs / direct.seq_mbs,
        remote.rand1 / direct.rand1
    );
    drop(az);
    drop(emu);
}
