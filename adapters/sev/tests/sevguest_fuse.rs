//! `/dev/sev-guest` end to end through the kernel: csc-simulate's `sevguestfs` is a FUSE file
//! that answers SNP_GET_REPORT and SNP_GET_DERIVED_KEY like the kernel driver, by sealing real
//! guest messages to the simulated PSP. The ioctl numbers, the argument struct and the request
//! and response layouts of this crate meet an independent statement of the ABI there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use csc_core::Product;
use csc_core::guest::{GuestFields, KeyRequest, VmpckId};
use csc_core::report::Report;
use csc_core::source::{ReportRequest, Vmpl};
use csc_sev::{SevError, SevGuest};
use csc_simulate::sevguestfs::MountedSevGuest;
use csc_simulate::{KeyCache, Platform, PlatformConfig, SimulatedPsp};

fn cache() -> KeyCache {
    csc_testkit::key_cache()
}

fn psp(config: PlatformConfig) -> Arc<SimulatedPsp> {
    let platform = Arc::new(Platform::new(config, &cache()).unwrap());
    Arc::new(SimulatedPsp::new(platform, &cache()).unwrap())
}

/// A mounted device whose mountpoint directory is removed afterwards, also on panic.
struct TestDevice(Option<MountedSevGuest>, PathBuf);

impl std::ops::Deref for TestDevice {
    type Target = MountedSevGuest;
    fn deref(&self) -> &MountedSevGuest {
        self.0.as_ref().unwrap()
    }
}

impl Drop for TestDevice {
    fn drop(&mut self) {
        drop(self.0.take());
        let _ = std::fs::remove_dir(&self.1);
    }
}

fn mount(name: &str, psp: &Arc<SimulatedPsp>) -> TestDevice {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sevguestfs-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = MountedSevGuest::mount(Arc::clone(psp), &dir).unwrap_or_else(|e| {
        panic!("mounting the FUSE test device needs root and /dev/fuse (apt: fuse3): {e}")
    });
    TestDevice(Some(m), dir)
}

#[test]
fn derived_keys_through_the_ioctl_are_the_psps() {
    let psp = psp(PlatformConfig::new(Product::Genoa, 5).unwrap());
    let dev = mount("keys", &psp);
    let guest = SevGuest::new(dev.device());
    let request = KeyRequest {
        fields: GuestFields::MEASUREMENT.union(GuestFields::POLICY),
        vmpl: Vmpl::new(1).unwrap(),
        ..KeyRequest::default()
    };
    let key = guest.derived_key(&request).unwrap();
    let expected = psp.derive(VmpckId::new(0).unwrap(), &request).unwrap();
    assert_eq!(key.as_bytes(), &*expected);
    // Again: same key, and the ioctls went through sealed guest messages.
    assert_eq!(guest.derived_key(&request).unwrap().as_bytes(), &*expected);
    assert_eq!(dev.stats().guest_requests.load(Ordering::Relaxed), 2);
    assert_eq!(psp.last_seqno(VmpckId::new(0).unwrap()), 4);
}

#[test]
fn reports_through_the_ioctl_bind_and_verify() {
    let psp = psp(PlatformConfig::new(Product::Milan, 3).unwrap());
    let dev = mount("report", &psp);
    let guest = SevGuest::new(dev.device());
    let bytes = guest
        .report(&ReportRequest::new([0x77; 64], Vmpl::new(2).unwrap()))
        .unwrap();
    let report = Report::parse(&bytes).unwrap();
    assert_eq!(report.report_data(), &[0x77; 64]);
    assert_eq!(report.vmpl(), 2);
    let sig = report.signature();
    let mut rs = sig.r_be().unwrap().to_vec();
    rs.extend_from_slice(&sig.s_be().unwrap());
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, psp.platform().vcek_public_key())
        .verify(report.signed_bytes(), &rs)
        .unwrap();
    // The extended report is not emulated: the driver's ENOTTY.
    let e = guest
        .extended_report(&ReportRequest::new([0; 64], Vmpl::ZERO))
        .unwrap_err();
    assert!(matches!(e, SevError::NotSupported { .. }), "{e}");
}

#[test]
fn refusals_and_host_failures_reach_the_caller_as_the_driver_reports_them() {
    let mut config = PlatformConfig::new(Product::Milan, 2).unwrap();
    config.guest_vmpl = Vmpl::new(1).unwrap();
    let psp = psp(config);
    let dev = mount("errors", &psp);
    let guest = SevGuest::new(dev.device());
    // A guest at VMPL 1 (VMPCK1) asking for a VMPL 0 key: MSG_KEY_RSP STATUS INVALID_PARAM.
    let e = guest.derived_key(&KeyRequest::default()).unwrap_err();
    assert!(matches!(e, SevError::Firmware { .. }), "{e}");
    assert!(e.to_string().contains("0x16 INVALID_PARAM"), "{e}");
    // More than the guest's SVN, then a VLEK the platform does not have.
    let vmpl1 = KeyRequest {
        vmpl: Vmpl::new(1).unwrap(),
        ..KeyRequest::default()
    };
    let svn = KeyRequest {
        guest_svn: 9,
        ..vmpl1
    };
    assert!(
        guest
            .derived_key(&svn)
            .unwrap_err()
            .to_string()
            .contains("INVALID_PARAM")
    );
    let vlek = KeyRequest {
        key_select: csc_core::guest::KeySelect::Vlek,
        ..vmpl1
    };
    assert!(
        guest
            .derived_key(&vlek)
            .unwrap_err()
            .to_string()
            .contains("INVALID_KEY")
    );
    // Refusals keep the key usable.
    guest.derived_key(&vmpl1).unwrap();
    // A report below the guest's VMPL: STATUS in MSG_REPORT_RSP.
    let e = guest
        .report(&ReportRequest::new([0; 64], Vmpl::ZERO))
        .unwrap_err();
    assert!(e.to_string().contains("INVALID_PARAM"), "{e}");

    // The host fails a request: EIO with EXIT_INFO_2 (VMM BUSY), then the driver has wiped
    // its VMPCK and every request gets ENOTTY, which the adapter explains.
    dev.fail_next_request();
    let e = guest.derived_key(&vmpl1).unwrap_err();
    assert!(matches!(e, SevError::Vmm { .. }), "{e}");
    assert!(e.to_string().contains("BUSY"), "{e}");
    let e = guest.derived_key(&vmpl1).unwrap_err();
    assert!(matches!(e, SevError::NotSupported { .. }), "{e}");
    assert!(e.to_string().contains("VMPCK"), "{e}");
    let e = guest
        .report(&ReportRequest::new([0; 64], Vmpl::new(1).unwrap()))
        .unwrap_err();
    assert!(matches!(e, SevError::NotSupported { .. }), "{e}");
}
