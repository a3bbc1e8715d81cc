//! Certificate reading against AMD's real ARK/ASK certificates (the built-in roots).

use super::amd::AmdExtensions;
use super::*;
use std::string::ToString;

const MILAN_ARK: &[u8] = include_bytes!("../verify/roots/milan_ark.der");
const TURIN_ASK: &[u8] = include_bytes!("../verify/roots/turin_ask.der");

#[test]
fn reads_amd_roots() {
    let ark = Certificate::from_der(MILAN_ARK).unwrap();
    assert_eq!(ark.version(), 3);
    assert_eq!(ark.serial(), &[0x01, 0x00, 0x00]);
    assert_eq!(ark.subject().common_name(), Some("ARK-Milan"));
    assert!(ark.is_self_issued());
    assert_eq!(
        ark.tbs_signature_algorithm().scheme(),
        Ok(SignatureScheme::RsaPssSha384)
    );
    assert_eq!(
        ark.tbs_signature_algorithm().raw,
        ark.signature_algorithm().raw
    );
    assert_eq!(
        ark.validity().not_before.to_string(),
        "2020-10-22 17:23:05 UTC"
    );
    assert_eq!(
        ark.validity().not_after.to_string(),
        "2045-10-22 17:23:05 UTC"
    );
    let PublicKey::Rsa(k) = ark.public_key() else {
        panic!("ARK key is RSA")
    };
    assert_eq!((k.modulus.len(), k.exponent), (512, &[1, 0, 1][..]));
    assert_eq!(ark.signature().len(), 512);
    assert_eq!(
        AmdExtensions::from_cert(&ark).unwrap(),
        AmdExtensions::default()
    );

    let ask = Certificate::from_der(TURIN_ASK).unwrap();
    assert_eq!(ask.subject().common_name(), Some("SEV-Turin"));
    assert_eq!(ask.issuer().common_name(), Some("ARK-Turin"));
    assert!(!ask.is_self_issued());
    // Subject key id, authority key id, basic constraints, key usage, CRL distribution points.
    assert_eq!(ask.extensions().count(), 5);
    assert!(ask.extension(&[0x55, 0x1D, 0x13]).unwrap().critical);
}

#[test]
fn rejects_structural_damage() {
    // Trailing byte.
    let mut long = MILAN_ARK.to_vec();
    long.push(0);
    assert!(matches!(
        Certificate::from_der(&long),
        Err(CertError::Der(_))
    ));
    // Truncated.
    assert!(Certificate::from_der(&MILAN_ARK[..MILAN_ARK.len() - 1]).is_err());
    // notBefore month 13: "201022172305Z" -> "201322172305Z".
    let mut bad_time = MILAN_ARK.to_vec();
    let at = bad_time
        .windows(13)
        .position(|w| w == b"201022172305Z")
        .unwrap();
    bad_time[at + 2] = b'1';
    bad_time[at + 3] = b'3';
    assert!(matches!(
        Certificate::from_der(&bad_time),
        Err(CertError::Time { .. })
    ));
}

#[test]
fn any_single_byte_change_is_seen_or_harmless() {
    // Every byte of a certificate either breaks parsing or changes what the verifier compares
    // (signed TBS, outer algorithm, or signature); none is silently ignored.
    let good = Certificate::from_der(MILAN_ARK).unwrap();
    let mut buf = MILAN_ARK.to_vec();
    for i in 0..buf.len() {
        buf[i] ^= 0x01;
        if let Ok(c) = Certificate::from_der(&buf) {
            assert!(
                c.tbs() != good.tbs()
                    || c.signature_algorithm().raw != good.signature_algorithm().raw
                    || c.signature() != good.signature(),
                "byte {i}"
            );
        }
        buf[i] ^= 0x01;
    }
}

/// A CRL made by an independent encoder (Python `cryptography`, RSASSA-PSS-SHA384, two
/// revoked serials 0x010001 and 0x020002, issuer CN=ARK-Milan; see testdata/README.md).
const PSS_CRL: &[u8] = include_bytes!("testdata/pss_crl.der");

#[test]
fn reads_a_crl() {
    use super::crl::Crl;
    let crl = Crl::from_der(PSS_CRL).unwrap();
    assert_eq!(crl.issuer().common_name(), Some("ARK-Milan"));
    assert_eq!(
        crl.tbs_signature_algorithm().scheme(),
        Ok(SignatureScheme::RsaPssSha384)
    );
    assert_eq!(crl.this_update().to_string(), "2024-01-01 00:00:00 UTC");
    assert_eq!(
        crl.next_update().unwrap().to_string(),
        "2024-12-31 00:00:00 UTC"
    );
    let serials: std::vec::Vec<&[u8]> = crl.revoked().map(|r| r.serial).collect();
    assert_eq!(serials, [&[0x01, 0x00, 0x01][..], &[0x02, 0x00, 0x02]]);
    assert!(crl.is_revoked(&[0x01, 0x00, 0x01]) && !crl.is_revoked(&[0x01]));
    // Every truncation is rejected, never mis-read.
    for n in 0..PSS_CRL.len() {
        assert!(Crl::from_der(&PSS_CRL[..n]).is_err(), "{n}");
    }
}
