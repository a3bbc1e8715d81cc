//! A client connection as the servers see it: the TCP stream plus what the server needs to
//! know about it: when the request now arriving started (for the whole-request deadline), the
//! first bytes (to tell when an HTTP/2 handshake is complete), and whether to linger when it
//! closes.
//!
//! Lingering: when the server answers an error before it has read the request body (413, 503,
//! 408), closing at once would reset the connection while the client is still sending, and
//! the client would see a broken pipe instead of the answer. So the stream, when dropped with
//! the linger flag set, shuts its sending side and reads and discards what still arrives, for
//! at most [`super::LINGER_TIME`] and [`super::LINGER_BYTES`], then closes.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::conns::ConnHandle;
use super::{LINGER_BYTES, LINGER_TIME};

/// Length of the HTTP/2 client preface plus a frame header.
const H2_PREFIX: usize = 24 + 9;

/// What the server and the stream share about one connection.
#[derive(Debug)]
pub struct ConnState {
    /// First byte of the request now arriving; `None` between requests.
    request_start: Mutex<Option<Instant>>,
    in_request: AtomicBool,
    linger: AtomicBool,
    bytes_read: AtomicU64,
    prefix: Mutex<([u8; H2_PREFIX], usize)>,
}

impl Default for ConnState {
    fn default() -> Self {
        ConnState {
            request_start: Mutex::new(None),
            in_request: AtomicBool::new(false),
            linger: AtomicBool::new(false),
            bytes_read: AtomicU64::new(0),
            prefix: Mutex::new(([0; H2_PREFIX], 0)),
        }
    }
}

impl ConnState {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn on_read(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if !self.in_request.swap(true, Ordering::AcqRel) {
            *Self::lock(&self.request_start) = Some(Instant::now());
        }
        let before = self
            .bytes_read
            .fetch_add(bytes.len() as u64, Ordering::AcqRel);
        if before < H2_PREFIX as u64 {
            let mut p = Self::lock(&self.prefix);
            let (buf, len) = &mut *p;
            let take = (H2_PREFIX - *len).min(bytes.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(*len..*len + take), bytes.get(..take)) {
                dst.copy_from_slice(src);
                *len += take;
            }
        }
    }

    /// When the request now arriving started (its first byte), if one is arriving.
    pub fn request_start(&self) -> Option<Instant> {
        *Self::lock(&self.request_start)
    }

    /// The request was answered: the next byte starts the next one.
    pub fn end_request(&self) {
        *Self::lock(&self.request_start) = None;
        self.in_request.store(false, Ordering::Release);
    }

    /// Linger when the stream closes (an error answer went out before the body was read).
    pub fn linger(&self) {
        self.linger.store(true, Ordering::Release);
    }

    /// Close at once when the stream closes (the connection was closed to make room).
    pub fn no_linger(&self) {
        self.linger.store(false, Ordering::Release);
    }

    /// True once the HTTP/2 client preface and the client's first SETTINGS frame have
    /// arrived whole.
    pub fn h2_handshake_done(&self) -> bool {
        let p = Self::lock(&self.prefix);
        let (buf, len) = &*p;
        if *len < H2_PREFIX {
            return false;
        }
        let [a, b, c] = [buf[24], buf[25], buf[26]].map(u64::from);
        let settings_len = (a << 16) | (b << 8) | c;
        self.bytes_read.load(Ordering::Acquire) >= H2_PREFIX as u64 + settings_len
    }
}

/// The TCP stream of one connection, with its [`ConnState`] and its place in the
/// connection table (held until the stream is gone, lingering included).
#[derive(Debug)]
pub struct ConnStream {
    inner: Option<TcpStream>,
    state: Arc<ConnState>,
    handle: Option<ConnHandle>,
}

impl ConnStream {
    /// Wraps an accepted stream.
    pub fn new(stream: TcpStream, handle: ConnHandle) -> Self {
        ConnStream {
            inner: Some(stream),
            state: Arc::new(ConnState::default()),
            handle: Some(handle),
        }
    }

    /// The shared state.
    pub fn state(&self) -> Arc<ConnState> {
        self.state.clone()
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl AsyncRead for ConnStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let s = match this.stream() {
            Ok(s) => s,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let r = Pin::new(s).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r
            && let Some(new) = buf.filled().get(before..)
        {
            this.state.on_read(new);
        }
        r
    }
}

impl AsyncWrite for ConnStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(s) => Pin::new(s).poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(s) => Pin::new(s).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(s) => Pin::new(s).poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// Shuts the sending side and reads what the client still sends, within the linger bounds,
/// unless the connection is asked to close for room.
async fn linger(mut stream: TcpStream, handle: Option<ConnHandle>) {
    let _ = stream.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0usize;
        while total < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total = total.saturating_add(n),
            }
        }
    };
    let closed = async {
        match &handle {
            Some(h) => h.closed().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::time::timeout(LINGER_TIME, drain) => {}
        () = closed => {}
    }
}

impl Drop for ConnStream {
    fn drop(&mut self) {
        if !self.state.linger.load(Ordering::Acquire) {
            return;
        }
        let (Some(stream), Ok(rt)) = (self.inner.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        if let Some(h) = &self.handle {
            // A lingering connection is the first to go when room is needed.
            h.waiting();
        }
        rt.spawn(linger(stream, self.handle.take()));
    }
}

/// A single answer written straight to a connection that cannot be served (every slot busy):
/// `503` with `Retry-After`, then a lingering close.
pub async fn refuse_http(stream: TcpStream) {
    let body = r#"{"error":"server busy: every connection is in use; retry shortly"}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = stream;
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await
    };
    if tokio::time::timeout(LINGER_TIME, write).await.is_ok() {
        linger(stream, None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_start_and_h2_handshake_tracking() {
        let s = ConnState::default();
        assert!(s.request_start().is_none());
        s.on_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        let start = s.request_start().unwrap();
        assert!(!s.h2_handshake_done());
        // SETTINGS frame header: length 12, type 4, flags 0, stream 0.
        s.on_read(&[0, 0, 12, 4, 0, 0, 0, 0, 0]);
        assert!(!s.h2_handshake_done());
        s.on_read(&[0; 11]);
        assert!(!s.h2_handshake_done());
        s.on_read(&[0]);
        assert!(s.h2_handshake_done());
        assert_eq!(s.request_start(), Some(start), "one request until answered");
        s.end_request();
        assert!(s.request_start().is_none());
        s.on_read(b"G");
        assert!(s.request_start().unwrap() >= start);
    }
}
