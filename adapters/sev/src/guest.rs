//! `/dev/sev-guest` (Linux 6.1+): `SNP_GET_REPORT`, `SNP_GET_EXT_REPORT` and
//! `SNP_GET_DERIVED_KEY`, and `/dev/sev` of the 5.15 guest kernels: `SEV_SNP_GUEST_MSG_REPORT`.
//!
//! Each request opens the device, issues one ioctl and closes it again (the descriptor is an
//! `OwnedFd`, closed on every path including errors), so nothing is held between requests.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use csc_core::abi::REPORT_SIZE;
use csc_core::guest::{DerivedKey, KeyRequest, ResponseError};
use csc_core::source::ReportRequest;
use zeroize::Zeroize;

use crate::abi::{self, Outcome, SnpDerivedKeyReq, SnpExtReportReq, SnpReportReq};
use crate::certtable;
use crate::error::SevError;
use crate::fw::{self, FirmwareStatus, VmmStatus};

/// Where Linux 6.1+ exposes the SNP guest driver.
pub const SEV_GUEST_PATH: &str = "/dev/sev-guest";
/// Where the 5.15 kernels of ACI's utility VMs exposed their SNP guest driver.
pub const SEV_PATH: &str = "/dev/sev";

/// Pages offered for certificates at first: the kernel's SEV_FW_BLOB_MAX_SIZE (16 KiB).
pub const INITIAL_CERT_PAGES: usize = 4;
/// Largest certificate buffer this crate will offer.
pub const CERTS_LIMIT: usize = 1 << 20;

/// What the kernel's answer to ENOTTY means on `/dev/sev-guest`.
const ENOTTY_SEV_GUEST: &str = "the kernel's sev-guest driver lacks this request, or it has disabled the VM's communication key (VMPCK) after an earlier failed request, which only a reboot undoes (see the kernel log)";
/// What ENOTTY or EINVAL means on `/dev/sev`.
const ENOTTY_SEV: &str = "this /dev/sev is not the SNP guest driver of the 5.15 kernels (on a host it is the SEV firmware device; 6.1+ guests use /dev/sev-guest)";

fn open(path: &Path) -> Result<File, SevError> {
    // std opens with O_CLOEXEC.
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| SevError::io("opening", path, e))
}

/// Turns an ioctl outcome into an error naming the cause.
pub(crate) fn interpret(
    path: &Path,
    ioctl: &str,
    number: u32,
    outcome: Outcome,
    error_word_is_exitinfo2: bool,
    enotty_hint: &'static str,
) -> Result<(), SevError> {
    let Err(e) = outcome.result else {
        return Ok(());
    };
    let (fw_err, vmm_err) = if error_word_is_exitinfo2 {
        fw::split_exitinfo2(outcome.error_word)
    } else {
        (outcome.error_word as u32, 0)
    };
    let errno = e.raw_os_error();
    if errno == Some(libc::ENOTTY) || (!error_word_is_exitinfo2 && errno == Some(libc::EINVAL)) {
        return Err(SevError::NotSupported {
            path: path.to_path_buf(),
            ioctl: format!("{ioctl} (0x{number:08X})"),
            hint: enotty_hint,
        });
    }
    if vmm_err != 0 {
        return Err(SevError::Vmm {
            path: path.to_path_buf(),
            status: VmmStatus(vmm_err),
        });
    }
    if fw_err != 0 {
        return Err(SevError::Firmware {
            path: path.to_path_buf(),
            status: FirmwareStatus(fw_err),
        });
    }
    Err(match e.kind() {
        io::ErrorKind::PermissionDenied => SevError::PermissionDenied {
            path: path.to_path_buf(),
        },
        _ => SevError::Io {
            op: "ioctl",
            path: path.to_path_buf(),
            source: e,
        },
    })
}

