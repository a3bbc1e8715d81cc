//! Every wire size and offset of the SEV-SNP ABI that this crate reads, named once.
//!
//! Source: AMD SEV Secure Nested Paging Firmware ABI Specification (publication 56860),
//! table "ATTESTATION_REPORT Structure" and "Signature Format for ECDSA P-384 with SHA-384".
//! The offsets here are checked against the `#[repr(C)]` layout of
//! [`crate::report::RawReport`] at compile time.

/// Size of an `ATTESTATION_REPORT` in bytes.
pub const REPORT_SIZE: usize = 0x4A0;
/// The signature covers bytes `[0, SIGNED_LEN)` of the report.
pub const SIGNED_LEN: usize = 0x2A0;
/// Offset of the `SIGNATURE` field.
pub const SIGNATURE_OFFSET: usize = 0x2A0;
/// Size of the `SIGNATURE` field.
pub const SIGNATURE_SIZE: usize = 512;
/// Size of one ECDSA component (R or S) in the AMD signature format, little-endian.
pub const ECDSA_COMPONENT_SIZE: usize = 72;
/// Size of a P-384 scalar: only the low 48 bytes of an ECDSA component may be non-zero.
pub const P384_SCALAR_SIZE: usize = 48;

/// `SIGNATURE_ALGO` value for ECDSA P-384 with SHA-384, the only algorithm AMD defines.
pub const SIG_ALGO_ECDSA_P384_SHA384: u32 = 1;

/// Lowest report version this crate reads (version 1 was emitted by early Milan firmware).
pub const MIN_REPORT_VERSION: u32 = 1;
/// Report version that added the CPUID family/model/stepping bytes.
pub const REPORT_VERSION_CPUID: u32 = 3;
/// Report version that added the launch and current mitigation vectors.
pub const REPORT_VERSION_MIT_VECTORS: u32 = 5;
/// Highest report version this crate knows the layout of.
pub const MAX_REPORT_VERSION: u32 = 5;

/// Field sizes.
pub mod size {
    /// FAMILY_ID and IMAGE_ID.
    pub const FAMILY_ID: usize = 16;
    /// IMAGE_ID.
    pub const IMAGE_ID: usize = 16;
    /// REPORT_DATA, chosen by the guest.
    pub const REPORT_DATA: usize = 64;
    /// MEASUREMENT, the launch digest (SHA-384).
    pub const MEASUREMENT: usize = 48;
    /// HOST_DATA, chosen by the host at launch.
    pub const HOST_DATA: usize = 32;
    /// ID_KEY_DIGEST and AUTHOR_KEY_DIGEST (SHA-384).
    pub const KEY_DIGEST: usize = 48;
    /// REPORT_ID and REPORT_ID_MA.
    pub const REPORT_ID: usize = 32;
    /// CHIP_ID.
    pub const CHIP_ID: usize = 64;
    /// The part of CHIP_ID that Turin VCEK certificates carry as hwID.
    pub const TURIN_HWID: usize = 8;
}

/// Field offsets (AMD's names, lower case).
pub mod offset {
    /// VERSION (u32).
    pub const VERSION: usize = 0x000;
    /// GUEST_SVN (u32).
    pub const GUEST_SVN: usize = 0x004;
    /// POLICY (u64).
    pub const POLICY: usize = 0x008;
    /// FAMILY_ID.
    pub const FAMILY_ID: usize = 0x010;
    /// IMAGE_ID.
    pub const IMAGE_ID: usize = 0x020;
    /// VMPL (u32).
    pub const VMPL: usize = 0x030;
    /// SIGNATURE_ALGO (u32).
    pub const SIGNATURE_ALGO: usize = 0x034;
    /// CURRENT_TCB (TCB_VERSION).
    pub const CURRENT_TCB: usize = 0x038;
    /// PLATFORM_INFO (u64).
    pub const PLATFORM_INFO: usize = 0x040;
    /// AUTHOR_KEY_EN / MASK_CHIP_KEY / SIGNING_KEY (u32).
    pub const SIGNER_INFO: usize = 0x048;
    /// REPORT_DATA.
    pub const REPORT_DATA: usize = 0x050;
    /// MEASUREMENT.
    pub const MEASUREMENT: usize = 0x090;
    /// HOST_DATA.
    pub const HOST_DATA: usize = 0x0C0;
    /// ID_KEY_DIGEST.
    pub const ID_KEY_DIGEST: usize = 0x0E0;
    /// AUTHOR_KEY_DIGEST.
    pub const AUTHOR_KEY_DIGEST: usize = 0x110;
    /// REPORT_ID.
    pub const REPORT_ID: usize = 0x140;
    /// REPORT_ID_MA.
    pub const REPORT_ID_MA: usize = 0x160;
    /// REPORTED_TCB (TCB_VERSION).
    pub const REPORTED_TCB: usize = 0x180;
    /// CPUID_FAM_ID (u8, version 3+).
    pub const CPUID_FAM_ID: usize = 0x188;
    /// CHIP_ID.
    pub const CHIP_ID: usize = 0x1A0;
    /// COMMITTED_TCB (TCB_VERSION).
    pub const COMMITTED_TCB: usize = 0x1E0;
    /// CURRENT_BUILD (u8); CURRENT_MINOR and CURRENT_MAJOR follow.
    pub const CURRENT_BUILD: usize = 0x1E8;
    /// COMMITTED_BUILD (u8); COMMITTED_MINOR and COMMITTED_MAJOR follow.
    pub const COMMITTED_BUILD: usize = 0x1EC;
    /// LAUNCH_TCB (TCB_VERSION).
    pub const LAUNCH_TCB: usize = 0x1F0;
    /// LAUNCH_MIT_VECTOR (u64, version 5+).
    pub const LAUNCH_MIT_VECTOR: usize = 0x1F8;
    /// CURRENT_MIT_VECTOR (u64, version 5+).
    pub const CURRENT_MIT_VECTOR: usize = 0x200;
    /// SIGNATURE.
    pub const SIGNATURE: usize = super::SIGNATURE_OFFSET;
}

