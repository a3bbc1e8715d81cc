//! The RSA private-key operation with the Chinese remainder theorem over `crypto-bigint`'s
//! fixed-size integers and Montgomery forms, generic over the limb count of each prime (`H`).
//! Everything is computed modulo p and modulo q: a value modulo n (the ciphertext, the
//! recombined result) is only ever held as its two `H`-limb halves, so no arithmetic modulo n
//! is instantiated for the private key (values mod n in `U4096` cost a 4096-bit exponentiation
//! per fault check, 16 times the work of the same check done modulo p and q).
//!
//! Constant time: every operation on secret values (entering c modulo p and q, blinding,
//! exponentiation with dp and dq, inversion, Garner's recombination, the fault check) uses
//! `crypto-bigint`'s constant-time API. Only public values (the key's shape, the final
//! fault-check outcome) are branched on.
//!
//! Blinding, per prime: with r drawn from the caller's [`BlindingSeed`], c mod p is multiplied
//! by r^e before the exponentiation with dp, which then yields m_p * r (as e * dp = 1 mod p-1),
//! and the result is multiplied by r^-1 mod p (constant-time inversion). So the secret
//! exponentiations never see the value the adversary chose. (If r happened to be 0 mod p, with
//! probability about 2^-1000, the result would be wrong and the fault check refuses it.)
//!
//! Fault check: the recombined m must satisfy m^e = c modulo p and modulo q, which by the
//! Chinese remainder theorem is m^e = c modulo n = p*q (checked when the key is built). It is
//! checked before anything is written: a fault in one half would otherwise reveal a prime, as
//! in the Bellcore attack.

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Limb, Odd, Uint};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use super::oaep::OaepError;
use super::pkcs1::RsaPrivateKeyDer;
use super::public::pow_by_public_exponent;
use super::uint_bytes;
use crate::private_key::KeyError;
use crate::secret::BlindingSeed;

/// A two-prime RSA private key in CRT form. Secret fields are wiped on drop.
pub(crate) struct CrtKey<const H: usize> {
    /// The public exponent: blinding and the fault check raise to it.
    e: u64,
    p: FixedMontyParams<H>,
    q: FixedMontyParams<H>,
    dp: Uint<H>,
    dq: Uint<H>,
    /// q^-1 mod p, in Montgomery form modulo p.
    qinv: Uint<H>,
}

fn component<const N: usize>(bytes: &[u8], field: &'static str) -> Result<Uint<N>, KeyError> {
    uint_bytes::from_be(bytes).ok_or(KeyError::Component { field })
}

fn odd<const N: usize>(v: Uint<N>, field: &'static str) -> Result<Odd<Uint<N>>, KeyError> {
    Odd::new(v)
        .into_option()
        .ok_or(KeyError::Component { field })
}

/// `lo + hi * R` modulo the prime (R = 2^(W*H)): entering `hi` and multiplying by R in
/// Montgomery form, whose representation is R^2 mod P.
fn reduce<const H: usize>(
    lo: &Uint<H>,
    hi: &Uint<H>,
    prime: &FixedMontyParams<H>,
) -> FixedMontyForm<H> {
    let radix = FixedMontyForm::from_montgomery(*prime.r2(), prime);
    FixedMontyForm::new(lo, prime).add(&FixedMontyForm::new(hi, prime).mul(&radix))
}

impl<const H: usize> CrtKey<H> {
    /// Builds the key and checks it: n = p*q, and a private operation passes the fault check.
    pub(crate) fn new(c: &RsaPrivateKeyDer<'_>, e: u32) -> Result<Self, KeyError> {
        let (n_lo, n_hi) = uint_bytes::from_be_halves::<H>(c.n).ok_or(KeyError::Inconsistent)?;
        let p = component::<H>(c.p, "p")?;
        let q = component::<H>(c.q, "q")?;
        let (lo, hi) = p.widening_mul(&q);
        if !bool::from(lo.ct_eq(&n_lo) & hi.ct_eq(&n_hi)) {
            return Err(KeyError::Inconsistent);
        }
        let p = FixedMontyParams::new(odd(p, "p")?);
        let qinv = FixedMontyForm::new(&component::<H>(c.qinv, "qi")?, &p).to_montgomery();
        let key = CrtKey {
            e: u64::from(e),
            p,
            q: FixedMontyParams::new(odd(q, "q")?),
            dp: component::<H>(c.dp, "dp")?,
            dq: component::<H>(c.dq, "dq")?,
            qinv,
        };
        // A wrong dp, dq or qi gives a result that fails the fault check.
        let mut out = [0u8; 8];
        let seed = BlindingSeed::new([0x5A; 32]);
        key.decrypt_raw(&0x0123_4567_89ab_cdef_u64.to_be_bytes(), &seed, &mut out)
            .map_err(|_| KeyError::Inconsistent)?;
        out.zeroize();
        Ok(key)
    }

    /// A blinding value for one prime: SHA-256 in counter mode over the seed and a label.
    fn blinding_value(seed: &BlindingSeed, label: u8) -> Uint<H> {
        let mut bytes = [0u8; 512];
        let len = Uint::<H>::BYTES.min(bytes.len());
        for (i, chunk) in (0u32..).zip(bytes.get_mut(..len).unwrap_or(&mut []).chunks_mut(32)) {
            let block = Sha256::new()
                .chain_update(b"csc-core RSA blinding")
                .chain_update([label])
                .chain_update(seed.as_bytes())
                .chain_update(i.to_be_bytes())
                .finalize();
            for (d, s) in chunk.iter_mut().zip(block.iter()) {
                *d = *s;
            }
        }
        let r = uint_bytes::from_be(bytes.get(..len).unwrap_or(&[])).unwrap_or(Uint::ZERO);
        bytes.zeroize();
        r
    }

