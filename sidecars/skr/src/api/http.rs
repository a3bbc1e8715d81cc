//! The HTTP server: upstream's five routes over HTTP/1.1 with keep-alive, bounded bodies, one
//! JSON error object per failure, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;

use super::body::{BodyError, MAX_BODY, MaaRequest, ReleaseRequest, RuntimeDataRequest};

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

/// A failure of the service, with the status upstream uses for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// HTTP status.
    pub status: StatusCode,
    /// What failed and what to check; never contains secrets.
    pub message: String,
}

impl ServiceError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ServiceError {
            status,
            message: message.into(),
        }
    }
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
    /// A released key, as JWK JSON text.
    fn release_key(
        &self,
        req: ReleaseRequest,
    ) -> impl Future<Output = Result<String, ServiceError>> + Send;
}

type Body = Full<Bytes>;

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn error_response(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, json!({ "error": message }))
}

fn not_found() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found")));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn bad_request(e: BodyError) -> Response<Body> {
    error_response(StatusCode::BAD_REQUEST, &e.to_string())
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Body>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body is larger than {MAX_BODY} bytes"),
            ))
        }
        Err(e) => Err(error_response(
            StatusCode::BAD_REQUEST,
            &format!("reading the request body failed: {e}"),
        )),
    }
}

/// Routes one request. Public so tests can drive it without a socket.
pub async fn route<S: Service>(service: Arc<S>, req: Request<Incoming>) -> Response<Body> {
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
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            post(&*service, &path, &body).await
        }
        _ => not_found(),
    }
}

async fn post<S: Service>(service: &S, path: &str, body: &[u8]) -> Response<Body> {
    let result = match path {
        "/attest/raw" => match RuntimeDataRequest::parse(body) {
            Err(e) => return bad_request(e),
            Ok(r) => service
                .attest_raw(r)
                .await
                .map(|report| json!({ "report": csc_core::hex::Hex(&report).to_string() })),
        },
        "/attest/combined" => match RuntimeDataRequest::parse(body) {
            Err(e) => return bad_request(e),
            Ok(r) => service.attest_combined(r).await.map(|c| {
                json!({
                    "endorsed_tcb": c.endorsed_tcb,
                    "endorsements": c.endorsements,
                    "evidence": c.evidence,
                    "uvm_endorsements": c.uvm_endorsements,
                })
            }),
        },
        "/attest/maa" => match MaaRequest::parse(body) {
            Err(e) => return bad_request(e),
            Ok(r) => service
                .attest_maa(r)
                .await
                .map(|token| json!({ "token": token })),
        },
        _ => match ReleaseRequest::parse(body) {
            Err(e) => return bad_request(e),
            Ok(r) => service
                .release_key(r)
                .await
                .map(|key| json!({ "key": key })),
        },
    };
    match result {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(e) => error_response(e.status, &e.message),
    }
}

/// How long in-flight requests may run after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `service` on `listener` until `shutdown` completes, then drains connections.
pub async fn serve<S: Service>(
    listener: TcpListener,
    service: Arc<S>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer): (_, SocketAddr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and similar: back off instead of spinning.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = service.clone();
        let handler = hyper::service::service_fn(move |req| {
            let svc = svc.clone();
            async move { Ok::<_, Infallible>(route(svc, req).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), handler);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                log::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        log::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
            Err(ServiceError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no report source",
            ))
        }
        async fn attest_maa(&self, req: MaaRequest) -> Result<String, ServiceError> {
            Ok(req.maa_endpoint)
        }
        async fn release_key(&self, _req: ReleaseRequest) -> Result<String, ServiceError> {
            Err(ServiceError::new(
                StatusCode::FORBIDDEN,
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
                r#"{"maa_endpoint":"m","akv_endpoint":"a","kid":"k"}"#,
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
