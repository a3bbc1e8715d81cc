//! The RSA private-key operation with the Chinese remainder theorem over fixed-size integers
//! ([`super::bignum`]), generic over the limb counts of the modulus (`L`) and of each prime
//! (`H`, with `L = 2H`).
//!
//! Constant time: every operation on secret values (reduction modulo p and q, blinding,
//! exponentiation with dp and dq, inversion, Garner's recombination) is a fixed sequence of
//! limb operations; only public values (the ciphertext range check, the public exponent, the
//! final fault-check outcome) are branched on.
//!
//! Blinding, per prime: with r drawn from the caller's [`BlindingSeed`], c mod p is multiplied
//! by r^e before the exponentiation with dp, which then yields m_p * r (as e * dp = 1 mod p-1),
//! and the result is multiplied by r^-1 = r^(p-2), computed in the same pass. So the secret
//! exponentiations never see the value the adversary chose. (If r happened to be 0 mod p, with
//! probability about 2^-1000, the result would be wrong and the fault check refuses it.) The recombined result is checked against the public key before it is used
//! (a fault would otherwise reveal a prime, as in the Bellcore attack).

use sha2::{Digest, Sha256};
use subtle::ConditionallySelectable;
use zeroize::Zeroize;

use super::bignum::{Monty, Nat};
use super::oaep::OaepError;
use super::pkcs1::RsaPrivateKeyDer;
use crate::keywrap::KeyError;
use crate::secret::BlindingSeed;

/// A two-prime RSA private key in CRT form. Secret fields are wiped on drop.
pub(crate) struct CrtKey<const L: usize, const H: usize> {
    n: Monty<L>,
    e: u64,
    /// Modulus length in bytes.
    k: usize,
    p: Monty<H>,
    q: Monty<H>,
    dp: Nat<H>,
    dq: Nat<H>,
    /// q^-1 mod p, in Montgomery form modulo p.
    qinv: Nat<H>,
}

fn component<const N: usize>(bytes: &[u8], field: &'static str) -> Result<Nat<N>, KeyError> {
    Nat::from_be(bytes).ok_or(KeyError::Component { field })
}

/// The two halves of a double-width number.
fn split<const L: usize, const H: usize>(x: &Nat<L>) -> (Nat<H>, Nat<H>) {
    let mut lo = Nat::<H>::ZERO;
    let mut hi = Nat::<H>::ZERO;
    let mut limbs = x.0.iter();
    for (d, s) in lo.0.iter_mut().zip(&mut limbs) {
        *d = *s;
    }
    for (d, s) in hi.0.iter_mut().zip(&mut limbs) {
        *d = *s;
    }
    (lo, hi)
}

/// lo + hi * 2^(64H) as one number.
fn join<const L: usize, const H: usize>(lo: &Nat<H>, hi: &Nat<H>) -> Nat<L> {
    let mut out = Nat::<L>::ZERO;
    for (d, s) in out.0.iter_mut().zip(lo.0.iter().chain(hi.0.iter())) {
        *d = *s;
    }
    out
}

impl<const L: usize, const H: usize> CrtKey<L, H> {
    const SHAPE_OK: () = assert!(L == H.wrapping_mul(2), "the modulus has two primes' limbs");

    /// Builds the key and checks it: n = p*q, and a private operation inverts the public one.
    pub(crate) fn new(c: &RsaPrivateKeyDer<'_>, e: u32) -> Result<Self, KeyError> {
        let () = Self::SHAPE_OK;
        let n_nat = component::<L>(c.n, "n")?;
        let p_nat = component::<H>(c.p, "p")?;
        let q_nat = component::<H>(c.q, "q")?;
        let (lo, hi) = p_nat.mul_wide(&q_nat);
        if !bool::from(join::<L, H>(&lo, &hi).ct_eq(&n_nat)) {
            return Err(KeyError::Inconsistent);
        }
        let n = Monty::new(n_nat).ok_or(KeyError::Component { field: "n" })?;
        let p = Monty::new(p_nat).ok_or(KeyError::Component { field: "p" })?;
        let q = Monty::new(q_nat).ok_or(KeyError::Component { field: "q" })?;
        let qinv = component::<H>(c.qinv, "qi")?;
        let key = CrtKey {
            n,
            e: u64::from(e),
            k: c.n.len(),
            qinv: p.enter(&qinv),
            p,
            q,
            dp: component::<H>(c.dp, "dp")?,
            dq: component::<H>(c.dq, "dq")?,
        };
        key.self_test()?;
        Ok(key)
    }

