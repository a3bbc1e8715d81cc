//! The RSA private-key operation with the Chinese remainder theorem over fixed-size integers
//! (crypto-bigint), generic over the limb counts of the modulus (`L`) and of each prime (`H`,
//! with `L = 2H`).
//!
//! Constant time: every operation on secret values (reductions, exponentiations with dp and dq,
//! Garner's recombination, unblinding) is a crypto-bigint constant-time operation with fixed
//! sizes; only public values (the ciphertext range check, the public exponent, the final
//! fault-check outcome) are branched on. Base blinding: the ciphertext is multiplied by r^e and
//! the result by r^-1, with r drawn from the caller's [`BlindingSeed`], so the exponentiations
//! never see an input the adversary chose. The result is checked against the public key before
//! it is used (a fault would otherwise leak a prime, as in the Bellcore attack).

use crypto_bigint::ctutils::CtEq;
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Limb, Odd, U64, Uint, Word};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::oaep::OaepError;
use super::pkcs1::RsaPrivateKeyDer;
use crate::keywrap::KeyError;
use crate::secret::BlindingSeed;

/// Big-endian bytes (at most `N` limbs' worth) to a `Uint`.
pub(crate) fn uint_from_be<const N: usize>(bytes: &[u8]) -> Option<Uint<N>> {
    let mut words = [0 as Word; N];
    let mut chunks = bytes.rchunks(Limb::BYTES);
    for w in words.iter_mut() {
        match chunks.next() {
            Some(c) => *w = c.iter().fold(0, |acc: Word, b| (acc << 8) | Word::from(*b)),
            None => break,
        }
    }
    if chunks.next().is_some() {
        return None;
    }
    let u = Uint::from_words(words);
    words.zeroize();
    Some(u)
}

/// Writes the low `out.len()` bytes of `x`, big-endian, into `out`.
pub(crate) fn uint_to_be<const N: usize>(x: &Uint<N>, out: &mut [u8]) {
    let mut chunks = out.rchunks_mut(Limb::BYTES);
    for w in x.as_words() {
        let Some(c) = chunks.next() else { return };
        let mut b = w.to_be_bytes();
        let skip = b.len().saturating_sub(c.len());
        for (d, s) in c.iter_mut().zip(b.iter().skip(skip)) {
            *d = *s;
        }
        b.zeroize();
    }
    for c in chunks {
        c.fill(0);
    }
}

fn odd<const N: usize>(bytes: &[u8], field: &'static str) -> Result<Odd<Uint<N>>, KeyError> {
    let u = uint_from_be::<N>(bytes).ok_or(KeyError::Component { field })?;
    Odd::new(u)
        .into_option()
        .ok_or(KeyError::Component { field })
}

/// A two-prime RSA private key in CRT form. Secret fields are wiped on drop.
pub(crate) struct CrtKey<const L: usize, const H: usize> {
    n: FixedMontyParams<L>,
    e: U64,
    /// Modulus length in bytes.
    k: usize,
    p: FixedMontyParams<H>,
    q: FixedMontyParams<H>,
    dp: Uint<H>,
    dq: Uint<H>,
    /// q^-1 mod p, in Montgomery form modulo p.
    qinv: FixedMontyForm<H>,
}

impl<const L: usize, const H: usize> CrtKey<L, H> {
    const SHAPE_OK: () = assert!(L == H.wrapping_mul(2), "the modulus has two primes' limbs");

