//! Any bytes as a private key (PEM or DER; PKCS#8, PKCS#1, SEC1): the readers, the core's RSA
//! key, JWK rendering of released keys and the encfs key derivation either reject it with an
//! error or succeed, never panic, and a rendered JWK is valid JSON.
#![no_main]

use csc_core::jwk::{self, KeyOp, ReleasedKeyType};
use csc_core::keywrap::{hkdf, pkcs8};
use csc_core::rsa::private::RsaPrivateKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = vec![0u8; data.len()];
    if let Ok(key) = pkcs8::read(data, &mut scratch) {
        let mut out = vec![0u8; jwk::PRIVATE_JWK_CAPACITY];
        let rendered = match key {
            pkcs8::PrivateKeyDer::Rsa(k) => jwk::render_rsa_private(&k, &[KeyOp::Sign], &mut out),
            pkcs8::PrivateKeyDer::Ec(k) => jwk::render_ec_private(&k, &[], &mut out),
        };
        if let Ok(text) = rendered {
            assert!(csc_core::json::parse(text).is_ok(), "rendered JWK is JSON");
        }
    }
    let _ = RsaPrivateKey::from_pem_or_der(data, &mut vec![0u8; data.len()]);
    for kty in [ReleasedKeyType::Oct, ReleasedKeyType::Rsa, ReleasedKeyType::Ec] {
        let mut out = vec![0u8; jwk::PRIVATE_JWK_CAPACITY];
        if let Ok(text) = jwk::render_released_key(kty, data, &[KeyOp::WrapKey], &mut out) {
            assert!(csc_core::json::parse(text).is_ok(), "rendered JWK is JSON");
        }
    }
    let _ = hkdf::derive_from_rsa_key(data, "00ff", "");
});
