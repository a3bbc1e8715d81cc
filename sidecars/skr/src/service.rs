//! The sidecar's [`Service`] over the shared release flow (`csc-release`): reports from the
//! platform adapter, evidence verified locally before MAA sees it, key release with a
//! pre-generated wrapping key. Every failure keeps the step that failed in its message and maps
//! to one HTTP status in [`service_error`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use csc_core::base64::{Alphabet, Base64};
use csc_release::{Attester, KeyRequest, ReleaseError, Releaser};
use hyper::StatusCode;

use crate::api::body::{MaaRequest, ReleaseRequest, RuntimeDataRequest};
use crate::api::http::{Combined, Service, ServiceError};

/// The HTTP status and message for a failed step. The status is the flow's own
/// ([`ReleaseError::http_status`]: 400 bad request, 500 configuration, 403 attestation or
/// release refused, as upstream); the message names the step and what to check.
pub fn service_error(e: &ReleaseError) -> ServiceError {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ServiceError::new(status, e.to_string())
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

    async fn release_key(&self, req: ReleaseRequest) -> Result<String, ServiceError> {
        let key_request = KeyRequest {
            maa_endpoint: req.maa_endpoint,
            akv_endpoint: req.akv_endpoint,
            kid: req.kid,
            access_token: req.access_token,
        };
        self.releaser
            .release(&key_request)
            .await
            .map(|jwk| jwk.json().to_string())
            .map_err(|e| service_error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_failed_step() {
        let e = ReleaseError::Request("kid is empty".into());
        assert_eq!(service_error(&e).status, StatusCode::BAD_REQUEST);
        let e = ReleaseError::Config("no policy".into());
        assert_eq!(service_error(&e).status, StatusCode::INTERNAL_SERVER_ERROR);
        let e = ReleaseError::Platform("no device".into());
        let se = service_error(&e);
        assert_eq!(se.status, StatusCode::FORBIDDEN);
        assert!(se.message.contains("--simulate"), "{}", se.message);
    }
}
