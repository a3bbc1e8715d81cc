//! The TLS server: accepts on loopback, routes by path to the emulated services, and applies
//! the fault chosen for the service before or after it answers.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::fault::{Fault, FaultRule, Target};
use crate::http::{Reply, Req};
use crate::pki::Signers;
use crate::{State, identity, maa};

/// Largest request body accepted.
const MAX_REQUEST: usize = 16 * 1024 * 1024;

/// The response body: whole, or cut short by the truncation fault.
#[derive(Debug)]
pub enum ReplyBody {
    /// The whole body.
    Full(Option<Bytes>),
    /// Half the body, then an error that makes the server drop the connection.
    Truncated(Option<Bytes>),
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        Poll::Ready(match this {
            ReplyBody::Full(data) => data.take().map(|d| Ok(Frame::data(d))),
            ReplyBody::Truncated(data) => match data.take() {
                Some(d) => Some(Ok(Frame::data(d))),
                None => Some(Err(std::io::Error::other("truncated by fault injection"))),
            },
        })
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ReplyBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Full(Some(d)) => SizeHint::with_exact(d.len() as u64),
            _ => SizeHint::default(),
        }
    }
}

/// Serves until `stop` changes.
pub async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let tls = tls.clone();
        let state = state.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await
            else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(state, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// Which service a path belongs to; `None` for the emulator's own admin routes.
pub fn target_of(path: &str) -> Option<Target> {
    if path.starts_with("/metadata/identity/") {
        Some(Target::Imds)
    } else if path.starts_with("/metadata/THIM/") {
        Some(Target::Thim)
    } else if path.starts_with("/vcek/")
        || path.starts_with("/vlek/")
        || path.contains("/certificates/")
    {
        Some(Target::Kds)
    } else if path.starts_with("/attest/") || path == "/certs" {
        Some(Target::Maa)
    } else if path.starts_with("/keys/") {
        Some(Target::Hsm)
    } else if path.ends_with("/oauth2/v2.0/token") {
        Some(Target::Aad)
    } else {
        None
    }
}

async fn handle(state: Arc<State>, req: hyper::Request<Incoming>) -> Response<ReplyBody> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_REQUEST).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return finish(
                Reply::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "TooLarge",
                    "request body too large",
                ),
                false,
            );
        }
    };
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let Some(target) = target_of(&req.path) else {
        return finish(admin(&state, &req), false);
    };
    let fault = state.faults.on_request(target);
    if let Some(d) = fault.as_ref().and_then(crate::fault::latency) {
        tokio::time::sleep(d).await;
    }
    match &fault {
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut r = Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "rate limit exceeded (fault injection)",
            );
            r.headers
                .push(("retry-after", retry_after_secs.to_string()));
            return finish(r, false);
        }
        Some(Fault::Status { status }) => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return finish(
                Reply::error(code, "ServiceUnavailable", "injected server error"),
                false,
            );
        }
        _ => {}
    }
    let content_fault = fault.as_ref().filter(|f| f.is_content());
    let reply = match target {
        Target::Kds | Target::Thim => certificates(&state, target, &req),
        _ => match state.signers().await {
            Ok(keys) => route(&state, keys, target, &req, content_fault),
            Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "KeysUnavailable", e),
        },
    };
    finish(reply, matches!(fault, Some(Fault::Truncate)))
}

fn certificates(state: &State, target: Target, req: &Req) -> Reply {
    if target == Target::Kds {
        return state
            .kds
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .handle(req);
    }
    if req.header("metadata") != Some("true") {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Metadata header missing",
        );
    }
    match &state.config.thim {
        Some(doc) => Reply::bytes("application/json", doc.clone()),
        None => Reply::error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "no THIM document configured",
        ),
    }
}

fn route(state: &State, keys: &Signers, target: Target, req: &Req, fault: Option<&Fault>) -> Reply {
    match target {
        Target::Imds => identity::imds(state, keys, req, fault),
        Target::Aad => {
            let tenant = req
                .path
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("");
            identity::aad(state, keys, req, tenant, fault)
        }
        Target::Maa if req.path == "/certs" => maa::certs(keys),
        Target::Maa => maa::attest(state, keys, req, fault),
        Target::Hsm => state.hsm.handle(state, keys, req, fault),
        Target::Kds | Target::Thim => certificates(state, target, req),
    }
}

fn admin(state: &State, req: &Req) -> Reply {
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    match (req.method.clone(), segs.as_slice()) {
        (Method::GET, ["emulator", "endpoints"]) => Reply::json(
            StatusCode::OK,
            &serde_json::to_value(&state.endpoints).unwrap_or_default(),
        ),
        (Method::GET, ["emulator", "requests"]) => {
            let counts: serde_json::Map<String, Value> = Target::ALL
                .iter()
                .map(|t| {
                    let name = serde_json::to_value(t)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    (name, state.faults.count(*t).into())
                })
                .collect();
            Reply::json(StatusCode::OK, &Value::Object(counts))
        }
        (Method::POST, ["emulator", "faults", target]) => {
            let target: Option<Target> = serde_json::from_value(json!(target)).ok();
            let rule: Option<FaultRule> = serde_json::from_slice(&req.body).ok();
            match (target, rule) {
                (Some(t), Some(r)) => {
                    state.faults.set(t, r);
                    Reply::json(StatusCode::OK, &json!({"ok": true}))
                }
                _ => Reply::error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "unknown target or bad rule",
                ),
            }
        }
        (Method::DELETE, ["emulator", "faults"]) => {
            state.faults.clear_all();
            Reply::json(StatusCode::OK, &json!({"ok": true}))
        }
        _ => Reply::error(StatusCode::NOT_FOUND, "NotFound", "unknown path"),
    }
}

fn finish(reply: Reply, truncate: bool) -> Response<ReplyBody> {
    let len = reply.body.len();
    let body = if truncate {
        ReplyBody::Truncated(Some(reply.body.slice(..len / 2)))
    } else {
        ReplyBody::Full(Some(reply.body))
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header(http::header::CONTENT_TYPE, reply.content_type)
        .header(http::header::CONTENT_LENGTH, len);
    for (k, v) in reply.headers {
        builder = builder.header(k, v);
    }
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(ReplyBody::Full(None));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
