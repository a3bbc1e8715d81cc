//! The key importkey imports, as a JWK, and what it writes or tells the operator about it:
//! oct keys (given with `-kh`, or generated), RSA keys (`-kp`, or generated and written to
//! `private_key.pem`), EC keys, and the octet key `-out` writes (for RSA keys the core's HKDF
//! derivation, the one encfs uses on the released key).

use std::path::Path;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use csc_azure::jose::b64url_encode;
use csc_core::base64::{self, Alphabet};
use csc_core::jwk::{self, KeyOps};
use csc_core::keywrap::hkdf;
use csc_core::keywrap::pkcs8::{self, PrivateKeyDer};
use csc_core::rsa::pkcs1::RsaPrivateKeyDer;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::config::ImportKeyConfig;
use super::{Options, PRIVATE_KEY_FILE};
use crate::exit::Failure;
use crate::input::read_input;
use crate::secret_file::write_secret_file;

fn hex_decode(text: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let t = text.trim().as_bytes();
    let len = csc_core::hex::decoded_len(t)
        .map_err(|e| Failure::malformed(format!("{what} is not hex: {e}")))?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    let n = csc_core::hex::decode_into(t, &mut out)
        .map_err(|e| Failure::malformed(format!("{what} is not hex: {e}")))?;
    out.truncate(n);
    Ok(out)
}

/// Sizes an oct-HSM key may have, in bytes.
const OCT_SIZES: [usize; 3] = [16, 24, 32];

/// The oct key `-kh` names: an existing file's bytes (upstream's reading) when the file is a
/// valid key size, else the file's text as hex; a string that is not a file is hex.
pub fn oct_key_from_arg(arg: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let path = Path::new(arg);
    if path.exists() {
        let bytes = Zeroizing::new(read_input(arg)?);
        if OCT_SIZES.contains(&bytes.len()) {
            return Ok(bytes);
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Failure::malformed(format!(
                "-kh file {arg} is {} bytes: neither a 16, 24 or 32-byte key nor hex text",
                bytes.len()
            ))
        })?;
        return hex_decode(text, &format!("-kh file {arg}"));
    }
    hex_decode(arg, "-kh (not an existing file, so read as hex)")
}

/// The `key_ops` of the configuration, checked: only the operations jwx accepts (a key with
/// any other could be imported, but skr could never hand it out).
pub fn key_ops(names: &[String]) -> Result<KeyOps, Failure> {
    KeyOps::from_names(names.iter().map(String::as_str))
        .map_err(|e| Failure::usage(format!("key.key_ops: {e}")))
}

/// Bits of a big-endian modulus.
pub fn modulus_bits(n: &[u8]) -> usize {
    let n = &n[n.iter().position(|b| *b != 0).unwrap_or(n.len())..];
    n.first()
        .map(|top| (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize))
        .unwrap_or(0)
}

/// An RSA private key as a JWK (`kty` RSA, as jwx renders it), checked for consistency by the
/// core's renderer.
pub fn rsa_jwk(key: &RsaPrivateKeyDer<'_>, ops: &KeyOps) -> Result<Value, Failure> {
    let mut buf = Zeroizing::new(vec![0u8; 8 * key.n.len() + 1024]);
    let text = jwk::render_rsa_private(key, ops.as_slice(), &mut buf)
        .map_err(|e| Failure::malformed(format!("RSA private key: {e}")))?;
    serde_json::from_str(text).map_err(|e| Failure::malformed(format!("RSA JWK: {e}")))
}

/// Reads an RSA private key (PEM `PRIVATE KEY` or `RSA PRIVATE KEY`, or DER), calls `f` with it.
pub fn with_rsa_key<T>(
    input: &[u8],
    f: impl FnOnce(&RsaPrivateKeyDer<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let mut scratch = Zeroizing::new(vec![0u8; input.len()]);
    match pkcs8::read(input, &mut scratch) {
        Ok(PrivateKeyDer::Rsa(k)) => f(&k),
        Ok(PrivateKeyDer::Ec(_)) => Err(Failure::malformed(
            "the key is an EC key; -kp takes an RSA key",
        )),
        Err(e) => Err(Failure::malformed(format!("RSA private key: {e}"))),
    }
}

fn pkcs8_of(pair: &KeyPair) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let der: Pkcs8V1Der<'_> = pair
        .as_der()
        .map_err(|_| Failure::usage("could not encode the RSA key as PKCS#8"))?;
    Ok(Zeroizing::new(der.as_ref().to_vec()))
}

