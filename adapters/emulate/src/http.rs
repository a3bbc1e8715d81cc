//! The small request/response model the emulated services are written against.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

/// A request, fully read.
#[derive(Debug)]
pub struct Req {
    /// Method.
    pub method: Method,
    /// Path, percent-encoded as sent.
    pub path: String,
    /// Raw query (without `?`).
    pub query: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Req {
    /// A query parameter, percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }

    /// `https://<Host>` as the client addressed this server (a service's own URL, as in the
    /// tokens and key ids it issues), or `fallback` without a usable Host header.
    pub fn instance_url(&self, fallback: &str) -> String {
        match self.header("host").map(str::trim) {
            Some(h)
                if !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)) =>
            {
                format!("https://{h}")
            }
            _ => fallback.to_string(),
        }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A query or form parameter, percent-decoded (`+` as space) as the client encodes it.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| csc_azure::url::percent_decode(v, true))?
    })
}

/// A response before faults are applied.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: Bytes,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: StatusCode, v: &Value) -> Self {
        Reply {
            status,
            content_type: "application/json; charset=utf-8",
            body: Bytes::from(v.to_string()),
            headers: Vec::new(),
        }
    }

    /// 200 with bytes.
    pub fn bytes(content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Reply {
            status: StatusCode::OK,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// An Azure-style error: `{"error":{"code","message"}}`.
    pub fn error(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Self {
        Reply::json(
            status,
            &json!({"error": {"code": code, "message": message.to_string()}}),
        )
    }

    /// An OAuth-style error: `{"error","error_description"}`.
    pub fn oauth_error(status: StatusCode, code: &str, description: &str) -> Self {
        Reply::json(
            status,
            &json!({"error": code, "error_description": description}),
        )
    }
}
