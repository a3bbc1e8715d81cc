//! A zero-copy view over an SEV-SNP `ATTESTATION_REPORT`.
//!
//! [`RawReport`] is the `#[repr(C)]` wire layout (AMD SEV-SNP ABI specification, table
//! "ATTESTATION_REPORT Structure"; versions 1 to 5). [`Report`] borrows one and adds typed
//! accessors. Parsing checks only what makes the bytes meaningless if wrong (the length, a known
//! version, the signature algorithm); reserved bits that newer firmware sets are reported by
//! [`Report::reserved_nonzero`], never rejected.

mod bits;
pub mod json;
mod tcb;

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub use bits::{GuestPolicy, PlatformInfo, SignerInfo, SigningKey};
pub use tcb::{Product, TcbLayout, TcbParts, TcbVersion};

use crate::abi::{self, offset, size};
use crate::error::ReportError;

/// The SIGNATURE field in AMD's ECDSA P-384 format (table "ECDSA Signature Format").
#[derive(Debug, Clone, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawSignature {
    /// R, a little-endian integer zero-extended to 72 bytes.
    pub r: [u8; abi::ECDSA_COMPONENT_SIZE],
    /// S, a little-endian integer zero-extended to 72 bytes.
    pub s: [u8; abi::ECDSA_COMPONENT_SIZE],
    /// Reserved.
    pub reserved: [u8; abi::SIGNATURE_SIZE - 2 * abi::ECDSA_COMPONENT_SIZE],
}

/// The wire layout of `ATTESTATION_REPORT`, every field in its raw little-endian form.
#[derive(Debug, Clone, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawReport {
    /// VERSION.
    pub version: U32,
    /// GUEST_SVN.
    pub guest_svn: U32,
    /// POLICY.
    pub policy: U64,
    /// FAMILY_ID.
    pub family_id: [u8; size::FAMILY_ID],
    /// IMAGE_ID.
    pub image_id: [u8; size::IMAGE_ID],
    /// VMPL.
    pub vmpl: U32,
    /// SIGNATURE_ALGO.
    pub signature_algo: U32,
    /// CURRENT_TCB.
    pub current_tcb: U64,
    /// PLATFORM_INFO.
    pub platform_info: U64,
    /// AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY.
    pub signer_info: U32,
    /// Reserved.
    pub reserved0: [u8; 4],
    /// REPORT_DATA.
    pub report_data: [u8; size::REPORT_DATA],
    /// MEASUREMENT.
    pub measurement: [u8; size::MEASUREMENT],
    /// HOST_DATA.
    pub host_data: [u8; size::HOST_DATA],
    /// ID_KEY_DIGEST.
    pub id_key_digest: [u8; size::KEY_DIGEST],
    /// AUTHOR_KEY_DIGEST.
    pub author_key_digest: [u8; size::KEY_DIGEST],
    /// REPORT_ID.
    pub report_id: [u8; size::REPORT_ID],
    /// REPORT_ID_MA.
    pub report_id_ma: [u8; size::REPORT_ID],
    /// REPORTED_TCB.
    pub reported_tcb: U64,
    /// CPUID_FAM_ID (version 3+).
    pub cpuid_fam_id: u8,
    /// CPUID_MOD_ID (version 3+).
    pub cpuid_mod_id: u8,
    /// CPUID_STEP (version 3+).
    pub cpuid_step: u8,
    /// Reserved.
    pub reserved1: [u8; 21],
    /// CHIP_ID.
    pub chip_id: [u8; size::CHIP_ID],
    /// COMMITTED_TCB.
    pub committed_tcb: U64,
    /// CURRENT_BUILD.
    pub current_build: u8,
    /// CURRENT_MINOR.
    pub current_minor: u8,
    /// CURRENT_MAJOR.
    pub current_major: u8,
    /// Reserved.
    pub reserved2: u8,
    /// COMMITTED_BUILD.
    pub committed_build: u8,
    /// COMMITTED_MINOR.
    pub committed_minor: u8,
    /// COMMITTED_MAJOR.
    pub committed_major: u8,
    /// Reserved.
    pub reserved3: u8,
    /// LAUNCH_TCB.
    pub launch_tcb: U64,
    /// LAUNCH_MIT_VECTOR (version 5+).
    pub launch_mit_vector: U64,
    /// CURRENT_MIT_VECTOR (version 5+).
    pub current_mit_vector: U64,
    /// Reserved.
    pub reserved4: [u8; abi::SIGNATURE_OFFSET - 0x208],
    /// SIGNATURE.
    pub signature: RawSignature,
}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<RawSignature>() == abi::SIGNATURE_SIZE);
    assert!(size_of::<RawReport>() == abi::REPORT_SIZE);
    assert!(offset_of!(RawReport, version) == offset::VERSION);
    assert!(offset_of!(RawReport, guest_svn) == offset::GUEST_SVN);
    assert!(offset_of!(RawReport, policy) == offset::POLICY);
    assert!(offset_of!(RawReport, family_id) == offset::FAMILY_ID);
    assert!(offset_of!(RawReport, image_id) == offset::IMAGE_ID);
    assert!(offset_of!(RawReport, vmpl) == offset::VMPL);
    assert!(offset_of!(RawReport, signature_algo) == offset::SIGNATURE_ALGO);
    assert!(offset_of!(RawReport, current_tcb) == offset::CURRENT_TCB);
    assert!(offset_of!(RawReport, platform_info) == offset::PLATFORM_INFO);
    assert!(offset_of!(RawReport, signer_info) == offset::SIGNER_INFO);
    assert!(offset_of!(RawReport, report_data) == offset::REPORT_DATA);
    assert!(offset_of!(RawReport, measurement) == offset::MEASUREMENT);
    assert!(offset_of!(RawReport, host_data) == offset::HOST_DATA);
    assert!(offset_of!(RawReport, id_key_digest) == offset::ID_KEY_DIGEST);
    assert!(offset_of!(RawReport, author_key_digest) == offset::AUTHOR_KEY_DIGEST);
    assert!(offset_of!(RawReport, report_id) == offset::REPORT_ID);
    assert!(offset_of!(RawReport, report_id_ma) == offset::REPORT_ID_MA);
    assert!(offset_of!(RawReport, reported_tcb) == offset::REPORTED_TCB);
    assert!(offset_of!(RawReport, cpuid_fam_id) == offset::CPUID_FAM_ID);
    assert!(offset_of!(RawReport, chip_id) == offset::CHIP_ID);
    assert!(offset_of!(RawReport, committed_tcb) == offset::COMMITTED_TCB);
    assert!(offset_of!(RawReport, current_build) == offset::CURRENT_BUILD);
    assert!(offset_of!(RawReport, committed_build) == offset::COMMITTED_BUILD);
    assert!(offset_of!(RawReport, launch_tcb) == offset::LAUNCH_TCB);
    assert!(offset_of!(RawReport, launch_mit_vector) == offset::LAUNCH_MIT_VECTOR);
    assert!(offset_of!(RawReport, current_mit_vector) == offset::CURRENT_MIT_VECTOR);
    assert!(offset_of!(RawReport, signature) == offset::SIGNATURE);
};

