//! encfs against upstream's azmount over a network: both read page blobs from one Azurite
//! through one latency proxy (csc-testkit), at several delays per request (default 0, 2 and
//! 10 ms), in one run. For each delay and system:
//! - mount time and time to first byte of a file after the mount;
//! - sequential read of a 256 MiB file (1 MiB reads, fresh mount);
//! - random 4 KiB `O_DIRECT` reads at queue depth 1 and 16 (fresh mount each);
//! - a 64 MiB file written and fsynced, then a 4 KiB overwrite + fdatasync (read-write mount);
//! - requests, connections and bytes the proxy saw, encfs's own request counters (payload
//!   bytes per random read), and each process's peak RSS;
//! - what Azurite itself serves to 8 concurrent readers of 4 MiB ranges through the same proxy
//!   (the ceiling on this machine).
//!
//! encfs goes through its userspace AES-XTS view (this kernel has no device-mapper); azmount
//! serves a plain ext4 image of the same files (see `net/azmount.rs`), so azmount does less
//! work per byte. The baseline's path comes from `UPSTREAM_AZMOUNT` (e.g.
//! `/tmp/upstream-bin/azmount`); without it only encfs's figures are printed. Other knobs:
//! `ENCFS_BENCH_MIB` (file size, 256), `ENCFS_BENCH_DELAYS_MS` ("0,2,10"),
//! `ENCFS_BENCH_RANDOM_SECS` (3), `ENCFS_BENCH_WRITE_MIB` (64), `ENCFS_BENCH_ARGS` (further
//! encfs flags, e.g. `-cachesize 64M`). Runs as root.

#[path = "net/azmount.rs"]
mod azmount;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "net/load.rs"]
mod load;
#[path = "net/world.rs"]
mod world;

use std::path::{Path, PathBuf};
use std::time::Duration;

use csc_testkit::ProxyStats;

const KEY: u8 = 0x42;
const FILE: &str = "data.bin";
const MIB: f64 = (1 << 20) as f64;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// encfs's request counters from its log (`source requests` lines: after the mount and at
/// teardown).
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    reads: u64,
    read_bytes: u64,
    written_bytes: u64,
}

fn counts_in(line: &str) -> Counts {
    let get = |key: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Counts {
        reads: get("reads"),
        read_bytes: get("read_bytes"),
        written_bytes: get("written_bytes"),
    }
}

/// Counts from the mount's end to the teardown (what the workload caused).
fn workload_counts(log: &str) -> Counts {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("source requests"))
        .collect();
    let last = lines.last().map_or_else(Counts::default, |l| counts_in(l));
    let first = if lines.len() > 1 {
        counts_in(lines[0])
    } else {
        Counts::default()
    };
    Counts {
        reads: last.reads - first.reads,
        read_bytes: last.read_bytes - first.read_bytes,
        written_bytes: last.written_bytes - first.written_bytes,
    }
}

/// One mounted filesystem of either system.
enum Mounted {
    Encfs(common::Encfs, PathBuf),
    Azmount(azmount::Azmount),
}

impl Mounted {
    fn root(&self) -> PathBuf {
        match self {
            Mounted::Encfs(_, mp) => mp.clone(),
            Mounted::Azmount(a) => a.mnt.clone(),
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Mounted::Encfs(e, _) => e.pid().unwrap(),
            Mounted::Azmount(a) => a.pid(),
        }
    }

    /// Stops it; encfs's counters of the workload.
    fn finish(self) -> Option<Counts> {
        match self {
            Mounted::Encfs(e, _) => {
                let log = e.stop();
                if let Some(l) = log
                    .lines()
                    .rfind(|l| l.contains("source requests at teardown"))
                {
                    eprintln!("  {l}");
                }
                Some(workload_counts(&log))
            }
            Mounted::Azmount(a) => {
                a.stop();
                None
            }
        }
    }
}

enum System {
    Encfs {
        ro: String,
        rw: String,
    },
    Azmount {
        bin: PathBuf,
        ro: String,
        rw: String,
    },
}

