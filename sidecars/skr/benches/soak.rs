//! `cargo bench -p skr --bench soak`: the real `skr -simulate` binary under ten minutes
//! (`SOAK_SECONDS`) of mixed valid and hostile traffic over loopback, printing whether its
//! memory stays flat and how fast `/status` answers meanwhile (the targets: flat RSS, /status
//! p99 under 10 ms). Not a timed test: it prints, it does not assert.
//!
//! Valid traffic: `/status` on a keep-alive connection every 10 ms and on a new connection
//! every 100 ms (the latencies reported), `/attest/raw` in a loop, a key release each second.
//! Hostile traffic, all the time: malformed bodies, ~1 MiB bodies that stall one byte short,
//! 2 MiB bodies, `Content-Length: 1 TiB`, half-closed requests, connections that send nothing,
//! and headers trickled a byte a second.
//!
//! With `UPSTREAM_SKR=/path/to/upstream/skr`, the same traffic (without key releases, which
//! upstream cannot do off Azure) runs against upstream's binary for the same time, in its
//! non-SNP mode, and the figures are printed side by side with ratios. Run it in a namespace
//! with loopback only, as every networked run here:
//! `unshare -n sh -c 'ip link set lo up && cargo bench -p skr --bench soak'`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Conn, Skr, b64, proc_status_kb};
use serde_json::json;

/// What is soaked: an address, a process to measure, and a key to release if it can.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    pid: u32,
    release: Option<String>,
}

#[derive(Default)]
struct Counters {
    by_kind: Mutex<std::collections::BTreeMap<(&'static str, u16), u64>>,
}

impl Counters {
    fn add(&self, kind: &'static str, status: u16) {
        *self
            .by_kind
            .lock()
            .unwrap()
            .entry((kind, status))
            .or_insert(0) += 1;
    }
}

struct Report {
    rss_kb: Vec<(f64, u64)>,
    status_keepalive_ms: Vec<f64>,
    status_fresh_ms: Vec<f64>,
    status_errors: u64,
    counts: std::collections::BTreeMap<(&'static str, u16), u64>,
}

fn status_of(out: &[u8]) -> u16 {
    std::str::from_utf8(out.get(9..12).unwrap_or(b""))
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_nodelay(true).ok();
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.set_write_timeout(Some(Duration::from_secs(5))).ok();
    Some(s)
}

/// Sends `req` on a new connection and reads the status line of the answer (0: none).
fn once(addr: SocketAddr, req: &[u8], half_close: bool) -> u16 {
    let Some(mut s) = connect(addr) else { return 0 };
    if s.write_all(req).is_err() {
        // The server may answer early (413) and read the rest away: still read.
    }
    if half_close {
        let _ = s.shutdown(Shutdown::Write);
    }
    let mut buf = [0u8; 512];
    let mut out = Vec::new();
    while out.len() < 12 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    status_of(&out)
}

fn post(path: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn spawn_loop(
    stop: &Arc<AtomicBool>,
    pause: Duration,
    mut f: impl FnMut() + Send + 'static,
) -> JoinHandle<()> {
    let stop = stop.clone();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            f();
            std::thread::sleep(pause);
        }
    })
}