/// PEM text of PKCS#8 DER (`PRIVATE KEY`, 64-column base64).
pub fn pkcs8_pem(der: &[u8]) -> Zeroizing<String> {
    let mut b64 = Zeroizing::new(vec![
        0u8;
        base64::encoded_len(der.len(), Alphabet::Standard)
    ]);
    let text = base64::encode_into(der, Alphabet::Standard, &mut b64).unwrap_or("");
    let mut out = Zeroizing::new(String::from("-----BEGIN PRIVATE KEY-----\n"));
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or(""));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// The octet key `-out` writes for an RSA key: the core's encfs derivation (HKDF-SHA256 of the
/// private exponent with the hex salt and the label), so encfs derives the same key from the
/// released RSA key.
pub fn derive_octet_key(
    key: &RsaPrivateKeyDer<'_>,
    salt_hex: &str,
    label: &str,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let k = hkdf::derive_key(key.d, salt_hex, label).map_err(Failure::malformed)?;
    Ok(Zeroizing::new(k.as_bytes().to_vec()))
}

/// The key to import and what to tell the operator about it.
pub(super) struct Material {
    pub jwk: Value,
    pub octet: Option<Zeroizing<Vec<u8>>>,
    pub notes: Vec<String>,
}

pub(super) fn oct_material(opts: &Options, cfg: &ImportKeyConfig) -> Result<Material, Failure> {
    if opts.key_pem.is_some() {
        return Err(Failure::usage(
            "-kp is for RSA-HSM keys; this key is oct-HSM",
        ));
    }
    let (key, origin) = match &opts.key_hex {
        Some(arg) => (oct_key_from_arg(arg)?, "given with -kh"),
        None => {
            let mut k = Zeroizing::new(vec![0u8; 32]);
            aws_lc_rs::rand::fill(&mut k)
                .map_err(|_| Failure::usage("the random generator failed"))?;
            (k, "generated")
        }
    };
    if !OCT_SIZES.contains(&key.len()) {
        return Err(Failure::malformed(format!(
            "an oct-HSM key is 16, 24 or 32 bytes; this one is {}",
            key.len()
        )));
    }
    key_ops(&cfg.key.key_ops)?;
    let mut jwk = json!({"kty": "oct-HSM", "k": b64url_encode(&key), "key_size": key.len() * 8});
    if !cfg.key.key_ops.is_empty() {
        jwk["key_ops"] = json!(cfg.key.key_ops);
    }
    let mut note = format!(
        "Symmetric key ({} bits) {origin}, not printed",
        key.len() * 8
    );
    if !opts.out && opts.key_hex.is_none() {
        note.push_str("; no copy is kept (-out writes one to keyfile.bin)");
    }
    Ok(Material {
        jwk,
        octet: Some(key),
        notes: vec![note],
    })
}