impl System {
    fn name(&self) -> &'static str {
        match self {
            System::Encfs { .. } => "encfs",
            System::Azmount { .. } => "azmount",
        }
    }

    fn mount(&self, w: &world::World, work: &Path, tag: &str, rw: bool) -> (Mounted, Duration) {
        match self {
            System::Encfs { ro, rw: rw_input } => {
                let input = if rw { rw_input } else { ro };
                let ca = w.ca.to_str().unwrap();
                let extra = std::env::var("ENCFS_BENCH_ARGS").unwrap_or_default();
                let mut args = vec!["-cafile", ca];
                args.extend(extra.split_whitespace());
                let t0 = std::time::Instant::now();
                let e = common::start(input, work, tag, &args).ready();
                let took = t0.elapsed();
                (Mounted::Encfs(e, work.join("pub/fs")), took)
            }
            System::Azmount {
                bin,
                ro,
                rw: rw_url,
            } => {
                let url = if rw { rw_url } else { ro };
                let dir = work.join(tag);
                let (a, took) = azmount::Azmount::start(bin, url, &w.ca, &dir, rw);
                (Mounted::Azmount(a), took)
            }
        }
    }
}

/// One sequential-read run.
#[derive(Debug, Default, Clone)]
struct SeqRun {
    /// Azurite's own rate (8 readers of 4 MiB ranges through the proxy) right before and
    /// right after the run.
    ceiling: (f64, f64),
    mount_s: f64,
    ttfb_ms: f64,
    seq_mbs: f64,
    /// The rate over the mean of the two ceilings.
    ratio: f64,
    /// CPU time of the system's process per GiB read.
    cpu_s_per_gib: f64,
    req_per_mib: f64,
    connections: u64,
}

#[derive(Debug, Default, Clone)]
struct Figures {
    /// The sequential runs; the figures below are their medians (the ceiling and ratio of
    /// the median run, connections the most any run opened).
    seq_runs: Vec<SeqRun>,
    ceiling: (f64, f64),
    seq_ratio: f64,
    cpu_s_per_gib: f64,
    mount_s: f64,
    ttfb_ms: f64,
    seq_mbs: f64,
    qd1: f64,
    qd16: f64,
    write_s: f64,
    /// Proxy requests per MiB read sequentially.
    req_per_mib: f64,
    /// Connections opened by the sequential-read mount.
    seq_connections: u64,
    /// Bytes per random read: encfs's payload, or what the proxy carried for azmount.
    kib_per_random: f64,
    kib_per_random_wire: f64,
    /// Bytes the proxy carried up for the 4 KiB overwrite + fdatasync.
    small_write_up: u64,
    /// Payload encfs wrote for it.
    small_write_payload: Option<u64>,
    rss_mib: f64,
}

