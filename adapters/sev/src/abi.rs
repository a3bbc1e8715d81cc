//! The kernel ABI of the SEV guest drivers: ioctl numbers and argument structs, named once, with
//! the only unsafe code of the crate (three `ioctl(2)` calls).
//!
//! Sources: Linux `include/uapi/linux/sev-guest.h` (6.1+: `snp_report_req`, `snp_report_resp`,
//! `snp_derived_key_req`, `snp_derived_key_resp`, `snp_ext_report_req`,
//! `snp_guest_request_ioctl`, `SNP_GET_REPORT`, `SNP_GET_DERIVED_KEY`, `SNP_GET_EXT_REPORT`),
//! the out-of-tree SNP guest driver of the 5.15 kernels that ACI's utility VMs ran (`/dev/sev`,
//! `SEV_SNP_GUEST_MSG_REPORT`), and the AMD SEV-SNP firmware ABI (MSG_REPORT_REQ and
//! MSG_REPORT_RSP, MSG_KEY_REQ and MSG_KEY_RSP). Layouts are asserted at compile time and tested against the literal values
//! of the specification.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use csc_core::abi::{REPORT_SIZE, size};

/// `_IOC_WRITE | _IOC_READ`, the direction bits of an `_IOWR` ioctl.
const IOC_READ_WRITE: u32 = 3;

/// `_IOWR(ty, nr, size)` as the kernel's `asm-generic/ioctl.h` composes it: direction in bits
/// 31..30, argument size in 29..16, type in 15..8, number in 7..0.
pub const fn iowr(ty: u8, nr: u8, size: usize) -> u32 {
    (IOC_READ_WRITE << 30) | ((size as u32 & 0x3FFF) << 16) | ((ty as u32) << 8) | nr as u32
}

/// The ioctl type letter of both SEV guest drivers.
pub const IOC_TYPE: u8 = b'S';

/// `SNP_GET_REPORT` of `/dev/sev-guest` (Linux 6.1+).
pub const SNP_GET_REPORT: u32 = iowr(IOC_TYPE, 0, size_of::<SnpGuestRequestIoctl>());
/// `SNP_GET_DERIVED_KEY` of `/dev/sev-guest` (Linux 6.1+).
pub const SNP_GET_DERIVED_KEY: u32 = iowr(IOC_TYPE, 1, size_of::<SnpGuestRequestIoctl>());
/// `SNP_GET_EXT_REPORT` of `/dev/sev-guest` (Linux 6.1+).
pub const SNP_GET_EXT_REPORT: u32 = iowr(IOC_TYPE, 2, size_of::<SnpGuestRequestIoctl>());
/// `SEV_SNP_GUEST_MSG_REPORT` of `/dev/sev` (the 5.15 guest driver).
pub const SEV_SNP_GUEST_MSG_REPORT: u32 = iowr(IOC_TYPE, 1, size_of::<LegacyGuestRequest>());

/// The `msg_version` both drivers require.
pub const MSG_VERSION: u8 = 1;
/// SNP guest message type MSG_REPORT_REQ.
pub const MSG_REPORT_REQ: u8 = 5;
/// SNP guest message type MSG_REPORT_RSP.
pub const MSG_REPORT_RSP: u8 = 6;

/// Size of `snp_report_resp`, the response buffer of `/dev/sev-guest`.
pub const SNP_REPORT_RESP_SIZE: usize = 4000;
/// Size of `snp_derived_key_resp`: the decrypted MSG_KEY_RSP (STATUS, reserved, DERIVED_KEY).
pub const SNP_DERIVED_KEY_RESP_SIZE: usize = 64;
/// Size of MSG_REPORT_RSP as `/dev/sev` returns it (header, report, padding).
pub const LEGACY_RESP_SIZE: usize = 1280;
/// Offset of the report in MSG_REPORT_RSP.
pub const RSP_REPORT_OFFSET: usize = 0x20;

/// MSG_REPORT_REQ (`snp_report_req`): what the guest asks the firmware for.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct SnpReportReq {
    /// REPORT_DATA.
    pub user_data: [u8; size::REPORT_DATA],
    /// VMPL to report at.
    pub vmpl: u32,
    /// Reserved, zero (newer firmware: KEY_SEL in bits 1:0 of the first u32; 0 = default key).
    pub rsvd: [u8; 28],
}

