//! Key unwrap for std builds: an aws-lc-rs RSA key (ephemeral RSA-2048 generation, RSA-OAEP
//! decryption) behind the core's [`OaepDecrypt`] trait, the core's AES key wrap (the `aes`
//! crate, AES-NI where the CPU has it), fresh blinding seeds from the OS, and one call that
//! unwraps a Key Vault release with all three.
//!
//! The core's own key ([`csc_core::rsa::private::RsaPrivateKey`]) implements the same trait and
//! passes the same vectors; this one is faster and is what the sidecar uses by default.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OaepAlgorithm,
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
};
use csc_core::der::{self, tag};
use csc_core::keywrap::pkcs8::{self, PrivateKeyDer};
use csc_core::keywrap::{KeyError, ReleaseError, ReleasedKey, unwrap_release_with};
use csc_core::rsa::oaep::{OaepDecrypt, OaepError, OaepHash, RsaPublicParts};
use csc_core::secret::BlindingSeed;
use zeroize::Zeroizing;

/// Why an aws-lc-rs key could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnwrapKeyError {
    /// Key generation failed.
    #[error("RSA key generation failed")]
    Generate,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// The key bytes could not be read.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// aws-lc-rs refused the key (unsupported size, inconsistent components, ...).
    #[error("aws-lc-rs rejected the RSA key: {0}")]
    Rejected(String),
    /// The public key aws-lc-rs exported could not be read back.
    #[error("cannot read the exported public key: {0}")]
    PublicKey(der::DerError),
}

/// RSA key sizes the sidecar may generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaBits {
    /// 2048 bits (what upstream and Key Vault releases use).
    B2048,
    /// 3072 bits.
    B3072,
    /// 4096 bits.
    B4096,
}

fn oaep_algorithm(hash: OaepHash) -> &'static OaepAlgorithm {
    match hash {
        OaepHash::Sha1 => &OAEP_SHA1_MGF1SHA1,
        OaepHash::Sha256 => &OAEP_SHA256_MGF1SHA256,
        OaepHash::Sha384 => &OAEP_SHA384_MGF1SHA384,
    }
}

/// An RSA private key held by aws-lc-rs, with its public half decoded for JWK rendering.
pub struct AwsLcRsaKey {
    key: PrivateDecryptingKey,
    /// SubjectPublicKeyInfo DER, and where n and e sit in it.
    spki: Vec<u8>,
    n: core::ops::Range<usize>,
    e: core::ops::Range<usize>,
}

impl std::fmt::Debug for AwsLcRsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AwsLcRsaKey(RSA-{}, redacted)", self.key.key_size_bits())
    }
}

/// Offsets of n and e inside a SubjectPublicKeyInfo holding an RSAPublicKey.
fn locate_n_e(
    spki: &[u8],
) -> Result<(core::ops::Range<usize>, core::ops::Range<usize>), der::DerError> {
    let seq = der::read_single(spki, tag::SEQUENCE)?;
    let mut r = seq.contents();
    let _alg = r.read(tag::SEQUENCE)?;
    let bits = r.read(tag::BIT_STRING)?;
    r.finish()?;
    let key = bits.bit_string_bytes()?;
    // The key starts one byte (the unused-bits count) into the BIT STRING's value.
    let key_start = bits.value_offset.saturating_add(1);
    let rsa = der::read_single(key, tag::SEQUENCE)?;
    let mut k = rsa.contents();
    let n = k.read(tag::INTEGER)?;
    let e = k.read(tag::INTEGER)?;
    k.finish()?;
    let range = |t: &der::Tlv<'_>| -> Result<core::ops::Range<usize>, der::DerError> {
        let v = t.uint_be()?;
        // uint_be drops at most a leading zero byte from the value.
        let start = key_start + t.value_offset + (t.value.len() - v.len());
        Ok(start..start + v.len())
    };
    Ok((range(&n)?, range(&e)?))
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der_tlv(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    der_len(value.len(), out);
    out.extend_from_slice(value);
}

