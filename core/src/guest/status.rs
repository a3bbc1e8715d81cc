//! Firmware status codes: the STATUS field of MSG_REPORT_RSP and MSG_KEY_RSP, and the firmware
//! half of EXIT_INFO_2 after a guest request.
//!
//! Source: AMD SEV-SNP firmware ABI specification, table "Status Codes" (the SEV_RET values of the
//! Linux header `psp-sev.h` use the same numbers).

use core::fmt;

use super::error::ResponseError;
use super::header::MessageType;

/// A firmware status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirmwareStatus(pub u32);

impl FirmwareStatus {
    /// SUCCESS.
    pub const SUCCESS: FirmwareStatus = FirmwareStatus(0x00);
    /// INVALID_PARAM: a field of the request is out of range (VMPL, guest SVN, TCB, reserved bits).
    pub const INVALID_PARAM: FirmwareStatus = FirmwareStatus(0x16);
    /// AEAD_OFLOW: the message sequence number would overflow.
    pub const AEAD_OFLOW: FirmwareStatus = FirmwareStatus(0x1D);
    /// INVALID_KEY: the selected key is not available (a VLEK that is not loaded, a VMRK without
    /// a migration agent).
    pub const INVALID_KEY: FirmwareStatus = FirmwareStatus(0x27);
    /// What the Linux driver reports when the firmware was never called (SEV_RET_NO_FW_CALL).
    pub const NO_FW_CALL: FirmwareStatus = FirmwareStatus(u32::MAX);

    /// AMD's name of the code, if it is a known one.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "SUCCESS",
            0x01 => "INVALID_PLATFORM_STATE",
            0x02 => "INVALID_GUEST_STATE",
            0x03 => "INVALID_CONFIG",
            0x04 => "INVALID_LEN",
            0x05 => "ALREADY_OWNED",
            0x06 => "INVALID_CERTIFICATE",
            0x07 => "POLICY_FAILURE",
            0x08 => "INACTIVE",
            0x09 => "INVALID_ADDRESS",
            0x0A => "BAD_SIGNATURE",
            0x0B => "BAD_MEASUREMENT",
            0x0C => "ASID_OWNED",
            0x0D => "INVALID_ASID",
            0x0E => "WBINVD_REQUIRED",
            0x0F => "DFFLUSH_REQUIRED",
            0x10 => "INVALID_GUEST",
            0x11 => "INVALID_COMMAND",
            0x12 => "ACTIVE",
            0x13 => "HWERROR_PLATFORM",
            0x14 => "HWERROR_UNSAFE",
            0x15 => "UNSUPPORTED",
            0x16 => "INVALID_PARAM",
            0x17 => "RESOURCE_LIMIT",
            0x18 => "SECURE_DATA_INVALID",
            0x19 => "INVALID_PAGE_SIZE",
            0x1A => "INVALID_PAGE_STATE",
            0x1B => "INVALID_MDATA_ENTRY",
            0x1C => "INVALID_PAGE_OWNER",
            0x1D => "AEAD_OFLOW",
            0x1F => "RING_BUFFER_EXIT",
            0x20 => "RMP_INIT_REQUIRED",
            0x21 => "BAD_SVN",
            0x22 => "BAD_VERSION",
            0x23 => "SHUTDOWN_REQUIRED",
            0x24 => "UPDATE_FAILED",
            0x25 => "RESTORE_REQUIRED",
            0x26 => "RMP_INITIALIZATION_FAILED",
            0x27 => "INVALID_KEY",
            u32::MAX => "NO_FW_CALL",
            _ => return None,
        })
    }
}

impl fmt::Display for FirmwareStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) if self.0 == u32::MAX => f.write_str(n),
            Some(n) => write!(f, "0x{:x} {n}", self.0),
            None => write!(f, "0x{:x}", self.0),
        }
    }
}

/// Reads the STATUS word that starts a decrypted response payload (`message`): Ok if it is
/// SUCCESS, else the firmware's refusal; a payload too short to hold it is a length error.
pub(crate) fn check_response_status(
    plain: &[u8],
    message: MessageType,
) -> Result<(), ResponseError> {
    let status = plain
        .first_chunk::<4>()
        .map(|b| u32::from_le_bytes(*b))
        .ok_or(ResponseError::PayloadLength {
            message,
            expected: 4,
            actual: plain.len(),
        })?;
    if status != 0 {
        return Err(ResponseError::Status {
            message,
            status: FirmwareStatus(status),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn names() {
        assert_eq!(
            FirmwareStatus::INVALID_PARAM.to_string(),
            "0x16 INVALID_PARAM"
        );
        assert_eq!(FirmwareStatus(0x27).to_string(), "0x27 INVALID_KEY");
        assert_eq!(FirmwareStatus::NO_FW_CALL.to_string(), "NO_FW_CALL");
        assert_eq!(FirmwareStatus(0x99).to_string(), "0x99");
        assert_eq!(FirmwareStatus(0x1E).name(), None);
    }
}