/// MSG_KEY_REQ (`snp_derived_key_req`), which the kernel passes to the firmware unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SnpDerivedKeyReq {
    /// ROOT_KEY_SELECT in bit 0 (0 = VCEK, 1 = VMRK), KEY_SEL in bits 2:1 (ABI 1.55+).
    pub root_key_select: u32,
    /// Reserved, zero.
    pub rsvd: u32,
    /// GUEST_FIELD_SELECT.
    pub guest_field_select: u64,
    /// VMPL to mix in.
    pub vmpl: u32,
    /// GUEST_SVN to mix in.
    pub guest_svn: u32,
    /// TCB_VERSION to mix in.
    pub tcb_version: u64,
}

impl SnpDerivedKeyReq {
    /// The kernel struct for `request`, field by field from the core's MSG_KEY_REQ encoding.
    pub fn new(request: &csc_core::guest::KeyRequest) -> Self {
        let b = request.encode();
        let u32_at = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let u64_at = |at: usize| u64::from(u32_at(at)) | (u64::from(u32_at(at + 4)) << 32);
        SnpDerivedKeyReq {
            root_key_select: u32_at(0),
            rsvd: u32_at(4),
            guest_field_select: u64_at(8),
            vmpl: u32_at(16),
            guest_svn: u32_at(20),
            tcb_version: u64_at(24),
        }
    }
}

/// `snp_ext_report_req`: a report request plus where to put the host's certificates.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct SnpExtReportReq {
    /// The report request.
    pub data: SnpReportReq,
    /// User address of the certificate buffer.
    pub certs_address: u64,
    /// Its length in bytes, a multiple of the page size; the kernel writes back the length it
    /// needs when the buffer is too small.
    pub certs_len: u32,
    /// Tail padding of the C struct.
    pub _pad: u32,
}

/// `snp_guest_request_ioctl`, the argument of every `/dev/sev-guest` request.
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub struct SnpGuestRequestIoctl {
    /// Message version, [`MSG_VERSION`].
    pub msg_version: u8,
    /// Padding.
    pub _pad: [u8; 7],
    /// User address of the request.
    pub req_data: u64,
    /// User address of the response.
    pub resp_data: u64,
    /// EXIT_INFO_2 of the guest request: firmware error in bits 31..0, VMM error in 63..32
    /// (6.1 kernels call the whole u64 `fw_err`).
    pub exitinfo2: u64,
}

/// The 40-byte request of the 5.15 `/dev/sev` driver (System V padding written out).
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub struct LegacyGuestRequest {
    /// [`MSG_REPORT_REQ`].
    pub req_msg_type: u8,
    /// [`MSG_REPORT_RSP`].
    pub rsp_msg_type: u8,
    /// [`MSG_VERSION`].
    pub msg_version: u8,
    /// Padding.
    pub _pad0: u8,
    /// Length of the request (96).
    pub request_len: u16,
    /// Padding.
    pub _pad1: [u8; 2],
    /// User address of the request.
    pub request_uaddr: u64,
    /// Length of the response buffer (1280).
    pub response_len: u16,
    /// Padding.
    pub _pad2: [u8; 6],
    /// User address of the response.
    pub response_uaddr: u64,
    /// Firmware error, out.
    pub error: u32,
    /// Padding.
    pub _pad3: [u8; 4],
}

const _: () = {
    use core::mem::offset_of;
    assert!(size_of::<SnpReportReq>() == 96);
    assert!(offset_of!(SnpReportReq, vmpl) == 64);
    assert!(size_of::<SnpDerivedKeyReq>() == csc_core::guest::key::KEY_REQ_SIZE);
    assert!(offset_of!(SnpDerivedKeyReq, guest_field_select) == 8);
    assert!(offset_of!(SnpDerivedKeyReq, vmpl) == 16);
    assert!(offset_of!(SnpDerivedKeyReq, guest_svn) == 20);
    assert!(offset_of!(SnpDerivedKeyReq, tcb_version) == 24);
    assert!(SNP_DERIVED_KEY_RESP_SIZE == csc_core::guest::key::KEY_RSP_SIZE);
    assert!(size_of::<SnpExtReportReq>() == 112);
    assert!(offset_of!(SnpExtReportReq, certs_address) == 96);
    assert!(offset_of!(SnpExtReportReq, certs_len) == 104);
    assert!(size_of::<SnpGuestRequestIoctl>() == 32);
    assert!(offset_of!(SnpGuestRequestIoctl, req_data) == 8);
    assert!(offset_of!(SnpGuestRequestIoctl, resp_data) == 16);
    assert!(offset_of!(SnpGuestRequestIoctl, exitinfo2) == 24);
    assert!(size_of::<LegacyGuestRequest>() == 40);
    assert!(offset_of!(LegacyGuestRequest, request_len) == 4);
    assert!(offset_of!(LegacyGuestRequest, request_uaddr) == 8);
    assert!(offset_of!(LegacyGuestRequest, response_len) == 16);
    assert!(offset_of!(LegacyGuestRequest, response_uaddr) == 24);
    assert!(offset_of!(LegacyGuestRequest, error) == 32);
    assert!(RSP_REPORT_OFFSET + REPORT_SIZE <= LEGACY_RESP_SIZE);
    assert!(RSP_REPORT_OFFSET + REPORT_SIZE <= SNP_REPORT_RESP_SIZE);
};