fn der_uint(be: &[u8], out: &mut Vec<u8>) {
    out.push(tag::INTEGER);
    let pad = be.first().is_none_or(|b| *b >= 0x80);
    der_len(be.len() + usize::from(pad), out);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(be);
}

/// PKCS#8 DER of an RSA key from its components (for aws-lc-rs, which reads only PKCS#8).
fn rsa_pkcs8(k: &csc_core::rsa::pkcs1::RsaPrivateKeyDer<'_>) -> Zeroizing<Vec<u8>> {
    let mut ints = Zeroizing::new(Vec::with_capacity(4096));
    der_uint(&[], &mut ints);
    for v in [k.n, k.e, k.d, k.p, k.q, k.dp, k.dq, k.qinv] {
        der_uint(v, &mut ints);
    }
    let mut pkcs1 = Zeroizing::new(Vec::with_capacity(ints.len() + 8));
    der_tlv(tag::SEQUENCE, &ints, &mut pkcs1);
    // version 0, AlgorithmIdentifier { rsaEncryption, NULL }
    const HEAD: [u8; 18] = [
        0x02, 0x01, 0x00, 0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01,
        0x01, 0x05, 0x00,
    ];
    let mut body = Zeroizing::new(Vec::with_capacity(pkcs1.len() + 32));
    body.extend_from_slice(&HEAD);
    der_tlv(tag::OCTET_STRING, &pkcs1, &mut body);
    let mut out = Zeroizing::new(Vec::with_capacity(body.len() + 8));
    der_tlv(tag::SEQUENCE, &body, &mut out);
    out
}

impl AwsLcRsaKey {
    fn wrap(key: PrivateDecryptingKey) -> Result<Self, UnwrapKeyError> {
        let spki = key
            .public_key()
            .as_der()
            .map_err(|_| UnwrapKeyError::Generate)?
            .as_ref()
            .to_vec();
        let (n, e) = locate_n_e(&spki).map_err(UnwrapKeyError::PublicKey)?;
        Ok(AwsLcRsaKey { key, spki, n, e })
    }

    /// A fresh key: the ephemeral wrapping key of one key release.
    pub fn generate(bits: RsaBits) -> Result<Self, UnwrapKeyError> {
        let size = match bits {
            RsaBits::B2048 => KeySize::Rsa2048,
            RsaBits::B3072 => KeySize::Rsa3072,
            RsaBits::B4096 => KeySize::Rsa4096,
        };
        let key = PrivateDecryptingKey::generate(size).map_err(|_| UnwrapKeyError::Generate)?;
        Self::wrap(key)
    }

    /// The RSA-2048 ephemeral key upstream generates for every release.
    pub fn generate_ephemeral() -> Result<Self, UnwrapKeyError> {
        Self::generate(RsaBits::B2048)
    }

    /// Reads PKCS#1 or PKCS#8, DER or PEM.
    pub fn from_pem_or_der(input: &[u8]) -> Result<Self, UnwrapKeyError> {
        let mut scratch = Zeroizing::new(vec![0u8; input.len()]);
        let pkcs8_der = match pkcs8::read(input, &mut scratch)? {
            PrivateKeyDer::Rsa(k) => rsa_pkcs8(&k),
            PrivateKeyDer::Ec(_) => return Err(UnwrapKeyError::Key(KeyError::KeyType)),
        };
        let key = PrivateDecryptingKey::from_pkcs8(&pkcs8_der)
            .map_err(|e| UnwrapKeyError::Rejected(e.to_string()))?;
        Self::wrap(key)
    }

    /// A key from its components (e.g. the `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi` of a
    /// released RSA JWK); aws-lc-rs checks that they form a key.
    pub fn from_components(
        k: &csc_core::rsa::pkcs1::RsaPrivateKeyDer<'_>,
    ) -> Result<Self, UnwrapKeyError> {
        let key = PrivateDecryptingKey::from_pkcs8(&rsa_pkcs8(k))
            .map_err(|e| UnwrapKeyError::Rejected(e.to_string()))?;
        Self::wrap(key)
    }

