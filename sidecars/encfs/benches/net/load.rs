//! The workloads, run the same way on every system's mounted filesystem: time to first byte,
//! a sequential read, random 4 KiB `O_DIRECT` reads at a queue depth, a large write + fsync
//! and a 4 KiB overwrite + fdatasync; plus the peak RSS of a process.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Writes `bytes` of incompressible data to `path`.
pub fn fill(path: &Path, bytes: u64) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut f = File::create(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            chunk.copy_from_slice(&xorshift(&mut seed).to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
}

/// Opens `path` and reads its first 4 KiB: the time a reader waits after the mount.
pub fn first_byte(path: &Path) -> Duration {
    let t0 = Instant::now();
    let mut f = File::open(path).unwrap();
    let mut buf = [0u8; 4096];
    let n = f.read(&mut buf).unwrap();
    assert!(n > 0, "{} is empty", path.display());
    t0.elapsed()
}

/// Reads `path` sequentially with 1 MiB reads; returns bytes and time.
pub fn sequential(path: &Path) -> (u64, Duration) {
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

/// 4 KiB `O_DIRECT` reads at random aligned offsets of `path` for `time`, `threads` at once
/// (the queue depth); returns the number of reads and the time taken.
pub fn random(path: &Path, threads: usize, time: Duration) -> (u64, Duration) {
    let size = std::fs::metadata(path).unwrap().len();
    let pages = size / 4096;
    let t0 = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                s.spawn(move || {
                    let f = std::fs::OpenOptions::new()
                        .read(true)
                        .custom_flags(libc::O_DIRECT)
                        .open(path)
                        .unwrap();
                    let mut raw = vec![0u8; 8192];
                    let off = raw.as_ptr().align_offset(4096);
                    let buf = &mut raw[off..off + 4096];
                    let mut seed = 0x2545_f491_4f6c_dd1du64 ^ ((i as u64 + 1) * 0x1000_0001);
                    let mut n = 0u64;
                    while t0.elapsed() < time {
                        let page = xorshift(&mut seed) % pages;
                        f.read_exact_at(buf, page * 4096).unwrap();
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

/// Creates `path` with `bytes` of data in 1 MiB writes and fsyncs it; returns the time of
/// both together.
pub fn write_fsync(path: &Path, bytes: u64) -> std::io::Result<Duration> {
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut buf = vec![0u8; 1 << 20];
    let t0 = Instant::now();
    let mut f = File::create(path)?;
    let mut left = bytes;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            chunk.copy_from_slice(&xorshift(&mut seed).to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    Ok(t0.elapsed())
}

/// Overwrites 4 KiB at `offset` of the existing file `path` and fdatasyncs it; returns the
/// time.
pub fn small_overwrite(path: &Path, offset: u64) -> std::io::Result<Duration> {
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    let t0 = Instant::now();
    f.write_all_at(&[0x5au8; 4096], offset)?;
    f.sync_data()?;
    Ok(t0.elapsed())
}

/// CPU time (user and system, all threads) process `pid` has used, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14,
    // stime 15, in clock ticks.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| f.get(*i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    #[allow(unsafe_code)]
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    ticks as f64 / hz
}

/// Peak resident set of process `pid` in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