fn run(sys: &System, w: &world::World, work: &Path, delay: u64, cfg: &Config) -> Figures {
    let mut f = Figures::default();
    let ceiling = || w.ceiling("encfs.img", cfg.mib << 20, 4 << 20, 8);
    let tag = |what: &str| format!("{}-{delay}ms-{what}", sys.name());
    let mut rss = 0u64;
    let file = |m: &Mounted| m.root().join(FILE);

    // Mount, first byte, sequential read, each run between two measurements of the ceiling
    // (the machine's load drifts; the two bracket it); medians over the runs.
    let mut runs = Vec::new();
    for run in 0..cfg.seq_runs {
        let before = ceiling();
        let s0 = w.proxy.stats();
        let (m, took) = sys.mount(w, work, &tag(&format!("seq{run}")), false);
        let ttfb = load::first_byte(&file(&m));
        let cpu0 = load::cpu_seconds(m.pid());
        let (bytes, d) = load::sequential(&file(&m));
        let cpu = load::cpu_seconds(m.pid()) - cpu0;
        let phase = load::peak_rss_kib(m.pid());
        eprintln!(
            "{}: sequential read, peak RSS {} MiB",
            tag("seq"),
            phase / 1024
        );
        rss = rss.max(phase);
        m.finish();
        let s = w.proxy.stats().since(&s0);
        let after = ceiling();
        let mbs = bytes as f64 / 1e6 / d.as_secs_f64();
        runs.push(SeqRun {
            ceiling: (before, after),
            mount_s: took.as_secs_f64(),
            ttfb_ms: ttfb.as_secs_f64() * 1e3,
            seq_mbs: mbs,
            ratio: mbs / ((before + after) / 2.0),
            cpu_s_per_gib: cpu / (bytes as f64 / (1u64 << 30) as f64),
            req_per_mib: s.requests as f64 / (bytes as f64 / MIB),
            connections: s.connections,
        });
    }
    runs.sort_by(|a, b| a.ratio.total_cmp(&b.ratio));
    let mid = &runs[runs.len() / 2];
    let median = |g: fn(&SeqRun) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(g).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    f.ceiling = mid.ceiling;
    f.seq_ratio = mid.ratio;
    f.seq_mbs = median(|r| r.seq_mbs);
    f.mount_s = median(|r| r.mount_s);
    f.ttfb_ms = median(|r| r.ttfb_ms);
    f.cpu_s_per_gib = median(|r| r.cpu_s_per_gib);
    f.req_per_mib = median(|r| r.req_per_mib);
    f.seq_connections = runs.iter().map(|r| r.connections).max().unwrap_or(0);
    f.seq_runs = runs;

    // Random reads, each queue depth on a fresh mount.
    let mut random = |threads: usize| {
        let (m, _) = sys.mount(w, work, &tag(&format!("qd{threads}")), false);
        let s0 = w.proxy.stats();
        let (n, d) = load::random(&file(&m), threads, cfg.random_time);
        let wire = w.proxy.stats().since(&s0);
        let phase = load::peak_rss_kib(m.pid());
        eprintln!("{}: random reads, peak RSS {} MiB", tag("qd"), phase / 1024);
        rss = rss.max(phase);
        let counts = m.finish();
        (n, d, wire, counts)
    };
    let (n1, d1, wire1, c1) = random(1);
    let (n16, d16, wire16, c16) = random(16);
    f.qd1 = n1 as f64 / d1.as_secs_f64();
    f.qd16 = n16 as f64 / d16.as_secs_f64();
    let reads = (n1 + n16) as f64;
    f.kib_per_random_wire = (wire1.bytes_down + wire16.bytes_down) as f64 / 1024.0 / reads;
    f.kib_per_random = match (c1, c16) {
        (Some(a), Some(b)) => (a.read_bytes + b.read_bytes) as f64 / 1024.0 / reads,
        _ => f.kib_per_random_wire,
    };

    // Write + fsync, then a 4 KiB overwrite + fdatasync.
    let (m, _) = sys.mount(w, work, &tag("write"), true);
    let target = m.root().join(format!("written-{delay}.bin"));
    // A failure is reported (as NaN in the table, with the system's log) rather than
    // ending the run: upstream's azmount fails some writes.
    match load::write_fsync(&target, cfg.write_mib << 20) {
        Ok(d) => f.write_s = d.as_secs_f64(),
        Err(e) => {
            eprintln!("{}: write + fsync failed: {e}", tag("write"));
            f.write_s = f64::NAN;
        }
    }
    let s0: ProxyStats = w.proxy.stats();
    match load::small_overwrite(&target, 8 << 20) {
        Ok(_) => f.small_write_up = w.proxy.stats().since(&s0).bytes_up,
        Err(e) => {
            eprintln!("{}: 4 KiB overwrite + fdatasync failed: {e}", tag("write"));
            f.small_write_up = u64::MAX;
        }
    }
    let _ = std::fs::remove_file(&target);
    let phase = load::peak_rss_kib(m.pid());
    eprintln!("{}: writes, peak RSS {} MiB", tag("write"), phase / 1024);
    rss = rss.max(phase);
    m.finish();
    f.small_write_payload = None;
    f.rss_mib = rss as f64 / 1024.0;
    f
}

struct Config {
    mib: u64,
    seq_runs: usize,
    delays: Vec<u64>,
    random_time: Duration,
    write_mib: u64,
}

