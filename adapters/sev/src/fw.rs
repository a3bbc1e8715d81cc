//! Firmware and VMM error codes, decoded into what happened and what a person can do.
//!
//! Firmware status codes are the SEV_RET values of the AMD SEV and SEV-SNP firmware ABI (the
//! kernel's `psp-sev.h`); the VMM codes are the upper half of EXIT_INFO_2 of a guest request (the
//! kernel's `sev-guest.h`). MSG_REPORT_RSP's own STATUS field uses the same firmware numbering.

use std::fmt;

/// EXIT_INFO_2 bits 31..0: the firmware's status.
const FW_ERR_MASK: u64 = 0xFFFF_FFFF;
/// EXIT_INFO_2 bits 63..32: the VMM's status.
const VMM_ERR_SHIFT: u32 = 32;

/// VMM error: the certificate buffer of an extended request is too small.
pub const VMM_ERR_INVALID_LEN: u32 = 1;
/// VMM error: the host is busy (throttling guest requests).
pub const VMM_ERR_BUSY: u32 = 2;

/// The kernel's "the firmware was never called" marker (SEV_RET_NO_FW_CALL, -1).
pub const FW_NO_CALL: u32 = u32::MAX;

/// Splits EXIT_INFO_2 into firmware and VMM error codes.
pub fn split_exitinfo2(v: u64) -> (u32, u32) {
    ((v & FW_ERR_MASK) as u32, (v >> VMM_ERR_SHIFT) as u32)
}

/// A firmware status code with its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmwareStatus(pub u32);

impl FirmwareStatus {
    /// The SEV_RET name of the code, if known (the core's table).
    pub fn name(self) -> Option<&'static str> {
        csc_core::guest::FirmwareStatus(self.0).name()
    }

    /// What it means for a guest asking for a report, and what to do.
    pub fn advice(self) -> &'static str {
        match self.0 {
            0x00 => "no error",
            0x07 => "the guest policy does not allow this request",
            0x08 | 0x10 => {
                "the firmware considers this guest inactive or unknown; the VM must be restarted"
            }
            0x09 | 0x04 | 0x11 => {
                "the firmware rejected the request's buffers or command: a driver or library bug, please report it"
            }
            0x13 | 0x14 | 0x18 => {
                "the platform reported a hardware or integrity error; tell the host's administrator"
            }
            0x15 => {
                "the firmware does not support this request; the host's SEV firmware may need an update"
            }
            0x16 => {
                "the firmware rejected a parameter: usually a VMPL more privileged than the one the guest runs at (ask for the guest's own VMPL or a higher number)"
            }
            0x17 => "the firmware is out of resources; retry later",
            0x27 => {
                "the requested signing key is not available (for example a VLEK that the host has not loaded)"
            }
            FW_NO_CALL => {
                "the request never reached the firmware (the kernel or the host refused it first); see the kernel log"
            }
            _ => {
                "unexpected firmware status for a guest request; see the kernel log and AMD's SEV-SNP firmware ABI"
            }
        }
    }
}

impl fmt::Display for FirmwareStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) if self.0 == FW_NO_CALL => write!(f, "{n}: {}", self.advice()),
            Some(n) => write!(f, "0x{:x} {n}: {}", self.0, self.advice()),
            None => write!(f, "0x{:x}: {}", self.0, self.advice()),
        }
    }
}

/// A VMM (host) error code of a guest request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmmStatus(pub u32);

impl fmt::Display for VmmStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            VMM_ERR_INVALID_LEN => write!(
                f,
                "{} INVALID_LEN: the certificate buffer is too small for the host's certificates",
                self.0
            ),
            VMM_ERR_BUSY => write!(
                f,
                "{} BUSY: the host is throttling guest requests; retry in a few seconds",
                self.0
            ),
            v => write!(
                f,
                "{v}: unknown host (VMM) error; the hypervisor refused the guest request"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exitinfo2_halves() {
        assert_eq!(split_exitinfo2(0x1_0000_0000), (0, VMM_ERR_INVALID_LEN));
        assert_eq!(split_exitinfo2(0x2_0000_0016), (0x16, VMM_ERR_BUSY));
        assert_eq!(split_exitinfo2(u64::from(u32::MAX)), (FW_NO_CALL, 0));
    }

    #[test]
    fn messages_name_the_code_and_the_remedy() {
        let m = FirmwareStatus(0x16).to_string();
        assert!(m.starts_with("0x16 INVALID_PARAM"), "{m}");
        assert!(m.contains("VMPL"), "{m}");
        assert!(FirmwareStatus(0x27).to_string().contains("INVALID_KEY"));
        assert!(
            FirmwareStatus(FW_NO_CALL)
                .to_string()
                .starts_with("NO_FW_CALL")
        );
        assert!(
            FirmwareStatus(0x99)
                .to_string()
                .starts_with("0x99: unexpected")
        );
        assert!(VmmStatus(2).to_string().contains("throttling"));
        assert!(VmmStatus(7).to_string().contains("unknown"));
        for code in 0..0x28 {
            assert!(!FirmwareStatus(code).to_string().is_empty());
        }
    }
}
