//! The configfs-tsm adapter end to end through the kernel VFS: a FUSE filesystem that behaves
//! like configfs-tsm's report directory (csc-simulate's `tsmfs`), answered by the simulated
//! platform. Each test mounts its own filesystem and unmounts it when done, also on failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use csc_core::Product;
use csc_core::abi::{REPORT_SIZE, SIGNED_LEN};
use csc_core::certtable::{self, Kind};
use csc_core::report::Report;
use csc_core::source::{self, ReportRequest, ReportSource, Vmpl};
use csc_sev::{ConfigfsTsm, Paths, SevError, Source, SourceKind};
use csc_simulate::tsmfs::{Faults, MountedTsm};
use csc_simulate::{Platform, PlatformConfig};

fn platform(product: Product, version: u32) -> Arc<Platform> {
    let cache = csc_testkit::key_cache();
    Arc::new(Platform::new(PlatformConfig::new(product, version).unwrap(), &cache).unwrap())
}

fn mountpoint(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tsmfs-{name}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&d);
    d
}

/// A mounted test filesystem whose mountpoint directory is removed after unmounting, whether
/// the test passed or panicked.
struct TestMount(Option<MountedTsm>, PathBuf);

impl std::ops::Deref for TestMount {
    type Target = MountedTsm;
    fn deref(&self) -> &MountedTsm {
        self.0.as_ref().unwrap()
    }
}

impl TestMount {
    fn unmount(mut self) -> std::io::Result<()> {
        self.0.take().unwrap().unmount()
    }
}

impl Drop for TestMount {
    fn drop(&mut self) {
        drop(self.0.take());
        let _ = std::fs::remove_dir(&self.1);
    }
}

fn mount(name: &str, p: &Arc<Platform>, faults: Faults) -> TestMount {
    let dir = mountpoint(name);
    let m = MountedTsm::mount(Arc::clone(p), &dir, faults).unwrap_or_else(|e| {
        panic!("mounting the FUSE test filesystem needs root and /dev/fuse (apt: fuse3): {e}")
    });
    TestMount(Some(m), dir)
}

fn request(seed: u8, vmpl: u32) -> ReportRequest {
    let mut rd = [0u8; 64];
    for (i, b) in rd.iter_mut().enumerate() {
        *b = seed ^ (i as u8);
    }
    ReportRequest::new(rd, Vmpl::new(vmpl).unwrap())
}

fn signed_by(report: &[u8; REPORT_SIZE], p: &Platform) -> bool {
    let r = Report::parse(report).unwrap();
    let rs = [r.signature().r_be().unwrap(), r.signature().s_be().unwrap()].concat();
    UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, p.vcek_public_key())
        .verify(&report[..SIGNED_LEN], &rs)
        .is_ok()
}

fn assert_all_entries_removed(m: &MountedTsm) {
    let s = m.stats();
    assert_eq!(
        s.mkdirs.load(Ordering::Relaxed),
        s.rmdirs.load(Ordering::Relaxed),
        "every report entry is removed"
    );
    assert_eq!(std::fs::read_dir(m.path()).unwrap().count(), 0);
}

#[test]
fn reports_round_trip_through_the_vfs() {
    for (product, version) in [
        (Product::Milan, 2),
        (Product::Genoa, 5),
        (Product::Turin, 3),
    ] {
        let p = platform(product, version);
        let m = mount(&format!("rt-{product}"), &p, Faults::default());
        let tsm = ConfigfsTsm::new(m.path());
        for vmpl in [0, 2] {
            let req = request(vmpl as u8 + 1, vmpl);
            let bytes = tsm.report(&req).unwrap();
            let r = Report::parse(&bytes).unwrap();
            assert_eq!(r.report_data(), &req.report_data);
            assert_eq!(r.vmpl(), vmpl);
            assert_eq!(r.chip_id(), p.chip_id());
            assert!(signed_by(&bytes, &p), "{product}");
        }
        // Extended: the certificate table comes from auxblob.
        let (bytes, table) = tsm.extended_report(&request(9, 0)).unwrap();
        assert!(signed_by(&bytes, &p));
        assert_eq!(table, p.cert_table());
        let t = certtable::parse(&table).unwrap();
        assert_eq!(t.get(Kind::Vcek), Some(p.chain().vcek));
        assert_eq!(t.get(Kind::Ask), Some(p.chain().ask));
        assert_eq!(t.get(Kind::Ark), Some(p.chain().ark));
        assert_eq!(m.stats().reports.load(Ordering::Relaxed), 3);
        assert_all_entries_removed(&m);
        m.unmount().unwrap();
    }
}