/// A firmware version: major.minor, build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FirmwareVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Build number.
    pub build: u8,
}

impl core::fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{} build {}", self.major, self.minor, self.build)
    }
}

/// CPUID family, model and stepping as the report carries them (version 3+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cpuid {
    /// Family (extended family + base family), e.g. 0x19.
    pub family: u8,
    /// Model (extended model << 4 | base model), e.g. 0x01.
    pub model: u8,
    /// Stepping.
    pub stepping: u8,
}

/// A byte range of the report that the known ABI reserves but that holds non-zero bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedRange {
    /// Offset of the range.
    pub offset: usize,
    /// Length of the range.
    pub len: usize,
}

/// The report's signature components, for the verifier.
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    raw: &'a RawSignature,
}

impl<'a> Signature<'a> {
    /// R as stored: 72 bytes, little-endian.
    pub fn r_le(&self) -> &'a [u8; abi::ECDSA_COMPONENT_SIZE] {
        &self.raw.r
    }
    /// S as stored: 72 bytes, little-endian.
    pub fn s_le(&self) -> &'a [u8; abi::ECDSA_COMPONENT_SIZE] {
        &self.raw.s
    }
    /// R as a 48-byte big-endian P-384 scalar, or `None` if its high 24 bytes are not zero.
    pub fn r_be(&self) -> Option<[u8; abi::P384_SCALAR_SIZE]> {
        scalar_be(&self.raw.r)
    }
    /// S as a 48-byte big-endian P-384 scalar, or `None` if its high 24 bytes are not zero.
    pub fn s_be(&self) -> Option<[u8; abi::P384_SCALAR_SIZE]> {
        scalar_be(&self.raw.s)
    }
    /// The raw 512-byte SIGNATURE field.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw.as_bytes()
    }
}

fn scalar_be(le: &[u8; abi::ECDSA_COMPONENT_SIZE]) -> Option<[u8; abi::P384_SCALAR_SIZE]> {
    let (low, high) = le.split_at(abi::P384_SCALAR_SIZE);
    if high.iter().any(|b| *b != 0) {
        return None;
    }
    let mut out = [0u8; abi::P384_SCALAR_SIZE];
    for (o, i) in out.iter_mut().zip(low.iter().rev()) {
        *o = *i;
    }
    Some(out)
}

