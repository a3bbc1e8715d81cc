//! Report checking for std callers (the sidecars' local check, the MAA emulator, tools): a
//! report (plain, or an Azure HCL report whose variable data must then hash to REPORT_DATA)
//! and the PEM chain that travels with it are verified with the core's [`Verifier`] over the
//! aws-lc-rs backend, against AMD's built-in anchors or a root the caller pins (the simulated
//! platform's ARK). The chain is read by role ([`select`]): VCEK/VLEK, ASK/ASVK and ARK in any
//! order, certificates that are not part of it ignored.
//!
//! The verifier keeps the links it has verified, so a checker shared by many requests pays the
//! RSA chain checks once and then one ECDSA verification per report.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use csc_core::cert::{Certificate, Time};
use csc_core::hcl::{self, HclReport};
use csc_core::report::{Product, Report};
use csc_core::verify::{Evidence, Verified, Verifier, VerifyError, VerifyOptions, select};

use crate::verify::AwsLcCrypto;

/// Why a report did not pass.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The report bytes are not a report.
    #[error("attestation report: {0}")]
    Report(String),
    /// The certificate text could not be read or holds no VCEK or VLEK.
    #[error("certificate chain: {0}")]
    Certificates(String),
    /// The signature, chain or binding does not hold.
    #[error("{0}")]
    Verify(#[from] VerifyError),
    /// The pinned root could not be used.
    #[error("pinned root: {0}")]
    PinnedRoot(VerifyError),
}

/// The DER of every CERTIFICATE block of `pem`, each checked to be a readable certificate
/// (which ones belong to the chain is [`select`]'s question).
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, CheckError> {
    let mut out = Vec::new();
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
        Certificate::from_der(&der)
            .map_err(|e| CheckError::Certificates(format!("certificate {}: {e}", out.len() + 1)))?;
        out.push(der);
    }
    if out.is_empty() {
        return Err(CheckError::Certificates(
            "no PEM CERTIFICATE block in the chain".into(),
        ));
    }
    Ok(out)
}

/// The evidence for `report` out of a PEM chain, read by role.
pub fn evidence_from_pem<'a>(
    certs: &'a [Vec<u8>],
    report: &Report<'_>,
) -> Result<Evidence<'a>, CheckError> {
    let ders: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
    select(&ders, report)
        .map_err(|_| CheckError::Certificates("the chain holds no VCEK or VLEK certificate".into()))
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

    /// Verifies `report` with the chain in `chain_pem`: 1184 bytes of SNP report, or an Azure
    /// HCL report, whose variable-data binding is then enforced. `product` is a hint for
    /// version-2 reports, which do not name their CPU.
    pub fn check(
        &self,
        report: &[u8],
        chain_pem: &[u8],
        product: Option<Product>,
    ) -> Result<Verified, CheckError> {
        let hint = product.or(self.pinned);
        if report.starts_with(hcl::MAGIC) {
            let parsed = HclReport::parse(report, hint)
                .or_else(|_| HclReport::parse(report, None))
                .map_err(|e| CheckError::Report(e.to_string()))?;
            return self.check_hcl(&parsed, chain_pem);
        }
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
        let certs = pem_certificates(chain_pem)?;
        let evidence = evidence_from_pem(&certs, report)?;
        Ok(self.verifier().verify(report, &evidence)?)
    }

    /// As [`ReportChecker::check`], for an HCL report already parsed.
    pub fn check_hcl(&self, hcl: &HclReport<'_>, chain_pem: &[u8]) -> Result<Verified, CheckError> {
        let certs = pem_certificates(chain_pem)?;
        let evidence = evidence_from_pem(&certs, hcl.report())?;
        Ok(self.verifier().verify_hcl(hcl, &evidence)?)
    }

    /// The verifier, set to the current time.
    fn verifier(&self) -> std::sync::MutexGuard<'_, Verifier<AwsLcCrypto>> {
        // A poisoned lock only means another thread panicked mid-check; the verifier's cache
        // holds only verified links, so it stays usable.
        let mut verifier = self.verifier.lock().unwrap_or_else(|p| p.into_inner());
        verifier.set_time(now());
        verifier
    }
}
