//! Failure classes and the HTTP status and gRPC code each one gets (README, "Status codes").
//! Both APIs answer the same class for the same failure, so a client can tell bad input from
//! a refusal, from a service it may retry later.

use hyper::StatusCode;

/// What kind of failure a request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request is unusable (body, endpoint, key name, base64): 400, InvalidArgument.
    BadRequest,
    /// The request body is over the limit: 413, InvalidArgument (gRPC messages over the
    /// limit are OutOfRange, from the transport).
    TooLarge,
    /// The request did not arrive whole in time: 408, DeadlineExceeded.
    TooSlow,
    /// Attestation or release refused: MAA or the vault answered 4xx, or this platform's
    /// report failed local verification: 403, PermissionDenied.
    Refused,
    /// No attestation report on this machine (not an SEV-SNP guest): 403 as upstream,
    /// FailedPrecondition.
    NoPlatform,
    /// A service could not be reached or gave an unusable answer (connection, TLS,
    /// timeout, 5xx, 429, a malformed or unverifiable answer): 502, Unavailable.
    ServiceUnavailable,
    /// This sidecar is at a limit (connections, request memory): 503 with Retry-After,
    /// Unavailable.
    Busy,
    /// Configuration or an internal step (wrapping key, unwrap): 500, Internal.
    Internal,
}

impl Failure {
    /// The HTTP status.
    pub fn http_status(self) -> StatusCode {
        match self {
            Failure::BadRequest => StatusCode::BAD_REQUEST,
            Failure::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Failure::TooSlow => StatusCode::REQUEST_TIMEOUT,
            Failure::Refused | Failure::NoPlatform => StatusCode::FORBIDDEN,
            Failure::ServiceUnavailable => StatusCode::BAD_GATEWAY,
            Failure::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC status code.
    pub fn grpc_code(self) -> tonic::Code {
        match self {
            Failure::BadRequest | Failure::TooLarge => tonic::Code::InvalidArgument,
            Failure::TooSlow => tonic::Code::DeadlineExceeded,
            Failure::Refused => tonic::Code::PermissionDenied,
            Failure::NoPlatform => tonic::Code::FailedPrecondition,
            Failure::ServiceUnavailable | Failure::Busy => tonic::Code::Unavailable,
            Failure::Internal => tonic::Code::Internal,
        }
    }
}

/// A failed request: its class and a message naming the step and what to check (never
/// secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The class, which fixes the status.
    pub failure: Failure,
    /// What failed and what to check.
    pub message: String,
}

impl ServiceError {
    /// An error of class `failure`.
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        ServiceError {
            failure,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.failure.http_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_has_one_status_and_code() {
        use tonic::Code;
        let table = [
            (Failure::BadRequest, 400, Code::InvalidArgument),
            (Failure::TooLarge, 413, Code::InvalidArgument),
            (Failure::TooSlow, 408, Code::DeadlineExceeded),
            (Failure::Refused, 403, Code::PermissionDenied),
            (Failure::NoPlatform, 403, Code::FailedPrecondition),
            (Failure::ServiceUnavailable, 502, Code::Unavailable),
            (Failure::Busy, 503, Code::Unavailable),
            (Failure::Internal, 500, Code::Internal),
        ];
        for (f, status, code) in table {
            assert_eq!((f.http_status().as_u16(), f.grpc_code()), (status, code));
        }
    }
}
