//! What carries a guest message to the PSP and back: the caller's side of the GHCB protocol.
//!
//! On hardware the guest copies the sealed request into a page it shares with the hypervisor,
//! names that page and a response page in an SNP guest request (`VMGEXIT` with exit code
//! `SNP_GUEST_REQUEST` through the GHCB, or the kernel's ioctl when a driver owns the GHCB), and
//! copies the answer back out of the shared response page. How that is done depends on the
//! environment (firmware, early init, a test), so the core asks only for [`GuestTransport`].

use core::fmt;

use super::status::FirmwareStatus;

/// Sends one sealed request message and receives the response message.
///
/// Contract:
/// - `request` is a whole message (header and encrypted payload); deliver it unchanged. It may be
///   delivered more than once (for example when the host answers that it is busy): the bytes are
///   identical, so no nonce is reused. Never deliver an altered copy.
/// - Copy the response page into `response`, up to `response.len()` bytes. `response` is the
///   caller's private memory: the core checks and decrypts it in place, so it must not be a page
///   the hypervisor can still write.
/// - Return an error when the hypervisor or the firmware reported one (EXIT_INFO_2 non-zero, or
///   a host that never answered). Any error wipes the channel's key: the PSP may have consumed
///   the sequence number, and sending a different message under the same number would reuse
///   an AES-GCM nonce.
pub trait GuestTransport {
    /// Why the exchange failed.
    type Error: fmt::Debug + fmt::Display;

    /// Delivers `request` and fills `response` with the PSP's answer.
    fn exchange(&mut self, request: &[u8], response: &mut [u8]) -> Result<(), Self::Error>;
}

impl<T: GuestTransport + ?Sized> GuestTransport for &mut T {
    type Error = T::Error;

    fn exchange(&mut self, request: &[u8], response: &mut [u8]) -> Result<(), Self::Error> {
        (**self).exchange(request, response)
    }
}

/// EXIT_INFO_2 of a failed SNP guest request: the firmware status in bits 31..0, the
/// hypervisor's error in bits 63..32 (GHCB specification). A transport may use it as its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo2(pub u64);

impl ExitInfo2 {
    /// Host error: the certificate buffer of an extended request is too small.
    pub const VMM_INVALID_LEN: u32 = 1;
    /// Host error: the host is throttling guest requests (resend the same request later).
    pub const VMM_BUSY: u32 = 2;

    /// The firmware status.
    pub const fn firmware(self) -> FirmwareStatus {
        FirmwareStatus(self.0 as u32)
    }

    /// The hypervisor's error code.
    pub const fn vmm(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

impl fmt::Display for ExitInfo2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.vmm() {
            0 => write!(
                f,
                "the firmware failed the guest request: {}",
                self.firmware()
            ),
            Self::VMM_INVALID_LEN => f.write_str(
                "the host said the certificate buffer is too small (VMM error 1 INVALID_LEN)",
            ),
            Self::VMM_BUSY => {
                f.write_str("the host is throttling guest requests (VMM error 2 BUSY)")
            }
            v => write!(f, "the host refused the guest request (VMM error {v})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn exit_info_2_names_both_halves() {
        assert_eq!(
            ExitInfo2(0x16).to_string(),
            "the firmware failed the guest request: 0x16 INVALID_PARAM"
        );
        assert!(ExitInfo2(2 << 32).to_string().contains("BUSY"));
        assert!(ExitInfo2(1 << 32).to_string().contains("INVALID_LEN"));
        assert!(ExitInfo2(9 << 32).to_string().contains("VMM error 9"));
        assert_eq!(ExitInfo2(0x2_0000_0016).firmware(), FirmwareStatus(0x16));
    }
}