impl SnpReportReq {
    /// A request for `report_data` at `vmpl`.
    pub fn new(report_data: &[u8; size::REPORT_DATA], vmpl: u8) -> Self {
        SnpReportReq {
            user_data: *report_data,
            vmpl: vmpl.into(),
            rsvd: [0; 28],
        }
    }
}

/// What an ioctl returned: the errno on failure, and the error word the driver wrote back
/// (EXIT_INFO_2 for `/dev/sev-guest`, the firmware error for `/dev/sev`).
#[derive(Debug)]
pub struct Outcome {
    /// `Err` with the errno when the ioctl failed.
    pub result: io::Result<()>,
    /// The driver's error word, valid whether or not the ioctl failed.
    pub error_word: u64,
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `SNP_GET_REPORT`: `req` in, `resp` (4000 bytes) out.
pub fn snp_get_report(
    fd: BorrowedFd<'_>,
    req: &SnpReportReq,
    resp: &mut [u8; SNP_REPORT_RESP_SIZE],
) -> Outcome {
    let mut arg = SnpGuestRequestIoctl {
        msg_version: MSG_VERSION,
        req_data: std::ptr::from_ref(req) as u64,
        resp_data: resp.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `fd` is an open descriptor borrowed for the call. `arg` is a live, exclusively
    // borrowed `snp_guest_request_ioctl` (layout asserted above) whose size the request number
    // encodes; its `req_data` points to a 96-byte `snp_report_req` the kernel only reads and
    // `resp_data` to a 4000-byte buffer the kernel writes at most 4000 bytes into. Both outlive
    // the call, which is synchronous.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), SNP_GET_REPORT as libc::Ioctl, &raw mut arg) };
    Outcome {
        result: check(rc),
        error_word: arg.exitinfo2,
    }
}

/// `SNP_GET_DERIVED_KEY`: `req` in, `resp` (64 bytes: the decrypted MSG_KEY_RSP) out.
pub fn snp_get_derived_key(
    fd: BorrowedFd<'_>,
    req: &SnpDerivedKeyReq,
    resp: &mut [u8; SNP_DERIVED_KEY_RESP_SIZE],
) -> Outcome {
    let mut arg = SnpGuestRequestIoctl {
        msg_version: MSG_VERSION,
        req_data: std::ptr::from_ref(req) as u64,
        resp_data: resp.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `fd` is an open descriptor borrowed for the call. `arg` is a live, exclusively
    // borrowed `snp_guest_request_ioctl` (layout asserted above) whose size the request number
    // encodes; its `req_data` points to a 32-byte `snp_derived_key_req` the kernel only reads
    // and `resp_data` to a 64-byte buffer the kernel writes at most 64 bytes into. Both outlive
    // the call, which is synchronous.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            SNP_GET_DERIVED_KEY as libc::Ioctl,
            &raw mut arg,
        )
    };
    Outcome {
        result: check(rc),
        error_word: arg.exitinfo2,
    }
}

/// `SNP_GET_EXT_REPORT`: `req` in (its certificate fields are set here from `certs`; the kernel
/// may write the needed length back into `req.certs_len`), `resp` and `certs` out.
pub fn snp_get_ext_report(
    fd: BorrowedFd<'_>,
    req: &mut SnpExtReportReq,
    resp: &mut [u8; SNP_REPORT_RESP_SIZE],
    certs: &mut [u8],
) -> Outcome {
    let Ok(len) = u32::try_from(certs.len()) else {
        return Outcome {
            result: Err(io::Error::from(io::ErrorKind::InvalidInput)),
            error_word: 0,
        };
    };
    req.certs_address = certs.as_mut_ptr() as u64;
    req.certs_len = len;
    let mut arg = SnpGuestRequestIoctl {
        msg_version: MSG_VERSION,
        req_data: std::ptr::from_mut(req) as u64,
        resp_data: resp.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: as in `snp_get_report`; additionally `req.certs_address`/`certs_len` describe
    // `certs`, a live exclusive buffer of exactly that many bytes, into which the kernel copies
    // at most `certs_len` bytes; `req` is exclusively borrowed, so the kernel may write the
    // needed length back into it.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            SNP_GET_EXT_REPORT as libc::Ioctl,
            &raw mut arg,
        )
    };
    Outcome {
        result: check(rc),
        error_word: arg.exitinfo2,
    }
}

