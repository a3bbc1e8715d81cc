//! The HTTP server: upstream's five routes over HTTP/1.1 with keep-alive, one JSON error
//! object per failure, and graceful shutdown, within the server limits of [`crate::server`]:
//! a request must arrive whole within 30 s of its first byte (408), a declared body over
//! 1 MiB is refused at once (413, no `100 Continue`), bodies over 16 KiB held at once share a
//! 24 MiB budget (503 with `Retry-After`), error answers given before the body was read close with a
//! lingering read so the client sees them, a client that half-closes after its request gets
//! its answer, and connections are capped (the longest-waiting one makes room).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use zeroize::Zeroizing;

use super::body::{BodyError, MaaRequest, ReleaseRequest, RuntimeDataRequest};
pub use super::failure::{Failure, ServiceError};
use super::read_body::read_body;
use crate::secret::SecretString;
use crate::server::accept::{OnConnection, serve_and_drain};
use crate::server::budget::ByteBudget;
use crate::server::conns::ConnHandle;
use crate::server::drive::drive;
use crate::server::stream::{ConnState, ConnStream, refuse_http};
use crate::server::{BODY_BUDGET, REQUEST_DEADLINE};

/// What `/attest/combined` returns (field names as upstream, for the Privacy Sandbox KMS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combined {
    /// The TCB the endorsements are for (THIM `tcbm`, hex).
    pub endorsed_tcb: String,
    /// Base64 of the PEM chain VCEK + ASK + ARK.
    pub endorsements: String,
    /// Base64 of the report.
    pub evidence: String,
    /// The UVM endorsement, base64, as the platform gave it.
    pub uvm_endorsements: String,
}

/// What the routes call.
pub trait Service: Send + Sync + 'static {
    /// True once the sidecar is ready (upstream's `Status OK`).
    fn ready(&self) -> bool;
    /// A report whose REPORT_DATA is SHA-256 of the runtime data.
    fn attest_raw(
        &self,
        req: RuntimeDataRequest,
    ) -> impl Future<Output = Result<Vec<u8>, ServiceError>> + Send;
    /// Report, endorsements and UVM endorsement in one answer.
    fn attest_combined(
        &self,
        req: RuntimeDataRequest,
    ) -> impl Future<Output = Result<Combined, ServiceError>> + Send;
    /// An MAA token for the runtime data.
    fn attest_maa(
        &self,
        req: MaaRequest,
    ) -> impl Future<Output = Result<String, ServiceError>> + Send;
    /// A released key, as JWK JSON text (secret).
    fn release_key(
        &self,
        req: ReleaseRequest,
    ) -> impl Future<Output = Result<SecretString, ServiceError>> + Send;
}

type Body = Full<Bytes>;

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    body_response(status, Bytes::from(value.to_string()))
}

