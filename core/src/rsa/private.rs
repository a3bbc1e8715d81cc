//! The core's RSA private key: 2048, 3072 or 4096 bits, CRT parameters in `crypto-bigint`
//! fixed-size integers, constant-time and blinded (see the `crt` module), OAEP decoded without branching on
//! secret data (see [`super::oaep`]). No heap, no random number generator: each operation takes
//! a [`BlindingSeed`] from the caller.

use core::fmt;

use crypto_bigint::{U1024, U2048};

use super::crt::CrtKey;
use super::oaep::{self, OaepDecrypt, OaepError, OaepHash, RsaPublicParts};
use super::pkcs1::RsaPrivateKeyDer;
use crate::private_key::KeyError;
use crate::private_key::pkcs8::{self, PrivateKeyDer};
use crate::secret::BlindingSeed;

/// Largest modulus supported, in bytes.
pub const MAX_MODULUS_LEN: usize = 512;

/// Stack space wiped after each private-key operation (best effort; see
/// [`zeroize::zeroize_stack`]).
const STACK_SCRUB: usize = 48 * 1024;

// Sized for the largest key on purpose: the core has no heap to box variants in.
#[allow(clippy::large_enum_variant)]
// RSA-3072 keys (1536-bit primes) use the 2048-bit prime arithmetic: a third instantiation
// would add about 15 KB of code to the core for a key size the sidecars do not generate.
enum Crt {
    Primes1024(CrtKey<{ U1024::LIMBS }>),
    Primes2048(CrtKey<{ U2048::LIMBS }>),
}

/// An RSA private key held by the core. Secret parts are wiped on drop; `Debug` shows only the
/// size.
pub struct RsaPrivateKey {
    crt: Crt,
    n: [u8; MAX_MODULUS_LEN],
    n_len: usize,
    e: [u8; 4],
    e_len: usize,
}

fn public_exponent(e: &[u8]) -> Result<u32, KeyError> {
    if e.len() > 4 {
        return Err(KeyError::Exponent);
    }
    let v = e.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    if v < 3 || v % 2 == 0 {
        return Err(KeyError::Exponent);
    }
    Ok(v)
}

impl RsaPrivateKey {
    /// Builds the key from its components and checks that they form a working key pair.
    pub fn from_components(c: &RsaPrivateKeyDer<'_>) -> Result<Self, KeyError> {
        let e = public_exponent(c.e)?;
        let k = c.n.len();
        // Each prime must fit in half the modulus limbs.
        let half = k / 2;
        if c.p.len() > half {
            return Err(KeyError::Component { field: "p" });
        }
        if c.q.len() > half {
            return Err(KeyError::Component { field: "q" });
        }
        let crt = match k {
            256 => Crt::Primes1024(CrtKey::new(c, e)?),
            384 | 512 => Crt::Primes2048(CrtKey::new(c, e)?),
            bytes => return Err(KeyError::ModulusSize { bytes }),
        };
        let mut n = [0u8; MAX_MODULUS_LEN];
        n.get_mut(..k)
            .ok_or(KeyError::ModulusSize { bytes: k })?
            .copy_from_slice(c.n);
        let mut e_bytes = [0u8; 4];
        e_bytes
            .get_mut(..c.e.len())
            .ok_or(KeyError::Exponent)?
            .copy_from_slice(c.e);
        Ok(RsaPrivateKey {
            crt,
            n,
            n_len: k,
            e: e_bytes,
            e_len: c.e.len(),
        })
    }

