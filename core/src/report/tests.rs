use super::*;
use crate::abi::{REPORT_SIZE, offset};
use crate::error::ReportError;
use proptest::prelude::*;
use std::vec::Vec;

/// A synthetic version-5 Genoa report with recognisable values.
fn sample(version: u32) -> Vec<u8> {
    let mut b = std::vec![0u8; REPORT_SIZE];
    b[0..4].copy_from_slice(&version.to_le_bytes());
    b[offset::GUEST_SVN..][..4].copy_from_slice(&7u32.to_le_bytes());
    b[offset::POLICY..][..8].copy_from_slice(&0x3_001fu64.to_le_bytes());
    b[offset::SIGNATURE_ALGO..][..4].copy_from_slice(&1u32.to_le_bytes());
    b[offset::CURRENT_TCB..][..8].copy_from_slice(&0x5419_0000_0000_000au64.to_le_bytes());
    b[offset::REPORTED_TCB..][..8].copy_from_slice(&0x5419_0000_0000_000au64.to_le_bytes());
    b[offset::PLATFORM_INFO..][..8].copy_from_slice(&37u64.to_le_bytes());
    b[offset::SIGNER_INFO..][..4].copy_from_slice(&(1u32 << 2).to_le_bytes());
    b[offset::CPUID_FAM_ID] = 0x19;
    b[offset::CPUID_FAM_ID + 1] = 0x11;
    b[offset::CPUID_FAM_ID + 2] = 0x01;
    b[offset::CURRENT_BUILD..][..3].copy_from_slice(&[43, 55, 1]);
    b[offset::LAUNCH_MIT_VECTOR..][..8].copy_from_slice(&5u64.to_le_bytes());
    for (i, x) in b[offset::REPORT_DATA..][..64].iter_mut().enumerate() {
        *x = i as u8;
    }
    b[offset::SIGNATURE] = 0x01; // r = 1
    b[offset::SIGNATURE + 72 + 47] = 0x80; // s has its top scalar byte set
    b
}

#[test]
fn reads_every_field() {
    let b = sample(5);
    let r = Report::parse(&b).unwrap();
    assert_eq!(r.version(), 5);
    assert_eq!(r.guest_svn(), 7);
    assert_eq!(r.product(), Some(Product::Genoa));
    assert_eq!(
        r.cpuid(),
        Some(Cpuid {
            family: 0x19,
            model: 0x11,
            stepping: 1
        })
    );
    assert_eq!(r.reported_tcb().parts().snp, 0x19);
    assert_eq!(r.reported_tcb().parts().microcode, 0x54);
    assert_eq!(
        r.current_version(),
        FirmwareVersion {
            major: 1,
            minor: 55,
            build: 43
        }
    );
    assert_eq!(r.launch_mit_vector(), Some(5));
    assert_eq!(r.signer_info().signing_key(), SigningKey::Vlek);
    assert!(r.platform_info().alias_check_complete());
    assert_eq!(r.report_data()[63], 63);
    assert_eq!(r.signed_bytes().len(), 0x2A0);
    let sig = r.signature();
    assert_eq!(sig.r_be().unwrap()[47], 1);
    assert_eq!(sig.s_be().unwrap()[0], 0x80);
    assert_eq!(r.reserved_nonzero().count(), 0);
}

#[test]
fn older_versions_hide_newer_fields() {
    let b = sample(2);
    let r = Report::parse(&b).unwrap();
    assert_eq!(r.cpuid(), None);
    assert_eq!(r.product(), None);
    assert_eq!(r.launch_mit_vector(), None);
    // Bytes that a v2 report reserves are reported, not rejected.
    let ranges: Vec<_> = r.reserved_nonzero().collect();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    let r = Report::parse_with_product(&b, Some(Product::Milan)).unwrap();
    assert_eq!(r.product(), Some(Product::Milan));
}

#[test]
fn strict_on_length_version_and_algorithm() {
    let b = sample(5);
    assert_eq!(
        Report::parse(&b[..100]).unwrap_err(),
        ReportError::Length { actual: 100 }
    );
    let mut long = b.clone();
    long.push(0);
    assert_eq!(
        Report::parse(&long).unwrap_err(),
        ReportError::Length { actual: 1185 }
    );
    let mut v = b.clone();
    v[0] = 6;
    assert_eq!(
        Report::parse(&v).unwrap_err(),
        ReportError::UnsupportedVersion { version: 6 }
    );
    v[0] = 0;
    assert_eq!(
        Report::parse(&v).unwrap_err(),
        ReportError::UnsupportedVersion { version: 0 }
    );
    let mut a = b.clone();
    a[offset::SIGNATURE_ALGO] = 2;
    assert_eq!(
        Report::parse(&a).unwrap_err(),
        ReportError::SignatureAlgorithm { algo: 2 }
    );
    assert_eq!(
        Report::parse_with_product(&b, Some(Product::Turin)).unwrap_err(),
        ReportError::ProductMismatch {
            hint: Product::Turin,
            detected: Product::Genoa
        }
    );
}

