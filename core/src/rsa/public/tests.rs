use super::*;
use crate::cert::alg::PublicKey;
use crate::der::{read_single, tag};

const MSG: &[u8] = include_bytes!("../testdata/msg.bin");

fn key(spki: &[u8]) -> RsaPublicKey<'_> {
    match PublicKey::from_spki(read_single(spki, tag::SEQUENCE).unwrap()).unwrap() {
        PublicKey::Rsa(k) => k,
        other => panic!("not RSA: {other:?}"),
    }
}

#[test]
fn known_signatures_verify() {
    let k3072 = key(include_bytes!("../testdata/rsa3072.spki.der"));
    let k2049 = key(include_bytes!("../testdata/rsa2049.spki.der"));
    let cases: [(&RsaPublicKey<'_>, Padding, &[u8]); 4] = [
        (
            &k3072,
            Padding::PssSha384,
            include_bytes!("../testdata/rsa3072.pss384.sig"),
        ),
        (
            &k3072,
            Padding::Pkcs1Sha256,
            include_bytes!("../testdata/rsa3072.pkcs256.sig"),
        ),
        (
            &k2049,
            Padding::PssSha384,
            include_bytes!("../testdata/rsa2049.pss384.sig"),
        ),
        (
            &k2049,
            Padding::Pkcs1Sha384,
            include_bytes!("../testdata/rsa2049.pkcs384.sig"),
        ),
    ];
    for (k, padding, sig) in cases {
        assert_eq!(verify(k, padding, MSG, sig), Ok(()), "{padding:?}");
        // Wrong message, wrong padding, flipped signature bit.
        assert_eq!(verify(k, padding, b"other", sig), Err(RsaError::Invalid));
        let other = if padding == Padding::PssSha384 {
            Padding::Pkcs1Sha384
        } else {
            Padding::PssSha384
        };
        assert_eq!(verify(k, other, MSG, sig), Err(RsaError::Invalid));
        let mut bad = sig.to_vec();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x10;
        assert_eq!(verify(k, padding, MSG, &bad), Err(RsaError::Invalid));
    }
}

#[test]
fn rejects_bad_keys_and_lengths() {
    let k = key(include_bytes!("../testdata/rsa3072.spki.der"));
    let sig = include_bytes!("../testdata/rsa3072.pss384.sig");
    assert_eq!(
        verify(&k, Padding::PssSha384, MSG, &sig[1..]),
        Err(RsaError::SignatureLength {
            expected: 384,
            actual: 383
        })
    );
    // The modulus itself as signature is not below the modulus.
    assert_eq!(
        verify(&k, Padding::PssSha384, MSG, k.modulus),
        Err(RsaError::Invalid)
    );
    let small = RsaPublicKey {
        modulus: &k.modulus[..128],
        exponent: k.exponent,
    };
    assert!(matches!(
        verify(&small, Padding::PssSha384, MSG, &sig[..128]),
        Err(RsaError::ModulusSize { bits: 1024 })
    ));
    let mut even = k.modulus.to_vec();
    *even.last_mut().unwrap() &= 0xFE;
    let even = RsaPublicKey {
        modulus: &even,
        exponent: k.exponent,
    };
    assert!(matches!(
        verify(&even, Padding::PssSha384, MSG, sig),
        Err(RsaError::ModulusSize { .. })
    ));
    for e in [&[3u8, 0][..], &[1], &[1; 9], &[]] {
        let k = RsaPublicKey {
            modulus: k.modulus,
            exponent: e,
        };
        assert_eq!(
            verify(&k, Padding::PssSha384, MSG, sig),
            Err(RsaError::Exponent)
        );
    }
}