pub(super) fn rsa_material(opts: &Options, cfg: &ImportKeyConfig) -> Result<Material, Failure> {
    if opts.key_hex.is_some() {
        return Err(Failure::usage(
            "-kh is for oct-HSM keys; this key is RSA-HSM",
        ));
    }
    let ops = key_ops(&cfg.key.key_ops)?;
    let (input, origin) = match &opts.key_pem {
        Some(path) => (
            Zeroizing::new(read_input(&path.display().to_string())?),
            format!("read from {}", path.display()),
        ),
        None => {
            let pair = KeyPair::generate(KeySize::Rsa2048)
                .map_err(|e| Failure::usage(format!("RSA key generation failed: {e}")))?;
            let der = pkcs8_of(&pair)?;
            let path = opts.dir.join(PRIVATE_KEY_FILE);
            write_secret_file(&path, pkcs8_pem(&der).as_bytes())?;
            (
                der,
                format!(
                    "generated; private key written to {} (mode 0600)",
                    path.display()
                ),
            )
        }
    };
    with_rsa_key(&input, |key| {
        let mut notes = vec![format!("RSA key ({} bits) {origin}", modulus_bits(key.n))];
        let jwk = rsa_jwk(key, &ops)?;
        let octet = if opts.out {
            let salt = if cfg.key_derivation.salt.is_empty() {
                let mut s = [0u8; 32];
                aws_lc_rs::rand::fill(&mut s)
                    .map_err(|_| Failure::usage("the random generator failed"))?;
                csc_core::hex::Hex(&s).to_string()
            } else {
                cfg.key_derivation.salt.clone()
            };
            let label = if cfg.key_derivation.label.is_empty() {
                hkdf::DEFAULT_LABEL
            } else {
                cfg.key_derivation.label.as_str()
            };
            let key = derive_octet_key(key, &salt, label)?;
            notes.push(format!(
                "Symmetric key derived from the RSA key, not printed (salt: {salt} label: {label})"
            ));
            Some(key)
        } else {
            None
        };
        Ok(Material { jwk, octet, notes })
    })
}

/// An EC private key (PKCS#8 DER) as a JWK (`kty` EC, `crv`, `x`, `y`, `d`).
pub fn ec_jwk(pkcs8_der: &[u8], ops: &KeyOps) -> Result<Value, Failure> {
    let mut buf = Zeroizing::new(vec![0u8; jwk::PRIVATE_JWK_CAPACITY]);
    let text = jwk::render_released_key(
        jwk::ReleasedKeyType::Ec,
        pkcs8_der,
        ops.as_slice(),
        &mut buf,
    )
    .map_err(|e| Failure::malformed(format!("EC private key: {e}")))?;
    serde_json::from_str(text).map_err(|e| Failure::malformed(format!("EC JWK: {e}")))
}

