//! Every key-wrap vector of `index.json` (kinds `kwp_json`, `wycheproof_keywrap`, `rsa_aes_kwp`,
//! `jwk_matches_private_key`), through every backend that applies:
//!
//! - AES key wrap: the core's constant-time AES ([`Kek`]) and csc-crypto's AES-NI
//!   ([`FastAes`]), plus aws-lc-rs's own KWP as a third implementation where it has the key
//!   size (128 and 256 bits);
//! - RSA-OAEP: the core's [`RsaPrivateKey`] and csc-crypto's [`AwsLcRsaKey`].

use aws_lc_rs::key_wrap::{AES_128, AES_256, KeyEncryptionKey, KeyWrapPadded};
use csc_core::hex::{self, Hex};
use csc_core::jwk;
use csc_core::keywrap::{
    BlockCipher, Kek, KeyWrapError, Mode, ReleaseError, WrapAlgorithm, aes_kw, unwrap_rsa_aes_with,
};
use csc_core::rsa::oaep::{OaepDecrypt, OaepError};
use csc_core::rsa::private::RsaPrivateKey;
use csc_core::secret::BlindingSeed;
use csc_crypto::unwrap::{AwsLcRsaKey, FastAes};
use csc_vectors::{read, vectors_of};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn unhex(s: &str) -> Vec<u8> {
    let mut out = vec![0u8; s.len() / 2 + 1];
    let n = hex::decode_into(s.as_bytes(), &mut out).unwrap_or_else(|e| panic!("{s}: {e}"));
    out.truncate(n);
    out
}

fn seed() -> BlindingSeed {
    BlindingSeed::new([0x6B; 32])
}

/// KWP unwrap with the given AES implementation.
fn kwp_unwrap<C: BlockCipher>(kek: &[u8], wrapped: &[u8]) -> Result<Vec<u8>, KeyWrapError> {
    let c = C::new(kek)?;
    let mut out = vec![0u8; wrapped.len()];
    aes_kw::unwrap(&c, Mode::Kwp, wrapped, &mut out).map(<[u8]>::to_vec)
}

fn kwp_wrap<C: BlockCipher>(kek: &[u8], key: &[u8]) -> Result<Vec<u8>, KeyWrapError> {
    let c = C::new(kek)?;
    let mut out = vec![0u8; key.len() + 16];
    aes_kw::wrap(&c, Mode::Kwp, key, &mut out).map(<[u8]>::to_vec)
}

/// aws-lc-rs's own KWP (AES-128 and AES-256 only): `None` when it has no such key size.
fn aws_lc_kwp_unwrap(kek: &[u8], wrapped: &[u8]) -> Option<Result<Vec<u8>, ()>> {
    let cipher = match kek.len() {
        16 => &AES_128,
        32 => &AES_256,
        _ => return None,
    };
    let k = KeyEncryptionKey::new(cipher, kek).ok()?;
    let mut out = vec![0u8; wrapped.len() + 16];
    Some(
        k.unwrap_with_padding(wrapped, &mut out)
            .map(|v| v.to_vec())
            .map_err(|_| ()),
    )
}

#[test]
fn kwp_json_vectors() {
    let vs = vectors_of("kwp_json");
    assert!(!vs.is_empty());
    for v in vs {
        let file: Value = serde_json::from_slice(&read(v["file"].as_str().unwrap())).unwrap();
        let kek = unhex(file["kek"].as_str().unwrap());
        let positives = file["vectors"].as_array().unwrap();
        assert!(!positives.is_empty());
        for p in positives {
            let key = unhex(p["key_data"].as_str().unwrap());
            let wrapped = unhex(p["wrapped"].as_str().unwrap());
            let name = p["name"].as_str().unwrap();
            assert_eq!(
                kwp_unwrap::<Kek>(&kek, &wrapped).unwrap(),
                key,
                "{name} core"
            );
            assert_eq!(
                kwp_unwrap::<FastAes>(&kek, &wrapped).unwrap(),
                key,
                "{name} fast"
            );
            assert_eq!(
                kwp_wrap::<Kek>(&kek, &key).unwrap(),
                wrapped,
                "{name} core wrap"
            );
            assert_eq!(
                kwp_wrap::<FastAes>(&kek, &key).unwrap(),
                wrapped,
                "{name} fast wrap"
            );
        }
        let negatives = file["negative"].as_array().unwrap();
        assert!(!negatives.is_empty());
        for n in negatives {
            let kek = unhex(n["kek"].as_str().unwrap());
            let wrapped = unhex(n["wrapped"].as_str().unwrap());
            assert_eq!(n["expect"], "integrity failure");
            assert_eq!(
                kwp_unwrap::<Kek>(&kek, &wrapped),
                Err(KeyWrapError::Integrity)
            );
            assert_eq!(
                kwp_unwrap::<FastAes>(&kek, &wrapped),
                Err(KeyWrapError::Integrity)
            );
        }
    }
}

