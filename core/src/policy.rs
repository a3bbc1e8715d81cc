//! "Is this the report I expected?": a relying party's checks on a verified report, with its own
//! options type ([`PolicyOptions`]), kept apart from signature and chain verification
//! ([`crate::verify`]).
//!
//! Every check go-sev-guest's `validate.Options` offers is here (except its callback over extra
//! certificate-table entries): exact REPORT_DATA, HOST_DATA, MEASUREMENT, FAMILY_ID, IMAGE_ID,
//! REPORT_ID, REPORT_ID_MA, CHIP_ID; minimum GUEST_SVN, REPORTED_TCB, LAUNCH_TCB, firmware
//! build and API version; provisional firmware; VMPL; guest policy bits; platform info bits;
//! required ID block and author key digests; minimum mitigation vectors. Each failure names
//! the field, what was expected and what was found ([`PolicyError`]); [`violations`] lists
//! all of them, [`check`] stops at the first.

mod checks;
mod value;

pub use value::{PolicyError, Relation, Remedy, Value};

use crate::abi::size;
use crate::report::{Report, TcbParts};

/// Guest policy bits a relying party accepts (go-sev-guest: the "maximum" acceptable policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestPolicyRule {
    /// Lowest acceptable minimum-ABI (major, minor) in the policy.
    pub min_abi: (u8, u8),
    /// Accept a guest the host can debug (read and write its memory). Default: no.
    pub allow_debug: bool,
    /// Accept association with a migration agent. Default: no.
    pub allow_migrate_ma: bool,
    /// Accept SMT. Default: yes (most hosts run with SMT).
    pub allow_smt: bool,
    /// Require the single-socket restriction. Default: no.
    pub require_single_socket: bool,
    /// Accept CXL devices or memory. Default: no.
    pub allow_cxl: bool,
    /// Require AES-256-XTS memory encryption. Default: no.
    pub require_mem_aes_256_xts: bool,
    /// Require RAPL to be disabled. Default: no.
    pub require_rapl_dis: bool,
    /// Require ciphertext hiding. Default: no.
    pub require_ciphertext_hiding: bool,
    /// Require the page swap command to be disabled. Default: no.
    pub require_page_swap_disable: bool,
}

impl Default for GuestPolicyRule {
    fn default() -> Self {
        GuestPolicyRule {
            min_abi: (0, 0),
            allow_debug: false,
            allow_migrate_ma: false,
            allow_smt: true,
            require_single_socket: false,
            allow_cxl: false,
            require_mem_aes_256_xts: false,
            require_rapl_dis: false,
            require_ciphertext_hiding: false,
            require_page_swap_disable: false,
        }
    }
}

/// Platform info bits a relying party accepts (go-sev-guest: the "maximum" platform info).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlatformInfoRule {
    /// Accept SMT enabled on the host.
    pub allow_smt_enabled: bool,
    /// Accept TSME enabled.
    pub allow_tsme_enabled: bool,
    /// Require ECC memory.
    pub require_ecc: bool,
    /// Require RAPL disabled.
    pub require_rapl_disabled: bool,
    /// Require ciphertext hiding enabled.
    pub require_ciphertext_hiding: bool,
    /// Require the memory alias check to have completed.
    pub require_alias_check_complete: bool,
    /// Accept SEV-TIO enabled.
    pub allow_tio_enabled: bool,
}

/// What a relying party expects of a report. `Default` checks only what every report must
/// satisfy: no debug, no migration agent, no CXL, and consistent TCB and firmware values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PolicyOptions<'a> {
    /// Exact REPORT_DATA.
    pub report_data: Option<[u8; size::REPORT_DATA]>,
    /// Exact HOST_DATA.
    pub host_data: Option<[u8; size::HOST_DATA]>,
    /// Exact MEASUREMENT.
    pub measurement: Option<[u8; size::MEASUREMENT]>,
    /// Exact FAMILY_ID.
    pub family_id: Option<[u8; size::FAMILY_ID]>,
    /// Exact IMAGE_ID.
    pub image_id: Option<[u8; size::IMAGE_ID]>,
    /// Exact REPORT_ID.
    pub report_id: Option<[u8; size::REPORT_ID]>,
    /// Exact REPORT_ID_MA.
    pub report_id_ma: Option<[u8; size::REPORT_ID]>,
    /// Exact CHIP_ID.
    pub chip_id: Option<[u8; size::CHIP_ID]>,
    /// Minimum GUEST_SVN.
    pub minimum_guest_svn: u32,
    /// Minimum of each REPORTED_TCB component.
    pub minimum_tcb: Option<TcbParts>,
    /// Minimum of each LAUNCH_TCB component.
    pub minimum_launch_tcb: Option<TcbParts>,
    /// Minimum firmware build (CURRENT_BUILD).
    pub minimum_build: u8,
    /// Minimum firmware API version (CURRENT_MAJOR, CURRENT_MINOR).
    pub minimum_version: (u8, u8),
    /// Accept committed TCB/firmware below the current one (else they must be equal).
    pub permit_provisional_firmware: bool,
    /// Exact VMPL the report was requested at.
    pub vmpl: Option<u32>,
    /// Guest policy bits.
    pub guest_policy: GuestPolicyRule,
    /// Platform info bits; `None`: not checked.
    pub platform_info: Option<PlatformInfoRule>,
    /// Require AUTHOR_KEY_EN and a trusted AUTHOR_KEY_DIGEST (implies `require_id_block`).
    pub require_author_key: bool,
    /// Require an ID block whose ID key (or author key) digest is trusted.
    pub require_id_block: bool,
    /// SHA-384 digests of trusted author keys (SEV-SNP public key format).
    pub trusted_author_key_digests: &'a [[u8; size::KEY_DIGEST]],
    /// SHA-384 digests of trusted ID keys (SEV-SNP public key format).
    pub trusted_id_key_digests: &'a [[u8; size::KEY_DIGEST]],
    /// Bits that must be set in LAUNCH_MIT_VECTOR (version 5+ reports).
    pub minimum_launch_mit_vector: u64,
    /// Bits that must be set in CURRENT_MIT_VECTOR (version 5+ reports).
    pub minimum_current_mit_vector: u64,
}

/// Every violation of `options` by `report`, in a fixed order.
pub fn violations<'r>(
    report: &'r Report<'r>,
    options: &'r PolicyOptions<'r>,
) -> impl Iterator<Item = PolicyError<'r>> + 'r {
    checks::ALL
        .iter()
        .filter_map(move |check| check(report, options).err())
}

/// The first violation of `options` by `report`, if any.
pub fn check<'r>(
    report: &'r Report<'r>,
    options: &'r PolicyOptions<'r>,
) -> Result<(), PolicyError<'r>> {
    checks::ALL
        .iter()
        .try_for_each(|check| check(report, options))
}

#[cfg(test)]
mod tests;