    /// Reads a DER PKCS#1 `RSAPrivateKey` or PKCS#8 `PrivateKeyInfo` holding one.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        match pkcs8::read_der(der)? {
            PrivateKeyDer::Rsa(c) => Self::from_components(&c),
            PrivateKeyDer::Ec(_) => Err(KeyError::KeyType),
        }
    }

    /// Reads PEM (`RSA PRIVATE KEY` or `PRIVATE KEY`) or DER, decoding PEM into `scratch`
    /// (about 2.4 KB for RSA-4096; the caller wipes it afterwards).
    pub fn from_pem_or_der(input: &[u8], scratch: &mut [u8]) -> Result<Self, KeyError> {
        match pkcs8::read(input, scratch)? {
            PrivateKeyDer::Rsa(c) => Self::from_components(&c),
            PrivateKeyDer::Ec(_) => Err(KeyError::KeyType),
        }
    }

    /// Modulus size in bits (2048, 3072 or 4096 for keys of full length).
    pub fn bits(&self) -> usize {
        let top = self.n.first().copied().unwrap_or(0);
        self.n_len
            .saturating_mul(8)
            .saturating_sub(top.leading_zeros() as usize)
    }

    #[inline(never)]
    fn raw(&self, c: &[u8], seed: &BlindingSeed, em: &mut [u8]) -> Result<(), OaepError> {
        // RSADP: the ciphertext, as an integer, must be below n (both are k big-endian bytes,
        // so byte order is numeric order; both are public).
        if c >= self.n.get(..self.n_len).unwrap_or(&[]) {
            return Err(OaepError::CiphertextRange);
        }
        match &self.crt {
            Crt::Primes1024(k) => k.decrypt_raw(c, seed, em),
            Crt::Primes2048(k) => k.decrypt_raw(c, seed, em),
        }
    }
}