#[test]
fn detection_picks_configfs_and_the_async_source_works() {
    let p = platform(Product::Genoa, 3);
    let m = mount("detect", &p, Faults::default());
    let paths = Paths {
        configfs_tsm: m.path().to_path_buf(),
        sev_guest: "/nonexistent/sev-guest".into(),
        sev: "/nonexistent/sev".into(),
    };
    let (source, detection) = Source::detect(&paths).unwrap();
    assert_eq!(detection.kind, SourceKind::ConfigfsTsm);
    assert!(detection.reason.contains("exists"), "{}", detection.reason);
    assert_eq!(source.name(), "configfs-tsm");
    assert!(
        !source.simulated(),
        "the kernel path is not marked simulated"
    );

    let req = request(0x42, 0);
    let mut buf = [0u8; REPORT_SIZE];
    let r = embassy_futures::block_on(source::fetch(&source, &req, &mut buf)).unwrap();
    assert_eq!(r.report_data(), &req.report_data);

    let mut small = [0u8; 64];
    let mut buf = [0u8; REPORT_SIZE];
    let e = embassy_futures::block_on(source::fetch_extended(&source, &req, &mut buf, &mut small))
        .unwrap_err();
    let source::FetchError::Source(e) = e else {
        panic!("{e:?}")
    };
    use csc_core::source::SourceError;
    assert_eq!(e.certs_needed(), Some(p.cert_table().len()));
    let mut certs = vec![0u8; 1 << 16];
    let (_, used) =
        embassy_futures::block_on(source::fetch_extended(&source, &req, &mut buf, &mut certs))
            .unwrap();
    assert_eq!(&certs[..used], p.cert_table());

    // Concurrent requests each get their own report.
    let source = Arc::new(source);
    let handles: Vec<_> = (0..8u8)
        .map(|i| {
            let source = Arc::clone(&source);
            std::thread::spawn(move || {
                let req = request(i, 0);
                let mut buf = [0u8; REPORT_SIZE];
                let r = embassy_futures::block_on(source::fetch(&*source, &req, &mut buf));
                r.map(|r| *r.report_data() == req.report_data).unwrap()
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
    assert_all_entries_removed(&m);
}

#[test]
fn a_concurrent_writer_is_detected_by_the_generation() {
    let p = platform(Product::Milan, 3);
    let faults = Faults {
        concurrent_writer: true,
        ..Faults::default()
    };
    let m = mount("race", &p, faults);
    let e = ConfigfsTsm::new(m.path())
        .report(&request(1, 0))
        .unwrap_err();
    match &e {
        SevError::Race {
            expected,
            actual,
            attempts,
            ..
        } => {
            assert_eq!((*expected, *actual), (2, 3), "{e}");
            assert_eq!(*attempts, csc_sev::MAX_ATTEMPTS);
        }
        _ => panic!("{e}"),
    }
    assert_eq!(
        m.stats().mkdirs.load(Ordering::Relaxed),
        u64::from(csc_sev::MAX_ATTEMPTS)
    );
    assert_all_entries_removed(&m);
}

#[test]
fn bad_answers_are_clear_errors() {
    let p = platform(Product::Milan, 2);

    let short = mount(
        "short",
        &p,
        Faults {
            truncate_outblob: Some(1000),
            ..Faults::default()
        },
    );
    let e = ConfigfsTsm::new(short.path())
        .report(&request(1, 0))
        .unwrap_err();
    assert!(
        matches!(
            e,
            SevError::Short {
                expected: 1184,
                actual: 1000,
                ..
            }
        ),
        "{e}"
    );
    assert_all_entries_removed(&short);
    drop(short);

    let tdx = mount(
        "tdx",
        &p,
        Faults {
            provider: Some("tdx_guest".into()),
            ..Faults::default()
        },
    );
    let e = ConfigfsTsm::new(tdx.path())
        .report(&request(1, 0))
        .unwrap_err();
    assert!(
        e.to_string().contains("\"tdx_guest\", not sev_guest"),
        "{e}"
    );
    assert_all_entries_removed(&tdx);
    drop(tdx);

    let floor = mount(
        "floor",
        &p,
        Faults {
            privlevel_floor: 2,
            ..Faults::default()
        },
    );
    let tsm = ConfigfsTsm::new(floor.path());
    let e = tsm.report(&request(1, 1)).unwrap_err();
    assert!(e.to_string().contains("runs at VMPL 2"), "{e}");
    assert_eq!(
        Report::parse(&tsm.report(&request(1, 3)).unwrap())
            .unwrap()
            .vmpl(),
        3
    );
    assert_all_entries_removed(&floor);
    floor.unmount().unwrap();
}
