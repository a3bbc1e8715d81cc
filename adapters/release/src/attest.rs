//! Reports, their certificates, local verification and MAA tokens.

use std::sync::Arc;
use std::time::Instant;

use csc_azure::certs::{CertFetcher, CertState};
use csc_azure::http::HttpClient;
use csc_azure::maa::{self, MaaClient};
use csc_azure::secret::SecretString;
use csc_core::abi::REPORT_SIZE;
use csc_core::source::{ReportRequest, ReportSource, Vmpl};
use csc_core::verify::Verified;
use csc_crypto::check::ReportChecker;

use crate::config::{PlatformChoice, ReleaseConfig, Trust, UvmInfo};
use crate::error::{ReleaseError, Result};

/// A report with the chain issued for its REPORTED_TCB, verified locally.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The 1184-byte report.
    pub report: Vec<u8>,
    /// VCEK, ASK, ARK as PEM text.
    pub chain_pem: String,
    /// The TCB the chain was issued for (= the report's REPORTED_TCB).
    pub tcb: u64,
    /// What the local check established.
    pub verified: Verified,
}

/// Time spent in each step of the last call, for accounts such as `skr demo`'s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Asking the platform for the report.
    pub report_ms: f64,
    /// Certificates (cache hit or fetch).
    pub certs_ms: f64,
    /// Local verification.
    pub verify_ms: f64,
}

/// Obtains reports from the platform and attests them. Shareable (`Arc`), every method `&self`.
#[derive(Debug)]
pub struct Attester {
    source: csc_sev::Source,
    source_reason: String,
    certs: CertState,
    fetcher: Arc<CertFetcher>,
    checker: ReportChecker,
    http: HttpClient,
    uvm: UvmInfo,
    maa_user_agent: Option<String>,
    trust_pinned: bool,
}

impl Attester {
    /// Opens the platform and prepares the certificate state. Reads no report yet.
    pub fn new(config: &mut ReleaseConfig) -> Result<Attester> {
        let (source, source_reason) = match std::mem::take(&mut config.platform) {
            PlatformChoice::Choose(choice) => {
                let chosen = csc_sev::choose(choice.as_ref())
                    .map_err(|e| ReleaseError::Platform(e.to_string()))?;
                (chosen.source, chosen.reason)
            }
            PlatformChoice::Source(s) => {
                let reason = format!("{} (given)", s.kind());
                (s, reason)
            }
        };
        let http = HttpClient::new(config.http.clone())
            .map_err(|e| ReleaseError::Config(format!("HTTP client: {e}")))?;
        let mut fetcher = CertFetcher::new(http.clone(), config.cert_source.clone());
        if let Some(dir) = &config.cert_cache_dir {
            fetcher = fetcher.with_disk_cache(dir.clone());
        }
        let fetcher = Arc::new(fetcher);
        let certs = CertState::new(
            fetcher.clone(),
            config.uvm.host_certs.as_ref(),
            config.default_product,
        )
        .map_err(|e| ReleaseError::Config(format!("host certificates: {e}")))?;
        let (checker, trust_pinned) = match &config.trust {
            Trust::Amd => (ReportChecker::amd(), false),
            Trust::Pinned { ark_der, product } => (
                ReportChecker::pinned(ark_der, *product)
                    .map_err(|e| ReleaseError::Config(e.to_string()))?,
                true,
            ),
        };
        Ok(Attester {
            source,
            source_reason,
            certs,
            fetcher,
            checker,
            http,
            uvm: config.uvm.clone(),
            maa_user_agent: config.maa_user_agent.clone(),
            trust_pinned,
        })
    }

    /// Which report source is used and why.
    pub fn source_reason(&self) -> &str {
        &self.source_reason
    }

    /// True when reports come from the simulated platform.
    pub fn simulated(&self) -> bool {
        self.source.simulated()
    }

