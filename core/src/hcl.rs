//! The Azure vTPM "HCL report": an SNP report wrapped with the runtime data it binds.
//!
//! Azure confidential VMs expose, in vTPM NV index 0x01400001, a blob that starts with a 32-byte
//! header (`HCLA`, version, report size, request type, status, reserved), holds the 1184-byte SNP
//! report at 0x20, then the IGVM request data (five little-endian u32: data size, version,
//! report type, runtime-data hash type, variable data size) and the variable data (a JSON JWK
//! set). The report's REPORT_DATA starts with the hash of the variable data.

use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::abi;
use crate::error::HclError;
use crate::report::{Product, Report};
use crate::verify::{BindingError, HCL_DIGEST_MAX, HCL_DIGEST_SHOWN};

/// The header magic.
pub const MAGIC: &[u8; 4] = b"HCLA";
/// Offset of the SNP report.
pub const REPORT_OFFSET: usize = 0x20;
/// Offset of the IGVM request data that follows the report.
pub const REQUEST_DATA_OFFSET: usize = REPORT_OFFSET + abi::REPORT_SIZE;
/// Size of the IGVM request data header.
pub const REQUEST_DATA_SIZE: usize = 20;
/// Offset of the variable (runtime) data.
pub const VARIABLE_DATA_OFFSET: usize = REQUEST_DATA_OFFSET + REQUEST_DATA_SIZE;
/// `report_type` for SEV-SNP.
pub const REPORT_TYPE_SNP: u32 = 2;

/// Hash algorithm that binds the runtime data into REPORT_DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeHash {
    /// SHA-256 (hash type 1), the one Azure uses.
    Sha256,
    /// SHA-384 (hash type 2).
    Sha384,
    /// SHA-512 (hash type 3).
    Sha512,
}

impl RuntimeHash {
    /// The algorithm's name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            RuntimeHash::Sha256 => "SHA-256",
            RuntimeHash::Sha384 => "SHA-384",
            RuntimeHash::Sha512 => "SHA-512",
        }
    }
}

/// A parsed HCL report.
#[derive(Debug, Clone, Copy)]
pub struct HclReport<'a> {
    report: Report<'a>,
    report_type: u32,
    hash: RuntimeHash,
    runtime_data: &'a [u8],
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(src) = bytes.get(at..at.saturating_add(4)) {
        b.copy_from_slice(src);
    }
    u32::from_le_bytes(b)
}

impl<'a> HclReport<'a> {
    /// Parses an HCL report; `product` is the hint for a version 1/2 inner report.
    pub fn parse(bytes: &'a [u8], product: Option<Product>) -> Result<Self, HclError> {
        if bytes.len() < VARIABLE_DATA_OFFSET {
            return Err(HclError::TooShort {
                needed: VARIABLE_DATA_OFFSET,
                actual: bytes.len(),
            });
        }
        if bytes.get(..4) != Some(MAGIC.as_slice()) {
            return Err(HclError::Magic);
        }
        let report_bytes =
            bytes
                .get(REPORT_OFFSET..REQUEST_DATA_OFFSET)
                .ok_or(HclError::TooShort {
                    needed: VARIABLE_DATA_OFFSET,
                    actual: bytes.len(),
                })?;
        let report = Report::parse_with_product(report_bytes, product)?;
        let report_type = u32_at(bytes, REQUEST_DATA_OFFSET + 8);
        if report_type != REPORT_TYPE_SNP {
            return Err(HclError::ReportType { report_type });
        }
        let hash_type = u32_at(bytes, REQUEST_DATA_OFFSET + 12);
        let hash = match hash_type {
            1 => RuntimeHash::Sha256,
            2 => RuntimeHash::Sha384,
            3 => RuntimeHash::Sha512,
            _ => return Err(HclError::HashType { hash_type }),
        };
        let claimed = u32_at(bytes, REQUEST_DATA_OFFSET + 16) as usize;
        let rest = bytes.get(VARIABLE_DATA_OFFSET..).unwrap_or(&[]);
        let runtime_data = rest.get(..claimed).ok_or(HclError::VariableData {
            claimed,
            available: rest.len(),
        })?;
        Ok(HclReport {
            report,
            report_type,
            hash,
            runtime_data,
        })
    }

    /// The SNP report inside.
    pub fn report(&self) -> &Report<'a> {
        &self.report
    }
    /// The IGVM report type (2 = SNP).
    pub fn report_type(&self) -> u32 {
        self.report_type
    }
    /// The hash that binds the runtime data.
    pub fn runtime_hash(&self) -> RuntimeHash {
        self.hash
    }
    /// The variable (runtime) data, typically a JSON JWK set with the vTPM keys.
    pub fn runtime_data(&self) -> &'a [u8] {
        self.runtime_data
    }

    /// The hash of the variable data, in the algorithm the header names: the digest bytes
    /// (zero-padded) and their number.
    pub fn runtime_data_digest(&self) -> ([u8; HCL_DIGEST_MAX], usize) {
        let mut digest = [0u8; HCL_DIGEST_MAX];
        let n = match self.hash {
            RuntimeHash::Sha256 => copy_digest(&Sha256::digest(self.runtime_data), &mut digest),
            RuntimeHash::Sha384 => copy_digest(&Sha384::digest(self.runtime_data), &mut digest),
            RuntimeHash::Sha512 => copy_digest(&Sha512::digest(self.runtime_data), &mut digest),
        };
        (digest, n)
    }

    /// Checks that REPORT_DATA begins with the hash of the variable data (the rest is not
    /// checked: Azure zero-fills it for SHA-256). The report's signature covers REPORT_DATA but
    /// not the variable data, so without this check the runtime keys could be swapped.
    pub fn check_binding(&self) -> Result<(), BindingError> {
        let (computed, n) = self.runtime_data_digest();
        let rd = self.report.report_data();
        if rd.get(..n) == computed.get(..n) {
            return Ok(());
        }
        let shown = |src: &[u8]| {
            let mut out = [0u8; HCL_DIGEST_SHOWN];
            for (o, i) in out.iter_mut().zip(src) {
                *o = *i;
            }
            out
        };
        Err(BindingError::HclVariableData {
            hash: self.hash,
            computed: shown(&computed),
            report_data: shown(rd),
            len: u8::try_from(n).unwrap_or(u8::MAX),
        })
    }

    /// True if REPORT_DATA begins with the hash of the runtime data ([`Self::check_binding`]).
    pub fn runtime_data_bound(&self) -> bool {
        self.check_binding().is_ok()
    }
}

fn copy_digest(d: &[u8], out: &mut [u8; HCL_DIGEST_MAX]) -> usize {
    for (o, i) in out.iter_mut().zip(d) {
        *o = *i;
    }
    d.len().min(HCL_DIGEST_MAX)
}
