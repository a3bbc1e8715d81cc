//! What can go wrong in a release, by step, with what a person can check.

use csc_crypto::check::CheckError;

/// Why an attestation or a release failed. Each variant names the step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The caller's request is unusable (empty field, bad key name).
    #[error("invalid request: {0}")]
    Request(String),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The platform did not give a report.
    #[error(
        "attestation report: {0} (is this an SEV-SNP guest with /dev/sev-guest, /dev/sev or configfs-tsm? use --simulate for the simulated platform)"
    )]
    Platform(String),
    /// The certificates for the report could not be had.
    #[error("certificates: {0}")]
    Certificates(#[source] Box<csc_azure::Error>),
    /// The platform's own report did not verify locally, so it was not sent to MAA.
    #[error("local verification of the platform's report failed, not sending it to MAA: {0}")]
    Verification(#[source] CheckError),
    /// MAA refused or could not be reached.
    #[error("MAA attestation at {endpoint}: {source}")]
    Maa {
        /// The MAA endpoint.
        endpoint: String,
        /// What happened.
        #[source]
        source: Box<csc_azure::Error>,
    },
    /// Key Vault or the managed HSM refused or could not be reached.
    #[error("key release of {kid} at {endpoint}: {source}{}", fmt_claims(.claims))]
    KeyVault {
        /// The vault or HSM endpoint.
        endpoint: String,
        /// The key.
        kid: String,
        /// What happened.
        #[source]
        source: Box<csc_azure::Error>,
        /// On a refusal (403): the claims the MAA token carried that release policies usually
        /// test, to compare with the key's release policy.
        claims: Option<String>,
    },
    /// The ephemeral wrapping key could not be made.
    #[error("wrapping key: {0}")]
    WrappingKey(String),
    /// The released key could not be unwrapped or rendered.
    #[error("unwrapping the released key: {0}")]
    Unwrap(String),
}

fn fmt_claims(claims: &Option<String>) -> String {
    match claims {
        Some(c) => {
            format!("; the release policy must match the MAA token's claims, which were: {c}")
        }
        None => String::new(),
    }
}

impl ReleaseError {
    /// The HTTP status the sidecar answers with: 400 for bad requests, 500 for configuration,
    /// 403 for failed attestation or release (as upstream).
    pub fn http_status(&self) -> u16 {
        match self {
            ReleaseError::Request(_) => 400,
            ReleaseError::Config(_) => 500,
            _ => 403,
        }
    }

    /// The HTTP status of a service that refused, if the failure was a service's answer.
    pub fn service_status(&self) -> Option<u16> {
        match self {
            ReleaseError::Maa { source, .. }
            | ReleaseError::KeyVault { source, .. }
            | ReleaseError::Certificates(source) => match source.as_ref() {
                csc_azure::Error::Status { status, .. } => Some(*status),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Result with [`ReleaseError`].
pub type Result<T, E = ReleaseError> = std::result::Result<T, E>;
