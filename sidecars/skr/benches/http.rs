//! `cargo bench -p skr --bench http`: binary size, idle RSS, start-up time and request rates,
//! measured on the real `skr` binary (`-simulate`: simulated platform and emulators in its
//! process) over loopback, printed next to upstream's Go skr figures (measured once on this
//! kind of machine, kept below) as ratios. Not a timed test: it prints, it does not assert.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Conn, Skr, b64, proc_status_kb};
use serde_json::json;

/// Upstream's figures (Go skr, measured on this kind of machine): stripped binary, idle RSS,
/// exec to first /status, /status and /attest/raw requests per second on one keep-alive
/// connection.
const UPSTREAM_BINARY_MB: f64 = 23.7;
const UPSTREAM_IDLE_RSS_MB: f64 = 16.3;
const UPSTREAM_START_MS: f64 = 7.5;
const UPSTREAM_STATUS_RPS: f64 = 11_000.0;
const UPSTREAM_RAW_RPS: f64 = 9_000.0;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn stripped_size() -> Option<u64> {
    let tmp = std::env::temp_dir().join(format!("skr-bench-{}", std::process::id()));
    std::fs::copy(common::exe(), &tmp).ok()?;
    let ok = std::process::Command::new("strip")
        .arg(&tmp)
        .status()
        .ok()?
        .success();
    let size = std::fs::metadata(&tmp).ok()?.len();
    let _ = std::fs::remove_file(&tmp);
    ok.then_some(size)
}

fn rate(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    n: usize,
) -> (f64, Vec<f64>) {
    let mut c = Conn::open(addr);
    for _ in 0..n / 10 {
        assert_eq!(c.request(method, path, body).0, 200);
    }
    let mut lat = Vec::with_capacity(n);
    let t = Instant::now();
    for _ in 0..n {
        let s = Instant::now();
        let (status, _) = c.request(method, path, body);
        lat.push(s.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, 200);
    }
    let rps = n as f64 / t.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    (rps, lat)
}

fn release_load(skr: &Skr, clients: usize, per_client: usize) -> (f64, Vec<f64>) {
    let body = json!({"maa_endpoint": skr.maa(), "akv_endpoint": skr.akv(), "kid": skr.kid("oct")})
        .to_string();
    let addr = skr.addr;
    let t = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(addr);
                (0..per_client)
                    .map(|_| {
                        let s = Instant::now();
                        let (status, answer) = c.request("POST", "/key/release", body.as_bytes());
                        assert_eq!(status, 200, "{answer}");
                        s.elapsed().as_secs_f64() * 1e3
                    })
                    .collect::<Vec<f64>>()
            })
        })
        .collect();
    let mut lat: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let rps = lat.len() as f64 / t.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    (rps, lat)
}

fn main() {
    // Start to first /status, several times (the first run may create the simulated keys).
    let mut starts = Vec::new();
    for _ in 0..4 {
        let t = Instant::now();
        let skr = Skr::start(&[]);
        while common::call(skr.addr, "GET", "/status", b"").0 != 200 {
            std::thread::sleep(Duration::from_millis(1));
        }
        starts.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let skr = Skr::start(&[]);
    let pid = skr.child.id();
    std::thread::sleep(Duration::from_millis(500));
    let idle_kb = proc_status_kb(pid, "VmRSS:");

    let (status_rps, status_lat) = rate(skr.addr, "GET", "/status", b"", 20_000);
    let raw_body = json!({"runtime_data": b64(br#"{"keys":[]}"#)}).to_string();
    let (raw_rps, raw_lat) = rate(skr.addr, "POST", "/attest/raw", raw_body.as_bytes(), 5_000);
    let (rel1_rps, rel1) = release_load(&skr, 1, 100);
    let (rel16_rps, rel16) = release_load(&skr, 16, 20);
    let load_kb = proc_status_kb(pid, "VmHWM:");

    let size = stripped_size();
    println!(
        "skr benchmark (real binary, -simulate, loopback); upstream = Go skr figures measured beforehand"
    );
    if let Some(size) = size {
        let mb = size as f64 / 1e6;
        println!(
            "binary (stripped copy of the bench-profile build): {mb:.2} MB   upstream {UPSTREAM_BINARY_MB} MB   ratio {:.2}",
            mb / UPSTREAM_BINARY_MB
        );
    } else {
        println!("binary: `strip` not available");
    }
    starts.sort_by(f64::total_cmp);
    let start_ms = starts[starts.len() / 2];
    println!(
        "start to first /status (median of 4, includes the in-process emulators and simulated platform): {start_ms:.1} ms   upstream {UPSTREAM_START_MS} ms   ratio {:.2}",
        start_ms / UPSTREAM_START_MS
    );
    let idle_mb = idle_kb as f64 / 1024.0;
    println!(
        "idle RSS (includes the emulators): {idle_mb:.1} MB   upstream {UPSTREAM_IDLE_RSS_MB} MB   ratio {:.2}",
        idle_mb / UPSTREAM_IDLE_RSS_MB
    );
    println!("peak RSS after load: {:.1} MB", load_kb as f64 / 1024.0);
    println!(
        "GET /status, one keep-alive connection: {status_rps:.0} req/s (median {:.3} ms)   upstream {UPSTREAM_STATUS_RPS:.0}   ratio {:.2}",
        percentile(&status_lat, 0.5),
        status_rps / UPSTREAM_STATUS_RPS
    );
    println!(
        "POST /attest/raw, one keep-alive connection: {raw_rps:.0} req/s (median {:.3} ms, p99 {:.3} ms)   upstream {UPSTREAM_RAW_RPS:.0}   ratio {:.2}",
        percentile(&raw_lat, 0.5),
        percentile(&raw_lat, 0.99),
        raw_rps / UPSTREAM_RAW_RPS
    );
    for (n, rps, lat) in [(1, rel1_rps, &rel1), (16, rel16_rps, &rel16)] {
        println!(
            "POST /key/release (oct), {n:2} client(s): {rps:.1} releases/s, median {:.2} ms, p99 {:.2} ms ({} releases)",
            percentile(lat, 0.5),
            percentile(lat, 0.99),
            lat.len()
        );
    }
}