#[test]
fn wycheproof_kwp_all_valid_unwrap_all_invalid_fail() {
    let vs = vectors_of("wycheproof_keywrap");
    assert_eq!(vs.len(), 1);
    for v in vs {
        assert_eq!(v["mode"], "kwp");
        let file: Value = serde_json::from_slice(&read(v["file"].as_str().unwrap())).unwrap();
        let (mut valid, mut invalid, mut aws_lc_checked) = (0u64, 0u64, 0u64);
        for group in file["testGroups"].as_array().unwrap() {
            for t in group["tests"].as_array().unwrap() {
                let id = &t["tcId"];
                let kek = unhex(t["key"].as_str().unwrap());
                let msg = unhex(t["msg"].as_str().unwrap());
                let ct = unhex(t["ct"].as_str().unwrap());
                let aws = aws_lc_kwp_unwrap(&kek, &ct);
                match t["result"].as_str().unwrap() {
                    "valid" => {
                        valid += 1;
                        assert_eq!(kwp_unwrap::<Kek>(&kek, &ct).unwrap(), msg, "tc {id} core");
                        assert_eq!(kwp_unwrap::<FastAes>(&kek, &ct).unwrap(), msg, "tc {id}");
                        assert_eq!(kwp_wrap::<Kek>(&kek, &msg).unwrap(), ct, "tc {id} wrap");
                        assert_eq!(kwp_wrap::<FastAes>(&kek, &msg).unwrap(), ct, "tc {id}");
                        if let Some(r) = aws {
                            assert_eq!(r.unwrap(), msg, "tc {id} aws-lc");
                            aws_lc_checked += 1;
                        }
                    }
                    "invalid" => {
                        invalid += 1;
                        for r in [
                            kwp_unwrap::<Kek>(&kek, &ct),
                            kwp_unwrap::<FastAes>(&kek, &ct),
                        ] {
                            assert!(
                                matches!(
                                    r,
                                    Err(KeyWrapError::Integrity
                                        | KeyWrapError::WrappedLength { .. })
                                ),
                                "tc {id}: {r:?}"
                            );
                        }
                        if let Some(r) = aws {
                            assert!(r.is_err(), "tc {id} aws-lc accepts");
                            aws_lc_checked += 1;
                        }
                    }
                    other => panic!("tc {id}: result {other}"),
                }
            }
        }
        assert_eq!(valid, csc_vectors::as_u64(&v["counts"]["valid"]));
        assert_eq!(invalid, csc_vectors::as_u64(&v["counts"]["invalid"]));
        assert_eq!((valid, invalid), (77, 177));
        assert!(aws_lc_checked > 100, "aws-lc-rs checked {aws_lc_checked}");
    }
}

fn load_keys(pem_path: &str) -> (RsaPrivateKey, AwsLcRsaKey) {
    let pem = read(pem_path);
    let mut scratch = vec![0u8; pem.len()];
    let core = RsaPrivateKey::from_pem_or_der(&pem, &mut scratch).unwrap();
    let aws = AwsLcRsaKey::from_pem_or_der(&pem).unwrap();
    assert_eq!(core.public_key(), aws.public_key());
    (core, aws)
}

fn blob(path: &str) -> Vec<u8> {
    let text = read(path);
    let mut out = vec![0u8; text.len()];
    let n = csc_core::base64::decode_into(&text, &mut out).unwrap();
    out.truncate(n);
    out
}

fn unwrap_with<C: BlockCipher>(
    key: &dyn OaepDecrypt,
    alg: WrapAlgorithm,
    blob: &[u8],
) -> Result<Vec<u8>, ReleaseError> {
    let mut out = vec![0u8; blob.len()];
    unwrap_rsa_aes_with::<C, dyn OaepDecrypt>(key, alg, blob, &seed(), &mut out).map(<[u8]>::to_vec)
}

#[test]
fn rsa_aes_kwp_vectors_both_backends() {
    let vs = vectors_of("rsa_aes_kwp");
    assert_eq!(vs.len(), 2);
    let mut saw = (false, false);
    for v in vs {
        let id = v["id"].as_str().unwrap();
        let (core, aws) = load_keys(v["private_key"].as_str().unwrap());
        let alg = WrapAlgorithm::from_name(v["alg"].as_str().unwrap()).unwrap();
        let b = blob(v["ciphertext"].as_str().unwrap());
        let keys: [&dyn OaepDecrypt; 2] = [&core, &aws];
        for key in keys {
            let results = [
                unwrap_with::<Kek>(key, alg, &b),
                unwrap_with::<FastAes>(key, alg, &b),
            ];
            match v["expect"].as_str().unwrap() {
                "key" => {
                    saw.0 = true;
                    let expected = unhex(
                        std::str::from_utf8(&read(v["expected_key"].as_str().unwrap()))
                            .unwrap()
                            .trim(),
                    );
                    assert_eq!(expected.len(), 32);
                    for r in results {
                        assert_eq!(r.unwrap(), expected, "{id}");
                    }
                }
                "fail_oaep" => {
                    saw.1 = true;
                    for r in results {
                        assert_eq!(r, Err(ReleaseError::Oaep(OaepError::Decryption)), "{id}");
                    }
                }
                other => panic!("{id}: expect {other}"),
            }
        }
    }
    assert_eq!(saw, (true, true));
}

