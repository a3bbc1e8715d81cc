//! Any bytes as a key-wrap input: byte 0 picks the KEK size, the next 16/24/32 bytes are the
//! KEK, the rest is unwrapped with KW and KWP (never a panic; on failure the output is wiped;
//! on success re-wrapping gives the input back). Inputs long enough also go through the Key
//! Vault release unwrap with the upstream test RSA key.
#![no_main]

use std::sync::OnceLock;

use csc_core::keywrap::{self, Kek, KeyWrapError, Mode, aes_kw};
use csc_core::rsa::private::RsaPrivateKey;
use csc_core::secret::BlindingSeed;
use libfuzzer_sys::fuzz_target;

const PEM: &[u8] = include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_private_key.pem");

fn rsa_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::from_pem_or_der(PEM, &mut [0u8; 2048]).expect("vector key"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let kek_len = [16, 24, 32][usize::from(sel % 3)];
    let Some((kek_bytes, wrapped)) = rest.split_at_checked(kek_len) else { return };
    let kek = Kek::new(kek_bytes).expect("valid KEK size");
    for mode in [Mode::Kw, Mode::Kwp] {
        let mut out = vec![0xAAu8; wrapped.len()];
        match aes_kw::unwrap(&kek, mode, wrapped, &mut out) {
            Ok(key) => {
                let key = key.to_vec();
                let mut again = vec![0u8; wrapped.len()];
                let w = aes_kw::wrap(&kek, mode, &key, &mut again).expect("re-wrap");
                assert_eq!(w, wrapped, "unwrap then wrap is the identity");
            }
            Err(KeyWrapError::Integrity) => {
                // Everything unwrap wrote (the input minus its first semiblock) is wiped.
                let written = wrapped.len().saturating_sub(8);
                assert!(out[..written].iter().all(|b| *b == 0), "output wiped on integrity failure");
            }
            Err(_) => {}
        }
    }
    if data.len() >= 272 && sel & 0x80 != 0 {
        let seed = BlindingSeed::new([sel; 32]);
        let enc = ["CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256", "RSA_AES_KEY_WRAP_384"]
            [usize::from(sel % 3)];
        let mut out = keywrap::ReleasedKey::new();
        if keywrap::unwrap_release(rsa_key(), enc, data, &seed, &mut out).is_err() {
            assert!(out.is_empty());
        }
    }
});