fn body_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn error_response(e: &ServiceError) -> Response<Body> {
    let mut r = json_response(e.status(), json!({ "error": e.message }));
    if e.failure == Failure::Busy {
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn not_found() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found")));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn bad_request(e: BodyError) -> Response<Body> {
    error_response(&ServiceError::new(Failure::BadRequest, e.to_string()))
}

/// `{"key":"<the JWK text as a JSON string>"}` in a buffer that is wiped when hyper is done
/// with it.
fn key_response(jwk: &SecretString) -> Response<Body> {
    let text = jwk.expose();
    // Escaping at most sextuples a character (\u00XX); reserve it all so the buffer never
    // moves (a moved buffer would leave an unwiped copy behind).
    let mut out = Zeroizing::new(Vec::with_capacity(text.len().saturating_mul(6) + 16));
    out.extend_from_slice(b"{\"key\":");
    if serde_json::to_writer(&mut *out, text).is_err() {
        return error_response(&ServiceError::new(
            Failure::Internal,
            "rendering the released key failed",
        ));
    }
    out.push(b'}');
    body_response(StatusCode::OK, Bytes::from_owner(WipedBytes(out)))
}

/// Bytes that are zeroized when the last reference is dropped.
struct WipedBytes(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for WipedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// What a request's handler knows about its connection.
#[derive(Debug, Clone)]
pub struct ConnContext {
    state: Arc<ConnState>,
    handle: ConnHandle,
    budget: Arc<ByteBudget>,
}

/// Routes one request.
async fn route<S: Service>(
    service: Arc<S>,
    req: Request<Incoming>,
    ctx: &ConnContext,
) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match (method, path.as_str()) {
        (Method::GET, "/status") => {
            let message = if service.ready() {
                "Status OK"
            } else {
                "Status NOT OK"
            };
            json_response(StatusCode::OK, json!({ "message": message }))
        }
        (Method::POST, "/attest/raw" | "/attest/combined" | "/attest/maa" | "/key/release") => {
            let start = ctx.state.request_start().unwrap_or_else(Instant::now);
            let body = match read_body(req.into_body(), &ctx.budget, start + REQUEST_DEADLINE).await
            {
                Ok(b) => b,
                Err(e) => {
                    // The rest of the body may still be on its way: let the client read
                    // this answer before the connection closes.
                    ctx.state.linger();
                    return error_response(&e);
                }
            };
            ctx.handle.busy();
            post(&*service, &path, body).await
        }
        _ => {
            if !req.body().is_end_stream() {
                // A body nobody reads: let the client read the 404 before the close.
                ctx.state.linger();
            }
            not_found()
        }
    }
}

async fn post<S: Service>(
    service: &S,
    path: &str,
    body: super::read_body::HeldBody,
) -> Response<Body> {
    let bytes = &body.bytes[..];
    let result = match path {
        "/attest/raw" => match RuntimeDataRequest::parse(bytes) {
            Err(e) => return bad_request(e),
            Ok(r) => {
                drop(body);
                service
                    .attest_raw(r)
                    .await
                    .map(|report| json!({ "report": csc_core::hex::Hex(&report).to_string() }))
            }
        },
        "/attest/combined" => match RuntimeDataRequest::parse(bytes) {
            Err(e) => return bad_request(e),
            Ok(r) => {
                drop(body);
                service.attest_combined(r).await.map(|c| {
                    json!({
                        "endorsed_tcb": c.endorsed_tcb,
                        "endorsements": c.endorsements,
                        "evidence": c.evidence,
                        "uvm_endorsements": c.uvm_endorsements,
                    })
                })
            }
        },
        "/attest/maa" => match MaaRequest::parse(bytes) {
            Err(e) => return bad_request(e),
            Ok(r) => {
                drop(body);
                service
                    .attest_maa(r)
                    .await
                    .map(|token| json!({ "token": token }))
            }
        },
        _ => match ReleaseRequest::parse(bytes) {
            Err(e) => return bad_request(e),
            Ok(r) => {
                drop(body);
                return match service.release_key(r).await {
                    Ok(key) => key_response(&key),
                    Err(e) => error_response(&e),
                };
            }
        },
    };
    match result {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(e) => error_response(&e),
    }
}

pub use crate::server::DRAIN_TIMEOUT;

/// Largest request head (request line and headers) accepted, which also bounds what a
/// client that trickles its headers holds (cap x 16 KiB).
const MAX_HEAD: usize = 16 * 1024;

struct HttpConnections<S> {
    service: Arc<S>,
    budget: Arc<ByteBudget>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl<S: Service> OnConnection for HttpConnections<S> {
    fn serve(&mut self, stream: TcpStream, handle: ConnHandle) {
        let stream = ConnStream::new(stream, handle.clone());
        let ctx = ConnContext {
            state: stream.state(),
            handle: handle.clone(),
            budget: self.budget.clone(),
        };
        let svc = self.service.clone();
        let state = ctx.state.clone();
        let handler = hyper::service::service_fn(move |req| {
            let svc = svc.clone();
            let ctx = ctx.clone();
            async move {
                let response = route(svc, req, &ctx).await;
                ctx.state.end_request();
                ctx.handle.waiting();
                Ok::<_, Infallible>(response)
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            // Also the keep-alive idle limit: the timer runs from the end of the last answer.
            .header_read_timeout(REQUEST_DEADLINE)
            // Answer a client that shut its sending side after the request (Go does).
            .half_close(true)
            .max_buf_size(MAX_HEAD)
            .serve_connection(TokioIo::new(stream), handler);
        let stop = self.stop.clone();
        tokio::spawn(drive(conn, handle, state, stop, None));
    }

    fn refuse(&mut self, stream: TcpStream) {
        tokio::spawn(refuse_http(stream));
    }
}

/// Serves `service` on `listener` until `shutdown` completes, then drains connections.
pub async fn serve<S: Service>(
    listener: TcpListener,
    service: Arc<S>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_and_drain("HTTP", listener, shutdown, |stop| HttpConnections {
        service,
        budget: ByteBudget::new(BODY_BUDGET),
        stop,
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::body::MAX_BODY;
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Fake {
        ready: AtomicBool,
    }

    impl Service for Fake {
        fn ready(&self) -> bool {
            self.ready.load(Ordering::SeqCst)
        }
        async fn attest_raw(&self, req: RuntimeDataRequest) -> Result<Vec<u8>, ServiceError> {
            Ok(req.runtime_data)
        }
        async fn attest_combined(
            &self,
            _req: RuntimeDataRequest,
        ) -> Result<Combined, ServiceError> {
            Err(ServiceError::new(Failure::Internal, "no report source"))
        }
        async fn attest_maa(&self, req: MaaRequest) -> Result<String, ServiceError> {
            Ok(req.maa_endpoint)
        }
        async fn release_key(&self, _req: ReleaseRequest) -> Result<SecretString, ServiceError> {
            Err(ServiceError::new(
                Failure::Refused,
                "secure key release failed: policy",
            ))
        }
    }

    async fn start() -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let svc = Arc::new(Fake {
            ready: AtomicBool::new(true),
        });
        let h = tokio::spawn(async move {
            serve(listener, svc, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        (addr, tx, h)
    }

    async fn request(addr: SocketAddr, raw: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let status = out[9..12].parse().unwrap();
        let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }

    fn post(path: &str, body: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn routes_bodies_and_errors() {
        let (addr, stop, h) = start().await;
        let (s, b) = request(
            addr,
            "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!((s, b.as_str()), (200, r#"{"message":"Status OK"}"#));
        let (s, b) = request(addr, &post("/attest/raw", r#"{"runtime_data":"AQI="}"#)).await;
        assert_eq!((s, b.as_str()), (200, r#"{"report":"0102"}"#));
        let (s, b) = request(addr, &post("/attest/raw", r#"{"runtime_data":"#)).await;
        assert_eq!(s, 400);
        assert!(b.starts_with(r#"{"error":"invalid request format"#), "{b}");
        let (s, b) = request(
            addr,
            &post("/attest/combined", r#"{"runtime_data":"AQI="}"#),
        )
        .await;
        assert_eq!((s, b.as_str()), (500, r#"{"error":"no report source"}"#));
        let (s, b) = request(
            addr,
            &post(
                "/key/release",
                r#"{"maa_endpoint":"m.example","akv_endpoint":"a.example","kid":"k"}"#,
            ),
        )
        .await;
        assert_eq!(
            (s, b.as_str()),
            (403, r#"{"error":"secure key release failed: policy"}"#)
        );
        let (s, b) = request(
            addr,
            "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!((s, b.as_str()), (404, "404 page not found"));
        let (s, _) = request(
            addr,
            "GET /attest/raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(s, 404);
        let big = "x".repeat(MAX_BODY + 1);
        let (s, b) = request(addr, &post("/attest/raw", &big)).await;
        assert_eq!(s, 413, "{b}");
        stop.send(()).unwrap();
        h.await.unwrap();
    }
}