    /// m_P = c^dP mod P, blinded with r (see the module docs); `c` is the ciphertext modulo P.
    /// The result is in Montgomery form modulo P.
    fn half(
        &self,
        prime: &FixedMontyParams<H>,
        d: &Uint<H>,
        c: &FixedMontyForm<H>,
        r: &Uint<H>,
    ) -> FixedMontyForm<H> {
        let r_m = FixedMontyForm::new(r, prime);
        let mut blinded = c.mul(&pow_by_public_exponent(&r_m, self.e));
        let mut m_r = blinded.pow_amm(d);
        let mut r_inv = r_m.invert().unwrap_or(FixedMontyForm::zero(prime));
        let m = m_r.mul(&r_inv);
        blinded.zeroize();
        m_r.zeroize();
        r_inv.zeroize();
        m
    }

    /// True (as a `Choice`) if m^e = c modulo `prime`, for m = `lo + hi * R`.
    fn check(
        &self,
        prime: &FixedMontyParams<H>,
        lo: &Uint<H>,
        hi: &Uint<H>,
        c: &FixedMontyForm<H>,
    ) -> Choice {
        let back = pow_by_public_exponent(&reduce(lo, hi, prime), self.e);
        back.as_montgomery().ct_eq(c.as_montgomery())
    }

    /// The raw private-key operation on `c` (big-endian, below n: the caller checks the
    /// range) into `out` (the modulus length).
    pub(crate) fn decrypt_raw(
        &self,
        c: &[u8],
        seed: &BlindingSeed,
        out: &mut [u8],
    ) -> Result<(), OaepError> {
        let (mut c_lo, mut c_hi) =
            uint_bytes::from_be_halves::<H>(c).ok_or(OaepError::CiphertextRange)?;
        let mut cp = reduce(&c_lo, &c_hi, &self.p);
        let mut cq = reduce(&c_lo, &c_hi, &self.q);
        c_lo.zeroize();
        c_hi.zeroize();
        let mut rp = Self::blinding_value(seed, b'p');
        let mut rq = Self::blinding_value(seed, b'q');
        let mut mp = self.half(&self.p, &self.dp, &cp, &rp);
        let mq = self.half(&self.q, &self.dq, &cq, &rq);
        rp.zeroize();
        rq.zeroize();
        // Garner: h = qinv * (m_p - m_q) mod p; m = m_q + h * q, as lo + hi * R.
        let mut mq_plain = mq.retrieve();
        let qinv = FixedMontyForm::from_montgomery(self.qinv, &self.p);
        let mut h = mp
            .sub(&FixedMontyForm::new(&mq_plain, &self.p))
            .mul(&qinv)
            .retrieve();
        let (lo, mut hi) = h.widening_mul(self.q.modulus().as_ref());
        let (mut lo, carry) = lo.carrying_add(&mq_plain, Limb::ZERO);
        hi = hi.wrapping_add(&Uint::from_word(carry.0));
        mp.zeroize();
        mq_plain.zeroize();
        h.zeroize();
        let ok = self.check(&self.p, &lo, &hi, &cp) & self.check(&self.q, &lo, &hi, &cq);
        cp.zeroize();
        cq.zeroize();
        // Write nothing unless the check passed.
        lo.conditional_assign(&Uint::ZERO, !ok);
        hi.conditional_assign(&Uint::ZERO, !ok);
        let result = if bool::from(ok) {
            uint_bytes::write_halves_be(&lo, &hi, out);
            Ok(())
        } else {
            Err(OaepError::Fault)
        };
        lo.zeroize();
        hi.zeroize();
        result
    }
}

impl<const H: usize> Drop for CrtKey<H> {
    fn drop(&mut self) {
        self.p.zeroize();
        self.q.zeroize();
        self.dp.zeroize();
        self.dq.zeroize();
        self.qinv.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rsa::oaep::RsaPublicParts;
    use crate::rsa::private::tests::{public_raw, vector_key_der};
    use crypto_bigint::U1024;

    #[test]
    fn decrypts_and_checks_faults() {
        let der = vector_key_der();
        let c = crate::private_key::pkcs1::read(&der).unwrap();
        let key = CrtKey::<{ U1024::LIMBS }>::new(&c, 65537).unwrap();
        // 2^e mod n decrypts to 2, for every blinding seed.
        let mut m = [0u8; 256];
        m[255] = 2;
        let two_e = public_raw(RsaPublicParts { n: c.n, e: c.e }, &m);
        for seed in [[3u8; 32], [0xFF; 32]] {
            let mut out = [0u8; 256];
            key.decrypt_raw(&two_e, &BlindingSeed::new(seed), &mut out)
                .unwrap();
            assert_eq!(out, m);
        }
        // A q^-1 that is off recombines wrongly: the fault check refuses the key.
        let qinv = [3u8];
        let bad = RsaPrivateKeyDer { qinv: &qinv, ..c };
        assert!(matches!(
            CrtKey::<{ U1024::LIMBS }>::new(&bad, 65537),
            Err(KeyError::Inconsistent)
        ));
    }
}
