//! Report checking for std callers (the sidecars' local check, the MAA emulator, tools): a
//! report and the PEM chain that travels with it (VCEK/VLEK, ASK/ASVK, ARK, in any order) are
//! verified with the core's [`Verifier`] over the aws-lc-rs backend, against AMD's built-in
//! roots or a root the caller pins (the simulated platform's ARK).
//!
//! The verifier keeps the links it has verified, so a checker shared by many requests pays the
//! RSA chain checks once and then one ECDSA verification per report.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use csc_core::cert::{Certificate, Time};
use csc_core::report::{Product, Report};
use csc_core::verify::{Evidence, Role, Verified, Verifier, VerifyError, VerifyOptions, classify};

use crate::verify::AwsLcCrypto;

/// Why a report did not pass.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The report bytes are not a report.
    #[error("attestation report: {0}")]
    Report(String),
    /// The certificate text could not be read or holds something that is not AMD's.
    #[error("certificate chain: {0}")]
    Certificates(String),
    /// The signature, chain or binding does not hold.
    #[error("{0}")]
    Verify(#[from] VerifyError),
    /// The pinned root could not be used.
    #[error("pinned root: {0}")]
    PinnedRoot(VerifyError),
}

/// The certificates of a chain, placed by role.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SortedChain {
    /// VCEK or VLEK (DER).
    pub signer: Option<Vec<u8>>,
    /// ASK or ASVK (DER).
    pub intermediate: Option<Vec<u8>>,
    /// ARK (DER).
    pub ark: Option<Vec<u8>>,
}

/// Reads every CERTIFICATE block of `pem` and places each by AMD's naming. The first of each
/// role wins; certificates that are not AMD's are an error.
pub fn sort_pem_chain(pem: &[u8]) -> Result<SortedChain, CheckError> {
    let mut out = SortedChain::default();
    let mut found = 0usize;
    for block in csc_core::pem::blocks(pem) {
        let block = block.map_err(|e| CheckError::Certificates(e.to_string()))?;
        if !block.is("CERTIFICATE") {
            continue;
        }
        let mut buf = vec![0u8; block.decoded_len_max()];
        let der = block
            .decode_into(&mut buf)
            .map_err(|e| CheckError::Certificates(e.to_string()))?
            .to_vec();
        let cert = Certificate::from_der(&der)
            .map_err(|e| CheckError::Certificates(format!("certificate {}: {e}", found + 1)))?;
        let slot = match classify(&cert).map(|(role, _)| role) {
            Some(Role::Vcek | Role::Vlek) => &mut out.signer,
            Some(Role::Ask | Role::Asvk) => &mut out.intermediate,
            Some(Role::Ark) => &mut out.ark,
            _ => {
                return Err(CheckError::Certificates(format!(
                    "{} is not an AMD ARK, ASK, ASVK, VCEK or VLEK",
                    cert.subject()
                )));
            }
        };
        if slot.is_none() {
            *slot = Some(der);
        }
        found += 1;
    }
    if found == 0 {
        return Err(CheckError::Certificates(
            "no PEM CERTIFICATE block in the chain".into(),
        ));
    }
    Ok(out)
}

/// The current time for certificate validity checks.
pub fn now() -> Option<Time> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok().map(Time)
}

/// A shareable report checker.
#[derive(Debug)]
pub struct ReportChecker {
    verifier: Mutex<Verifier<AwsLcCrypto>>,
    pinned: Option<Product>,
}

impl ReportChecker {
    /// Checks against AMD's built-in roots (the product's, chosen per report).
    pub fn amd() -> Self {
        ReportChecker {
            verifier: Mutex::new(Verifier::new(AwsLcCrypto::new(), VerifyOptions::default())),
            pinned: None,
        }
    }

    /// Checks against `ark_der` (AMD's profile, self-signed) for `product` only.
    pub fn pinned(ark_der: &[u8], product: Product) -> Result<Self, CheckError> {
        let verifier = Verifier::with_pinned_root(
            AwsLcCrypto::new(),
            ark_der,
            product,
            VerifyOptions::default(),
        )
        .map_err(CheckError::PinnedRoot)?;
        Ok(ReportChecker {
            verifier: Mutex::new(verifier),
            pinned: Some(product),
        })
    }

    /// The product of the pinned root, if one is pinned.
    pub fn pinned_product(&self) -> Option<Product> {
        self.pinned
    }

    /// Verifies `report` (1184 bytes) with the chain in `chain_pem`. `product` is a hint for
    /// version-2 reports, which do not name their CPU.
    pub fn check(
        &self,
        report: &[u8],
        chain_pem: &[u8],
        product: Option<Product>,
    ) -> Result<Verified, CheckError> {
        let hint = product.or(self.pinned);
        let parsed = Report::parse_with_product(report, hint)
            .or_else(|_| Report::parse(report))
            .map_err(|e| CheckError::Report(e.to_string()))?;
        self.check_parsed(&parsed, chain_pem)
    }

    /// As [`ReportChecker::check`], for a report already parsed.
    pub fn check_parsed(
        &self,
        report: &Report<'_>,
        chain_pem: &[u8],
    ) -> Result<Verified, CheckError> {
        let chain = sort_pem_chain(chain_pem)?;
        let Some(signer) = chain.signer.as_deref() else {
            return Err(CheckError::Certificates(
                "the chain holds no VCEK or VLEK certificate".into(),
            ));
        };
        let evidence = Evidence {
            signer,
            intermediate: chain.intermediate.as_deref(),
            ark: chain.ark.as_deref(),
            crl: None,
        };
        // A poisoned lock only means another thread panicked mid-check; the verifier's cache
        // holds only verified links, so it stays usable.
        let mut verifier = self.verifier.lock().unwrap_or_else(|p| p.into_inner());
        verifier.set_time(now());
        Ok(verifier.verify(report, &evidence)?)
    }
}
