//! The sidecar's [`Service`] over the shared release flow (`csc-release`): reports from the
//! platform adapter, evidence verified locally before MAA sees it, key release with a
//! pre-generated wrapping key. Every failure keeps the step that failed in its message and
//! belongs to one [`Failure`] class ([`failure_of`]), which fixes its HTTP status and gRPC code.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use csc_core::base64::{Alphabet, Base64};
use csc_release::{Attester, KeyRequest, ReleaseError, Releaser};

use crate::api::body::{MaaRequest, ReleaseRequest, RuntimeDataRequest};
use crate::api::http::{Combined, Failure, Service, ServiceError};
use crate::secret::SecretString;

/// The class of a failure of an outside service (MAA, the vault, a certificate source,
/// IMDS): a 4xx answer is a refusal; no answer, a 5xx, 408 or 429, or an answer that cannot be
/// used is the service being unavailable; a local file or configuration problem is ours.
fn service_failure(e: &csc_azure::Error) -> Failure {
    use csc_azure::Error as E;
    match e {
        E::Status { status, .. } if (400..500).contains(status) && !matches!(status, 408 | 429) => {
            Failure::Refused
        }
        E::Status { .. }
        | E::Transport { .. }
        | E::Timeout { .. }
        | E::RateLimited { .. }
        | E::BodyTooLarge { .. }
        | E::Malformed { .. }
        | E::Verification { .. }
        | E::ConditionNotMet { .. }
        | E::TcbMismatch { .. } => Failure::ServiceUnavailable,
        E::Report(_) => Failure::NoPlatform,
        _ => Failure::Internal,
    }
}

/// The class of a failed release or attestation step.
pub fn failure_of(e: &ReleaseError) -> Failure {
    match e {
        ReleaseError::Request(_) => Failure::BadRequest,
        ReleaseError::Platform(_) => Failure::NoPlatform,
        ReleaseError::Verification(_) => Failure::Refused,
        ReleaseError::Certificates(source)
        | ReleaseError::Maa { source, .. }
        | ReleaseError::KeyVault { source, .. } => service_failure(source),
        _ => Failure::Internal,
    }
}

/// The error answer for a failed step: its class, and the flow's message naming the step and
/// what to check.
pub fn service_error(e: &ReleaseError) -> ServiceError {
    ServiceError::new(failure_of(e), e.to_string())
}

/// The production service: one attester and one releaser, shared by every request.
#[derive(Debug)]
pub struct ReleaseService {
    releaser: Releaser,
    ready: AtomicBool,
}

impl ReleaseService {
    /// A service over `releaser` (whose attester answers the attestation routes); not ready
    /// until [`ReleaseService::set_ready`].
    pub fn new(releaser: Releaser) -> Self {
        ReleaseService {
            releaser,
            ready: AtomicBool::new(false),
        }
    }

    /// Marks the service ready (upstream sets `Status OK` just before listening).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// The releaser.
    pub fn releaser(&self) -> &Releaser {
        &self.releaser
    }

    fn attester(&self) -> &Arc<Attester> {
        self.releaser.attester()
    }
}

impl Service for ReleaseService {
    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    async fn attest_raw(&self, req: RuntimeDataRequest) -> Result<Vec<u8>, ServiceError> {
        self.attester()
            .report(&req.runtime_data)
            .await
            .map_err(|e| service_error(&e))
    }

    async fn attest_combined(&self, req: RuntimeDataRequest) -> Result<Combined, ServiceError> {
        let ev = self
            .attester()
            .evidence(&req.runtime_data)
            .await
            .map_err(|e| service_error(&e))?;
        Ok(Combined {
            endorsed_tcb: format!("{:016x}", ev.tcb),
            endorsements: Base64(ev.chain_pem.as_bytes(), Alphabet::Standard).to_string(),
            evidence: Base64(&ev.report, Alphabet::Standard).to_string(),
            uvm_endorsements: self.attester().uvm().reference_info_base64.clone(),
        })
    }

    async fn attest_maa(&self, req: MaaRequest) -> Result<String, ServiceError> {
        self.attester()
            .maa_token(&req.maa_endpoint, &req.runtime_data)
            .await
            .map(|t| t.expose().to_string())
            .map_err(|e| service_error(&e))
    }

    async fn release_key(&self, req: ReleaseRequest) -> Result<SecretString, ServiceError> {
        let key_request = KeyRequest {
            maa_endpoint: req.maa_endpoint,
            akv_endpoint: req.akv_endpoint,
            kid: req.kid,
            access_token: req.access_token,
        };
        self.releaser
            .release(&key_request)
            .await
            .map(|jwk| SecretString::new(jwk.json().to_string()))
            .map_err(|e| service_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> Box<csc_azure::Error> {
        Box::new(csc_azure::Error::Status {
            service: csc_azure::Service::Maa,
            method: "POST".into(),
            url: "https://maa.example/attest".into(),
            status,
            message: None,
            retry_after: None,
            attempts: 1,
        })
    }

    fn maa(source: Box<csc_azure::Error>) -> ReleaseError {
        ReleaseError::Maa {
            endpoint: "maa.example".into(),
            source,
        }
    }

    #[test]
    fn classes_follow_the_failed_step() {
        let cases = [
            (
                ReleaseError::Request("kid is empty".into()),
                Failure::BadRequest,
            ),
            (ReleaseError::Config("no policy".into()), Failure::Internal),
            (
                ReleaseError::Platform("no device".into()),
                Failure::NoPlatform,
            ),
            (maa(status(400)), Failure::Refused),
            (maa(status(401)), Failure::Refused),
            (maa(status(429)), Failure::ServiceUnavailable),
            (maa(status(500)), Failure::ServiceUnavailable),
            (maa(status(503)), Failure::ServiceUnavailable),
            (
                maa(Box::new(csc_azure::Error::Transport {
                    service: csc_azure::Service::Maa,
                    method: "POST".into(),
                    url: "https://maa.example/attest".into(),
                    detail: "invalid peer certificate: UnknownIssuer".into(),
                    attempts: 4,
                })),
                Failure::ServiceUnavailable,
            ),
            (
                maa(Box::new(csc_azure::Error::Timeout {
                    service: csc_azure::Service::Maa,
                    method: "POST".into(),
                    url: "https://maa.example/attest".into(),
                    deadline: std::time::Duration::from_secs(30),
                    attempts: 1,
                })),
                Failure::ServiceUnavailable,
            ),
            (
                ReleaseError::KeyVault {
                    endpoint: "v.example".into(),
                    kid: "k".into(),
                    source: status(403),
                    claims: None,
                },
                Failure::Refused,
            ),
            (
                ReleaseError::Certificates(status(502)),
                Failure::ServiceUnavailable,
            ),
            (ReleaseError::Unwrap("bad".into()), Failure::Internal),
        ];
        for (e, want) in cases {
            assert_eq!(failure_of(&e), want, "{e}");
        }
        let se = service_error(&ReleaseError::Platform("no device".into()));
        assert_eq!(se.status().as_u16(), 403);
        assert!(se.message.contains("--simulate"), "{}", se.message);
    }
}
