//! Key Vault's RSA-AES key wrap (`CKM_RSA_AES_KEY_WRAP`, `RSA_AES_KEY_WRAP_256`) undone with
//! aws-lc-rs alone, so that tests check a released key without the project's own unwrap.

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{OaepAlgorithm, OaepPrivateDecryptingKey};

/// Decrypts the RSA-OAEP part of `ciphertext` (the key's modulus size) with `key` and `alg`,
/// then unwraps the rest with AES-256-KWP under the key it gave. Panics on any failure.
pub fn rsa_aes_kwp(
    key: &OaepPrivateDecryptingKey,
    alg: &'static OaepAlgorithm,
    ciphertext: &[u8],
) -> Vec<u8> {
    let (rsa, kwp) = ciphertext.split_at(key.key_size_bytes());
    let mut kek = vec![0u8; key.key_size_bytes()];
    let kek = key.decrypt(alg, rsa, &mut kek, None).unwrap().to_vec();
    let mut out = vec![0u8; kwp.len()];
    let n = AesKek::new(&AES_256, &kek)
        .unwrap()
        .unwrap_with_padding(kwp, &mut out)
        .unwrap()
        .len();
    out.truncate(n);
    out
}