impl OaepDecrypt for RsaPrivateKey {
    fn public_key(&self) -> RsaPublicParts<'_> {
        RsaPublicParts {
            n: self.n.get(..self.n_len).unwrap_or(&[]),
            e: self.e.get(..self.e_len).unwrap_or(&[]),
        }
    }

    fn modulus_len(&self) -> usize {
        self.n_len
    }

    fn decrypt_oaep<'o>(
        &self,
        hash: OaepHash,
        ciphertext: &[u8],
        blinding: &BlindingSeed,
        out: &'o mut [u8],
    ) -> Result<&'o [u8], OaepError> {
        if ciphertext.len() != self.n_len {
            return Err(OaepError::CiphertextLength {
                expected: self.n_len,
                actual: ciphertext.len(),
            });
        }
        let mut em_buf = [0u8; MAX_MODULUS_LEN];
        let em = em_buf
            .get_mut(..self.n_len)
            .ok_or(OaepError::CiphertextRange)?;
        let raw = self.raw(ciphertext, blinding, em);
        zeroize::zeroize_stack::<STACK_SCRUB>();
        let r = match raw {
            Ok(()) => oaep::decode(hash, em, out),
            Err(e) => Err(e),
        };
        zeroize::Zeroize::zeroize(&mut em_buf);
        r
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey(RSA-{}, redacted)", self.bits())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rsa::oaep::tests::encode;
    use crate::rsa::pkcs1;
    use std::vec;
    use std::vec::Vec;

    const PEM: &[u8] = include_bytes!("../../../vectors/data/csc/skr/rsa_aes_kwp_private_key.pem");

    pub(crate) fn vector_key() -> RsaPrivateKey {
        let mut scratch = [0u8; 2048];
        RsaPrivateKey::from_pem_or_der(PEM, &mut scratch).unwrap()
    }

    /// The vector key as DER PKCS#1 `RSAPrivateKey`.
    pub(crate) fn vector_key_der() -> Vec<u8> {
        let mut scratch = [0u8; 2048];
        let (_, der) = crate::private_key::pem::unarmor(PEM, &mut scratch).unwrap();
        der.to_vec()
    }

    /// Textbook RSA with the public key (tests only).
    pub(crate) fn public_raw(public: RsaPublicParts<'_>, m: &[u8]) -> Vec<u8> {
        use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
        use crypto_bigint::{Odd, U64, U4096};
        let n = super::super::uint_bytes::from_be::<{ U4096::LIMBS }>(public.n).unwrap();
        let params = FixedMontyParams::new_vartime(Odd::new(n).unwrap());
        let e = public.e.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
        let m = super::super::uint_bytes::from_be::<{ U4096::LIMBS }>(m).unwrap();
        let c = FixedMontyForm::new(&m, &params)
            .pow_vartime(&U64::from_u64(e))
            .retrieve();
        let mut out = vec![0u8; public.n.len()];
        super::super::uint_bytes::write_be(&c, &mut out);
        out
    }

    #[test]
    fn loads_the_vector_key() {
        let key = vector_key();
        assert_eq!((key.bits(), key.modulus_len()), (2048, 256));
        assert_eq!(key.public_key().e, &[1, 0, 1]);
        assert_eq!(std::format!("{key:?}"), "RsaPrivateKey(RSA-2048, redacted)");
    }

    #[test]
    fn oaep_round_trip_every_hash() {
        let key = vector_key();
        for hash in [OaepHash::Sha1, OaepHash::Sha256, OaepHash::Sha384] {
            for (i, len) in [16usize, 24, 32, hash.max_message_len(256)]
                .into_iter()
                .enumerate()
            {
                let msg: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
                let em = encode(hash, 256, &msg, &[i as u8; 48]);
                let c = public_raw(key.public_key(), &em);
                let mut out = [0u8; 256];
                let seed = BlindingSeed::new([i as u8 ^ 0x33; 32]);
                assert_eq!(
                    key.decrypt_oaep(hash, &c, &seed, &mut out).unwrap(),
                    &msg[..]
                );
                // Another blinding factor, the same message.
                let seed = BlindingSeed::new([0xC3; 32]);
                assert_eq!(
                    key.decrypt_oaep(hash, &c, &seed, &mut out).unwrap(),
                    &msg[..]
                );
                let other = match hash {
                    OaepHash::Sha1 => OaepHash::Sha256,
                    _ => OaepHash::Sha1,
                };
                assert_eq!(
                    key.decrypt_oaep(other, &c, &seed, &mut out),
                    Err(OaepError::Decryption)
                );
            }
        }
    }

    #[test]
    fn ciphertext_checks() {
        let key = vector_key();
        let seed = BlindingSeed::new([1; 32]);
        let mut out = [0u8; 256];
        assert_eq!(
            key.decrypt_oaep(OaepHash::Sha1, &[0; 255], &seed, &mut out),
            Err(OaepError::CiphertextLength {
                expected: 256,
                actual: 255
            })
        );
        assert_eq!(
            key.decrypt_oaep(OaepHash::Sha1, &[0xFF; 256], &seed, &mut out),
            Err(OaepError::CiphertextRange)
        );
        let n = key.public_key().n.to_vec();
        assert_eq!(
            key.decrypt_oaep(OaepHash::Sha1, &n, &seed, &mut out),
            Err(OaepError::CiphertextRange)
        );
        // Zero decrypts to zero, which is not an OAEP encoding.
        assert_eq!(
            key.decrypt_oaep(OaepHash::Sha1, &[0; 256], &seed, &mut out),
            Err(OaepError::Decryption)
        );
    }

    #[test]
    fn inconsistent_components_are_refused() {
        let mut scratch = [0u8; 2048];
        let (_, der) = crate::private_key::pem::unarmor(PEM, &mut scratch).unwrap();
        let good = pkcs1::read(der).unwrap();
        let mut dp = good.dp.to_vec();
        dp[100] ^= 1;
        let bad = RsaPrivateKeyDer { dp: &dp, ..good };
        assert_eq!(
            RsaPrivateKey::from_components(&bad).unwrap_err(),
            KeyError::Inconsistent
        );
        let mut q = good.q.to_vec();
        q[127] ^= 2;
        let bad = RsaPrivateKeyDer { q: &q, ..good };
        assert_eq!(
            RsaPrivateKey::from_components(&bad).unwrap_err(),
            KeyError::Inconsistent
        );
        let bad = RsaPrivateKeyDer {
            e: &[1, 0, 0],
            ..good
        };
        assert_eq!(
            RsaPrivateKey::from_components(&bad).unwrap_err(),
            KeyError::Exponent
        );
        let bad = RsaPrivateKeyDer {
            n: &good.n[1..],
            ..good
        };
        assert!(RsaPrivateKey::from_components(&bad).is_err());
        let qinv = vec![1u8; 129];
        let bad = RsaPrivateKeyDer {
            qinv: &qinv,
            ..good
        };
        assert_eq!(
            RsaPrivateKey::from_components(&bad).unwrap_err(),
            KeyError::Component { field: "qi" }
        );
    }
}
