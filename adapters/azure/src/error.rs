//! The crate's error type. Every variant names the service and, where a request was made, the
//! URL with secrets removed; nothing secret (tokens, SAS signatures, key bytes) is ever shown.

use std::time::Duration;

/// The Azure (or AMD) service a call went to; named in every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// IMDS managed identity token endpoint.
    Imds,
    /// Microsoft Entra ID (AAD) token endpoint, for workload identity.
    Aad,
    /// The IMDS THIM certification endpoint.
    Thim,
    /// AMD Key Distribution Service.
    Kds,
    /// Azure's AMD certificate cache (AzCache).
    AzCache,
    /// Microsoft Azure Attestation.
    Maa,
    /// Key Vault or managed HSM.
    KeyVault,
    /// Blob storage.
    Blob,
}

impl Service {
    /// A short, stable name.
    pub const fn name(self) -> &'static str {
        match self {
            Service::Imds => "IMDS",
            Service::Aad => "Entra ID",
            Service::Thim => "THIM",
            Service::Kds => "AMD KDS",
            Service::AzCache => "AzCache",
            Service::Maa => "MAA",
            Service::KeyVault => "Key Vault",
            Service::Blob => "Blob storage",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service answered with a status that is not success (after any retries).
    #[error("{service}: {method} {url}: HTTP {status}{}", fmt_message(.message))]
    Status {
        /// Which service.
        service: Service,
        /// The request method.
        method: String,
        /// The URL, secrets removed.
        url: String,
        /// The final status code.
        status: u16,
        /// The service's own error message (code and text), if it sent one.
        message: Option<String>,
        /// Retry-After of the final response, if any.
        retry_after: Option<Duration>,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The connection failed or broke (after any retries).
    #[error("{service}: {method} {url}: connection failed after {attempts} attempt(s): {detail}")]
    Transport {
        /// Which service.
        service: Service,
        /// The request method.
        method: String,
        /// The URL, secrets removed.
        url: String,
        /// What went wrong, as the HTTP stack reported it.
        detail: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// No answer within the deadline (after any retries).
    #[error(
        "{service}: {method} {url}: no complete answer within {deadline:?} ({attempts} attempt(s))"
    )]
    Timeout {
        /// Which service.
        service: Service,
        /// The request method.
        method: String,
        /// The URL, secrets removed.
        url: String,
        /// The per-call deadline.
        deadline: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The service asked us to wait longer than the retry budget allows, or is still in a
    /// cool-down period it asked for earlier; no request was sent in the latter case.
    #[error("{service}: {url}: rate limited, the service asks to wait {retry_after:?}")]
    RateLimited {
        /// Which service.
        service: Service,
        /// The URL, secrets removed.
        url: String,
        /// How long the service asked us to wait.
        retry_after: Duration,
    },
    /// A response body was larger than allowed.
    #[error("{service}: {url}: response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// Which service.
        service: Service,
        /// The URL, secrets removed.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A response could not be understood.
    #[error("{service}: {what}: {detail}")]
    Malformed {
        /// Which service.
        service: Service,
        /// What was being read (e.g. `token response`, `JWS header`).
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A signature, certificate chain or claim did not verify.
    #[error("{service}: {what} rejected: {detail}")]
    Verification {
        /// Which service produced the object.
        service: Service,
        /// What was verified (e.g. `MAA token signature`, `JWS x5c chain`).
        what: &'static str,
        /// Why it was rejected.
        detail: String,
    },
    /// The client was configured wrongly (bad URL, unreadable CA file, missing env var...).
    #[error("configuration: {0}")]
    Config(String),
    /// A local file (cache, token file) could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What the file is.
        what: &'static str,
        /// Its path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A conditional write was refused because the blob changed (HTTP 412).
    #[error("{service}: {url}: the blob changed since ETag {expected} was read (HTTP 412)")]
    ConditionNotMet {
        /// Which service.
        service: Service,
        /// The URL, secrets removed.
        url: String,
        /// The ETag the write was conditioned on.
        expected: String,
    },
    /// An attestation report could not be read.
    #[error("attestation report: {0}")]
    Report(String),
    /// The reported TCB and the certificate TCB still differ after refreshing both.
    #[error(
        "SNP reported TCB value: {reported:#018x} doesn't match Certificate TCB value: {certificate:#018x}"
    )]
    TcbMismatch {
        /// REPORTED_TCB of the (newest) report.
        reported: u64,
        /// The TCB the certificates were issued for.
        certificate: u64,
    },
}

fn fmt_message(m: &Option<String>) -> String {
    match m {
        Some(m) => format!(": {m}"),
        None => String::new(),
    }
}

impl Error {
    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            Error::ConditionNotMet { .. } => Some(412),
            _ => None,
        }
    }

    pub(crate) fn malformed(service: Service, what: &'static str, detail: impl ToString) -> Self {
        Error::Malformed {
            service,
            what,
            detail: detail.to_string(),
        }
    }

    pub(crate) fn rejected(service: Service, what: &'static str, detail: impl ToString) -> Self {
        Error::Verification {
            service,
            what,
            detail: detail.to_string(),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