#[test]
fn every_single_bit_flip_of_the_release_blob_fails() {
    let v = vectors_of("rsa_aes_kwp")
        .into_iter()
        .find(|v| v["expect"] == "key")
        .unwrap();
    let (core, aws) = load_keys(v["private_key"].as_str().unwrap());
    let good = blob(v["ciphertext"].as_str().unwrap());
    let k = core.modulus_len();
    let alg = WrapAlgorithm::CkmRsaAesKeyWrap;
    for bit in 0..good.len() * 8 {
        let mut b = good.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        let in_rsa = bit / 8 < k;
        // Every bit through aws-lc-rs; the core (slower in debug builds) takes every 7th bit of
        // the RSA block and every bit of the key wrap.
        let mut keys: Vec<&dyn OaepDecrypt> = vec![&aws];
        if !in_rsa || bit % 7 == 0 {
            keys.push(&core);
        }
        for key in keys {
            let r = unwrap_with::<FastAes>(key, alg, &b);
            if in_rsa {
                assert!(matches!(r, Err(ReleaseError::Oaep(_))), "bit {bit}: {r:?}");
            } else {
                assert_eq!(
                    r,
                    Err(ReleaseError::KeyWrap(KeyWrapError::Integrity)),
                    "bit {bit}"
                );
            }
        }
    }
}

#[test]
fn jwk_set_matches_upstream_bytes_both_backends() {
    let vs = vectors_of("jwk_matches_private_key");
    assert_eq!(vs.len(), 1);
    for v in vs {
        let expected = read(v["file"].as_str().unwrap());
        let (core, aws) = load_keys(v["private_key"].as_str().unwrap());
        let keys: [&dyn OaepDecrypt; 2] = [&core, &aws];
        for key in keys {
            let mut buf = [0u8; jwk::PUBLIC_JWK_SET_CAPACITY];
            let text = jwk::render_public_jwk_set(key.public_key(), &mut buf).unwrap();
            assert_eq!(text.as_bytes(), &expected[..]);
            let kid = v["kid"].as_str().unwrap();
            assert!(text.contains(&format!("\"kid\":\"{kid}\"")));
            let digest = Sha256::digest(text.as_bytes());
            assert_eq!(Hex(&digest).to_string(), v["sha256"].as_str().unwrap());
        }
        // The digest is the report_data of the upstream v1 report.
        let report_text = read("shared/vectors/csc/test_snp_v1_report.hex");
        let mut scratch = vec![0u8; report_text.len()];
        let parsed = csc_core::input::parse(&report_text, &mut scratch, None).unwrap();
        assert_eq!(
            Hex(&parsed.report.report_data()[..32]).to_string(),
            v["sha256"].as_str().unwrap()
        );
    }
}

/// encfs's key derivation for released RSA keys, against OpenSSL's HKDF (`openssl kdf -keylen 32
/// -kdfopt digest:SHA256 -kdfopt hexkey:<d> [-kdfopt hexsalt:<salt>] -kdfopt info:<label> HKDF`
/// run on d of the upstream test key, OpenSSL 3.0.19).
#[test]
fn encfs_hkdf_matches_openssl() {
    use csc_core::keywrap::{hkdf, pkcs8};
    let pem = read("shared/vectors/csc/skr/rsa_aes_kwp_private_key.pem");
    let mut scratch = vec![0u8; pem.len()];
    let pkcs8::PrivateKeyDer::Rsa(k) = pkcs8::read(&pem, &mut scratch).unwrap() else {
        panic!("not an RSA key")
    };
    let default_label = "d44aea0db74566c3b1a7898dc7928f924670e5ea940e4f954ca39b13b416e83e";
    let with_salt = "745c41d1324cb827d44b106de7f864444dc3b37914a8f4ee6ba50234c919c0e6";
    let salt = "00112233445566778899aabbccddeeff";
    assert_eq!(
        Hex(hkdf::derive_key(k.d, "", "").unwrap().as_bytes()).to_string(),
        default_label
    );
    assert_eq!(
        Hex(hkdf::derive_key(k.d, salt, "my label").unwrap().as_bytes()).to_string(),
        with_salt
    );
    // The same from the PKCS#8 DER a release carries.
    let aws = AwsLcRsaKey::from_pem_or_der(&pem).unwrap();
    let der = aws.to_pkcs8_der().unwrap();
    assert_eq!(
        Hex(hkdf::derive_from_rsa_key(&der, salt, "my label")
            .unwrap()
            .as_bytes())
        .to_string(),
        with_salt
    );
}