/// `SEV_SNP_GUEST_MSG_REPORT` of the 5.15 `/dev/sev`: `req` in, `resp` (1280 bytes) out.
pub fn legacy_get_report(
    fd: BorrowedFd<'_>,
    req: &SnpReportReq,
    resp: &mut [u8; LEGACY_RESP_SIZE],
) -> Outcome {
    let mut arg = LegacyGuestRequest {
        req_msg_type: MSG_REPORT_REQ,
        rsp_msg_type: MSG_REPORT_RSP,
        msg_version: MSG_VERSION,
        request_len: size_of::<SnpReportReq>() as u16,
        request_uaddr: std::ptr::from_ref(req) as u64,
        response_len: LEGACY_RESP_SIZE as u16,
        response_uaddr: resp.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `fd` is open for the call; `arg` is a live exclusive 40-byte request (layout
    // asserted above, size encoded in the request number) pointing to a 96-byte request the
    // driver reads and a 1280-byte response buffer it writes at most `response_len` bytes into;
    // both outlive the synchronous call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            SEV_SNP_GUEST_MSG_REPORT as libc::Ioctl,
            &raw mut arg,
        )
    };
    Outcome {
        result: check(rc),
        error_word: arg.error.into(),
    }
}

/// The system page size (the unit `/dev/sev-guest` counts certificate buffers in).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions and only reads a configuration value.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(v).ok().filter(|v| *v > 0).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn ioctl_numbers_are_the_kernel_abi() {
        // Literal values from the specification (section 2 of upstream-behaviour.md) and the
        // kernel headers: _IOWR('S', 0, 32), _IOWR('S', 2, 32), _IOWR('S', 1, 40).
        assert_eq!(SNP_GET_REPORT, 0xC020_5300);
        assert_eq!(SNP_GET_EXT_REPORT, 0xC020_5302);
        assert_eq!(SEV_SNP_GUEST_MSG_REPORT, 0xC028_5301);
        // SNP_GET_DERIVED_KEY: _IOWR('S', 1, 32).
        assert_eq!(SNP_GET_DERIVED_KEY, 0xC020_5301);
        assert_eq!(iowr(b'S', 1, 32), 0xC020_5301);
        // A well-known ioctl of another driver checks the formula independently:
        // KVM_GET_MSR_INDEX_LIST = _IOWR(0xAE, 0x02, struct kvm_msr_list (4 bytes)).
        assert_eq!(iowr(0xAE, 0x02, 4), 0xC004_AE02);
    }

    #[test]
    fn struct_layouts_are_the_kernel_abi() {
        assert_eq!(size_of::<SnpReportReq>(), 96);
        assert_eq!(offset_of!(SnpReportReq, user_data), 0);
        assert_eq!(offset_of!(SnpReportReq, vmpl), 64);
        assert_eq!(size_of::<SnpDerivedKeyReq>(), 32);
        assert_eq!(offset_of!(SnpDerivedKeyReq, root_key_select), 0);
        assert_eq!(offset_of!(SnpDerivedKeyReq, rsvd), 4);
        assert_eq!(offset_of!(SnpDerivedKeyReq, guest_field_select), 8);
        assert_eq!(offset_of!(SnpDerivedKeyReq, vmpl), 16);
        assert_eq!(offset_of!(SnpDerivedKeyReq, guest_svn), 20);
        assert_eq!(offset_of!(SnpDerivedKeyReq, tcb_version), 24);
        assert_eq!(SNP_DERIVED_KEY_RESP_SIZE, 64);
        assert_eq!(size_of::<SnpExtReportReq>(), 112);
        assert_eq!(offset_of!(SnpExtReportReq, certs_address), 96);
        assert_eq!(offset_of!(SnpExtReportReq, certs_len), 104);
        assert_eq!(size_of::<SnpGuestRequestIoctl>(), 32);
        assert_eq!(offset_of!(SnpGuestRequestIoctl, msg_version), 0);
        assert_eq!(offset_of!(SnpGuestRequestIoctl, req_data), 8);
        assert_eq!(offset_of!(SnpGuestRequestIoctl, resp_data), 16);
        assert_eq!(offset_of!(SnpGuestRequestIoctl, exitinfo2), 24);
        assert_eq!(size_of::<LegacyGuestRequest>(), 40);
        assert_eq!(offset_of!(LegacyGuestRequest, req_msg_type), 0);
        assert_eq!(offset_of!(LegacyGuestRequest, rsp_msg_type), 1);
        assert_eq!(offset_of!(LegacyGuestRequest, msg_version), 2);
        assert_eq!(offset_of!(LegacyGuestRequest, request_len), 4);
        assert_eq!(offset_of!(LegacyGuestRequest, request_uaddr), 8);
        assert_eq!(offset_of!(LegacyGuestRequest, response_len), 16);
        assert_eq!(offset_of!(LegacyGuestRequest, response_uaddr), 24);
        assert_eq!(offset_of!(LegacyGuestRequest, error), 32);
        assert_eq!(RSP_REPORT_OFFSET, 32);
        assert_eq!(LEGACY_RESP_SIZE, 1280);
        assert_eq!(SNP_REPORT_RESP_SIZE, 4000);
    }

    #[test]
    fn request_bytes_are_what_the_firmware_reads() {
        let req = SnpReportReq::new(&[0xAB; 64], 2);
        // View the struct as bytes through its fields: report data, then vmpl little-endian,
        // then 28 zero bytes.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&req.user_data);
        bytes.extend_from_slice(&req.vmpl.to_le_bytes());
        bytes.extend_from_slice(&req.rsvd);
        assert_eq!(bytes.len(), 96);
        assert_eq!(&bytes[64..68], &[2, 0, 0, 0]);
        assert!(bytes[68..].iter().all(|b| *b == 0));
    }

    #[test]
    fn derived_key_request_is_the_firmware_message() {
        use csc_core::guest::{GuestFields, KeyRequest, KeySelect, RootKey};
        use csc_core::source::Vmpl;
        let r = KeyRequest {
            root_key: RootKey::Vmrk,
            key_select: KeySelect::Vcek,
            fields: GuestFields::MEASUREMENT.union(GuestFields::TCB_VERSION),
            vmpl: Vmpl::new(3).unwrap(),
            guest_svn: 7,
            tcb_version: 0xDB18_0000_0000_0004,
        };
        let k = SnpDerivedKeyReq::new(&r);
        // Literal values: ROOT_KEY_SELECT=1 | KEY_SEL=1<<1, fields bits 3 and 5.
        assert_eq!(k.root_key_select, 0b011);
        assert_eq!(k.rsvd, 0);
        assert_eq!(k.guest_field_select, 0b10_1000);
        assert_eq!((k.vmpl, k.guest_svn), (3, 7));
        assert_eq!(k.tcb_version, 0xDB18_0000_0000_0004);
        // The struct's bytes in memory are the MSG_KEY_REQ the core encodes.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&k.root_key_select.to_le_bytes());
        bytes.extend_from_slice(&k.rsvd.to_le_bytes());
        bytes.extend_from_slice(&k.guest_field_select.to_le_bytes());
        bytes.extend_from_slice(&k.vmpl.to_le_bytes());
        bytes.extend_from_slice(&k.guest_svn.to_le_bytes());
        bytes.extend_from_slice(&k.tcb_version.to_le_bytes());
        assert_eq!(bytes, r.encode());
    }

    #[test]
    fn a_regular_file_is_not_a_guest_device() {
        // ENOTTY is what a kernel without the driver (or the wrong file) answers.
        let f = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsFd;
        let req = SnpReportReq::new(&[0; 64], 0);
        let mut resp = Box::new([0u8; SNP_REPORT_RESP_SIZE]);
        let out = snp_get_report(f.as_fd(), &req, &mut resp);
        assert_eq!(out.result.unwrap_err().raw_os_error(), Some(libc::ENOTTY));
        let mut ext = SnpExtReportReq {
            data: req.clone(),
            certs_address: 0,
            certs_len: 0,
            _pad: 0,
        };
        let mut certs = vec![0u8; 4096];
        let out = snp_get_ext_report(f.as_fd(), &mut ext, &mut resp, &mut certs);
        assert_eq!(out.result.unwrap_err().raw_os_error(), Some(libc::ENOTTY));
        assert_eq!(ext.certs_len, 4096);
        let mut key = [0u8; SNP_DERIVED_KEY_RESP_SIZE];
        let out = snp_get_derived_key(f.as_fd(), &SnpDerivedKeyReq::default(), &mut key);
        assert_eq!(out.result.unwrap_err().raw_os_error(), Some(libc::ENOTTY));
        let mut legacy = [0u8; LEGACY_RESP_SIZE];
        let out = legacy_get_report(f.as_fd(), &req, &mut legacy);
        assert_eq!(out.result.unwrap_err().raw_os_error(), Some(libc::ENOTTY));
        assert!(page_size() >= 4096);
    }
}
