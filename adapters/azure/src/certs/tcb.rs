//! The TCB refresh logic upstream has, as a reusable piece, without its bugs: a chain is used
//! only when it was issued for the report's REPORTED_TCB; otherwise the chain is refreshed, and
//! if the source still answers another TCB (THIM serves the host's current one), a new report
//! is taken and compared once more. The state is shared safely between concurrent callers and
//! the refreshed chain, not the stale initial one, is what later calls get.

use std::future::Future;
use std::sync::{Arc, Mutex};

use csc_core::report::{Product, Report};

use super::{CertChain, CertFetcher, ThimCerts};
use crate::error::{Error, Result};

/// Certificates for reports, kept in step with the platform's TCB.
#[derive(Debug)]
pub struct CertState {
    fetcher: Arc<CertFetcher>,
    current: Mutex<Option<Arc<CertChain>>>,
    default_product: Product,
}

/// A report together with the chain issued for its REPORTED_TCB.
#[derive(Debug, Clone)]
pub struct Collateral {
    /// The report bytes (a newer report than the one given when a refresh needed one).
    pub report: Vec<u8>,
    /// The chain.
    pub chain: Arc<CertChain>,
}

impl CertState {
    /// Starts from the certificates the platform handed over (UVM security context or THIM),
    /// if any. `default_product` is used for reports that do not name their CPU (version 2).
    pub fn new(
        fetcher: Arc<CertFetcher>,
        initial: Option<&ThimCerts>,
        default_product: Product,
    ) -> Result<Self> {
        let current = match initial {
            Some(t) if !t.is_absent() => Some(Arc::new(t.to_chain()?)),
            _ => None,
        };
        Ok(CertState {
            fetcher,
            current: Mutex::new(current),
            default_product,
        })
    }

    /// The TCB of the chain in use, if any.
    pub fn current_tcb(&self) -> Option<u64> {
        self.lock().as_ref().map(|c| c.tcb)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<CertChain>>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The chain for `report`. `new_report` is called (at most once) when the certificate
    /// source cannot give a chain for the report's TCB, to check whether the platform has
    /// moved to the TCB the certificates are for.
    pub async fn collateral<F, Fut>(&self, report: Vec<u8>, new_report: F) -> Result<Collateral>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>>>,
    {
        let (product, chip, reported) = self.identify(&report)?;
        if let Some(c) = self.lock().clone()
            && c.tcb == reported
        {
            return Ok(Collateral { report, chain: c });
        }
        let chain = self.refresh(product, &chip, reported).await?;
        if chain.tcb == reported {
            return Ok(Collateral { report, chain });
        }
        let newer = new_report().await?;
        let (product, chip, reported) = self.identify(&newer)?;
        let chain = if chain.tcb == reported {
            chain
        } else {
            self.refresh(product, &chip, reported).await?
        };
        if chain.tcb != reported {
            return Err(Error::TcbMismatch {
                reported,
                certificate: chain.tcb,
            });
        }
        Ok(Collateral {
            report: newer,
            chain,
        })
    }

    async fn refresh(
        &self,
        product: Product,
        chip: &[u8],
        reported: u64,
    ) -> Result<Arc<CertChain>> {
        let tcb = csc_core::report::TcbVersion::new(reported, product.tcb_layout());
        let chain = self.fetcher.vcek_chain(product, chip, tcb).await?;
        *self.lock() = Some(chain.clone());
        Ok(chain)
    }

    fn identify(&self, report: &[u8]) -> Result<(Product, Vec<u8>, u64)> {
        let r = Report::parse_with_product(report, Some(self.default_product))
            .or_else(|_| Report::parse(report))
            .map_err(|e| Error::Report(e.to_string()))?;
        let product = r.product().unwrap_or(self.default_product);
        Ok((product, r.chip_id().to_vec(), r.reported_tcb().raw()))
    }
}
