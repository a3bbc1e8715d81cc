//! Runs one hyper connection to its end: closes it at once when the table needs its slot,
//! winds it down gracefully when the server stops, and asks an optional [`Watchdog`] when to
//! wind down or close it (the gRPC server's handshake and idle limits).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::watch;

use super::conns::ConnHandle;
use super::stream::ConnState;

/// How long a connection that was asked to wind down (GOAWAY, or `Connection: close` after
/// the request in progress) may take before it is closed.
pub const WIND_DOWN: Duration = Duration::from_secs(5);

/// What a watchdog decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to do.
    Keep,
    /// Wind down gracefully (finish what is in progress, accept nothing new).
    WindDown(&'static str),
    /// Close now.
    Close(&'static str),
}

/// Limits on a connection beyond its protocol's own timers.
pub trait Watchdog: Send {
    /// When to look again; `None` for not until something else happens.
    fn next_check(&self) -> Option<Instant>;
    /// The decision at `now`.
    fn check(&mut self, now: Instant) -> Verdict;
}

/// Drives `conn` until it ends, is closed for room, or is closed by the watchdog; `stop`
/// turning true winds it down.
pub async fn drive<C>(
    conn: C,
    handle: ConnHandle,
    state: Arc<ConnState>,
    mut stop: watch::Receiver<bool>,
    mut dog: Option<&mut dyn Watchdog>,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let mut conn = std::pin::pin!(conn);
    let mut wind_down_at: Option<Instant> = None;
    loop {
        let next = [
            dog.as_ref().and_then(|d| d.next_check()),
            wind_down_at.map(|t| t + WIND_DOWN),
        ]
        .into_iter()
        .flatten()
        .min();
        let wake = async {
            match next {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            () = handle.closed() => {
                state.no_linger();
                tracing::debug!("connection closed to make room for a new one");
                return;
            }
            r = stop.changed(), if wind_down_at.is_none() => {
                if r.is_err() || *stop.borrow() {
                    conn.as_mut().graceful_shutdown();
                    wind_down_at = Some(Instant::now());
                }
            }
            () = wake => {
                let now = Instant::now();
                if wind_down_at.is_some_and(|t| now >= t + WIND_DOWN) {
                    tracing::debug!("connection did not wind down within {WIND_DOWN:?}; closed");
                    return;
                }
                match dog.as_mut().map_or(Verdict::Keep, |d| d.check(now)) {
                    Verdict::Keep => {}
                    Verdict::WindDown(why) => {
                        if wind_down_at.is_none() {
                            tracing::debug!("connection winding down: {why}");
                            conn.as_mut().graceful_shutdown();
                            wind_down_at = Some(now);
                        }
                    }
                    Verdict::Close(why) => {
                        tracing::debug!("connection closed: {why}");
                        return;
                    }
                }
            }
        }
    }
}
