//! A latency-injecting TCP proxy for loopback tests and benchmarks.
//!
//! It listens on `127.0.0.1:<port>` and forwards every accepted connection to one target
//! address over a connection of its own (one upstream connection per client connection, so the
//! client's connection count is what the target sees). It knows nothing of the protocol and
//! works the same for HTTP and for TLS:
//!
//! - **delay per request**: the first bytes a client sends after the server last spoke (or
//!   after connecting) are held for `delay` before they are forwarded. For HTTP/1.1 that is
//!   once per request, as a distant service's round trip plus service time would be; a TLS
//!   handshake pays it once more per round trip of its own, which is what a new connection
//!   costs in real life;
//! - **bandwidth per connection**: each direction of each connection is paced to at most
//!   `bandwidth` bytes per second;
//! - **connection limit**: beyond `max_connections` open connections, new ones wait (accepted
//!   by the kernel, not yet forwarded) until one closes;
//! - **counters**: connections, requests (as counted by the delay rule), bytes each way,
//!   open and peak open connections.
//!
//! Delay and bandwidth can be changed while it runs (a benchmark measures at several
//! latencies against the same server through the same proxy). The proxy runs on a runtime of
//! its own, so it works beside blocking code and beside other runtimes; dropping it stops it
//! and closes every connection.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Bytes read from one side before they are forwarded to the other.
const CHUNK: usize = 256 * 1024;

/// How the proxy behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Where connections are forwarded (a loopback address).
    pub target: SocketAddr,
    /// Added once per request (see the module documentation).
    pub delay: Duration,
    /// Bytes per second per connection and direction; `None`: unlimited.
    pub bandwidth: Option<u64>,
    /// Connections forwarded at once; `None`: unlimited.
    pub max_connections: Option<usize>,
}

impl ProxyConfig {
    /// A transparent proxy to `target` (no delay, no limits).
    pub fn new(target: SocketAddr) -> Self {
        Self {
            target,
            delay: Duration::ZERO,
            bandwidth: None,
            max_connections: None,
        }
    }

    /// With `delay` per request.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// With a bandwidth cap per connection and direction.
    pub fn bandwidth(mut self, bytes_per_second: u64) -> Self {
        self.bandwidth = Some(bytes_per_second);
        self
    }

    /// With a limit on connections forwarded at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }
}

/// What went through the proxy (since it started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections forwarded.
    pub connections: u64,
    /// Requests: client sends that followed a server send (or opened a connection).
    pub requests: u64,
    /// Bytes from clients to the target.
    pub bytes_up: u64,
    /// Bytes from the target to clients.
    pub bytes_down: u64,
    /// Connections open now.
    pub open: u64,
    /// Most connections open at once (since the start or the last [`LatencyProxy::reset_peak`]).
    pub peak_open: u64,
}

impl ProxyStats {
    /// The counters' growth since `earlier` (open and peak are this snapshot's).
    pub fn since(&self, earlier: &ProxyStats) -> ProxyStats {
        ProxyStats {
            connections: self.connections - earlier.connections,
            requests: self.requests - earlier.requests,
            bytes_up: self.bytes_up - earlier.bytes_up,
            bytes_down: self.bytes_down - earlier.bytes_down,
            open: self.open,
            peak_open: self.peak_open,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    delay_us: AtomicU64,
    /// Bytes per second; 0 = unlimited.
    bandwidth: AtomicU64,
    connections: AtomicU64,
    requests: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    open: AtomicU64,
    peak_open: AtomicU64,
}

impl Shared {
    fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_us.load(Ordering::Relaxed))
    }

    fn opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_open.fetch_max(now, Ordering::Relaxed);
    }
}

/// A running proxy; stops on drop.
#[derive(Debug)]
pub struct LatencyProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
}