pub(super) fn ec_material(opts: &Options, cfg: &ImportKeyConfig) -> Result<Material, Failure> {
    if opts.key_hex.is_some() {
        return Err(Failure::usage(
            "-kh is for oct-HSM keys; this key is EC-HSM",
        ));
    }
    let ops = key_ops(&cfg.key.key_ops)?;
    let (der, origin) = match &opts.key_pem {
        Some(path) => {
            let input = Zeroizing::new(read_input(&path.display().to_string())?);
            let der = if csc_core::pem::is_pem(&input) {
                let mut out = Zeroizing::new(vec![0u8; input.len()]);
                let n = csc_core::pem::decode_first(&input, "PRIVATE KEY", &mut out)
                    .map_err(|e| {
                        Failure::malformed(format!("EC private key (PKCS#8 PEM expected): {e}"))
                    })?
                    .len();
                out.truncate(n);
                out
            } else {
                input
            };
            (der, format!("read from {}", path.display()))
        }
        None => {
            use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
                .map_err(|e| Failure::usage(format!("EC key generation failed: {e}")))?;
            let der = Zeroizing::new(
                pair.to_pkcs8v1()
                    .map_err(|_| Failure::usage("could not encode the EC key as PKCS#8"))?
                    .as_ref()
                    .to_vec(),
            );
            let path = opts.dir.join(PRIVATE_KEY_FILE);
            write_secret_file(&path, pkcs8_pem(&der).as_bytes())?;
            (
                der,
                format!(
                    "generated (P-256); private key written to {} (mode 0600)",
                    path.display()
                ),
            )
        }
    };
    let jwk = ec_jwk(&der, &ops)?;
    let crv = jwk["crv"].as_str().unwrap_or("?").to_string();
    if opts.out {
        return Err(Failure::usage(
            "-out writes a key file for oct-HSM and RSA-HSM keys; this key is EC-HSM",
        ));
    }
    Ok(Material {
        jwk,
        octet: None,
        notes: vec![format!("EC key ({crv}) {origin}")],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oct_key_argument_forms() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.bin");
        std::fs::write(&raw, [0x41u8; 32]).unwrap();
        assert_eq!(
            &oct_key_from_arg(raw.to_str().unwrap()).unwrap()[..],
            &[0x41; 32]
        );
        let hex = dir.path().join("hex.txt");
        std::fs::write(&hex, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(
            &oct_key_from_arg(hex.to_str().unwrap()).unwrap()[..],
            &[0xab; 32]
        );
        assert_eq!(
            &oct_key_from_arg(&"0f".repeat(16)).unwrap()[..],
            &[0x0f; 16]
        );
        let e = oct_key_from_arg("not-a-file-nor-hex").unwrap_err();
        assert_eq!(e.code, crate::exit::MALFORMED);
        let junk = dir.path().join("junk.bin");
        std::fs::write(&junk, [0xffu8; 7]).unwrap();
        assert_eq!(
            oct_key_from_arg(junk.to_str().unwrap()).unwrap_err().code,
            crate::exit::MALFORMED
        );
    }

    #[test]
    fn ec_jwk_from_generated_keys_of_both_curves() {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
        };
        let ops = key_ops(&["sign".into(), "verify".into()]).unwrap();
        for (alg, crv, len) in [
            (&ECDSA_P256_SHA256_ASN1_SIGNING, "P-256", 43),
            (&ECDSA_P384_SHA384_ASN1_SIGNING, "P-384", 64),
        ] {
            let der = EcdsaKeyPair::generate(alg).unwrap().to_pkcs8v1().unwrap();
            let j = ec_jwk(der.as_ref(), &ops).unwrap();
            assert_eq!(
                (j["kty"].as_str(), j["crv"].as_str()),
                (Some("EC"), Some(crv))
            );
            for m in ["x", "y", "d"] {
                assert_eq!(j[m].as_str().unwrap().len(), len, "{crv} {m}");
            }
            assert_eq!(j["key_ops"], json!(["sign", "verify"]));
        }
        assert!(ec_jwk(b"not a key", &ops).is_err());
    }

    #[test]
    fn rsa_jwk_from_a_generated_key_and_its_pem() {
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let der = pkcs8_of(&pair).unwrap();
        let ops = key_ops(&["unwrapKey".to_string()]).unwrap();
        let jwk = with_rsa_key(&der, |k| {
            assert_eq!(modulus_bits(k.n), 2048);
            rsa_jwk(k, &ops)
        })
        .unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["key_ops"], json!(["unwrapKey"]));
        for m in ["n", "d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk[m].as_str().is_some_and(|v| !v.is_empty()), "{m}");
        }
        // The PEM written for a generated key reads back as the same key.
        let pem = pkcs8_pem(&der);
        let again = with_rsa_key(pem.as_bytes(), |k| rsa_jwk(k, &ops)).unwrap();
        assert_eq!(again, jwk);
        assert_eq!(
            with_rsa_key(b"no key here", |_| Ok(())).unwrap_err().code,
            crate::exit::MALFORMED
        );
        assert!(key_ops(&["exportKey".to_string()]).is_err());
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01]), 1);
    }

    #[test]
    fn octet_key_derivation_agrees_with_aws_lc_hkdf() {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        let d = [0x0bu8; 22];
        let one = [1u8];
        let k = RsaPrivateKeyDer {
            n: &one,
            e: &one,
            d: &d,
            p: &one,
            q: &one,
            dp: &one,
            dq: &one,
            qinv: &one,
        };
        for (salt_hex, label, info) in [
            (
                "000102030405060708090a0b0c",
                "Model Encryption Key",
                "Model Encryption Key",
            ),
            ("", "", hkdf::DEFAULT_LABEL),
        ] {
            let salt = hex_decode(salt_hex, "salt").unwrap();
            let mut want = [0u8; 32];
            Salt::new(HKDF_SHA256, &salt)
                .extract(&d)
                .expand(&[info.as_bytes()], HKDF_SHA256)
                .unwrap()
                .fill(&mut want)
                .unwrap();
            let got = derive_octet_key(&k, salt_hex, label).unwrap();
            assert_eq!(&got[..], &want[..], "{salt_hex} {label}");
        }
        assert!(derive_octet_key(&k, "not hex", "x").is_err());
    }
}