    /// The private key as PKCS#8 DER (to load the same key into the core's backend).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, UnwrapKeyError> {
        let der = self.key.as_der().map_err(|_| UnwrapKeyError::Generate)?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    /// RSA-OAEP encryption with the public key (tests, benchmarks, and making test data).
    pub fn encrypt_oaep(&self, hash: OaepHash, message: &[u8]) -> Result<Vec<u8>, OaepError> {
        let public =
            OaepPublicEncryptingKey::new(self.key.public_key()).map_err(|_| OaepError::Backend)?;
        let mut out = vec![0u8; public.ciphertext_size()];
        let len = public
            .encrypt(oaep_algorithm(hash), message, &mut out, None)
            .map_err(|_| OaepError::Backend)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

impl OaepDecrypt for AwsLcRsaKey {
    fn public_key(&self) -> RsaPublicParts<'_> {
        RsaPublicParts {
            n: self.spki.get(self.n.clone()).unwrap_or(&[]),
            e: self.spki.get(self.e.clone()).unwrap_or(&[]),
        }
    }

    fn modulus_len(&self) -> usize {
        self.key.key_size_bytes()
    }

    /// aws-lc-rs blinds with its own random number generator; `blinding` is not used.
    fn decrypt_oaep<'o>(
        &self,
        hash: OaepHash,
        ciphertext: &[u8],
        _blinding: &BlindingSeed,
        out: &'o mut [u8],
    ) -> Result<&'o [u8], OaepError> {
        let k = self.key.key_size_bytes();
        if ciphertext.len() != k {
            return Err(OaepError::CiphertextLength {
                expected: k,
                actual: ciphertext.len(),
            });
        }
        let oaep =
            OaepPrivateDecryptingKey::new(self.key.clone()).map_err(|_| OaepError::Backend)?;
        // aws-lc-rs wants room for a whole modulus; the message itself is far shorter.
        let mut buf = Zeroizing::new(vec![0u8; k]);
        let msg = oaep
            .decrypt(oaep_algorithm(hash), ciphertext, &mut buf, None)
            .map_err(|_| OaepError::Decryption)?;
        let capacity = out.len();
        let dst = out.get_mut(..msg.len()).ok_or(OaepError::OutputTooSmall {
            needed: msg.len(),
            capacity,
        })?;
        dst.copy_from_slice(msg);
        Ok(dst)
    }
}

/// AES for key wrap in std builds: the core's [`csc_core::keywrap::Kek`], which is the `aes`
/// crate (AES-NI where the CPU has it, detected at run time), so there is one AES in the
/// workspace. The name stays for the callers that picked "the fast one" before the core used
/// the same crate.
pub type FastAes = csc_core::keywrap::Kek;

/// 32 fresh bytes from the operating system for one RSA private-key operation.
pub fn blinding_seed() -> Result<BlindingSeed, UnwrapKeyError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut *bytes).map_err(|_| UnwrapKeyError::Random)?;
    Ok(BlindingSeed::new(*bytes))
}