    /// True when reports are checked against a pinned (non-AMD) root.
    pub fn trusts_pinned_root(&self) -> bool {
        self.trust_pinned
    }

    /// The UVM security context.
    pub fn uvm(&self) -> &UvmInfo {
        &self.uvm
    }

    /// The HTTP client (shared with the release step).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The certificate fetcher.
    pub fn cert_fetcher(&self) -> &Arc<CertFetcher> {
        &self.fetcher
    }

    /// The TCB of the chain in use, if any.
    pub fn current_tcb(&self) -> Option<u64> {
        self.certs.current_tcb()
    }

    /// A report whose REPORT_DATA is SHA-256 of `runtime_data` (upstream's `/attest/raw`).
    pub async fn report(&self, runtime_data: &[u8]) -> Result<Vec<u8>> {
        let request = ReportRequest::for_runtime_data(runtime_data, Vmpl::ZERO);
        let mut buf = [0u8; REPORT_SIZE];
        csc_core::source::fetch(&self.source, &request, &mut buf)
            .await
            .map_err(|e| ReleaseError::Platform(e.to_string()))?;
        Ok(buf.to_vec())
    }

    /// A report for `runtime_data` with its chain, verified locally.
    pub async fn evidence(&self, runtime_data: &[u8]) -> Result<Evidence> {
        self.evidence_timed(runtime_data).await.map(|(e, _)| e)
    }

    /// As [`Attester::evidence`], with the time of each step.
    pub async fn evidence_timed(&self, runtime_data: &[u8]) -> Result<(Evidence, Timings)> {
        let mut t = Timings::default();
        let start = Instant::now();
        let report = self.report(runtime_data).await?;
        t.report_ms = ms(start);
        let start = Instant::now();
        let platform_error = |e: ReleaseError| csc_azure::Error::Report(e.to_string());
        let collateral = self
            .certs
            .collateral(report, || async {
                self.report(runtime_data).await.map_err(platform_error)
            })
            .await
            .map_err(|e| ReleaseError::Certificates(Box::new(e)))?;
        t.certs_ms = ms(start);
        let start = Instant::now();
        let chain_pem = collateral.chain.pem();
        let verified = self
            .checker
            .check(&collateral.report, chain_pem.as_bytes(), None)
            .map_err(ReleaseError::Verification)?;
        t.verify_ms = ms(start);
        Ok((
            Evidence {
                report: collateral.report,
                chain_pem,
                tcb: collateral.chain.tcb,
                verified,
            },
            t,
        ))
    }

    /// An MAA token for `runtime_data` from the MAA at `maa_endpoint` (a host, as upstream
    /// takes it, or a base URL).
    pub async fn maa_token(&self, maa_endpoint: &str, runtime_data: &[u8]) -> Result<SecretString> {
        let evidence = self.evidence(runtime_data).await?;
        self.maa_token_for(maa_endpoint, runtime_data, &evidence)
            .await
    }

    /// An MAA token for evidence already taken for `runtime_data`.
    pub async fn maa_token_for(
        &self,
        maa_endpoint: &str,
        runtime_data: &[u8],
        evidence: &Evidence,
    ) -> Result<SecretString> {
        if maa_endpoint.trim().is_empty() {
            return Err(ReleaseError::Request("maa_endpoint is empty".into()));
        }
        let mut client = MaaClient::new(self.http.clone(), maa_endpoint);
        if let Some(ua) = &self.maa_user_agent {
            client = client.with_user_agent(ua.clone());
        }
        let uvm = (!self.uvm.reference_info.is_empty()).then_some(&self.uvm.reference_info[..]);
        client
            .attest(&maa::Evidence {
                report: &evidence.report,
                vcek_chain_pem: &evidence.chain_pem,
                uvm_endorsement: uvm,
                runtime_data,
            })
            .await
            .map_err(|source| ReleaseError::Maa {
                endpoint: maa_endpoint.to_string(),
                source: Box::new(source),
            })
    }
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
