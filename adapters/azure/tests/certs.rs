//! THIM, AMD KDS and AzCache against the emulator loaded with real certificates; cache, TCB
//! refresh and 429 handling.

mod common;

use std::sync::Arc;
use std::time::Duration;

use csc_azure::Error;
use csc_azure::certs::{CertFetcher, CertSource, CertState, KeyKind, ThimCerts};
use csc_core::report::{Product, Report};
use csc_emulate::{Fault, FaultRule, Target};

fn amd(emu: &csc_emulate::Emulator) -> CertSource {
    CertSource::Amd {
        base: emu.endpoints().kds.clone(),
    }
}

fn milan_report() -> Vec<u8> {
    common::vector("csc/snp_report.bin")
}

#[tokio::test]
async fn milan_vcek_chain_by_chip_and_reported_tcb() {
    let emu = common::emulator().await;
    let f = CertFetcher::new(common::http(&emu), amd(&emu));
    let bytes = milan_report();
    let r = Report::parse_with_product(&bytes, Some(Product::Milan)).unwrap();
    let chain = f
        .vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
    assert_eq!(chain.tcb, 0x7308000000000003);
    // Same certificates, byte for byte, as the THIM/UVM bundle of that chip.
    let want: Vec<_> = common::pem_blocks(&common::milan_pem())
        .iter()
        .map(|b| csc_emulate::kds::pem_to_der(b.as_bytes()).unwrap())
        .collect();
    assert_eq!(csc_emulate::kds::pem_to_ders(chain.pem().as_bytes()), want);
    assert_eq!(emu.requests(Target::Kds), 2);
    // Cached: no further request.
    f.vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
    assert_eq!(emu.requests(Target::Kds), 2);
}

#[tokio::test]
async fn turin_uses_8_byte_hwid_and_fmc_spl() {
    let emu = common::emulator().await;
    let f = CertFetcher::new(common::http(&emu), amd(&emu));
    let bytes = common::vector("ms-tav/turin_attestation_report.bin");
    let r = Report::parse(&bytes).unwrap();
    assert_eq!(r.product(), Some(Product::Turin));
    let chain = f
        .vcek_chain(Product::Turin, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
    let vcek = csc_emulate::kds::pem_to_der(&common::vector("ms-tav/turin_vcek.pem")).unwrap();
    assert_eq!(
        csc_emulate::kds::pem_to_der(chain.leaf_pem.as_bytes()).unwrap(),
        vcek
    );
    // The raw VCEK call, and a TCB the KDS has no certificate for.
    assert_eq!(
        f.vcek_der(Product::Turin, r.chip_id(), r.reported_tcb())
            .await
            .unwrap(),
        vcek
    );
    let other = csc_core::report::TcbVersion::new(r.reported_tcb().raw() + 1, r.tcb_layout());
    let err = f
        .vcek_der(Product::Turin, r.chip_id(), other)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(
        err.to_string().contains("no VCEK for this chip and TCB"),
        "{err}"
    );
}

#[tokio::test]
async fn cert_chain_vlek_chain_and_crl() {
    let emu = common::emulator().await;
    let f = CertFetcher::new(common::http(&emu), amd(&emu));
    let turin = f.cert_chain(Product::Turin, KeyKind::Vlek).await.unwrap();
    assert_eq!(turin.matches("BEGIN CERTIFICATE").count(), 2);
    assert_eq!(
        f.crl(Product::Milan, KeyKind::Vcek).await.unwrap(),
        b"0\x03\x02\x01\x00"
    );
    let err = f
        .cert_chain(Product::Genoa, KeyKind::Vcek)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn disk_cache_serves_a_restarted_fetcher() {
    let emu = common::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let bytes = milan_report();
    let r = Report::parse_with_product(&bytes, Some(Product::Milan)).unwrap();
    let a = CertFetcher::new(common::http(&emu), amd(&emu)).with_disk_cache(dir.path());
    let first = a
        .vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
    let seen = emu.requests(Target::Kds);
    let b = CertFetcher::new(common::http(&emu), amd(&emu)).with_disk_cache(dir.path());
    let again = b
        .vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(emu.requests(Target::Kds), seen);
}

#[tokio::test]
async fn thim_and_azcache() {
    let emu = common::emulator().await;
    let thim = CertFetcher::new(
        common::http(&emu),
        CertSource::LocalThim {
            url: emu.endpoints().thim.clone(),
        },
    );
    let doc = thim.thim().await.unwrap();
    assert_eq!(doc.tcbm().unwrap(), 0x7308000000000003);
    assert_eq!(
        doc,
        ThimCerts::from_json(&common::vector("csc/uvm_host_amd_certificate.json")).unwrap()
    );
    let az = CertFetcher::new(
        common::http(&emu),
        CertSource::AzCache {
            base: emu.endpoints().azcache.clone(),
            tee_type: "SevSnpVM".into(),
            api_version: "api-version=2020-10-15-preview".into(),
            client_id: "clientId=ConfidentialACI".into(),
        },
    );
    let bytes = milan_report();
    let r = Report::parse_with_product(&bytes, Some(Product::Milan)).unwrap();
    let c = az
        .vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
    assert_eq!(c.pem().matches("BEGIN CERTIFICATE").count(), 3);
    assert_eq!(emu.requests(Target::Kds), 1);
}

#[tokio::test]
async fn kds_429_sets_a_cool_down_instead_of_hammering() {
    let emu = common::emulator().await;
    let f = CertFetcher::new(common::http(&emu), amd(&emu));
    let bytes = milan_report();
    let r = Report::parse_with_product(&bytes, Some(Product::Milan)).unwrap();
    emu.set_fault(
        Target::Kds,
        FaultRule::always(Fault::TooManyRequests {
            retry_after_secs: 30,
        }),
    );
    let err = f
        .vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err}");
    assert_eq!(emu.requests(Target::Kds), 1);
    // Further calls within the cool-down send nothing at all.
    for _ in 0..5 {
        let err = f
            .vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::RateLimited { retry_after, .. } if retry_after <= Duration::from_secs(30))
        );
    }
    assert_eq!(emu.requests(Target::Kds), 1);
}