    /// Builds the key and checks it: n = p*q, and a private operation inverts the public one.
    pub(crate) fn new(c: &RsaPrivateKeyDer<'_>, e: u32) -> Result<Self, KeyError> {
        let () = Self::SHAPE_OK;
        let n = odd::<L>(c.n, "n")?;
        let p = odd::<H>(c.p, "p")?;
        let q = odd::<H>(c.q, "q")?;
        let (lo, hi) = p.as_ref().widening_mul(q.as_ref());
        let pq: Uint<L> = lo.concat_resize(&hi);
        if !pq.ct_eq(n.as_ref()).to_bool() {
            return Err(KeyError::Inconsistent);
        }
        let dp = uint_from_be::<H>(c.dp).ok_or(KeyError::Component { field: "dp" })?;
        let dq = uint_from_be::<H>(c.dq).ok_or(KeyError::Component { field: "dq" })?;
        let qinv_u = uint_from_be::<H>(c.qinv).ok_or(KeyError::Component { field: "qi" })?;
        let p = FixedMontyParams::new(p);
        let key = CrtKey {
            n: FixedMontyParams::new_vartime(n),
            e: U64::from_u32(e),
            k: c.n.len(),
            qinv: FixedMontyForm::new(&qinv_u, &p),
            p,
            q: FixedMontyParams::new(q),
            dp,
            dq,
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
        uint_to_be(&c, cb);
        let seed = BlindingSeed::new([0x5A; 32]);
        self.decrypt_raw(cb, &seed, mb)
            .map_err(|_| KeyError::Inconsistent)?;
        let back = uint_from_be::<L>(mb).ok_or(KeyError::Inconsistent)?;
        if back.ct_eq(&x).to_bool() {
            Ok(())
        } else {
            Err(KeyError::Inconsistent)
        }
    }

    /// r from the seed: SHA-256 in counter mode over the seed, k-1 bytes (so r < n), then its
    /// Montgomery form and inverse modulo n.
    fn blinding(
        &self,
        seed: &BlindingSeed,
    ) -> Result<(FixedMontyForm<L>, FixedMontyForm<L>), OaepError> {
        let mut bytes = [0u8; 512];
        let len = self.k.saturating_sub(1);
        let dst = bytes.get_mut(..len).ok_or(OaepError::Blinding)?;
        for (i, chunk) in (0u32..).zip(dst.chunks_mut(32)) {
            let block = Sha256::new()
                .chain_update(b"csc-core RSA blinding")
                .chain_update(seed.as_bytes())
                .chain_update(i.to_be_bytes())
                .finalize();
            for (d, s) in chunk.iter_mut().zip(block.iter()) {
                *d = *s;
            }
        }
        let r = uint_from_be::<L>(dst).ok_or(OaepError::Blinding);
        bytes.zeroize();
        let mut r = r?;
        let r_m = FixedMontyForm::new(&r, &self.n);
        r.zeroize();
        let r_inv = r_m.invert().into_option().ok_or(OaepError::Blinding)?;
        Ok((r_m, r_inv))
    }

    /// c mod p for a modulus-sized c, without division: c = lo + hi * 2^(64H), and 2^(64H) is
    /// the Montgomery radix R, whose Montgomery form is R^2 mod p.
    fn reduce(c: &Uint<L>, params: &FixedMontyParams<H>) -> FixedMontyForm<H> {
        let (lo, hi): (Uint<H>, Uint<H>) = c.split_resize();
        let radix = FixedMontyForm::from_montgomery(*params.r2(), params);
        FixedMontyForm::new(&lo, params).add(&FixedMontyForm::new(&hi, params).mul(&radix))
    }

    /// The raw private-key operation on `c` (exactly k big-endian bytes) into `out` (k bytes).
    pub(crate) fn decrypt_raw(
        &self,
        c: &[u8],
        seed: &BlindingSeed,
        out: &mut [u8],
    ) -> Result<(), OaepError> {
        let c = uint_from_be::<L>(c).ok_or(OaepError::CiphertextRange)?;
        if c.cmp_vartime(self.n.modulus().as_ref()) != core::cmp::Ordering::Less {
            return Err(OaepError::CiphertextRange);
        }
        let (r, r_inv) = self.blinding(seed)?;
        // c' = c * r^e mod n
        let c_blind = FixedMontyForm::new(&c, &self.n).mul(&r.pow_vartime(&self.e));
        let cb = c_blind.retrieve();
        // m1 = c'^dp mod p, m2 = c'^dq mod q
        let m1 = Self::reduce(&cb, &self.p).pow(&self.dp);
        let mut m2 = Self::reduce(&cb, &self.q).pow(&self.dq).retrieve();
        // Garner: h = qinv * (m1 - m2) mod p; m' = m2 + h * q
        let m2_p = FixedMontyForm::new(&m2, &self.p);
        let mut h = m1.sub(&m2_p).mul(&self.qinv).retrieve();
        let (lo, hi) = h.widening_mul(self.q.modulus().as_ref());
        let mut m_blind: Uint<L> = lo.concat_resize(&hi);
        m_blind = m_blind.wrapping_add(&m2.resize());
        h.zeroize();
        m2.zeroize();
        let m_blind_m = FixedMontyForm::new(&m_blind, &self.n);
        m_blind.zeroize();
        // Fault check: m'^e must give back c'.
        let ok = m_blind_m.pow_vartime(&self.e).ct_eq(&c_blind);
        if !ok.to_bool() {
            return Err(OaepError::Fault);
        }
        let mut m = m_blind_m.mul(&r_inv).retrieve();
        uint_to_be(&m, out);
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
    use crypto_bigint::U256;

    #[test]
    fn byte_conversions_round_trip() {
        let bytes: [u8; 20] = core::array::from_fn(|i| i as u8 + 1);
        let u = uint_from_be::<{ U256::LIMBS }>(&bytes).unwrap();
        let mut back = [0xFFu8; 32];
        uint_to_be(&u, &mut back);
        assert_eq!(&back[12..], &bytes);
        assert!(back[..12].iter().all(|b| *b == 0));
        assert!(uint_from_be::<{ U256::LIMBS }>(&[1u8; 33]).is_none());
        let mut short = [0u8; 4];
        uint_to_be(&u, &mut short);
        assert_eq!(short, [17, 18, 19, 20]);
    }
}
