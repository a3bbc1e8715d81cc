//! The one HTTP layer every client uses: TLS (system roots plus optional extra CAs), a deadline
//! on every attempt, bounded bodies, retries with exponential backoff and jitter within a total
//! budget, Retry-After honoured, a User-Agent naming the project, and errors that name the
//! service, the URL (secrets removed), the status and the service's own message.

mod redact;
mod retry;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;

pub use redact::redact_url;
pub use retry::{RetryPolicy, is_retryable_status, parse_retry_after, random_u64};

use crate::error::{Error, Result, Service};

/// The User-Agent sent by default: the project name and version.
pub const DEFAULT_USER_AGENT: &str = concat!("csc-rs/", env!("CARGO_PKG_VERSION"));

/// Default bound of a response body (the largest answers are certificate chains and CRLs).
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;

/// Default of [`HttpConfig::max_idle_per_host`]: as many as encfs keeps in flight per blob.
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 16;

/// Configuration of an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Trust the operating system's root certificates.
    pub system_roots: bool,
    /// Further trusted roots (e.g. the emulator's CA), DER.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Deadline of one attempt: connect, send, and read the whole answer.
    pub attempt_timeout: Duration,
    /// Deadline for establishing a TCP connection.
    pub connect_timeout: Duration,
    /// Largest response body accepted.
    pub max_body: usize,
    /// How failed attempts are retried.
    pub retry: RetryPolicy,
    /// The User-Agent header.
    pub user_agent: String,
    /// Idle connections kept per host for reuse. Callers that keep many requests in flight
    /// (blob range reads) need at least that many, or each burst opens new connections (a
    /// TLS handshake each).
    pub max_idle_per_host: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            system_roots: true,
            extra_roots: Vec::new(),
            attempt_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body: DEFAULT_MAX_BODY,
            retry: RetryPolicy::default(),
            user_agent: DEFAULT_USER_AGENT.to_string(),
            max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
        }
    }
}

impl HttpConfig {
    /// Adds every certificate of a PEM file (e.g. the emulator's `ca.pem`) to the trusted roots.
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self> {
        let pem = std::fs::read(path).map_err(|source| Error::Io {
            what: "CA file",
            path: path.display().to_string(),
            source,
        })?;
        self.extra_roots.extend(
            parse_pem_certs(&pem)
                .map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))?,
        );
        Ok(self)
    }
}

/// Parses every CERTIFICATE block of a PEM text.
pub fn parse_pem_certs(pem: &[u8]) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let mut reader = pem;
    let certs: Vec<_> = rustls_pemfile::certs(&mut reader)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("bad PEM: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block".into());
    }
    Ok(certs)
}

/// A request as the clients build it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Which service (for errors).
    pub service: Service,
    /// The method.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// Headers; a User-Agent here replaces the client's.
    pub headers: HeaderMap,
    /// The body (empty for none).
    pub body: Bytes,
}