    /// Encrypts a fixed value with the public key and requires the private key to give it back.
    fn self_test(&self) -> Result<(), KeyError> {
        let x = Nat::<L>::from_u64(0x0123_4567_89ab_cdef);
        let c = self.n.leave(&self.n.pow_public(&self.n.enter(&x), self.e));
        let mut c_bytes = [0u8; 512];
        let mut m_bytes = [0u8; 512];
        let (Some(cb), Some(mb)) = (c_bytes.get_mut(..self.k), m_bytes.get_mut(..self.k)) else {
            return Err(KeyError::ModulusSize { bytes: self.k });
        };
        c.write_be(cb);
        let seed = BlindingSeed::new([0x5A; 32]);
        self.decrypt_raw(cb, &seed, mb)
            .map_err(|_| KeyError::Inconsistent)?;
        let back = Nat::<L>::from_be(mb).ok_or(KeyError::Inconsistent)?;
        if bool::from(back.ct_eq(&x)) {
            Ok(())
        } else {
            Err(KeyError::Inconsistent)
        }
    }

    /// A blinding value for one prime: SHA-256 in counter mode over the seed and a label.
    fn blinding_value(seed: &BlindingSeed, label: u8) -> Nat<H> {
        let mut bytes = [0u8; 512];
        let len = H.saturating_mul(8).min(bytes.len());
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
        let r = Nat::from_be(bytes.get(..len).unwrap_or(&[])).unwrap_or(Nat::ZERO);
        bytes.zeroize();
        r
    }

    /// m_P = c^dP mod P, blinded with r (see the module docs). `c_lo`, `c_hi` are the halves of
    /// the ciphertext; the result is in Montgomery form modulo P.
    ///
    /// The unblinding factor r^-1 is r^(P-2) (Fermat), folded into the same exponentiation:
    /// (c * r^e)^dP * r^(P-2) = m * r * r^-1, with the squarings shared.
    fn half(
        prime: &Monty<H>,
        d: &Nat<H>,
        e: u64,
        c_lo: &Nat<H>,
        c_hi: &Nat<H>,
        r: &Nat<H>,
    ) -> Nat<H> {
        // c mod P = c_lo + c_hi * R, in Montgomery form.
        let c = prime.add(
            &prime.enter(c_lo),
            &prime.mul(&prime.enter(c_hi), &prime.radix()),
        );
        let mut r_m = prime.enter(r);
        let mut x = prime.mul(&c, &prime.pow_public(&r_m, e));
        let (mut p_minus_2, _) = prime.modulus().sub(&Nat::from_u64(2));
        let m = prime.pow2(&x, d, &r_m, &p_minus_2);
        r_m.zeroize();
        x.zeroize();
        p_minus_2.zeroize();
        m
    }

    /// The raw private-key operation on `c` (exactly k big-endian bytes) into `out` (k bytes).
    pub(crate) fn decrypt_raw(
        &self,
        c: &[u8],
        seed: &BlindingSeed,
        out: &mut [u8],
    ) -> Result<(), OaepError> {
        let c = Nat::<L>::from_be(c).ok_or(OaepError::CiphertextRange)?;
        if !bool::from(c.ct_lt(self.n.modulus())) {
            return Err(OaepError::CiphertextRange);
        }
        let (c_lo, c_hi) = split::<L, H>(&c);
        let mut rp = Self::blinding_value(seed, b'p');
        let mut rq = Self::blinding_value(seed, b'q');
        let mut mp = Self::half(&self.p, &self.dp, self.e, &c_lo, &c_hi, &rp);
        let mq = Self::half(&self.q, &self.dq, self.e, &c_lo, &c_hi, &rq);
        rp.zeroize();
        rq.zeroize();
        // Garner: h = qinv * (m_p - m_q) mod p; m = m_q + h * q.
        let mut mq_plain = self.q.leave(&mq);
        let mq_in_p = self.p.enter(&mq_plain);
        let mut h = self
            .p
            .leave(&self.p.mul(&self.p.sub(&mp, &mq_in_p), &self.qinv));
        let (lo, hi) = h.mul_wide(self.q.modulus());
        let (mut m, _) = join::<L, H>(&lo, &hi).add(&join::<L, H>(&mq_plain, &Nat::ZERO));
        mp.zeroize();
        mq_plain.zeroize();
        h.zeroize();
        // Fault check: m^e must give back c.
        let m_m = self.n.enter(&m);
        let c_m = self.n.enter(&c);
        let ok = self.n.pow_public(&m_m, self.e).ct_eq(&c_m);
        // Write nothing unless the check passed.
        m.conditional_assign(&Nat::ZERO, !ok);
        if !bool::from(ok) {
            return Err(OaepError::Fault);
        }
        m.write_be(out);
        m.zeroize();
        Ok(())
    }
}

impl<const L: usize, const H: usize> Drop for CrtKey<L, H> {
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

    #[test]
    fn split_and_join() {
        let x = Nat::<4>([1, 2, 3, 4]);
        let (lo, hi) = split::<4, 2>(&x);
        assert_eq!((lo, hi), (Nat([1, 2]), Nat([3, 4])));
        assert_eq!(join::<4, 2>(&lo, &hi), x);
    }
}
