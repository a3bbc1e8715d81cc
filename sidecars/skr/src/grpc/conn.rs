//! Limits of one gRPC (HTTP/2) connection: the client preface and SETTINGS must arrive within
//! [`HANDSHAKE_TIMEOUT`], a connection with no stream open for [`IDLE_TIMEOUT`] is wound
//! down (GOAWAY), a request message must arrive whole within the request deadline, and a
//! connection counts as busy (not to be closed for room) only while a request it sent whole
//! is being worked on.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tonic::Status;

use crate::server::REQUEST_DEADLINE;
use crate::server::conns::ConnHandle;
use crate::server::drive::{Verdict, Watchdog};
use crate::server::stream::ConnState;

/// Time for the HTTP/2 client preface and the client's first SETTINGS frame.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no stream open this long is wound down (clients reconnect when they
/// need to; GOAWAY tells them not to reuse it).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Streams of one connection: how many are open and how many are being worked on.
#[derive(Debug)]
pub struct Activity {
    open: AtomicUsize,
    working: AtomicUsize,
    idle_since: Mutex<Instant>,
    handle: ConnHandle,
}

impl Activity {
    /// A connection with no stream yet.
    pub fn new(handle: ConnHandle) -> Arc<Self> {
        Arc::new(Activity {
            open: AtomicUsize::new(0),
            working: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            handle,
        })
    }

    /// A stream opened; it counts until the guard is dropped.
    pub fn stream_opened(self: &Arc<Self>) -> StreamGuard {
        self.open.fetch_add(1, Ordering::AcqRel);
        StreamGuard {
            activity: self.clone(),
            working: false,
        }
    }

    fn idle_since(&self) -> Option<Instant> {
        (self.open.load(Ordering::Acquire) == 0)
            .then(|| *self.idle_since.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// One open stream.
#[derive(Debug)]
pub struct StreamGuard {
    activity: Arc<Activity>,
    working: bool,
}

impl StreamGuard {
    /// The request arrived whole: the server works on it; the connection is busy.
    fn working(&mut self) {
        if !self.working {
            self.working = true;
            if self.activity.working.fetch_add(1, Ordering::AcqRel) == 0 {
                self.activity.handle.busy();
            }
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let a = &self.activity;
        if self.working && a.working.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.handle.waiting();
        }
        if a.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            *a.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        }
    }
}

/// A request body that must end by a deadline, and marks its stream as worked on when it does.
#[derive(Debug)]
pub struct DeadlineBody {
    inner: Incoming,
    sleep: Pin<Box<tokio::time::Sleep>>,
    guard: Arc<Mutex<StreamGuard>>,
    ended: bool,
}

impl DeadlineBody {
    /// `inner` must end within the request deadline from now.
    pub fn new(inner: Incoming, guard: Arc<Mutex<StreamGuard>>) -> Self {
        DeadlineBody {
            inner,
            sleep: Box::pin(tokio::time::sleep(REQUEST_DEADLINE)),
            guard,
            ended: false,
        }
    }

    fn end(&mut self) {
        self.ended = true;
        self.guard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .working();
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.end();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(f))) => {
                if this.inner.is_end_stream() {
                    this.end();
                }
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.ended = true;
                    Poll::Ready(Some(Err(Box::new(Status::deadline_exceeded(format!(
                        "the request message did not arrive whole within {} s",
                        REQUEST_DEADLINE.as_secs()
                    ))))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The handshake and idle limits of one connection.
#[derive(Debug)]
pub struct GrpcWatchdog {
    accepted: Instant,
    state: Arc<ConnState>,
    activity: Arc<Activity>,
}

impl GrpcWatchdog {
    /// Limits for a connection accepted now.
    pub fn new(state: Arc<ConnState>, activity: Arc<Activity>) -> Self {
        GrpcWatchdog {
            accepted: Instant::now(),
            state,
            activity,
        }
    }
}

impl Watchdog for GrpcWatchdog {
    fn next_check(&self) -> Option<Instant> {
        if !self.state.h2_handshake_done() {
            return Some(self.accepted + HANDSHAKE_TIMEOUT);
        }
        Some(match self.activity.idle_since() {
            Some(t) => t + IDLE_TIMEOUT,
            // Streams open: look again later.
            None => Instant::now() + IDLE_TIMEOUT,
        })
    }

    fn check(&mut self, now: Instant) -> Verdict {
        if !self.state.h2_handshake_done() {
            if now >= self.accepted + HANDSHAKE_TIMEOUT {
                return Verdict::Close("no HTTP/2 preface and SETTINGS within the handshake time");
            }
            return Verdict::Keep;
        }
        match self.activity.idle_since() {
            Some(t) if now >= t + IDLE_TIMEOUT => Verdict::WindDown("idle"),
            _ => Verdict::Keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::conns::Connections;

    #[tokio::test]
    async fn idle_and_busy_follow_streams() {
        let conns = Connections::new(1);
        let handle = conns.admit().unwrap();
        let a = Activity::new(handle.clone());
        assert!(a.idle_since().is_some());
        let mut s = a.stream_opened();
        assert!(a.idle_since().is_none());
        s.working();
        // Busy: a new connection cannot take its place.
        assert!(conns.admit().is_none());
        drop(s);
        assert!(a.idle_since().is_some());
        assert!(conns.admit().is_some(), "waiting again: closed for room");
    }
}
