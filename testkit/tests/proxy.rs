//! The latency proxy against a small echo server: bytes arrive intact, each request pays the
//! delay once, the bandwidth cap paces a transfer, the connection limit holds connections
//! back, and the counters say what went through. Times are only checked from below (a delay
//! is a lower bound on a round trip; nothing here depends on the machine being fast).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use csc_testkit::{LatencyProxy, ProxyConfig};

/// An echo server of length-prefixed messages (u32 big-endian length, then the bytes);
/// counts the connections it accepted.
struct Echo {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

fn echo_server() -> Echo {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut len = [0u8; 4];
                while conn.read_exact(&mut len).is_ok() {
                    let mut msg = vec![0u8; u32::from_be_bytes(len) as usize];
                    if conn.read_exact(&mut msg).is_err() {
                        break;
                    }
                    if conn.write_all(&len).is_err() || conn.write_all(&msg).is_err() {
                        break;
                    }
                }
            });
        }
    });
    Echo { addr, accepted }
}

fn exchange(conn: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    conn.write_all(&(msg.len() as u32).to_be_bytes()).unwrap();
    conn.write_all(msg).unwrap();
    let mut len = [0u8; 4];
    conn.read_exact(&mut len).unwrap();
    let mut back = vec![0u8; u32::from_be_bytes(len) as usize];
    conn.read_exact(&mut back).unwrap();
    back
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn forwards_bytes_intact_and_counts_them() {
    let echo = echo_server();
    let proxy = LatencyProxy::start(ProxyConfig::new(echo.addr)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).unwrap();
    let big = pattern(3 << 20);
    assert_eq!(exchange(&mut conn, &big), big);
    assert_eq!(exchange(&mut conn, b"small"), b"small");
    drop(conn);
    let s = proxy.stats();
    assert_eq!(s.connections, 1);
    assert_eq!(s.requests, 2);
    assert_eq!(s.bytes_up, (4 + big.len() + 4 + 5) as u64);
    assert_eq!(s.bytes_down, s.bytes_up);
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn each_request_pays_the_delay_once() {
    let echo = echo_server();
    let delay = Duration::from_millis(40);
    let proxy = LatencyProxy::start(ProxyConfig::new(echo.addr).delay(delay)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).unwrap();
    let t0 = Instant::now();
    for i in 0..5u8 {
        assert_eq!(exchange(&mut conn, &[i; 100]), [i; 100]);
    }
    assert!(t0.elapsed() >= delay * 5, "{:?}", t0.elapsed());
    assert_eq!(proxy.stats().requests, 5);

    // A change applies to the next requests.
    proxy.set_delay(Duration::from_millis(150));
    let t0 = Instant::now();
    exchange(&mut conn, b"slow");
    assert!(t0.elapsed() >= Duration::from_millis(150));
}

#[test]
fn bandwidth_cap_paces_each_connection() {
    let echo = echo_server();
    // 2 MiB each way at 8 MiB/s: at least 250 ms per direction.
    let proxy = LatencyProxy::start(ProxyConfig::new(echo.addr).bandwidth(8 << 20)).unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).unwrap();
    let msg = pattern(2 << 20);
    let t0 = Instant::now();
    assert_eq!(exchange(&mut conn, &msg), msg);
    assert!(
        t0.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let echo = echo_server();
    let proxy = LatencyProxy::start(ProxyConfig::new(echo.addr).max_connections(2)).unwrap();
    let mut a = TcpStream::connect(proxy.addr()).unwrap();
    let mut b = TcpStream::connect(proxy.addr()).unwrap();
    assert_eq!(exchange(&mut a, b"a"), b"a");
    assert_eq!(exchange(&mut b, b"b"), b"b");
    // The third is accepted by the kernel but not forwarded while two are open.
    let mut c = TcpStream::connect(proxy.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    c.write_all(&1u32.to_be_bytes()).unwrap();
    c.write_all(b"c").unwrap();
    let mut buf = [0u8; 5];
    assert!(c.read_exact(&mut buf).is_err(), "third connection served");
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(proxy.stats().peak_open, 2);
    // Closing one lets it through; its bytes were kept.
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, &[0, 0, 0, 1, b'c']);
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 3);
    let s = proxy.stats();
    assert_eq!((s.connections, s.peak_open), (3, 2));
}

#[test]
fn stats_difference_and_peak_reset() {
    let echo = echo_server();
    let proxy = LatencyProxy::start(ProxyConfig::new(echo.addr)).unwrap();
    let mut a = TcpStream::connect(proxy.addr()).unwrap();
    exchange(&mut a, b"x");
    let before = proxy.stats();
    let mut b = TcpStream::connect(proxy.addr()).unwrap();
    exchange(&mut b, b"yy");
    drop(b);
    let t0 = Instant::now();
    while proxy.stats().open != 1 && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let d = proxy.stats().since(&before);
    assert_eq!((d.connections, d.requests, d.bytes_up), (1, 1, 6));
    assert_eq!((d.open, d.peak_open), (1, 2));
    proxy.reset_peak();
    assert_eq!(proxy.stats().peak_open, 1);
}
