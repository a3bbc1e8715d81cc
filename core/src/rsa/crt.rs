//! The RSA private-key operation with the Chinese remainder theorem over `crypto-bigint`'s
//! fixed-size integers and Montgomery forms, generic over the limb count of each prime (`H`).
//! Values modulo n (the ciphertext, the recombined result, the fault check) are [`U4096`]
//! whatever the key size: that is one instantiation of the arithmetic modulo n, shared with
//! signature verification, where three would cost about 10 KB of code for a few
//! multiplications each.
//!
//! Constant time: every operation on secret values (entering c modulo p and q, blinding,
//! exponentiation with dp and dq, inversion, Garner's recombination) uses `crypto-bigint`'s
//! constant-time API; its variable-time API is used only with the public modulus n. Only
//! public values (the ciphertext range check, the final fault-check outcome) are branched on.
//!
//! Blinding, per prime: with r drawn from the caller's [`BlindingSeed`], c mod p is multiplied
//! by r^e before the exponentiation with dp, which then yields m_p * r (as e * dp = 1 mod p-1),
//! and the result is multiplied by r^-1 mod p (constant-time inversion). So the secret
//! exponentiations never see the value the adversary chose. (If r happened to be 0 mod p, with
//! probability about 2^-1000, the result would be wrong and the fault check refuses it.) The
//! recombined result is checked against the public key before it is used (a fault would
//! otherwise reveal a prime, as in the Bellcore attack).

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U64, U4096, Uint, Word};
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use super::oaep::OaepError;
use super::pkcs1::RsaPrivateKeyDer;
use super::uint_bytes;
use crate::private_key::KeyError;
use crate::secret::BlindingSeed;

/// Limbs of a value modulo n.
const L: usize = U4096::LIMBS;

/// A two-prime RSA private key in CRT form. Secret fields are wiped on drop.
pub(crate) struct CrtKey<const H: usize> {
    n: FixedMontyParams<L>,
    e: U64,
    /// Bit length of e (public): how far the exponentiations by e walk.
    e_bits: u32,
    /// Modulus length in bytes.
    k: usize,
    p: FixedMontyParams<H>,
    q: FixedMontyParams<H>,
    dp: Uint<H>,
    dq: Uint<H>,
    /// q^-1 mod p, in Montgomery form modulo p.
    qinv: FixedMontyForm<H>,
}

fn component<const N: usize>(bytes: &[u8], field: &'static str) -> Result<Uint<N>, KeyError> {
    uint_bytes::from_be(bytes).ok_or(KeyError::Component { field })
}

fn odd<const N: usize>(v: Uint<N>, field: &'static str) -> Result<Odd<Uint<N>>, KeyError> {
    Odd::new(v)
        .into_option()
        .ok_or(KeyError::Component { field })
}

/// The low two H-limb parts of a number modulo n (the rest is zero: n has at most 2H limbs).
fn split<const H: usize>(x: &Uint<L>) -> (Uint<H>, Uint<H>) {
    let mut lo = [0 as Word; H];
    let mut hi = [0 as Word; H];
    let mut words = x.as_words().iter();
    for (d, s) in lo.iter_mut().chain(hi.iter_mut()).zip(&mut words) {
        *d = *s;
    }
    let halves = (Uint::from_words(lo), Uint::from_words(hi));
    lo.zeroize();
    hi.zeroize();
    halves
}

/// lo + hi * 2^(W*H) as one number.
fn join<const H: usize>(lo: &Uint<H>, hi: &Uint<H>) -> Uint<L> {
    let mut words = [0 as Word; L];
    for (d, s) in words
        .iter_mut()
        .zip(lo.as_words().iter().chain(hi.as_words()))
    {
        *d = *s;
    }
    let n = Uint::from_words(words);
    words.zeroize();
    n
}

impl<const H: usize> CrtKey<H> {
    const SHAPE_OK: () = assert!(L >= H.wrapping_mul(2), "n holds the product of two primes");

    /// Builds the key and checks it: n = p*q, and a private operation inverts the public one.
    pub(crate) fn new(c: &RsaPrivateKeyDer<'_>, e: u32) -> Result<Self, KeyError> {
        let () = Self::SHAPE_OK;
        let n = component::<L>(c.n, "n")?;
        let p = component::<H>(c.p, "p")?;
        let q = component::<H>(c.q, "q")?;
        let (lo, hi) = p.widening_mul(&q);
        if !bool::from(join::<H>(&lo, &hi).ct_eq(&n)) {
            return Err(KeyError::Inconsistent);
        }
        let p = FixedMontyParams::new(odd(p, "p")?);
        let qinv = FixedMontyForm::new(&component::<H>(c.qinv, "qi")?, &p);
        let key = CrtKey {
            n: FixedMontyParams::new_vartime(odd(n, "n")?),
            e: U64::from_u32(e),
            e_bits: u32::BITS.saturating_sub(e.leading_zeros()),
            k: c.n.len(),
            p,
            q: FixedMontyParams::new(odd(q, "q")?),
            dp: component::<H>(c.dp, "dp")?,
            dq: component::<H>(c.dq, "dq")?,
            qinv,
        };
        key.self_test()?;
        Ok(key)
    }

