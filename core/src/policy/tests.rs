use super::*;
use crate::abi::{REPORT_SIZE, offset};
use crate::report::{TcbLayout, TcbVersion};
use std::string::ToString;
use std::vec::Vec;

/// A version-5 Genoa report with chosen fields (signature not needed for policy checks).
fn report_bytes() -> [u8; REPORT_SIZE] {
    let mut b = [0u8; REPORT_SIZE];
    b[offset::VERSION] = 5;
    b[offset::SIGNATURE_ALGO] = 1;
    b[offset::GUEST_SVN] = 3;
    // SMT allowed, reserved bit 17 set, ABI 1.55.
    b[offset::POLICY..offset::POLICY + 8].copy_from_slice(&0x3_0137u64.to_le_bytes());
    b[offset::CPUID_FAM_ID] = 0x19;
    b[offset::CPUID_FAM_ID + 1] = 0x11;
    let tcb = 0x5419_0000_0000_000au64.to_le_bytes();
    for o in [
        offset::CURRENT_TCB,
        offset::REPORTED_TCB,
        offset::COMMITTED_TCB,
        offset::LAUNCH_TCB,
    ] {
        b[o..o + 8].copy_from_slice(&tcb);
    }
    b[offset::MEASUREMENT] = 0xAA;
    b[offset::CURRENT_BUILD..offset::CURRENT_BUILD + 3].copy_from_slice(&[43, 55, 1]);
    b[offset::COMMITTED_BUILD..offset::COMMITTED_BUILD + 3].copy_from_slice(&[43, 55, 1]);
    b[offset::PLATFORM_INFO] = 0b10_0101;
    b[offset::LAUNCH_MIT_VECTOR] = 0b11;
    b
}

fn fields(b: &[u8], o: &PolicyOptions<'_>) -> Vec<&'static str> {
    let r = Report::parse(b).unwrap();
    violations(&r, o).map(|e| e.field).collect()
}

#[test]
fn default_policy_accepts_a_plain_report() {
    let b = report_bytes();
    assert_eq!(fields(&b, &PolicyOptions::default()), Vec::<&str>::new());
    assert!(check(&Report::parse(&b).unwrap(), &PolicyOptions::default()).is_ok());
}

#[test]
fn debug_is_forbidden_by_default() {
    let mut b = report_bytes();
    b[offset::POLICY + 2] |= 1 << 3; // bit 19
    let r = Report::parse(&b).unwrap();
    let defaults = PolicyOptions::default();
    let e = check(&r, &defaults).unwrap_err();
    assert_eq!(e.to_string(), "POLICY.DEBUG: expected false, found true");
    let allow = PolicyOptions {
        guest_policy: GuestPolicyRule {
            allow_debug: true,
            ..GuestPolicyRule::default()
        },
        ..PolicyOptions::default()
    };
    assert!(check(&r, &allow).is_ok());
}

#[test]
fn exact_fields_name_expected_and_actual() {
    let b = report_bytes();
    let mut m = [0u8; 48];
    m[0] = 0xAB;
    let o = PolicyOptions {
        measurement: Some(m),
        host_data: Some([0; 32]),
        ..PolicyOptions::default()
    };
    let r = Report::parse(&b).unwrap();
    let e = check(&r, &o).unwrap_err();
    assert_eq!(e.field, "MEASUREMENT");
    assert_eq!(e.relation, Relation::Equal);
    assert!(e.to_string().starts_with("MEASUREMENT: expected ab0000"));
    assert!(e.to_string().contains("found aa0000"));
}

#[test]
fn minimums_and_consistency() {
    let mut b = report_bytes();
    let layout = TcbLayout::Zen3Zen4;
    let reported = TcbVersion::new(0x5419_0000_0000_000a, layout).parts();
    let mut min = reported;
    min.snp = 26;
    let o = PolicyOptions {
        minimum_guest_svn: 4,
        minimum_tcb: Some(min),
        minimum_launch_tcb: Some(reported),
        minimum_build: 44,
        minimum_version: (1, 56),
        vmpl: Some(1),
        minimum_launch_mit_vector: 0b101,
        ..PolicyOptions::default()
    };
    assert_eq!(
        fields(&b, &o),
        [
            "GUEST_SVN",
            "REPORTED_TCB",
            "CURRENT_BUILD",
            "CURRENT_VERSION",
            "VMPL",
            "LAUNCH_MIT_VECTOR"
        ]
    );
    // Committed below current: an error unless provisional firmware is permitted.
    b[offset::COMMITTED_TCB + 6] = 0x18;
    b[offset::COMMITTED_BUILD] = 42;
    assert_eq!(
        fields(&b, &PolicyOptions::default()),
        ["COMMITTED_TCB", "COMMITTED_BUILD"]
    );
    let provisional = PolicyOptions {
        permit_provisional_firmware: true,
        ..PolicyOptions::default()
    };
    assert!(fields(&b, &provisional).is_empty());
    // A host reporting more than it runs.
    b[offset::REPORTED_TCB + 6] = 0x1A;
    assert_eq!(fields(&b, &provisional), ["REPORTED_TCB"]);
}

#[test]
fn policy_and_platform_bits() {
    let b = report_bytes();
    let o = PolicyOptions {
        guest_policy: GuestPolicyRule {
            min_abi: (1, 56),
            allow_smt: false,
            require_single_socket: true,
            require_ciphertext_hiding: true,
            ..GuestPolicyRule::default()
        },
        platform_info: Some(PlatformInfoRule {
            require_ecc: true,
            require_rapl_disabled: true,
            ..PlatformInfoRule::default()
        }),
        ..PolicyOptions::default()
    };
    assert_eq!(
        fields(&b, &o),
        [
            "POLICY.ABI",
            "POLICY.SMT",
            "POLICY.SINGLE_SOCKET",
            "POLICY.CIPHERTEXT_HIDING",
            "PLATFORM_INFO.SMT_EN",
            "PLATFORM_INFO.RAPL_DIS"
        ]
    );
}

#[test]
fn id_block_and_author_key() {
    let mut b = report_bytes();
    b[offset::ID_KEY_DIGEST] = 7;
    let mut trusted = [0u8; 48];
    trusted[0] = 7;
    let digests = [trusted];
    let o = PolicyOptions {
        require_id_block: true,
        trusted_id_key_digests: &digests,
        ..PolicyOptions::default()
    };
    assert!(fields(&b, &o).is_empty());
    let none = PolicyOptions {
        require_id_block: true,
        ..PolicyOptions::default()
    };
    assert_eq!(fields(&b, &none), ["ID_KEY_DIGEST"]);
    let author = PolicyOptions {
        require_author_key: true,
        trusted_author_key_digests: &digests,
        ..PolicyOptions::default()
    };
    assert_eq!(
        fields(&b, &author),
        ["AUTHOR_KEY_EN", "AUTHOR_KEY_DIGEST", "ID_KEY_DIGEST"]
    );
    // AUTHOR_KEY_EN with a trusted author key digest: the ID key need not be listed.
    b[offset::SIGNER_INFO] = 1;
    b[offset::AUTHOR_KEY_DIGEST] = 7;
    b[offset::ID_KEY_DIGEST] = 9;
    assert!(fields(&b, &author).is_empty());
}