impl Request {
    /// A request without headers or body.
    pub fn new(service: Service, method: Method, url: impl Into<String>) -> Self {
        Request {
            service,
            method,
            url: url.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header. Values that are not valid header text are a configuration error.
    pub fn header(mut self, name: HeaderName, value: &str) -> Result<Self> {
        let v = HeaderValue::from_str(value)
            .map_err(|_| Error::Config(format!("invalid value for header {name}")))?;
        self.headers.insert(name, v);
        Ok(self)
    }

    /// Adds a header whose value is a secret (kept out of debug output by hyper).
    pub fn secret_header(mut self, name: HeaderName, value: &str) -> Result<Self> {
        let mut v = HeaderValue::from_str(value)
            .map_err(|_| Error::Config(format!("invalid value for header {name}")))?;
        v.set_sensitive(true);
        self.headers.insert(name, v);
        Ok(self)
    }

    /// Sets a JSON body and its content type.
    pub fn json(mut self, body: Vec<u8>) -> Self {
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = body.into();
        self
    }

    /// Sets a body and its content type.
    pub fn body(mut self, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        self.body = body.into();
        self
    }
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// Attempts it took.
    pub attempts: u32,
}

impl Response {
    /// A header as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Inner = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The shared HTTP client. Cheap to clone; connections are pooled.
#[derive(Clone)]
pub struct HttpClient {
    /// Built at the first request: loading the system's roots reads every file of
    /// /etc/ssl/certs, which would otherwise dominate a sidecar's start-up.
    inner: Arc<std::sync::OnceLock<std::result::Result<Built, String>>>,
    config: Arc<HttpConfig>,
}

/// The client as first built, and whether any root certificate is trusted: without one,
/// HTTPS requests fail before connecting, with a message naming the service (plain-HTTP and
/// `file://` users need none).
struct Built {
    inner: Inner,
    has_roots: bool,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The hyper client with the TLS roots of `config`.
fn build_client(config: &HttpConfig) -> std::result::Result<Built, String> {
    let mut roots = rustls::RootCertStore::empty();
    if config.system_roots {
        let loaded = rustls_native_certs::load_native_certs();
        for cert in loaded.certs {
            // A malformed system certificate is skipped, as browsers do.
            let _ = roots.add(cert);
        }
    }
    for cert in &config.extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| format!("extra CA certificate rejected: {e}"))?;
    }
    let has_roots = !roots.is_empty();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(config.connect_timeout));
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let inner = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(config.max_idle_per_host)
        .build(connector);
    Ok(Built { inner, has_roots })
}

enum Attempt {
    Done(Response),
    Transport(String),
    TooLarge,
    TimedOut,
}

impl HttpClient {
    /// Builds a client. With no trusted root at all (no system store, no CA file) the client
    /// is still built: plain-HTTP services work, and each HTTPS request fails with
    /// [`Error::Config`] naming the service and URL that needed the roots.
    /// The system's roots are loaded at the first request (reading /etc/ssl/certs would
    /// otherwise dominate a sidecar's start-up).
    pub fn new(config: HttpConfig) -> Result<Self> {
        let mut check = rustls::RootCertStore::empty();
        for cert in &config.extra_roots {
            check
                .add(cert.clone())
                .map_err(|e| Error::Config(format!("extra CA certificate rejected: {e}")))?;
        }
        Ok(HttpClient {
            inner: Arc::new(std::sync::OnceLock::new()),
            config: Arc::new(config),
        })
    }

    fn built(&self) -> Result<&Built> {
        self.inner
            .get_or_init(|| build_client(&self.config))
            .as_ref()
            .map_err(|e| Error::Config(e.clone()))
    }

    fn client(&self) -> Result<&Inner> {
        Ok(&self.built()?.inner)
    }