#[test]
fn high_signature_bytes_make_no_scalar() {
    let mut b = sample(5);
    b[offset::SIGNATURE + 60] = 1;
    let r = Report::parse(&b).unwrap();
    assert!(r.signature().r_be().is_none());
}

#[test]
fn json_round_trip() {
    let b = sample(5);
    let r = Report::parse(&b).unwrap();
    let mut buf = std::vec![0u8; json::RENDER_CAPACITY];
    let text = json::render(&r, &mut buf).unwrap();
    assert!(text.starts_with("{\"version\":5,\"guest_svn\":7,\"policy\":196639,"));
    assert!(text.contains("\"product\":\"Genoa\""));
    let mut back = [0u8; REPORT_SIZE];
    json::from_json(text, &mut back).unwrap();
    assert_eq!(&back[..], &b[..]);
}

#[test]
fn json_from_json_names_what_is_wrong() {
    let b = sample(5);
    let r = Report::parse(&b).unwrap();
    let mut buf = std::vec![0u8; json::RENDER_CAPACITY];
    let text = json::render(&r, &mut buf)
        .unwrap()
        .replace("\"chip_id\"", "\"chip\"");
    let mut back = [0u8; REPORT_SIZE];
    assert_eq!(
        json::from_json(&text, &mut back),
        Err(crate::error::JsonError::MissingField { field: "chip_id" })
    );
    let text = text.replace("\"vmpl\":0", "\"vmpl\":4294967296");
    assert_eq!(
        json::from_json(&text, &mut back),
        Err(crate::error::JsonError::InvalidField { field: "vmpl" })
    );
}

#[test]
fn render_reports_a_small_buffer() {
    let b = sample(5);
    let r = Report::parse(&b).unwrap();
    let mut buf = [0u8; 100];
    assert!(matches!(
        json::render(&r, &mut buf),
        Err(crate::error::JsonError::BufferTooSmall { capacity: 100 })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any 1184 bytes either parse or give an error; reading every accessor never panics.
    #[test]
    fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), REPORT_SIZE)) {
        if let Ok(r) = Report::parse(&bytes) {
            let _ = (r.current_tcb().parts(), r.reported_tcb().parts(), r.cpuid(), r.policy().unknown_bits());
            let _ = (r.signature().r_be(), r.signature().s_be(), r.reserved_nonzero().count());
            let mut buf = std::vec![0u8; json::RENDER_CAPACITY];
            let text = json::render(&r, &mut buf).unwrap();
            let mut back = [0u8; REPORT_SIZE];
            json::from_json(text, &mut back).unwrap();
            prop_assert_eq!(&back[..], &bytes[..]);
        }
    }

    /// Reports with a valid header round-trip through JSON exactly, whatever the other bytes.
    #[test]
    fn valid_reports_round_trip(mut bytes in proptest::collection::vec(any::<u8>(), REPORT_SIZE), version in 1u32..=5) {
        bytes[0..4].copy_from_slice(&version.to_le_bytes());
        bytes[offset::SIGNATURE_ALGO..][..4].copy_from_slice(&1u32.to_le_bytes());
        let r = Report::parse(&bytes);
        // A random CPUID can only be rejected together with a hint; without one it parses.
        let r = r.unwrap();
        let mut buf = std::vec![0u8; json::RENDER_CAPACITY];
        let text = json::render(&r, &mut buf).unwrap();
        let mut back = [0u8; REPORT_SIZE];
        json::from_json(text, &mut back).unwrap();
        prop_assert_eq!(&back[..], &bytes[..]);
    }

    /// Inputs of any other length are rejected with their length.
    #[test]
    fn wrong_lengths_are_rejected(len in 0usize..3000) {
        prop_assume!(len != REPORT_SIZE);
        let bytes = std::vec![1u8; len];
        prop_assert_eq!(Report::parse(&bytes).unwrap_err(), ReportError::Length { actual: len });
    }
}