fn print_row(name: &str, f: &Figures) {
    println!(
        "{:<8} {:>7.2} {:>8.1} {:>9.1} {:>8.0} {:>8.0} {:>9.2} {:>9.2} {:>7} {:>9.1} {:>9.1} {:>9} {:>8.1}",
        name,
        f.mount_s,
        f.ttfb_ms,
        f.seq_mbs,
        f.qd1,
        f.qd16,
        f.write_s,
        f.req_per_mib,
        f.seq_connections,
        f.kib_per_random,
        f.kib_per_random_wire,
        f.small_write_up,
        f.rss_mib,
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let cfg = Config {
        mib: env_or("ENCFS_BENCH_MIB", 256),
        seq_runs: env_or("ENCFS_BENCH_SEQ_RUNS", 3usize).max(1),
        delays: std::env::var("ENCFS_BENCH_DELAYS_MS")
            .unwrap_or_else(|_| "0,2,10".into())
            .split(',')
            .filter_map(|d| d.trim().parse().ok())
            .collect(),
        random_time: Duration::from_secs(env_or("ENCFS_BENCH_RANDOM_SECS", 3)),
        write_mib: env_or("ENCFS_BENCH_WRITE_MIB", 64),
    };
    let azmount_bin = std::env::var_os("UPSTREAM_AZMOUNT").map(PathBuf::from);
    let shm = Path::new("/dev/shm");
    let t = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let work = t.path();
    let mib = cfg.mib;
    eprintln!(
        "encfs network bench: {mib} MiB file, working in {}",
        work.display()
    );

    // The same files in an encrypted image (encfs) and a plain one (azmount), with room for
    // the writes.
    let tree = work.join("tree");
    std::fs::create_dir(&tree).unwrap();
    load::fill(&tree.join(FILE), mib << 20);
    let size = ((mib * 9 / 8 + cfg.write_mib + 48) << 20) & !0xfff;
    let w = world::World::start(work);
    let enc = work.join("encfs.img");
    common::make_image(&tree, work, &enc, KEY, size);
    w.upload("encfs.img", &enc);
    std::fs::remove_file(&enc).unwrap();
    if azmount_bin.is_some() {
        let plain = work.join("plain.img");
        csc_mount::image::make_ext4(&tree, &plain, size).unwrap();
        w.upload("plain.img", &plain);
        std::fs::remove_file(&plain).unwrap();
    }
    std::fs::remove_dir_all(&tree).unwrap();
    std::fs::create_dir(work.join("pub")).unwrap();

    let mp = work.join("pub/fs");
    let entry = |perm: &str, rw: bool| {
        common::input(&[common::fs_entry(&mp, &w.url("encfs.img", perm), KEY, rw)])
    };
    let mut systems = vec![System::Encfs {
        ro: entry("rl", false),
        rw: entry("rwl", true),
    }];
    if let Some(bin) = &azmount_bin {
        systems.push(System::Azmount {
            bin: bin.clone(),
            ro: w.azmount_url("plain.img", "rl"),
            rw: w.azmount_url("plain.img", "rwl"),
        });
    }

    let mut results = Vec::new();
    for &delay in &cfg.delays {
        w.proxy.set_delay(Duration::from_millis(delay));
        let figures: Vec<(String, Figures)> = systems
            .iter()
            .map(|s| {
                let f = run(s, &w, work, delay, &cfg);
                eprintln!("{delay} ms: {} {f:?}", s.name());
                (s.name().to_string(), f)
            })
            .collect();
        results.push((delay, figures));
    }
    csc_testkit::assert_clean(work);

    println!(
        "\nencfs vs azmount through a latency proxy in front of Azurite: {mib} MiB file, {} MiB write, random reads for {} s",
        cfg.write_mib,
        cfg.random_time.as_secs()
    );
    if azmount_bin.is_none() {
        println!("(baseline not given: set UPSTREAM_AZMOUNT to upstream's azmount binary)");
    }
    for (delay, figures) in &results {
        println!("\n--- {delay} ms per request");
        println!(
            "{:<8} {:>7} {:>8} {:>9} {:>8} {:>8} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>8}",
            "system",
            "mount s",
            "TTFB ms",
            "seq MB/s",
            "QD1 /s",
            "QD16 /s",
            "write s",
            "req/MiB",
            "conns",
            "KiB/rand",
            "wire KiB",
            "4K up B",
            "RSS MiB"
        );
        for (name, f) in figures {
            print_row(name, f);
        }
        let enc = &figures[0].1;
        for (name, f) in figures {
            let ratios: Vec<String> = f
                .seq_runs
                .iter()
                .map(|r| {
                    format!(
                        "{:.0}/{:.0}={:.2}",
                        r.seq_mbs,
                        (r.ceiling.0 + r.ceiling.1) / 2.0,
                        r.ratio
                    )
                })
                .collect();
            println!(
                "  {name}: sequential read / Azurite ceiling (8 readers of 4 MiB ranges through the proxy, measured before and after each run): median {:.2}x (runs: {}); CPU {:.2} s per GiB read",
                f.seq_ratio,
                ratios.join(", "),
                f.cpu_s_per_gib
            );
        }
        if let Some((_, az)) = figures.get(1) {
            println!(
                "  encfs / azmount: seq {:.1}x, QD1 {:.1}x, QD16 {:.1}x, write+fsync {:.1}x faster, TTFB {:.1}x shorter, mount {:.1}x shorter",
                enc.seq_mbs / az.seq_mbs,
                enc.qd1 / az.qd1,
                enc.qd16 / az.qd16,
                az.write_s / enc.write_s,
                az.ttfb_ms / enc.ttfb_ms,
                az.mount_s / enc.mount_s,
            );
        }
    }
    drop(w);
}