    /// True if any root certificate is trusted (so HTTPS can work). Loads the system's roots
    /// if no request has yet.
    pub fn has_roots(&self) -> bool {
        self.built().is_ok_and(|b| b.has_roots)
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Sends a request, retrying as the policy says, and returns a success (2xx) response.
    /// Any other final status is an [`Error::Status`] carrying the service's message.
    pub async fn send(&self, req: Request) -> Result<Response> {
        let resp = self.send_any(req.clone()).await?;
        if resp.status.is_success() {
            return Ok(resp);
        }
        Err(status_error(&req, &resp))
    }

    /// Sends a request, retrying 408/429/5xx and connection errors, and returns whatever final
    /// response came back (callers that branch on 404 or 412 use this).
    pub async fn send_any(&self, req: Request) -> Result<Response> {
        // A client that cannot be built (a CA file rejected) is not worth retrying.
        let built = self.built()?;
        let https = req
            .url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        if https && !built.has_roots {
            return Err(Error::Config(format!(
                "{}: {} uses HTTPS, but no trusted root certificates are available (the system store is empty or unreadable and no CA file was given): install the system's CA certificates, point SSL_CERT_FILE at a PEM bundle, or give a CA file",
                req.service,
                redact_url(&req.url)
            )));
        }
        let policy = self.config.retry;
        let started = Instant::now();
        let budget_end = started + policy.total_budget;
        let url = redact_url(&req.url);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let remaining = budget_end.saturating_duration_since(Instant::now());
            let deadline = self.config.attempt_timeout.min(remaining);
            let outcome = match tokio::time::timeout(deadline, self.attempt(&req)).await {
                Ok(o) => o,
                Err(_) => Attempt::TimedOut,
            };
            let (retry_after, last) = match outcome {
                Attempt::Done(mut resp) => {
                    resp.attempts = attempts;
                    if !is_retryable_status(resp.status.as_u16()) {
                        return Ok(resp);
                    }
                    let ra = resp
                        .header(RETRY_AFTER.as_str())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    (ra, Err(resp))
                }
                Attempt::TooLarge => {
                    return Err(Error::BodyTooLarge {
                        service: req.service,
                        url,
                        limit: self.config.max_body,
                    });
                }
                Attempt::Transport(detail) => (
                    None,
                    Ok(Error::Transport {
                        service: req.service,
                        method: req.method.to_string(),
                        url: url.clone(),
                        detail,
                        attempts,
                    }),
                ),
                Attempt::TimedOut => (
                    None,
                    Ok(Error::Timeout {
                        service: req.service,
                        method: req.method.to_string(),
                        url: url.clone(),
                        deadline,
                        attempts,
                    }),
                ),
            };
            let give_up = |last: std::result::Result<Error, Response>| match last {
                Ok(e) => Err(e),
                Err(resp) => Ok(resp),
            };
            if attempts >= policy.max_attempts {
                return give_up(last);
            }
            let wait = retry_after.unwrap_or_else(|| policy.backoff(attempts, random_u64()));
            let now = Instant::now();
            if now + wait >= budget_end {
                if let (Some(ra), Err(_)) = (retry_after, &last) {
                    return Err(Error::RateLimited {
                        service: req.service,
                        url,
                        retry_after: ra,
                    });
                }
                return give_up(last);
            }
            tracing::debug!(service = %req.service, url = %url, attempts, ?wait, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, req: &Request) -> Attempt {
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str());
        if let Some(h) = builder.headers_mut() {
            h.clone_from(&req.headers);
            // Storage (and Azure front ends) want an explicit length on every write, even 0.
            if matches!(req.method, Method::PUT | Method::POST | Method::PATCH) {
                h.insert(
                    http::header::CONTENT_LENGTH,
                    HeaderValue::from(req.body.len()),
                );
            }
            if !h.contains_key(USER_AGENT)
                && let Ok(ua) = HeaderValue::from_str(&self.config.user_agent)
            {
                h.insert(USER_AGENT, ua);
            }
        }
        let request = match builder.body(Full::new(req.body.clone())) {
            Ok(r) => r,
            Err(e) => return Attempt::Transport(format!("invalid request: {e}")),
        };
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return Attempt::Transport(e.to_string()),
        };
        let response = match client.request(request).await {
            Ok(r) => r,
            Err(e) => return Attempt::Transport(error_chain(&e)),
        };
        let (parts, mut body) = response.into_parts();
        // A HEAD answer's Content-Length describes the resource, not a body.
        let announced = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|_| req.method != Method::HEAD);
        if announced.is_some_and(|len| len > self.config.max_body as u64) {
            return Attempt::TooLarge;
        }
        // Frames are appended to one buffer as they arrive (and released), so a large body
        // (a blob range of megabytes) is held once, not once in frames and again joined.
        let mut out = BytesMut::with_capacity(announced.unwrap_or(0) as usize);
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    return Attempt::Transport(format!("reading the body: {}", error_chain(&e)));
                }
            };
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > self.config.max_body {
                    return Attempt::TooLarge;
                }
                out.extend_from_slice(&data);
            }
        }
        Attempt::Done(Response {
            status: parts.status,
            headers: parts.headers,
            body: out.freeze(),
            attempts: 0,
        })
    }
}

