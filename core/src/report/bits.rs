//! Typed readings of the report's bit fields: guest policy, platform info and signer info.
//!
//! Raw values stay available; bits that the known ABI versions reserve are reported, never
//! rejected, because newer firmware defines new ones.

use core::fmt;

use crate::abi::{platform_info as pi, policy as pol, signer_info as si};

const fn bit(value: u64, n: u32) -> bool {
    (value >> n) & 1 == 1
}

/// GUEST_POLICY, the policy the guest owner set at launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    /// Minimum ABI minor version required.
    pub const fn abi_minor(self) -> u8 {
        self.0.to_le_bytes()[0]
    }
    /// Minimum ABI major version required.
    pub const fn abi_major(self) -> u8 {
        self.0.to_le_bytes()[1]
    }
    /// SMT is allowed.
    pub const fn smt_allowed(self) -> bool {
        bit(self.0, pol::SMT)
    }
    /// The reserved must-be-one bit (17) is set, as the ABI requires.
    pub const fn reserved_mbo_set(self) -> bool {
        bit(self.0, pol::RESERVED_MBO)
    }
    /// A migration agent may be associated.
    pub const fn migrate_ma_allowed(self) -> bool {
        bit(self.0, pol::MIGRATE_MA)
    }
    /// Debugging is allowed: the host can read and write guest memory.
    pub const fn debug_allowed(self) -> bool {
        bit(self.0, pol::DEBUG)
    }
    /// The guest is restricted to a single socket.
    pub const fn single_socket(self) -> bool {
        bit(self.0, pol::SINGLE_SOCKET)
    }
    /// CXL devices or memory are allowed.
    pub const fn cxl_allowed(self) -> bool {
        bit(self.0, pol::CXL_ALLOW)
    }
    /// AES-256-XTS memory encryption is required.
    pub const fn mem_aes_256_xts(self) -> bool {
        bit(self.0, pol::MEM_AES_256_XTS)
    }
    /// RAPL must be disabled.
    pub const fn rapl_dis(self) -> bool {
        bit(self.0, pol::RAPL_DIS)
    }
    /// Ciphertext hiding must be enabled.
    pub const fn ciphertext_hiding(self) -> bool {
        bit(self.0, pol::CIPHERTEXT_HIDING)
    }
    /// The page swap command is disabled.
    pub const fn page_swap_disable(self) -> bool {
        bit(self.0, pol::PAGE_SWAP_DISABLE)
    }
    /// Bits above the highest bit the known ABI versions define.
    pub const fn unknown_bits(self) -> u64 {
        self.0 & !((1u64 << (pol::MAX_KNOWN_BIT + 1)) - 1)
    }
}

/// PLATFORM_INFO: how the platform was configured when the report was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlatformInfo(pub u64);

impl PlatformInfo {
    /// SMT is enabled.
    pub const fn smt_enabled(self) -> bool {
        bit(self.0, pi::SMT_EN)
    }
    /// Transparent SME is enabled.
    pub const fn tsme_enabled(self) -> bool {
        bit(self.0, pi::TSME_EN)
    }
    /// ECC memory is in use.
    pub const fn ecc_enabled(self) -> bool {
        bit(self.0, pi::ECC_EN)
    }
    /// RAPL is disabled.
    pub const fn rapl_disabled(self) -> bool {
        bit(self.0, pi::RAPL_DIS)
    }
    /// Ciphertext hiding is enabled for DRAM.
    pub const fn ciphertext_hiding_enabled(self) -> bool {
        bit(self.0, pi::CIPHERTEXT_HIDING_EN)
    }
    /// Memory alias detection completed with no aliases (the BadRAM mitigation).
    pub const fn alias_check_complete(self) -> bool {
        bit(self.0, pi::ALIAS_CHECK_COMPLETE)
    }
    /// SEV-TIO is enabled.
    pub const fn tio_enabled(self) -> bool {
        bit(self.0, pi::TIO_EN)
    }
    /// Bits the known ABI versions do not define (6 and 8..=63).
    pub const fn unknown_bits(self) -> u64 {
        self.0 & !0b1011_1111
    }
}

/// Which key signed the report (SIGNING_KEY, bits 4:2 at 0x48).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningKey {
    /// Versioned Chip Endorsement Key.
    Vcek,
    /// Versioned Loaded Endorsement Key.
    Vlek,
    /// No key: the report is unsigned.
    None,
    /// A value the ABI reserves (2..=6).
    Reserved(u8),
}

impl SigningKey {
    /// A stable lowercase name for JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            SigningKey::Vcek => "vcek",
            SigningKey::Vlek => "vlek",
            SigningKey::None => "none",
            SigningKey::Reserved(_) => "reserved",
        }
    }
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningKey::Vcek => f.write_str("VCEK"),
            SigningKey::Vlek => f.write_str("VLEK"),
            SigningKey::None => f.write_str("none"),
            SigningKey::Reserved(v) => write!(f, "reserved ({v})"),
        }
    }
}

/// The u32 at 0x48: AUTHOR_KEY_EN, MASK_CHIP_KEY and SIGNING_KEY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignerInfo(pub u32);

impl SignerInfo {
    /// AUTHOR_KEY_EN: AUTHOR_KEY_DIGEST holds the digest of the author key.
    pub const fn author_key_en(self) -> bool {
        bit(self.0 as u64, si::AUTHOR_KEY_EN)
    }
    /// MASK_CHIP_KEY: CHIP_ID is all zeros by the guest's request.
    pub const fn mask_chip_key(self) -> bool {
        bit(self.0 as u64, si::MASK_CHIP_KEY)
    }
    /// SIGNING_KEY: which key signed the report.
    pub const fn signing_key(self) -> SigningKey {
        let v = ((self.0 >> si::SIGNING_KEY_SHIFT) & si::SIGNING_KEY_MASK) as u8;
        match v {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            other => SigningKey::Reserved(other),
        }
    }
    /// Bits 31:5, reserved.
    pub const fn unknown_bits(self) -> u32 {
        self.0 & !0b1_1111
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_bits() {
        let p = GuestPolicy(0x3001f);
        assert_eq!((p.abi_major(), p.abi_minor()), (0, 0x1f));
        assert!(p.smt_allowed() && p.reserved_mbo_set());
        assert!(!p.debug_allowed() && !p.migrate_ma_allowed() && !p.single_socket());
        assert_eq!(p.unknown_bits(), 0);
        assert!(GuestPolicy(1 << 19).debug_allowed());
        assert_eq!(GuestPolicy(1 << 40).unknown_bits(), 1 << 40);
    }

    #[test]
    fn platform_and_signer_bits() {
        let pi = PlatformInfo(37); // 0b100101: SMT, ECC, alias check
        assert!(pi.smt_enabled() && pi.ecc_enabled() && pi.alias_check_complete());
        assert!(!pi.tsme_enabled() && !pi.tio_enabled());
        assert_eq!(PlatformInfo(1 << 6).unknown_bits(), 1 << 6);
        assert_eq!(SignerInfo(0).signing_key(), SigningKey::Vcek);
        assert_eq!(SignerInfo(1 << 2).signing_key(), SigningKey::Vlek);
        assert_eq!(SignerInfo(7 << 2).signing_key(), SigningKey::None);
        assert_eq!(SignerInfo(3 << 2).signing_key(), SigningKey::Reserved(3));
        assert!(SignerInfo(2).mask_chip_key() && SignerInfo(1).author_key_en());
    }
}