#[tokio::test]
async fn kds_short_429_and_5xx_recover() {
    let emu = common::emulator().await;
    let f = CertFetcher::new(common::http(&emu), amd(&emu));
    let bytes = milan_report();
    let r = Report::parse_with_product(&bytes, Some(Product::Milan)).unwrap();
    emu.set_fault(
        Target::Kds,
        FaultRule::times(
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
            1,
        ),
    );
    f.vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
    let f = CertFetcher::new(common::http(&emu), amd(&emu));
    emu.set_fault(
        Target::Kds,
        FaultRule::times(Fault::Status { status: 503 }, 2),
    );
    f.vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
    let f = CertFetcher::new(common::http(&emu), amd(&emu));
    emu.set_fault(Target::Kds, FaultRule::times(Fault::Truncate, 1));
    f.vcek_chain(Product::Milan, r.chip_id(), r.reported_tcb())
        .await
        .unwrap();
}

#[tokio::test]
async fn tcb_state_uses_initial_certs_then_refreshes_from_kds() {
    let emu = common::emulator().await;
    let fetcher = Arc::new(CertFetcher::new(common::http(&emu), amd(&emu)));
    let thim = ThimCerts::from_json(&common::vector("csc/uvm_host_amd_certificate.json")).unwrap();

    // Same TCB as the report: the platform's certificates, no network.
    let state = CertState::new(fetcher.clone(), Some(&thim), Product::Milan).unwrap();
    let c = state
        .collateral(milan_report(), || async { unreachable!() })
        .await
        .unwrap();
    assert_eq!(c.chain.tcb, 0x7308000000000003);
    assert_eq!(emu.requests(Target::Kds), 0);

    // Initial certificates for an older TCB: refreshed from KDS, and kept for later calls.
    let old = ThimCerts {
        tcbm: "7308000000000002".into(),
        ..thim.clone()
    };
    let state = CertState::new(fetcher.clone(), Some(&old), Product::Milan).unwrap();
    let c = state
        .collateral(milan_report(), || async { unreachable!() })
        .await
        .unwrap();
    assert_eq!(c.chain.tcb, 0x7308000000000003);
    assert_eq!(state.current_tcb(), Some(0x7308000000000003));
    assert_eq!(emu.requests(Target::Kds), 2);
}

#[tokio::test]
async fn tcb_state_with_thim_takes_a_new_report_then_gives_up_clearly() {
    let emu = common::emulator().await;
    let fetcher = Arc::new(CertFetcher::new(
        common::http(&emu),
        CertSource::LocalThim {
            url: emu.endpoints().thim.clone(),
        },
    ));
    let state = CertState::new(fetcher, None, Product::Milan).unwrap();
    // A report claiming another TCB: THIM still answers 7308000000000003.
    let mut stale = milan_report();
    stale[0x180] = 2;
    let fresh = milan_report();
    let c = state
        .collateral(stale.clone(), || async move { Ok(fresh) })
        .await
        .unwrap();
    assert_eq!(c.report, milan_report());
    let again = stale.clone();
    let err = state
        .collateral(stale, || async move { Ok(again) })
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("reported TCB value: 0x7308000000000002 doesn't match Certificate TCB value: 0x7308000000000003"),
        "{err}"
    );
}