    /// Encrypts a fixed value with the public key and requires the private key to give it back.
    fn self_test(&self) -> Result<(), KeyError> {
        let x = Uint::<L>::from_u64(0x0123_4567_89ab_cdef);
        let c = FixedMontyForm::new(&x, &self.n)
            .pow_vartime(&self.e)
            .retrieve();
        let mut c_bytes = [0u8; 512];
        let mut m_bytes = [0u8; 512];
        let (Some(cb), Some(mb)) = (c_bytes.get_mut(..self.k), m_bytes.get_mut(..self.k)) else {
            return Err(KeyError::ModulusSize { bytes: self.k });
        };
        uint_bytes::write_be(&c, cb);
        let seed = BlindingSeed::new([0x5A; 32]);
        self.decrypt_raw(cb, &seed, mb)
            .map_err(|_| KeyError::Inconsistent)?;
        let back = uint_bytes::from_be::<L>(mb).ok_or(KeyError::Inconsistent)?;
        if bool::from(back.ct_eq(&x)) {
            Ok(())
        } else {
            Err(KeyError::Inconsistent)
        }
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

    /// m_P = c^dP mod P, blinded with r (see the module docs). `c_lo`, `c_hi` are the halves of
    /// the ciphertext; the result is in Montgomery form modulo P.
    fn half(
        &self,
        prime: &FixedMontyParams<H>,
        d: &Uint<H>,
        c_lo: &Uint<H>,
        c_hi: &Uint<H>,
        r: &Uint<H>,
    ) -> FixedMontyForm<H> {
        // c mod P = c_lo + c_hi * R (R = 2^(W*H)): entering c_hi and multiplying by R in
        // Montgomery form (whose representation is R^2 mod P) gives c_hi * R.
        let radix = FixedMontyForm::from_montgomery(*prime.r2(), prime);
        let c = FixedMontyForm::new(c_lo, prime).add(&FixedMontyForm::new(c_hi, prime).mul(&radix));
        let r_m = FixedMontyForm::new(r, prime);
        let mut blinded = c.mul(&r_m.pow_bounded_exp(&self.e, self.e_bits));
        let mut m_r = blinded.pow_amm(d);
        let mut r_inv = r_m.invert().unwrap_or(FixedMontyForm::zero(prime));
        let m = m_r.mul(&r_inv);
        blinded.zeroize();
        m_r.zeroize();
        r_inv.zeroize();
        m
    }

    /// The raw private-key operation on `c` (exactly k big-endian bytes) into `out` (k bytes).
    pub(crate) fn decrypt_raw(
        &self,
        c: &[u8],
        seed: &BlindingSeed,
        out: &mut [u8],
    ) -> Result<(), OaepError> {
        let c = uint_bytes::from_be::<L>(c).ok_or(OaepError::CiphertextRange)?;
        if &c >= self.n.modulus().as_ref() {
            return Err(OaepError::CiphertextRange);
        }
        let (mut c_lo, mut c_hi) = split::<H>(&c);
        let mut rp = Self::blinding_value(seed, b'p');
        let mut rq = Self::blinding_value(seed, b'q');
        let mut mp = self.half(&self.p, &self.dp, &c_lo, &c_hi, &rp);
        let mq = self.half(&self.q, &self.dq, &c_lo, &c_hi, &rq);
        rp.zeroize();
        rq.zeroize();
        c_lo.zeroize();
        c_hi.zeroize();
        // Garner: h = qinv * (m_p - m_q) mod p; m = m_q + h * q.
        let mut mq_plain = mq.retrieve();
        let mq_in_p = FixedMontyForm::new(&mq_plain, &self.p);
        let mut h = mp.sub(&mq_in_p).mul(&self.qinv).retrieve();
        let (lo, hi) = h.widening_mul(self.q.modulus().as_ref());
        let mut m = join::<H>(&lo, &hi).wrapping_add(&join::<H>(&mq_plain, &Uint::ZERO));
        mp.zeroize();
        mq_plain.zeroize();
        h.zeroize();
        // Fault check: m^e must give back c.
        let back = FixedMontyForm::new(&m, &self.n)
            .pow_bounded_exp(&self.e, self.e_bits)
            .retrieve();
        let ok = back.ct_eq(&c);
        // Write nothing unless the check passed.
        m.conditional_assign(&Uint::ZERO, !ok);
        if !bool::from(ok) {
            return Err(OaepError::Fault);
        }
        uint_bytes::write_be(&m, out);
        m.zeroize();
        Ok(())
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

    #[test]
    fn split_and_join() {
        let mut words = [0; L];
        words[..4].copy_from_slice(&[1, 2, 3, 4]);
        let x = Uint::<L>::from_words(words);
        let (lo, hi) = split::<2>(&x);
        assert_eq!(
            (lo, hi),
            (Uint::from_words([1, 2]), Uint::from_words([3, 4]))
        );
        assert_eq!(join::<2>(&lo, &hi), x);
    }
}
