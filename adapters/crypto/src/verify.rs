//! The aws-lc-rs backend for the core's verification ([`csc_core::verify::Crypto`]): SHA-384,
//! ECDSA P-384/SHA-384 and RSA (PSS-SHA384, PKCS#1 v1.5 SHA-256/384). It passes the same tests
//! as the core's own backend (`vectors/tests/verify.rs` runs both) and is several times faster.
//!
//! Public keys are parsed once and kept in a small cache keyed by their bytes: a sidecar checks
//! many reports against one VCEK, and parsing (point decoding and the on-curve check) is a
//! noticeable part of one verification.

use std::sync::Mutex;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use csc_core::cert::alg::{P384_POINT_SIZE, RsaPublicKey};
use csc_core::verify::backend::{P384_SCALAR_LEN, SHA384_LEN};
use csc_core::verify::{Crypto, Padding, SignatureError};

/// The aws-lc-rs backend.
#[derive(Debug, Default)]
pub struct AwsLcCrypto {
    last_ec_key: Mutex<Option<CachedKey>>,
}

struct CachedKey {
    point: [u8; P384_POINT_SIZE],
    key: ParsedPublicKey,
}

impl std::fmt::Debug for CachedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CachedKey(P-384)")
    }
}

impl AwsLcCrypto {
    /// A backend with an empty key cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn verify_ec(
        &self,
        point: &[u8; P384_POINT_SIZE],
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), SignatureError> {
        let parse = || {
            ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                .map_err(|_| SignatureError::Key)
        };
        // A poisoned lock only means another thread panicked mid-update; the cache is then
        // simply not used.
        let Ok(mut slot) = self.last_ec_key.lock() else {
            return parse()?
                .verify_sig(message, sig)
                .map_err(|_| SignatureError::Invalid);
        };
        if slot.as_ref().is_none_or(|c| &c.point != point) {
            *slot = Some(CachedKey {
                point: *point,
                key: parse()?,
            });
        }
        match slot.as_ref() {
            Some(c) => c
                .key
                .verify_sig(message, sig)
                .map_err(|_| SignatureError::Invalid),
            None => Err(SignatureError::Key),
        }
    }
}

impl Crypto for AwsLcCrypto {
    fn sha384(&self, parts: &[&[u8]]) -> [u8; SHA384_LEN] {
        let mut ctx = digest::Context::new(&digest::SHA384);
        for p in parts {
            ctx.update(p);
        }
        let mut out = [0u8; SHA384_LEN];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    fn verify_p384_sha384(
        &self,
        public_key: &[u8; P384_POINT_SIZE],
        message: &[u8],
        r: &[u8; P384_SCALAR_LEN],
        s: &[u8; P384_SCALAR_LEN],
    ) -> Result<(), SignatureError> {
        let mut sig = [0u8; 2 * P384_SCALAR_LEN];
        sig[..P384_SCALAR_LEN].copy_from_slice(r);
        sig[P384_SCALAR_LEN..].copy_from_slice(s);
        self.verify_ec(public_key, message, &sig)
    }

    fn verify_rsa(
        &self,
        padding: Padding,
        key: &RsaPublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let alg: &signature::RsaParameters = match padding {
            Padding::PssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            Padding::Pkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Padding::Pkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        };
        RsaPublicKeyComponents {
            n: key.modulus,
            e: key.exponent,
        }
        .verify(alg, message, signature)
        .map_err(|_| SignatureError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair};
    use csc_core::verify::CoreCrypto;

    #[test]
    fn agrees_with_the_core_backend_on_ecdsa() {
        let rng = SystemRandom::new();
        let aws = AwsLcCrypto::new();
        for i in 0..16u8 {
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
                    .unwrap();
            let kp = EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                pkcs8.as_ref(),
            )
            .unwrap();
            let point: [u8; P384_POINT_SIZE] = kp.public_key().as_ref().try_into().unwrap();
            let msg = [i; 672];
            let sig = kp.sign(&rng, &msg).unwrap();
            let (r, s) = sig.as_ref().split_at(P384_SCALAR_LEN);
            let (r, s): ([u8; 48], [u8; 48]) = (r.try_into().unwrap(), s.try_into().unwrap());
            for backend in [&aws as &dyn Crypto, &CoreCrypto] {
                assert_eq!(backend.verify_p384_sha384(&point, &msg, &r, &s), Ok(()));
                let mut other = msg;
                other[usize::from(i) * 7] ^= 1;
                assert!(backend.verify_p384_sha384(&point, &other, &r, &s).is_err());
            }
        }
        assert_eq!(aws.sha384(&[b"ab", b"c"]), CoreCrypto.sha384(&[b"abc"]));
    }
}
