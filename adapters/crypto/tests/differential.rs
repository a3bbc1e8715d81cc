//! The core's primitives against aws-lc-rs on random inputs (the OAEP half is in oaep.rs):
//!
//! - AES-KW / AES-KWP: the core's key wrap (the `aes` crate) wraps to the same bytes as
//!   aws-lc-rs's KW/KWP, unwraps what aws-lc-rs wrapped, and refuses the same altered inputs;
//! - RSA signatures (PSS-SHA384 with a 48-byte salt, PKCS#1 v1.5 SHA-256/384), 2048 and 4096
//!   bits: signatures made by aws-lc-rs verify with both backends, and both refuse the same
//!   altered messages and signatures;
//! - ECDSA P-384/SHA-384: the same, with fresh keys.

use std::sync::OnceLock;

use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap, KeyWrapPadded};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use csc_core::cert::alg::{P384_POINT_SIZE, RsaPublicKey};
use csc_core::keywrap::{Kek, Mode, aes_kw};
use csc_core::verify::{CoreCrypto, Crypto, Padding};
use csc_crypto::verify::AwsLcCrypto;
use proptest::prelude::*;

fn aws_kek(kek: &[u8]) -> AesKek {
    let alg = if kek.len() == 16 { &AES_128 } else { &AES_256 };
    AesKek::new(alg, kek).unwrap()
}

fn kek_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 16),
        proptest::collection::vec(any::<u8>(), 32),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn key_wrap_matches_aws_lc(
        kek in kek_strategy(),
        key in proptest::collection::vec(any::<u8>(), 1..300),
        flip in any::<usize>(),
    ) {
        let core = Kek::new(&kek).unwrap();
        // KWP: any length.
        let mut a = vec![0u8; key.len() + 16];
        let mut b = vec![0u8; key.len() + 16];
        let ours = aes_kw::wrap(&core, Mode::Kwp, &key, &mut a).unwrap().to_vec();
        let theirs = aws_kek(&kek).wrap_with_padding(&key, &mut b).unwrap().to_vec();
        prop_assert_eq!(&ours, &theirs);
        let mut out = vec![0u8; ours.len()];
        prop_assert_eq!(aes_kw::unwrap(&core, Mode::Kwp, &theirs, &mut out).unwrap(), &key[..]);
        let mut altered = theirs.clone();
        let at = flip % altered.len();
        altered[at] ^= 1 << (flip % 8);
        prop_assert!(aes_kw::unwrap(&core, Mode::Kwp, &altered, &mut out).is_err());
        let mut out2 = vec![0u8; altered.len() + 16];
        prop_assert!(aws_kek(&kek).unwrap_with_padding(&altered, &mut out2).is_err());
        // KW: whole semiblocks, at least two.
        let kw_len = (key.len() / 8).max(2) * 8;
        let kw_key: Vec<u8> = key.iter().cycle().take(kw_len).copied().collect();
        let ours = aes_kw::wrap(&core, Mode::Kw, &kw_key, &mut a[..]).map(<[u8]>::to_vec);
        let mut b = vec![0u8; kw_len + 16];
        let theirs = aws_kek(&kek).wrap(&kw_key, &mut b).map(|v| v.to_vec());
        if a.len() >= kw_len + 8 {
            prop_assert_eq!(ours.unwrap(), theirs.unwrap());
        }
    }
}

/// An aws-lc-rs signing key with its modulus and exponent.
type SigningKey = (RsaKeyPair, Vec<u8>, Vec<u8>);