/// The report inside a MSG_REPORT_RSP: STATUS must be 0 and REPORT_SIZE 1184.
pub(crate) fn report_from_response(
    path: &Path,
    resp: &[u8],
) -> Result<[u8; REPORT_SIZE], SevError> {
    let word = |at: usize| {
        resp.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let short = |actual| SevError::Short {
        what: format!("MSG_REPORT_RSP from {}", path.display()),
        expected: REPORT_SIZE,
        actual,
    };
    let (Some(status), Some(size)) = (word(0), word(4)) else {
        return Err(short(0));
    };
    if status != 0 {
        return Err(SevError::Firmware {
            path: path.to_path_buf(),
            status: FirmwareStatus(status),
        });
    }
    if size as usize != REPORT_SIZE {
        return Err(short(size as usize));
    }
    let body = resp
        .get(abi::RSP_REPORT_OFFSET..abi::RSP_REPORT_OFFSET + REPORT_SIZE)
        .ok_or_else(|| short(resp.len().saturating_sub(abi::RSP_REPORT_OFFSET)))?;
    let mut out = [0u8; REPORT_SIZE];
    out.copy_from_slice(body);
    Ok(out)
}

/// The key inside MSG_KEY_RSP: STATUS must be 0.
pub(crate) fn key_from_response(path: &Path, resp: &[u8]) -> Result<DerivedKey, SevError> {
    csc_core::guest::key::parse_key_response(resp).map_err(|e| match e {
        ResponseError::Status { status, .. } => SevError::Firmware {
            path: path.to_path_buf(),
            status: FirmwareStatus(status.0),
        },
        _ => SevError::Short {
            what: format!("MSG_KEY_RSP from {}", path.display()),
            expected: abi::SNP_DERIVED_KEY_RESP_SIZE,
            actual: resp.len(),
        },
    })
}

/// The SNP guest driver of Linux 6.1 and later.
#[derive(Debug, Clone)]
pub struct SevGuest {
    path: PathBuf,
}

impl SevGuest {
    /// The device at `path` (normally [`SEV_GUEST_PATH`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SevGuest { path: path.into() }
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A report (blocking).
    pub fn report(&self, request: &ReportRequest) -> Result<[u8; REPORT_SIZE], SevError> {
        let file = open(&self.path)?;
        let req = SnpReportReq::new(&request.report_data, request.vmpl.get());
        let mut resp = Box::new([0u8; abi::SNP_REPORT_RESP_SIZE]);
        let out = abi::snp_get_report(file.as_fd(), &req, &mut resp);
        drop(file);
        interpret(
            &self.path,
            "SNP_GET_REPORT",
            abi::SNP_GET_REPORT,
            out,
            true,
            ENOTTY_SEV_GUEST,
        )?;
        report_from_response(&self.path, &resp[..])
    }

    /// A key derived by the PSP for `request` (blocking): `SNP_GET_DERIVED_KEY`. The kernel
    /// returns the decrypted MSG_KEY_RSP; its STATUS is checked here, and the response buffer
    /// is wiped once the key is out.
    pub fn derived_key(&self, request: &KeyRequest) -> Result<DerivedKey, SevError> {
        let file = open(&self.path)?;
        let req = SnpDerivedKeyReq::new(request);
        let mut resp = [0u8; abi::SNP_DERIVED_KEY_RESP_SIZE];
        let out = abi::snp_get_derived_key(file.as_fd(), &req, &mut resp);
        drop(file);
        let result = interpret(
            &self.path,
            "SNP_GET_DERIVED_KEY",
            abi::SNP_GET_DERIVED_KEY,
            out,
            true,
            ENOTTY_SEV_GUEST,
        )
        .and_then(|()| key_from_response(&self.path, &resp));
        resp.zeroize();
        result
    }

    /// A report and the host's certificate table (blocking). The table is empty when the host
    /// supplies no certificates; its buffer grows when the kernel says how many pages it needs.
    pub fn extended_report(
        &self,
        request: &ReportRequest,
    ) -> Result<([u8; REPORT_SIZE], Vec<u8>), SevError> {
        let file = open(&self.path)?;
        let page = abi::page_size();
        let mut len = INITIAL_CERT_PAGES * page;
        let mut resp = Box::new([0u8; abi::SNP_REPORT_RESP_SIZE]);
        loop {
            let mut req = SnpExtReportReq {
                data: SnpReportReq::new(&request.report_data, request.vmpl.get()),
                certs_address: 0,
                certs_len: 0,
                _pad: 0,
            };
            let mut certs = vec![0u8; len];
            let out = abi::snp_get_ext_report(file.as_fd(), &mut req, &mut resp, &mut certs);
            let (_, vmm_err) = fw::split_exitinfo2(out.error_word);
            if out.result.is_err() && vmm_err == fw::VMM_ERR_INVALID_LEN {
                // The kernel wrote back the bytes it needs; grow to that (whole pages), or
                // double if it said nothing larger.
                let asked = req.certs_len as usize;
                let next = if asked > len {
                    asked.div_ceil(page) * page
                } else {
                    len * 2
                };
                if next > CERTS_LIMIT {
                    return Err(SevError::CertsTooLarge {
                        path: self.path.clone(),
                        needed: next,
                        limit: CERTS_LIMIT,
                    });
                }
                len = next;
                continue;
            }
            interpret(
                &self.path,
                "SNP_GET_EXT_REPORT",
                abi::SNP_GET_EXT_REPORT,
                out,
                true,
                ENOTTY_SEV_GUEST,
            )?;
            let report = report_from_response(&self.path, &resp[..])?;
            let extent = certtable::parse(&certs)?.extent();
            certs.truncate(extent);
            return Ok((report, certs));
        }
    }
}

/// The SNP guest driver of the 5.15 kernels (`/dev/sev`), which has no extended report.
#[derive(Debug, Clone)]
pub struct LegacySev {
    path: PathBuf,
}

impl LegacySev {
    /// The device at `path` (normally [`SEV_PATH`]).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LegacySev { path: path.into() }
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A report (blocking).
    pub fn report(&self, request: &ReportRequest) -> Result<[u8; REPORT_SIZE], SevError> {
        let file = open(&self.path)?;
        let req = SnpReportReq::new(&request.report_data, request.vmpl.get());
        let mut resp = Box::new([0u8; abi::LEGACY_RESP_SIZE]);
        let out = abi::legacy_get_report(file.as_fd(), &req, &mut resp);
        drop(file);
        interpret(
            &self.path,
            "SEV_SNP_GUEST_MSG_REPORT",
            abi::SEV_SNP_GUEST_MSG_REPORT,
            out,
            false,
            ENOTTY_SEV,
        )?;
        report_from_response(&self.path, &resp[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use csc_core::source::Vmpl;

    fn req() -> ReportRequest {
        ReportRequest::new([1; 64], Vmpl::ZERO)
    }

    fn outcome(errno: i32, word: u64) -> Outcome {
        Outcome {
            result: Err(io::Error::from_raw_os_error(errno)),
            error_word: word,
        }
    }

    #[test]
    fn missing_devices_say_so() {
        let e = SevGuest::new("/nonexistent/sev-guest")
            .report(&req())
            .unwrap_err();
        assert!(matches!(e, SevError::Missing { .. }), "{e}");
        let e = LegacySev::new("/nonexistent/sev")
            .report(&req())
            .unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = SevGuest::new("/nonexistent/sev-guest")
            .extended_report(&req())
            .unwrap_err();
        assert!(matches!(e, SevError::Missing { .. }), "{e}");
        let e = SevGuest::new("/nonexistent/sev-guest")
            .derived_key(&KeyRequest::default())
            .unwrap_err();
        assert!(matches!(e, SevError::Missing { .. }), "{e}");
    }

    #[test]
    fn a_file_that_is_not_the_driver_gives_enotty() {
        let regular = std::env::temp_dir().join(format!("csc-sev-regular-{}", std::process::id()));
        std::fs::write(&regular, b"").unwrap();
        for path in [Path::new("/dev/null"), regular.as_path()] {
            let e = SevGuest::new(path).report(&req()).unwrap_err();
            let m = e.to_string();
            assert!(matches!(e, SevError::NotSupported { .. }), "{m}");
            assert!(m.contains("SNP_GET_REPORT (0xC0205300)"), "{m}");
            assert!(m.contains("VMPCK"), "{m}");
            let e = SevGuest::new(path).extended_report(&req()).unwrap_err();
            assert!(
                e.to_string().contains("SNP_GET_EXT_REPORT (0xC0205302)"),
                "{e}"
            );
            let e = SevGuest::new(path)
                .derived_key(&KeyRequest::default())
                .unwrap_err();
            assert!(
                e.to_string().contains("SNP_GET_DERIVED_KEY (0xC0205301)"),
                "{e}"
            );
            let e = LegacySev::new(path).report(&req()).unwrap_err();
            let m = e.to_string();
            assert!(m.contains("SEV_SNP_GUEST_MSG_REPORT (0xC0285301)"), "{m}");
            assert!(m.contains("not the SNP guest driver"), "{m}");
        }
        std::fs::remove_file(regular).unwrap();
        // A directory cannot even be opened read-write.
        let e = SevGuest::new("/").report(&req()).unwrap_err();
        assert!(matches!(e, SevError::Io { .. }), "{e}");
    }

    #[test]
    fn firmware_and_vmm_errors_are_decoded() {
        let p = Path::new("/dev/sev-guest");
        let e = interpret(p, "SNP_GET_REPORT", 1, outcome(libc::EIO, 0x16), true, "").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("INVALID_PARAM") && m.contains("VMPL"), "{m}");
        let e = interpret(p, "X", 1, outcome(libc::EIO, 2 << 32), true, "").unwrap_err();
        assert!(e.to_string().contains("throttling"), "{e}");
        let e = interpret(p, "X", 1, outcome(libc::EIO, 0xFFFF_FFFF), true, "").unwrap_err();
        assert!(e.to_string().contains("NO_FW_CALL"), "{e}");
        let e = interpret(p, "X", 1, outcome(libc::EACCES, 0), true, "").unwrap_err();
        assert!(matches!(e, SevError::PermissionDenied { .. }), "{e}");
        assert!(e.to_string().contains("run as root"));
        let e = interpret(p, "X", 1, outcome(libc::EIO, 0), true, "").unwrap_err();
        assert!(matches!(e, SevError::Io { .. }), "{e}");
        // /dev/sev's error word is the firmware error itself; EINVAL means the wrong driver.
        let e = interpret(p, "X", 1, outcome(libc::EIO, 0x27), false, "").unwrap_err();
        assert!(e.to_string().contains("INVALID_KEY"), "{e}");
        let e = interpret(p, "X", 1, outcome(libc::EINVAL, 0), false, "wrong").unwrap_err();
        assert!(matches!(e, SevError::NotSupported { .. }), "{e}");
        let ok = Outcome {
            result: Ok(()),
            error_word: 0,
        };
        assert!(interpret(p, "X", 1, ok, true, "").is_ok());
    }

    #[test]
    fn key_responses_are_checked() {
        let p = Path::new("/dev/sev-guest");
        let mut resp = [0u8; abi::SNP_DERIVED_KEY_RESP_SIZE];
        resp[0x20..].copy_from_slice(&[0xAB; 32]);
        assert_eq!(key_from_response(p, &resp).unwrap().as_bytes(), &[0xAB; 32]);
        resp[0] = 0x16;
        let e = key_from_response(p, &resp).unwrap_err();
        assert!(
            e.to_string()
                .contains("refused the guest request: 0x16 INVALID_PARAM"),
            "{e}"
        );
        resp[0] = 0;
        let e = key_from_response(p, &resp[..40]).unwrap_err();
        assert!(matches!(e, SevError::Short { .. }), "{e}");
    }

    #[test]
    fn responses_are_checked() {
        let p = Path::new("/dev/sev");
        let mut resp = vec![0u8; abi::LEGACY_RESP_SIZE];
        resp[4..8].copy_from_slice(&(REPORT_SIZE as u32).to_le_bytes());
        resp[32] = 5;
        assert_eq!(report_from_response(p, &resp).unwrap()[0], 5);
        // Firmware status in the response.
        let mut bad = resp.clone();
        bad[0] = 0x16;
        let e = report_from_response(p, &bad).unwrap_err();
        assert!(e.to_string().contains("INVALID_PARAM"), "{e}");
        // A short REPORT_SIZE.
        let mut bad = resp.clone();
        bad[4..8].copy_from_slice(&1000u32.to_le_bytes());
        let e = report_from_response(p, &bad).unwrap_err();
        assert!(matches!(e, SevError::Short { actual: 1000, .. }), "{e}");
        // A short buffer.
        let e = report_from_response(p, &resp[..100]).unwrap_err();
        assert!(matches!(e, SevError::Short { .. }), "{e}");
        let e = report_from_response(p, &resp[..3]).unwrap_err();
        assert!(matches!(e, SevError::Short { .. }), "{e}");
    }
}