/// Why a release could not be unwrapped in a std build.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnwrapReleaseError {
    /// No randomness for blinding.
    #[error(transparent)]
    Random(#[from] UnwrapKeyError),
    /// The release itself is bad.
    #[error(transparent)]
    Release(#[from] ReleaseError),
}

/// Unwraps a Key Vault release (`enc` = request.enc, `ciphertext` = decoded key_hsm
/// ciphertext) with `key` (either backend), AES-NI and a fresh blinding seed. The key is
/// written in place on the heap (no stack copies) and wiped when the box is dropped.
pub fn unwrap_release<K: OaepDecrypt + ?Sized>(
    key: &K,
    enc: &str,
    ciphertext: &[u8],
) -> Result<Box<ReleasedKey>, UnwrapReleaseError> {
    let seed = blinding_seed()?;
    let mut out = Box::new(ReleasedKey::new());
    unwrap_release_with::<FastAes, K>(key, enc, ciphertext, &seed, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use csc_core::keywrap::{Kek, Mode, aes_kw};
    use csc_core::rsa::private::RsaPrivateKey;

    #[test]
    fn generated_key_round_trips_and_loads_into_the_core() {
        let key = AwsLcRsaKey::generate_ephemeral().unwrap();
        assert_eq!(key.modulus_len(), 256);
        assert_eq!(key.public_key().e, &[1, 0, 1]);
        let core = RsaPrivateKey::from_der(&key.to_pkcs8_der().unwrap()).unwrap();
        assert_eq!(core.public_key(), key.public_key());
        let seed = blinding_seed().unwrap();
        for hash in [OaepHash::Sha1, OaepHash::Sha256, OaepHash::Sha384] {
            let ct = key.encrypt_oaep(hash, b"0123456789abcdef").unwrap();
            let mut out = [0u8; 64];
            assert_eq!(
                key.decrypt_oaep(hash, &ct, &seed, &mut out).unwrap(),
                b"0123456789abcdef"
            );
            assert_eq!(
                core.decrypt_oaep(hash, &ct, &seed, &mut out).unwrap(),
                b"0123456789abcdef"
            );
        }
        assert!(std::format!("{key:?}").contains("redacted"));
    }

    #[test]
    fn core_key_wrap_matches_aws_lc() {
        use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap, KeyWrapPadded};
        for (len, alg) in [(16usize, &AES_128), (32, &AES_256)] {
            let kek_bytes: Vec<u8> = (0..len as u8).collect();
            let core = Kek::new(&kek_bytes).unwrap();
            let mut a = [0u8; 64];
            let mut b = [0u8; 64];
            let ours = aes_kw::wrap(&core, Mode::Kwp, b"some key bytes", &mut a).unwrap();
            let theirs = AesKek::new(alg, &kek_bytes)
                .unwrap()
                .wrap_with_padding(b"some key bytes", &mut b)
                .unwrap();
            assert_eq!(ours, theirs);
            let ours = aes_kw::wrap(&core, Mode::Kw, &[7u8; 32], &mut a).unwrap();
            let theirs = AesKek::new(alg, &kek_bytes)
                .unwrap()
                .wrap(&[7u8; 32], &mut b)
                .unwrap();
            assert_eq!(ours, theirs);
        }
        assert!(FastAes::new(&[0; 7]).is_err());
    }

    #[test]
    fn release_through_both_rsa_backends() {
        let pem = include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_private_key.pem");
        let blob_text =
            include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_ciphertext.b64url");
        let mut blob = vec![0u8; blob_text.len()];
        let n = csc_core::base64::decode_into(blob_text, &mut blob).unwrap();
        blob.truncate(n);
        let aws = AwsLcRsaKey::from_pem_or_der(pem).unwrap();
        let core = RsaPrivateKey::from_pem_or_der(pem, &mut [0u8; 2048]).unwrap();
        let a = unwrap_release(&aws, "CKM_RSA_AES_KEY_WRAP", &blob).unwrap();
        let b = unwrap_release(&core, "CKM_RSA_AES_KEY_WRAP", &blob).unwrap();
        assert_eq!(a.len(), 32);
        assert_eq!(a.as_bytes(), b.as_bytes());
        assert!(matches!(
            unwrap_release(&aws, "RSA_AES_KEY_WRAP_384", &blob),
            Err(UnwrapReleaseError::Release(ReleaseError::Oaep(_)))
        ));
    }

    #[test]
    fn pkcs1_is_wrapped_for_aws_lc() {
        let pem = include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_private_key.pem");
        let key = AwsLcRsaKey::from_pem_or_der(pem).unwrap();
        let mut scratch = [0u8; 2048];
        let core = RsaPrivateKey::from_pem_or_der(pem, &mut scratch).unwrap();
        assert_eq!(key.public_key(), core.public_key());
    }
}