/// aws-lc-rs signing keys, made once: RSA-2048 and RSA-4096.
fn rsa_keys() -> &'static [SigningKey; 2] {
    static KEYS: OnceLock<[SigningKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            aws_lc_rs::rsa::KeySize::Rsa2048,
            aws_lc_rs::rsa::KeySize::Rsa4096,
        ]
        .map(|size| {
            let kp = RsaKeyPair::generate(size).unwrap();
            let components: aws_lc_rs::rsa::PublicKeyComponents<Vec<u8>> = kp.public_key().into();
            assert_eq!(components.n.len(), kp.public_modulus_len());
            (kp, components.n, components.e)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn rsa_signatures_agree(
        size in 0usize..2,
        scheme in 0usize..3,
        msg in proptest::collection::vec(any::<u8>(), 0..600),
        flip in any::<usize>(),
    ) {
        let (kp, n, e) = &rsa_keys()[size];
        let (padding, encoding): (Padding, &'static dyn signature::RsaEncoding) = match scheme {
            0 => (Padding::PssSha384, &signature::RSA_PSS_SHA384),
            1 => (Padding::Pkcs1Sha256, &signature::RSA_PKCS1_SHA256),
            _ => (Padding::Pkcs1Sha384, &signature::RSA_PKCS1_SHA384),
        };
        let mut sig = vec![0u8; kp.public_modulus_len()];
        kp.sign(encoding, &SystemRandom::new(), &msg, &mut sig).unwrap();
        let key = RsaPublicKey { modulus: n, exponent: e };
        let aws = AwsLcCrypto::new();
        prop_assert_eq!(CoreCrypto.verify_rsa(padding, &key, &msg, &sig), Ok(()));
        prop_assert_eq!(aws.verify_rsa(padding, &key, &msg, &sig), Ok(()));
        let mut bad_sig = sig.clone();
        bad_sig[flip % sig.len()] ^= 1 << (flip % 8);
        prop_assert!(CoreCrypto.verify_rsa(padding, &key, &msg, &bad_sig).is_err());
        prop_assert!(aws.verify_rsa(padding, &key, &msg, &bad_sig).is_err());
        let mut bad_msg = msg.clone();
        bad_msg.push((flip & 0xFF) as u8);
        prop_assert!(CoreCrypto.verify_rsa(padding, &key, &bad_msg, &sig).is_err());
        prop_assert!(aws.verify_rsa(padding, &key, &bad_msg, &sig).is_err());
        // A signature from another scheme with the same key.
        let other = match padding { Padding::PssSha384 => Padding::Pkcs1Sha384, _ => Padding::PssSha384 };
        prop_assert_eq!(
            CoreCrypto.verify_rsa(other, &key, &msg, &sig).is_ok(),
            aws.verify_rsa(other, &key, &msg, &sig).is_ok()
        );
    }

    #[test]
    fn ecdsa_p384_agrees(
        msg in proptest::collection::vec(any::<u8>(), 0..1200),
        flip in any::<usize>(),
    ) {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref())
            .unwrap();
        let point: [u8; P384_POINT_SIZE] = kp.public_key().as_ref().try_into().unwrap();
        let sig = kp.sign(&rng, &msg).unwrap();
        let (r, s) = sig.as_ref().split_at(48);
        let (mut r, s): ([u8; 48], [u8; 48]) = (r.try_into().unwrap(), s.try_into().unwrap());
        let aws = AwsLcCrypto::new();
        prop_assert_eq!(CoreCrypto.verify_p384_sha384(&point, &msg, &r, &s), Ok(()));
        prop_assert_eq!(aws.verify_p384_sha384(&point, &msg, &r, &s), Ok(()));
        r[flip % 48] ^= 1 << (flip % 8);
        prop_assert!(CoreCrypto.verify_p384_sha384(&point, &msg, &r, &s).is_err());
        prop_assert!(aws.verify_p384_sha384(&point, &msg, &r, &s).is_err());
        // A point off the curve is refused as a key by both.
        let mut off = point;
        off[1 + flip % 96] ^= 1;
        prop_assert!(CoreCrypto.verify_p384_sha384(&off, &msg, &r, &s).is_err());
        prop_assert!(aws.verify_p384_sha384(&off, &msg, &r, &s).is_err());
    }
}
