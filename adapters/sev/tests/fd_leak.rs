//! Every request closes its descriptors, on success and on every error path. Alone in its test
//! binary, so no other test opens files while descriptors are counted.

use std::path::Path;
use std::sync::Arc;

use csc_core::Product;
use csc_core::source::{ReportRequest, Vmpl};
use csc_sev::{ConfigfsTsm, LegacySev, Paths, SevGuest, Source, SourceKind};
use csc_simulate::tsmfs::{Faults, MountedTsm};
use csc_simulate::{Platform, PlatformConfig};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn no_descriptor_outlives_a_request() {
    let cache = csc_testkit::key_cache();
    let p =
        Arc::new(Platform::new(PlatformConfig::new(Product::Milan, 2).unwrap(), &cache).unwrap());
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tsmfs-fd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = MountedTsm::mount(Arc::clone(&p), &dir, Faults::default()).unwrap();
    let plain = std::env::temp_dir().join(format!("csc-fd-plain-{}", std::process::id()));
    std::fs::create_dir_all(&plain).unwrap();
    let req = ReportRequest::new([5; 64], Vmpl::ZERO);
    let warm = ConfigfsTsm::new(good.path()).report(&req);
    assert!(warm.is_ok(), "{warm:?}");

    let before = open_fds();
    for _ in 0..50 {
        // ENOTTY from a file that is not the driver.
        assert!(SevGuest::new("/dev/null").report(&req).is_err());
        assert!(SevGuest::new("/dev/null").extended_report(&req).is_err());
        assert!(LegacySev::new("/dev/null").report(&req).is_err());
        // Missing devices.
        assert!(SevGuest::new("/nonexistent").report(&req).is_err());
        // A directory that is not configfs-tsm.
        assert!(ConfigfsTsm::new(&plain).report(&req).is_err());
        // Success through the FUSE configfs-tsm, and the async source's worker threads.
        assert!(ConfigfsTsm::new(good.path()).extended_report(&req).is_ok());
        let paths = Paths {
            configfs_tsm: good.path().to_path_buf(),
            ..Paths::default()
        };
        let source = Source::open(SourceKind::ConfigfsTsm, &paths).unwrap();
        let mut buf = [0u8; 1184];
        let r = embassy_futures::block_on(csc_core::source::fetch(&source, &req, &mut buf));
        assert!(r.is_ok());
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
    good.unmount().unwrap();
    std::fs::remove_dir(&dir).unwrap();
    std::fs::remove_dir_all(&plain).unwrap();
}