/// A parsed attestation report: a borrowed [`RawReport`] plus the product it was made on.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    raw: &'a RawReport,
    product: Option<Product>,
}

impl<'a> Report<'a> {
    /// Reads a report, detecting the product from the CPUID bytes of version 3+ reports.
    ///
    /// Version 1 and 2 reports carry no CPUID bytes: their product is `None` unless given with
    /// [`Report::parse_with_product`], and their TCB values are read with the Milan/Genoa layout
    /// (Turin firmware only emits version 3 or later).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ReportError> {
        Self::parse_with_product(bytes, None)
    }

    /// Reads a report; `hint` names the product for version 1/2 reports. On version 3+ reports
    /// the CPUID bytes decide, and a hint that contradicts them is an error.
    pub fn parse_with_product(bytes: &'a [u8], hint: Option<Product>) -> Result<Self, ReportError> {
        let raw = RawReport::ref_from_bytes(bytes).map_err(|_| ReportError::Length {
            actual: bytes.len(),
        })?;
        let version = raw.version.get();
        if !(abi::MIN_REPORT_VERSION..=abi::MAX_REPORT_VERSION).contains(&version) {
            return Err(ReportError::UnsupportedVersion { version });
        }
        let algo = raw.signature_algo.get();
        if algo != abi::SIG_ALGO_ECDSA_P384_SHA384 {
            return Err(ReportError::SignatureAlgorithm { algo });
        }
        let detected = if version >= abi::REPORT_VERSION_CPUID {
            Product::from_cpuid(raw.cpuid_fam_id, raw.cpuid_mod_id)
        } else {
            None
        };
        let product = match (hint, detected) {
            (Some(h), Some(d)) if h != d => {
                return Err(ReportError::ProductMismatch {
                    hint: h,
                    detected: d,
                });
            }
            (_, Some(d)) => Some(d),
            (h, None) => h,
        };
        Ok(Report { raw, product })
    }

    /// The raw wire struct.
    pub fn raw(&self) -> &'a RawReport {
        self.raw
    }
    /// All 1184 bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw.as_bytes()
    }
    /// The bytes the signature covers, `[0, 0x2A0)`.
    pub fn signed_bytes(&self) -> &'a [u8] {
        let all: &'a [u8] = self.raw.as_bytes();
        all.get(..abi::SIGNED_LEN).unwrap_or(all)
    }
    /// The signature components.
    pub fn signature(&self) -> Signature<'a> {
        Signature {
            raw: &self.raw.signature,
        }
    }

    /// VERSION.
    pub fn version(&self) -> u32 {
        self.raw.version.get()
    }
    /// GUEST_SVN.
    pub fn guest_svn(&self) -> u32 {
        self.raw.guest_svn.get()
    }
    /// POLICY.
    pub fn policy(&self) -> GuestPolicy {
        GuestPolicy(self.raw.policy.get())
    }
    /// FAMILY_ID.
    pub fn family_id(&self) -> &'a [u8; size::FAMILY_ID] {
        &self.raw.family_id
    }
    /// IMAGE_ID.
    pub fn image_id(&self) -> &'a [u8; size::IMAGE_ID] {
        &self.raw.image_id
    }
    /// VMPL the report was requested at.
    pub fn vmpl(&self) -> u32 {
        self.raw.vmpl.get()
    }
    /// SIGNATURE_ALGO (always 1 once parsed).
    pub fn signature_algo(&self) -> u32 {
        self.raw.signature_algo.get()
    }
    /// PLATFORM_INFO.
    pub fn platform_info(&self) -> PlatformInfo {
        PlatformInfo(self.raw.platform_info.get())
    }
    /// AUTHOR_KEY_EN / MASK_CHIP_KEY / SIGNING_KEY.
    pub fn signer_info(&self) -> SignerInfo {
        SignerInfo(self.raw.signer_info.get())
    }
    /// REPORT_DATA.
    pub fn report_data(&self) -> &'a [u8; size::REPORT_DATA] {
        &self.raw.report_data
    }
    /// MEASUREMENT.
    pub fn measurement(&self) -> &'a [u8; size::MEASUREMENT] {
        &self.raw.measurement
    }
    /// HOST_DATA.
    pub fn host_data(&self) -> &'a [u8; size::HOST_DATA] {
        &self.raw.host_data
    }
    /// ID_KEY_DIGEST.
    pub fn id_key_digest(&self) -> &'a [u8; size::KEY_DIGEST] {
        &self.raw.id_key_digest
    }
    /// AUTHOR_KEY_DIGEST.
    pub fn author_key_digest(&self) -> &'a [u8; size::KEY_DIGEST] {
        &self.raw.author_key_digest
    }
    /// REPORT_ID.
    pub fn report_id(&self) -> &'a [u8; size::REPORT_ID] {
        &self.raw.report_id
    }
    /// REPORT_ID_MA.
    pub fn report_id_ma(&self) -> &'a [u8; size::REPORT_ID] {
        &self.raw.report_id_ma
    }
    /// CHIP_ID.
    pub fn chip_id(&self) -> &'a [u8; size::CHIP_ID] {
        &self.raw.chip_id
    }

    /// The product: detected from CPUID (version 3+) or given by the caller.
    pub fn product(&self) -> Option<Product> {
        self.product
    }
    /// CPUID family/model/stepping, for version 3+ reports.
    pub fn cpuid(&self) -> Option<Cpuid> {
        (self.version() >= abi::REPORT_VERSION_CPUID).then_some(Cpuid {
            family: self.raw.cpuid_fam_id,
            model: self.raw.cpuid_mod_id,
            stepping: self.raw.cpuid_step,
        })
    }
    /// The layout of this report's TCB_VERSION fields.
    pub fn tcb_layout(&self) -> TcbLayout {
        match (self.product, self.cpuid()) {
            (Some(p), _) => p.tcb_layout(),
            (None, Some(c)) => TcbLayout::for_family(c.family),
            (None, None) => TcbLayout::Zen3Zen4,
        }
    }
    fn tcb(&self, raw: U64) -> TcbVersion {
        TcbVersion::new(raw.get(), self.tcb_layout())
    }
    /// CURRENT_TCB (upstream calls it platform_version).
    pub fn current_tcb(&self) -> TcbVersion {
        self.tcb(self.raw.current_tcb)
    }
    /// REPORTED_TCB: the TCB the VCEK that signed this report was derived from.
    pub fn reported_tcb(&self) -> TcbVersion {
        self.tcb(self.raw.reported_tcb)
    }
    /// COMMITTED_TCB.
    pub fn committed_tcb(&self) -> TcbVersion {
        self.tcb(self.raw.committed_tcb)
    }
    /// LAUNCH_TCB.
    pub fn launch_tcb(&self) -> TcbVersion {
        self.tcb(self.raw.launch_tcb)
    }
    /// The running firmware version.
    pub fn current_version(&self) -> FirmwareVersion {
        FirmwareVersion {
            major: self.raw.current_major,
            minor: self.raw.current_minor,
            build: self.raw.current_build,
        }
    }
    /// The committed firmware version.
    pub fn committed_version(&self) -> FirmwareVersion {
        FirmwareVersion {
            major: self.raw.committed_major,
            minor: self.raw.committed_minor,
            build: self.raw.committed_build,
        }
    }
    /// LAUNCH_MIT_VECTOR (version 5+).
    pub fn launch_mit_vector(&self) -> Option<u64> {
        (self.version() >= abi::REPORT_VERSION_MIT_VECTORS)
            .then(|| self.raw.launch_mit_vector.get())
    }
    /// CURRENT_MIT_VECTOR (version 5+).
    pub fn current_mit_vector(&self) -> Option<u64> {
        (self.version() >= abi::REPORT_VERSION_MIT_VECTORS)
            .then(|| self.raw.current_mit_vector.get())
    }

    /// Reserved byte ranges (for this report's version) that hold non-zero bytes.
    ///
    /// Newer firmware gives meaning to bytes older ABI versions reserve, so this is a
    /// diagnostic, not an error.
    pub fn reserved_nonzero(&self) -> impl Iterator<Item = ReservedRange> + 'a {
        let version = self.version();
        let bytes: &'a [u8] = self.raw.as_bytes();
        let cpuid_end = if version >= abi::REPORT_VERSION_CPUID {
            0x18B
        } else {
            0x188
        };
        let mit_start = if version >= abi::REPORT_VERSION_MIT_VECTORS {
            0x208
        } else {
            0x1F8
        };
        let ranges: [(usize, usize); 6] = [
            (0x04C, 0x050),
            (cpuid_end, offset::CHIP_ID),
            (0x1EB, 0x1EC),
            (0x1EF, 0x1F0),
            (mit_start, abi::SIGNATURE_OFFSET),
            (
                abi::SIGNATURE_OFFSET + 2 * abi::ECDSA_COMPONENT_SIZE,
                abi::REPORT_SIZE,
            ),
        ];
        ranges.into_iter().filter_map(move |(start, end)| {
            let slice = bytes.get(start..end)?;
            slice.iter().any(|b| *b != 0).then_some(ReservedRange {
                offset: start,
                len: end.saturating_sub(start),
            })
        })
    }
}

#[cfg(test)]
mod tests;