/// Connections held open by the client side: opened by `open` every `every`, written to by
/// `tick` each second, dropped after `life` or when the server closes them.
fn spawn_holder(
    stop: &Arc<AtomicBool>,
    counters: &Arc<Counters>,
    kind: &'static str,
    every: Duration,
    life: Duration,
    open: impl Fn() -> Option<TcpStream> + Send + 'static,
    tick: impl Fn(&mut TcpStream) -> bool + Send + 'static,
) -> JoinHandle<()> {
    let stop = stop.clone();
    let counters = counters.clone();
    std::thread::spawn(move || {
        let mut held: Vec<(TcpStream, Instant)> = Vec::new();
        let mut last_open = Instant::now() - every;
        let mut last_tick = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if last_open.elapsed() >= every {
                last_open = Instant::now();
                if let Some(s) = open() {
                    s.set_nonblocking(true).ok();
                    held.push((s, Instant::now()));
                }
            }
            let tick_now = last_tick.elapsed() >= Duration::from_secs(1);
            if tick_now {
                last_tick = Instant::now();
            }
            held.retain_mut(|(s, since)| {
                let mut buf = [0u8; 512];
                match s.read(&mut buf) {
                    Ok(0) => {
                        counters.add(kind, 0);
                        return false;
                    }
                    Ok(n) => {
                        counters.add(kind, status_of(&buf[..n]));
                        return false;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        counters.add(kind, 0);
                        return false;
                    }
                }
                if since.elapsed() >= life {
                    counters.add(kind, 1); // still open when the client gave up
                    return false;
                }
                !tick_now || tick(s)
            });
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

fn soak(t: &Target, seconds: u64) -> Report {
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let addr = t.addr;
    let mut threads = Vec::new();
    let keepalive = Arc::new(Mutex::new(Vec::<f64>::new()));
    let fresh = Arc::new(Mutex::new(Vec::<f64>::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let warmup = Duration::from_secs(60.min(seconds / 4));

    // /status probes.
    {
        let (lat, errors, measuring) = (keepalive.clone(), errors.clone(), measuring.clone());
        let mut conn: Option<Conn> = None;
        threads.push(spawn_loop(&stop, Duration::from_millis(10), move || {
            if conn.is_none() {
                conn = Conn::try_open(addr);
            }
            let Some(c) = conn.as_mut() else {
                errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let s = Instant::now();
            let r = c.try_request("GET", "/status", b"").map(|a| a.0);
            let ms = s.elapsed().as_secs_f64() * 1e3;
            match r {
                Ok(200) if measuring.load(Ordering::Relaxed) => lat.lock().unwrap().push(ms),
                Ok(200) => {}
                _ => {
                    errors.fetch_add(1, Ordering::Relaxed);
                    conn = None;
                }
            }
        }));
    }
    {
        let (lat, errors, measuring) = (fresh.clone(), errors.clone(), measuring.clone());
        let req = b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        threads.push(spawn_loop(&stop, Duration::from_millis(100), move || {
            let s = Instant::now();
            let status = once(addr, req, false);
            let ms = s.elapsed().as_secs_f64() * 1e3;
            if status != 200 {
                errors.fetch_add(1, Ordering::Relaxed);
            } else if measuring.load(Ordering::Relaxed) {
                lat.lock().unwrap().push(ms);
            }
        }));
    }
    // Valid work.
    {
        let c = counters.clone();
        let body = json!({"runtime_data": b64(br#"{"keys":[]}"#)}).to_string();
        threads.push(spawn_loop(&stop, Duration::from_millis(5), move || {
            c.add(
                "valid /attest/raw",
                once(addr, &post("/attest/raw", "", body.as_bytes()), false),
            );
        }));
    }
    if let Some(body) = t.release.clone() {
        let c = counters.clone();
        threads.push(spawn_loop(&stop, Duration::from_secs(1), move || {
            c.add(
                "valid /key/release",
                once(addr, &post("/key/release", "", body.as_bytes()), false),
            );
        }));
    }
    // Hostile traffic.
    {
        let c = counters.clone();
        let bad: Vec<Vec<u8>> = vec![
            b"{".to_vec(),
            b"[1,2]".to_vec(),
            br#"{"runtime_data": 5}"#.to_vec(),
            br#"{"runtime_data": "*&^"}"#.to_vec(),
            br#"{"maa_endpoint":"127.0.0.1:99999","akv_endpoint":"a","kid":"k"}"#.to_vec(),
            br#"{"maa_endpoint":":::","runtime_data":"AA=="}"#.to_vec(),
            "[".repeat(10_000).into_bytes(),
            b"{\"runtime_data\": \"\xff\xfe\"}".to_vec(),
        ];
        let mut i = 0usize;
        threads.push(spawn_loop(&stop, Duration::from_millis(20), move || {
            let path = ["/attest/raw", "/attest/maa", "/key/release"][i % 3];
            c.add(
                "malformed body",
                once(addr, &post(path, "", &bad[i % bad.len()]), false),
            );
            i += 1;
        }));
    }
    {
        let c = counters.clone();
        // Well-formed JSON, so that a server without a limit reads all of it.
        let mut body = br#"{"runtime_data":""#.to_vec();
        body.resize((2 << 20) - 2, b'A');
        body.extend_from_slice(b"\"}");
        threads.push(spawn_loop(&stop, Duration::from_millis(200), move || {
            c.add(
                "2 MiB body",
                once(addr, &post("/attest/raw", "", &body), false),
            );
        }));
    }
    {
        let c = counters.clone();
        let req = b"POST /key/release HTTP/1.1\r\nHost: x\r\nContent-Length: 1099511627776\r\n\r\n";
        threads.push(spawn_loop(&stop, Duration::from_millis(500), move || {
            c.add("Content-Length 1 TiB", once(addr, req, false));
        }));
    }
    {
        let c = counters.clone();
        let req = b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n";
        threads.push(spawn_loop(&stop, Duration::from_millis(50), move || {
            c.add("half-closed /status", once(addr, req, true));
        }));
    }
    {
        // A JSON string that never ends: a streaming decoder waits for the rest too.
        let mut partial = br#"{"runtime_data":""#.to_vec();
        partial.resize((1 << 20) - 1, b'A');
        threads.push(spawn_holder(
            &stop,
            &counters,
            "stalled 1 MiB body",
            Duration::from_millis(750),
            Duration::from_secs(60),
            move || {
                let mut s = connect(addr)?;
                let _ = s.write_all(
                    b"POST /attest/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n",
                );
                let _ = s.write_all(&partial);
                Some(s)
            },
            |_| true,
        ));
    }
    threads.push(spawn_holder(
        &stop,
        &counters,
        "silent connection",
        Duration::from_secs(1),
        Duration::from_secs(60),
        move || connect(addr),
        |_| true,
    ));
    {
        let head = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let pos = Arc::new(Mutex::new(std::collections::HashMap::<i32, usize>::new()));
        threads.push(spawn_holder(
            &stop,
            &counters,
            "trickled headers",
            Duration::from_secs(2),
            Duration::from_secs(60),
            move || connect(addr),
            move |s| {
                use std::os::fd::AsRawFd;
                let mut p = pos.lock().unwrap();
                let i = p.entry(s.as_raw_fd()).or_insert(0);
                let b = head.get(*i).copied().unwrap_or(b'a');
                *i += 1;
                s.write_all(&[b]).is_ok()
            },
        ));
    }

    // Memory, every 10 s after the warm-up.
    let t0 = Instant::now();
    std::thread::sleep(warmup);
    measuring.store(true, Ordering::Relaxed);
    let mut rss = Vec::new();
    let end = t0 + Duration::from_secs(seconds);
    while Instant::now() < end {
        rss.push((t0.elapsed().as_secs_f64(), proc_status_kb(t.pid, "VmRSS:")));
        std::thread::sleep(
            Duration::from_secs(10).min(end.saturating_duration_since(Instant::now())),
        );
    }
    rss.push((t0.elapsed().as_secs_f64(), proc_status_kb(t.pid, "VmRSS:")));
    stop.store(true, Ordering::Relaxed);
    for th in threads {
        let _ = th.join();
    }
    let mut k = std::mem::take(&mut *keepalive.lock().unwrap());
    let mut f = std::mem::take(&mut *fresh.lock().unwrap());
    k.sort_by(f64::total_cmp);
    f.sort_by(f64::total_cmp);
    let counts = std::mem::take(&mut *counters.by_kind.lock().unwrap());
    Report {
        rss_kb: rss,
        status_keepalive_ms: k,
        status_fresh_ms: f,
        status_errors: errors.load(Ordering::Relaxed),
        counts,
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Least-squares slope of RSS against time, in kB per minute.
fn slope_kb_per_min(samples: &[(f64, u64)]) -> f64 {
    let n = samples.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = samples.iter().map(|s| s.0).sum::<f64>() / n;
    let my = samples.iter().map(|s| s.1 as f64).sum::<f64>() / n;
    let num: f64 = samples.iter().map(|s| (s.0 - mx) * (s.1 as f64 - my)).sum();
    let den: f64 = samples.iter().map(|s| (s.0 - mx).powi(2)).sum();
    if den == 0.0 { 0.0 } else { num / den * 60.0 }
}

fn print(t: &Target, r: &Report, seconds: u64) {
    let per_minute: Vec<String> = r
        .rss_kb
        .iter()
        .filter(|s| (s.0 as u64) % 60 < 10)
        .map(|s| format!("{:.1}", s.1 as f64 / 1024.0))
        .collect();
    let first = r.rss_kb.first().map(|s| s.1).unwrap_or(0);
    let last = r.rss_kb.last().map(|s| s.1).unwrap_or(0);
    let max = r.rss_kb.iter().map(|s| s.1).max().unwrap_or(0);
    let min = r.rss_kb.iter().map(|s| s.1).min().unwrap_or(0);
    println!("== {} ({} s of traffic)", t.name, seconds);
    println!(
        "RSS after warm-up {:.1} MB, at the end {:.1} MB (end/start {:.3}), min {:.1} MB, max {:.1} MB, slope {:+.1} kB/min over {} samples",
        first as f64 / 1024.0,
        last as f64 / 1024.0,
        last as f64 / first.max(1) as f64,
        min as f64 / 1024.0,
        max as f64 / 1024.0,
        slope_kb_per_min(&r.rss_kb),
        r.rss_kb.len()
    );
    println!("RSS each minute (MB): {}", per_minute.join(" "));
    let half = r.rss_kb.len() / 2;
    let mean = |v: &[(f64, u64)]| v.iter().map(|s| s.1 as f64).sum::<f64>() / v.len().max(1) as f64;
    println!(
        "RSS mean of the second half / mean of the first half: {:.3} ({:.1} MB / {:.1} MB)",
        mean(&r.rss_kb[half..]) / mean(&r.rss_kb[..half]).max(1.0),
        mean(&r.rss_kb[half..]) / 1024.0,
        mean(&r.rss_kb[..half]) / 1024.0
    );
    let k = &r.status_keepalive_ms;
    let f = &r.status_fresh_ms;
    println!(
        "GET /status, keep-alive every 10 ms: {} answers, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.1} ms",
        k.len(),
        pct(k, 0.5),
        pct(k, 0.99),
        pct(k, 0.999),
        k.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "GET /status, new connection every 100 ms: {} answers, p50 {:.3} ms, p99 {:.3} ms, max {:.1} ms; {} /status failures in all",
        f.len(),
        pct(f, 0.5),
        pct(f, 0.99),
        f.last().copied().unwrap_or(f64::NAN),
        r.status_errors
    );
    let mut kinds: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for ((kind, status), n) in &r.counts {
        let s = match status {
            0 => "closed".to_string(),
            1 => "held until the client gave up (60 s)".to_string(),
            s => s.to_string(),
        };
        kinds.entry(kind).or_default().push(format!("{s}: {n}"));
    }
    for (kind, v) in kinds {
        println!("  {kind:<22} {}", v.join(", "));
    }
}

fn upstream(path: &str) -> Option<(Child, SocketAddr)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    // Non-SNP mode: fake reports, host certificates given (no THIM), a user agent given (no
    // IMDS): nothing leaves loopback.
    let certs = json!({"vcekCert": "-", "certificateChain": "-", "tcbm": "0300000000000873"});
    let azure_info = json!({"maaconfig": {"user_agent": "csc-rs soak"}});
    let child = Command::new(path)
        .args([
            "-port",
            &port.to_string(),
            "-base64",
            &b64(azure_info.to_string().as_bytes()),
        ])
        .env("UVM_SECURITY_POLICY", b64(b"package policy"))
        .env("UVM_REFERENCE_INFO", "")
        .env(
            "UVM_HOST_AMD_CERTIFICATE",
            b64(certs.to_string().as_bytes()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
    for _ in 0..500 {
        if once(
            addr,
            b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            false,
        ) == 200
        {
            return Some((child, addr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn main() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let skr = Skr::start(&[]);
    let release =
        json!({"maa_endpoint": skr.maa(), "akv_endpoint": skr.akv(), "kid": skr.kid("oct")})
            .to_string();
    let ours = Target {
        name: "csc-rs skr -simulate",
        addr: skr.addr,
        pid: skr.child.id(),
        release: Some(release),
    };
    let r = soak(&ours, seconds);
    print(&ours, &r, seconds);
    drop(skr);

    let Ok(path) = std::env::var("UPSTREAM_SKR") else {
        println!("(no baseline: set UPSTREAM_SKR to upstream's skr to soak it the same way)");
        return;
    };
    let Some((mut child, addr)) = upstream(&path) else {
        println!("upstream skr at {path} did not start; no baseline");
        return;
    };
    let theirs = Target {
        name: "upstream skr (non-SNP mode)",
        addr,
        pid: child.id(),
        release: None,
    };
    let u = soak(&theirs, seconds);
    print(&theirs, &u, seconds);
    let _ = child.kill();
    let _ = child.wait();
    let growth = |r: &Report| {
        r.rss_kb.last().map(|s| s.1).unwrap_or(0) as f64
            - r.rss_kb.first().map(|s| s.1).unwrap_or(0) as f64
    };
    println!(
        "ratios ours/upstream: /status keep-alive p99 {:.2}, new-connection p99 {:.2}, RSS at the end {:.2}, RSS growth {:.0} kB vs {:.0} kB",
        pct(&r.status_keepalive_ms, 0.99) / pct(&u.status_keepalive_ms, 0.99),
        pct(&r.status_fresh_ms, 0.99) / pct(&u.status_fresh_ms, 0.99),
        r.rss_kb.last().map(|s| s.1).unwrap_or(0) as f64
            / u.rss_kb.last().map(|s| s.1).unwrap_or(1).max(1) as f64,
        growth(&r),
        growth(&u)
    );
}
