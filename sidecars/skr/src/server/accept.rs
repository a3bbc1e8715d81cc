//! The accept loop both servers share: admits each connection into the table (closing the
//! longest-waiting one when full), and when the process is out of descriptors or memory it
//! closes a waiting connection to free one and backs off (5 ms doubling to 1 s) instead of
//! spinning, with one warning per interval saying how many accepts failed.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use super::conns::{ConnHandle, Connections};

/// Shortest and longest pause after an accept failed for lack of resources.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one warning about failed accepts per this interval.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// True for accept errors that mean the process or system is out of a resource (descriptors,
/// buffers, memory), as opposed to one connection's failure.
pub fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Counts failures and says when to warn.
#[derive(Debug)]
struct Warnings {
    last: Option<Instant>,
    suppressed: u64,
}

impl Warnings {
    fn failed(&mut self, e: &io::Error, cap: usize, open: usize) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < WARN_INTERVAL)
        {
            self.suppressed = self.suppressed.saturating_add(1);
            return;
        }
        tracing::warn!(
            "accepting connections failed: {e} ({} more since the last warning; {open} connections open, cap {cap}); closing the longest-waiting connection and backing off; raise the open-file limit (ulimit -n) if this persists",
            self.suppressed,
        );
        self.last = Some(now);
        self.suppressed = 0;
    }
}

/// What to do with an admitted connection, or with one that cannot be admitted.
pub trait OnConnection: Send {
    /// Serve `stream` (spawn a task; do not block the loop).
    fn serve(&mut self, stream: TcpStream, handle: ConnHandle);
    /// Every connection is busy: answer or close `stream` (spawn; do not block).
    fn refuse(&mut self, stream: TcpStream);
}

/// Serves a listener until `shutdown` completes: at most [`super::connection_cap`] connections,
/// each handled by what `make` returns (given a receiver that turns true when the server
/// stops); then the listener closes, open connections are told to finish, and those still
/// open after [`super::DRAIN_TIMEOUT`] are closed. `what` names the server in the log.
pub async fn serve_and_drain<H: OnConnection>(
    what: &str,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    make: impl FnOnce(tokio::sync::watch::Receiver<bool>) -> H,
) {
    let conns = Connections::new(super::connection_cap());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut on = make(stop);
    tracing::debug!("{what} server: at most {} connections", conns.cap());
    accept_loop(&listener, &conns, shutdown, &mut on).await;
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = super::DRAIN_TIMEOUT;
    if tokio::time::timeout(drain, conns.wait_empty())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {drain:?}; closing them");
        conns.close_all();
    }
}

/// Accepts until `shutdown` completes.
pub async fn accept_loop(
    listener: &TcpListener,
    conns: &Arc<Connections>,
    shutdown: impl Future<Output = ()>,
    on: &mut impl OnConnection,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = BACKOFF_MIN;
    let mut warnings = Warnings {
        last: None,
        suppressed: 0,
    };
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => return,
        };
        match accepted {
            Ok((stream, _peer)) => {
                backoff = BACKOFF_MIN;
                let _ = stream.set_nodelay(true);
                match conns.admit() {
                    Some(handle) => on.serve(stream, handle),
                    None => on.refuse(stream),
                }
            }
            Err(e) if out_of_resources(&e) => {
                warnings.failed(&e, conns.cap(), conns.open());
                conns.close_longest_waiting();
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = &mut shutdown => return,
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            // One connection's failure (reset before accept, protocol error): next.
            Err(e) => tracing::debug!("accept: {e}"),
        }
    }
}
