//! The checker the sidecars and the MAA emulator share: an Azure HCL report is always checked
//! with its variable-data binding, and the PEM chain is read by role (any order, extra
//! certificates ignored).

use csc_core::verify::{BindingError, VerifyError};
use csc_crypto::check::{CheckError, ReportChecker};
use csc_vectors::{mhsm_tls_chain, pem_certs, pem_of, read};

const AZ_HCL: &str = "shared/vectors/trustee/az_milan_v3_hcl_report.bin";

#[test]
fn hcl_reports_are_checked_with_their_variable_data() {
    let vcek = read("shared/vectors/trustee/az_milan_v3_vcek.der");
    let chain = pem_of(&[
        csc_core::verify::roots::ark(csc_core::Product::Milan),
        &vcek,
    ]);
    let checker = ReportChecker::amd();
    let bytes = read(AZ_HCL);
    let ok = checker.check(&bytes, chain.as_bytes(), None).unwrap();
    assert!(ok.hcl_variable_data.is_some());

    let mut tampered = bytes.clone();
    let at = tampered.windows(5).position(|w| w == b"\"kty\"").unwrap();
    tampered[at + 1] ^= 0x20;
    match checker.check(&tampered, chain.as_bytes(), None) {
        Err(CheckError::Verify(VerifyError::Binding(BindingError::HclVariableData { .. }))) => {}
        other => panic!("tampered variable data: {other:?}"),
    }
    // The SNP report alone still verifies: only the HCL wrapper was changed.
    let inner = &tampered[0x20..0x20 + 1184];
    let plain = checker.check(inner, chain.as_bytes(), None).unwrap();
    assert!(plain.hcl_variable_data.is_none());
}

#[test]
fn chains_are_read_by_role_with_extras_ignored() {
    let certs = pem_certs(&read("shared/vectors/csc/uvm_host_amd_certificate.pem"));
    let tls = mhsm_tls_chain();
    let report = read("shared/vectors/csc/snp_report.bin");
    let chain = pem_of(&[&tls[0], &certs[2], &tls[1], &certs[1], &certs[0], &tls[2]]);
    let checker = ReportChecker::amd();
    checker
        .check(&report, chain.as_bytes(), Some(csc_core::Product::Milan))
        .unwrap();
    // Only extras: named as a missing VCEK/VLEK.
    let extras = pem_of(&[&tls[0], &tls[1]]);
    match checker.check(&report, extras.as_bytes(), Some(csc_core::Product::Milan)) {
        Err(CheckError::Certificates(m)) => assert!(m.contains("VCEK"), "{m}"),
        other => panic!("{other:?}"),
    }
}