/// The error for a final non-success response.
pub fn status_error(req: &Request, resp: &Response) -> Error {
    Error::Status {
        service: req.service,
        method: req.method.to_string(),
        url: redact_url(&req.url),
        status: resp.status.as_u16(),
        message: service_message(&resp.body),
        retry_after: resp
            .header(RETRY_AFTER.as_str())
            .and_then(|v| parse_retry_after(v, SystemTime::now())),
        attempts: resp.attempts,
    }
}

/// The service's own error text: Azure's `{"error":{"code","message"}}`, OAuth's
/// `{"error","error_description"}`, or the start of a text body.
pub fn service_message(body: &[u8]) -> Option<String> {
    const MAX: usize = 300;
    if body.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let err = v.get("error");
        let text = match err {
            Some(serde_json::Value::Object(o)) => {
                let code = o.get("code").and_then(|c| c.as_str()).unwrap_or("");
                let msg = o.get("message").and_then(|c| c.as_str()).unwrap_or("");
                format!("{code}: {msg}")
            }
            Some(serde_json::Value::String(code)) => {
                let desc = v
                    .get("error_description")
                    .and_then(|c| c.as_str())
                    .unwrap_or("");
                format!("{code}: {desc}")
            }
            _ => v
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| truncate(&String::from_utf8_lossy(body), MAX)),
        };
        return Some(truncate(text.trim_end_matches(": "), MAX));
    }
    let text = String::from_utf8_lossy(body);
    // XML errors (Blob storage): the <Code> and <Message> elements.
    if let Some(code) = xml_element(&text, "Code") {
        let msg = xml_element(&text, "Message").unwrap_or_default();
        let msg = msg.lines().next().unwrap_or("");
        return Some(truncate(&format!("{code}: {msg}"), MAX));
    }
    let printable: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Some(truncate(printable.trim(), MAX))
}

fn xml_element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(text[start..end].to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_azure_oauth_xml_and_text() {
        assert_eq!(
            service_message(br#"{"error":{"code":"Forbidden","message":"no access"}}"#).unwrap(),
            "Forbidden: no access"
        );
        assert_eq!(
            service_message(br#"{"error":"invalid_client","error_description":"bad"}"#).unwrap(),
            "invalid_client: bad"
        );
        assert_eq!(
            service_message(b"<?xml version=\"1.0\"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.\nRequestId:1</Message></Error>").unwrap(),
            "BlobNotFound: The specified blob does not exist."
        );
        assert_eq!(service_message(b"bad\x00thing").unwrap(), "bad thing");
        assert_eq!(service_message(b""), None);
        assert_eq!(service_message(&[b'a'; 400]).unwrap().chars().count(), 301);
    }

    #[tokio::test]
    async fn without_roots_https_fails_naming_the_service_and_http_works() {
        let client = HttpClient::new(HttpConfig {
            system_roots: false,
            retry: RetryPolicy::NONE,
            ..HttpConfig::default()
        })
        .expect("a client without roots is built");
        assert!(!client.has_roots());
        let e = client
            .send(Request::new(
                Service::Blob,
                Method::GET,
                "https://acct.blob.core.windows.net/c/b?sig=secret",
            ))
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Config(_)), "{msg}");
        assert!(
            msg.contains("Blob storage") && msg.contains("acct.blob.core.windows.net"),
            "{msg}"
        );
        assert!(msg.contains("no trusted root certificates"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");

        // Plain HTTP (IMDS, a local emulator) needs no roots.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await
                .unwrap();
        });
        let r = client
            .send(Request::new(
                Service::Imds,
                Method::GET,
                format!("http://{addr}/metadata"),
            ))
            .await
            .unwrap();
        assert_eq!(&r.body[..], b"ok");
        server.await.unwrap();
    }
}