/// Guest policy bits (AMD table "GUEST_POLICY").
pub mod policy {
    /// Bits 7:0, minimum ABI minor version.
    pub const ABI_MINOR_SHIFT: u32 = 0;
    /// Bits 15:8, minimum ABI major version.
    pub const ABI_MAJOR_SHIFT: u32 = 8;
    /// SMT is allowed.
    pub const SMT: u32 = 16;
    /// Reserved, must be one.
    pub const RESERVED_MBO: u32 = 17;
    /// Association with a migration agent is allowed.
    pub const MIGRATE_MA: u32 = 18;
    /// Debugging is allowed (the host can decrypt guest memory).
    pub const DEBUG: u32 = 19;
    /// The guest may run on a single socket only.
    pub const SINGLE_SOCKET: u32 = 20;
    /// CXL may be populated with devices or memory.
    pub const CXL_ALLOW: u32 = 21;
    /// AES-256-XTS is required for memory encryption.
    pub const MEM_AES_256_XTS: u32 = 22;
    /// Running Average Power Limit must be disabled.
    pub const RAPL_DIS: u32 = 23;
    /// Ciphertext hiding for DRAM must be enabled.
    pub const CIPHERTEXT_HIDING: u32 = 24;
    /// Guest support for the page swap command is disabled.
    pub const PAGE_SWAP_DISABLE: u32 = 25;
    /// Highest bit defined by the ABI versions this crate knows.
    pub const MAX_KNOWN_BIT: u32 = 25;
}

/// Platform information bits (AMD table "PLATFORM_INFO").
pub mod platform_info {
    /// SMT is enabled in the system.
    pub const SMT_EN: u32 = 0;
    /// Transparent SME is enabled.
    pub const TSME_EN: u32 = 1;
    /// The platform uses error correcting memory.
    pub const ECC_EN: u32 = 2;
    /// RAPL is disabled.
    pub const RAPL_DIS: u32 = 3;
    /// Ciphertext hiding is enabled for DRAM.
    pub const CIPHERTEXT_HIDING_EN: u32 = 4;
    /// Alias detection completed since the last reset, with no aliasing found.
    pub const ALIAS_CHECK_COMPLETE: u32 = 5;
    /// SEV-TIO is enabled.
    pub const TIO_EN: u32 = 7;
}

/// Signer information bits at 0x48.
pub mod signer_info {
    /// AUTHOR_KEY_EN: the author key digest is present.
    pub const AUTHOR_KEY_EN: u32 = 0;
    /// MASK_CHIP_KEY: CHIP_ID is zeroed (version 3+ semantics; earlier versions MBZ).
    pub const MASK_CHIP_KEY: u32 = 1;
    /// SIGNING_KEY, bits 4:2: 0 = VCEK, 1 = VLEK, 7 = none.
    pub const SIGNING_KEY_SHIFT: u32 = 2;
    /// Mask of SIGNING_KEY after shifting.
    pub const SIGNING_KEY_MASK: u32 = 0b111;
}

/// CPUID family numbers of the SEV-SNP products.
pub mod cpuid {
    /// Zen 3 (Milan) and Zen 4 (Genoa, Bergamo, Siena).
    pub const FAMILY_ZEN3_ZEN4: u8 = 0x19;
    /// Zen 5 (Turin).
    pub const FAMILY_ZEN5: u8 = 0x1A;
}