impl LatencyProxy {
    /// Starts a proxy on a free loopback port.
    pub fn start(config: ProxyConfig) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("csc-testkit-proxy")
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared::default());
        let listener = runtime.block_on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let limit = config.max_connections.map(|n| Arc::new(Semaphore::new(n)));
        runtime.spawn(accept_loop(listener, config.target, shared.clone(), limit));
        let me = Self {
            addr,
            shared,
            runtime: Some(runtime),
        };
        me.set_delay(config.delay);
        me.set_bandwidth(config.bandwidth);
        Ok(me)
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Changes the delay per request (for requests that start after the call).
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.shared.delay_us.store(us, Ordering::Relaxed);
    }

    /// Changes the bandwidth cap per connection and direction (`None`: unlimited).
    pub fn set_bandwidth(&self, bytes_per_second: Option<u64>) {
        self.shared
            .bandwidth
            .store(bytes_per_second.unwrap_or(0), Ordering::Relaxed);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            connections: s.connections.load(Ordering::Relaxed),
            requests: s.requests.load(Ordering::Relaxed),
            bytes_up: s.bytes_up.load(Ordering::Relaxed),
            bytes_down: s.bytes_down.load(Ordering::Relaxed),
            open: s.open.load(Ordering::Relaxed),
            peak_open: s.peak_open.load(Ordering::Relaxed),
        }
    }

    /// Restarts the peak count from the connections open now.
    pub fn reset_peak(&self) {
        let open = self.shared.open.load(Ordering::Relaxed);
        self.shared.peak_open.store(open, Ordering::Relaxed);
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    shared: Arc<Shared>,
    limit: Option<Arc<Semaphore>>,
) {
    loop {
        // Waiting for a slot before accepting keeps further clients in the kernel's backlog.
        let permit = match &limit {
            Some(sem) => match sem.clone().acquire_owned().await {
                Ok(p) => Some(p),
                Err(_) => return,
            },
            None => None,
        };
        let client = match listener.accept().await {
            Ok((c, _)) => c,
            Err(_) => {
                // Out of descriptors or similar: try again shortly rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            forward(client, target, &shared).await;
            drop(permit);
        });
    }
}

async fn forward(client: TcpStream, target: SocketAddr, shared: &Shared) {
    let Ok(server) = TcpStream::connect(target).await else {
        return; // dropping the client's socket tells it the target is down
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    shared.opened();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Set when the server sent something the client has not yet answered; a connection
    // starts as if the server had spoken, so its first bytes pay the delay too.
    let server_spoke = AtomicBool::new(true);
    tokio::join!(
        pump(
            client_read,
            server_write,
            Direction::Up,
            shared,
            &server_spoke
        ),
        pump(
            server_read,
            client_write,
            Direction::Down,
            shared,
            &server_spoke
        ),
    );
    shared.open.fetch_sub(1, Ordering::Relaxed);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client to target.
    Up,
    /// Target to client.
    Down,
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    dir: Direction,
    shared: &Shared,
    server_spoke: &AtomicBool,
) {
    let mut buf = vec![0u8; CHUNK];
    // Earliest time the next bytes may go out under the bandwidth cap.
    let mut next_send = Instant::now();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match dir {
            Direction::Up => {
                if server_spoke.swap(false, Ordering::AcqRel) {
                    shared.requests.fetch_add(1, Ordering::Relaxed);
                    let delay = shared.delay();
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
                shared.bytes_up.fetch_add(n as u64, Ordering::Relaxed);
            }
            Direction::Down => {
                // Before the bytes reach the client: its answer must see the flag.
                server_spoke.store(true, Ordering::Release);
                shared.bytes_down.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        let Some(chunk) = buf.get(..n) else { break };
        if to.write_all(chunk).await.is_err() {
            break;
        }
        let bandwidth = shared.bandwidth.load(Ordering::Relaxed);
        if bandwidth > 0 {
            let cost = Duration::from_secs_f64(n as f64 / bandwidth as f64);
            next_send = next_send.max(Instant::now()) + cost;
            tokio::time::sleep_until(next_send).await;
        }
    }
    let _ = to.shutdown().await;
}
