//! Fixed-size natural numbers and Montgomery arithmetic for the RSA private key: constant-time,
//! no heap, and no panic path at all (every limb access is `get`, every loop an iterator).
//!
//! Why not crypto-bigint: its 0.7 arithmetic is written in `const fn` style with indexing,
//! `expect` and division guards that the optimiser cannot remove (Karatsuba and schoolbook
//! multiplication, window-table lookups in `pow`, long division in `MontyParams::new`,
//! safegcd shifts), so the no-panic link check failed with it. crypto-bigint stays as a
//! dev-dependency: the tests here compare every operation with it.
//!
//! Limbs are `u64`, little-endian, with `u128` products (on 32-bit targets the compiler lowers
//! those to its own runtime routines, which are branch-free). "Constant time" means: no branch
//! and no memory index depends on a secret value; only lengths (which are public) do.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

/// A natural number below 2^(64N).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Nat<const N: usize>(pub(crate) [u64; N]);

impl<const N: usize> Zeroize for Nat<N> {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl<const N: usize> ConditionallySelectable for Nat<N> {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        let mut out = *a;
        for (o, y) in out.0.iter_mut().zip(b.0.iter()) {
            o.conditional_assign(y, choice);
        }
        out
    }
}

#[inline(always)]
fn mac(acc: u64, a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(acc)
        .wrapping_add(u128::from(a).wrapping_mul(u128::from(b)))
        .wrapping_add(u128::from(carry));
    (t as u64, (t >> 64) as u64)
}

#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a)
        .wrapping_add(u128::from(b))
        .wrapping_add(u128::from(carry));
    (t as u64, (t >> 64) as u64)
}

#[inline(always)]
fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = u128::from(a)
        .wrapping_sub(u128::from(b))
        .wrapping_sub(u128::from(borrow));
    (t as u64, ((t >> 64) as u64) & 1)
}

#[inline(always)]
fn limb<const N: usize>(a: &[u64; N], i: usize) -> u64 {
    a.get(i).copied().unwrap_or(0)
}

impl<const N: usize> Nat<N> {
    pub(crate) const ZERO: Self = Nat([0; N]);

    pub(crate) fn one() -> Self {
        let mut n = Self::ZERO;
        if let Some(l) = n.0.first_mut() {
            *l = 1;
        }
        n
    }

    pub(crate) fn from_u64(v: u64) -> Self {
        let mut n = Self::ZERO;
        if let Some(l) = n.0.first_mut() {
            *l = v;
        }
        n
    }

    /// Big-endian bytes (at most 8N of them, leading zeros allowed).
    pub(crate) fn from_be(bytes: &[u8]) -> Option<Self> {
        let mut n = Self::ZERO;
        let mut chunks = bytes.rchunks(8);
        for l in n.0.iter_mut() {
            match chunks.next() {
                Some(c) => *l = c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
                None => break,
            }
        }
        if chunks.any(|c| c.iter().any(|b| *b != 0)) {
            n.zeroize();
            return None;
        }
        Some(n)
    }

    /// Writes the low `out.len()` bytes, big-endian.
    pub(crate) fn write_be(&self, out: &mut [u8]) {
        let mut chunks = out.rchunks_mut(8);
        for l in self.0.iter() {
            let Some(c) = chunks.next() else { return };
            let b = l.to_be_bytes();
            let skip = b.len().saturating_sub(c.len());
            for (d, s) in c.iter_mut().zip(b.iter().skip(skip)) {
                *d = *s;
            }
        }
        for c in chunks {
            c.fill(0);
        }
    }

    pub(crate) fn is_odd(&self) -> Choice {
        Choice::from((self.0.first().copied().unwrap_or(0) & 1) as u8)
    }

    pub(crate) fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }

    /// self + other, and the carry out (0 or 1).
    pub(crate) fn add(&self, other: &Self) -> (Self, u64) {
        let mut out = Self::ZERO;
        let mut carry = 0;
        for ((o, a), b) in out.0.iter_mut().zip(self.0.iter()).zip(other.0.iter()) {
            (*o, carry) = adc(*a, *b, carry);
        }
        (out, carry)
    }

    /// self - other, and the borrow out (0 or 1).
    pub(crate) fn sub(&self, other: &Self) -> (Self, u64) {
        let mut out = Self::ZERO;
        let mut borrow = 0;
        for ((o, a), b) in out.0.iter_mut().zip(self.0.iter()).zip(other.0.iter()) {
            (*o, borrow) = sbb(*a, *b, borrow);
        }
        (out, borrow)
    }

    pub(crate) fn ct_lt(&self, other: &Self) -> Choice {
        let (_, borrow) = self.sub(other);
        Choice::from(borrow as u8)
    }

    /// The full product, as (low N limbs, high N limbs).
    pub(crate) fn mul_wide(&self, other: &Self) -> (Self, Self) {
        let mut lo = Self::ZERO;
        let mut hi = Self::ZERO;
        for (i, b) in other.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, a) in self.0.iter().enumerate() {
                let k = i.wrapping_add(j);
                let slot = if k < N {
                    lo.0.get_mut(k)
                } else {
                    hi.0.get_mut(k.wrapping_sub(N))
                };
                if let Some(s) = slot {
                    (*s, carry) = mac(*s, *a, *b, carry);
                }
            }
            if let Some(s) = hi.0.get_mut(i) {
                *s = carry;
            }
        }
        (lo, hi)
    }

    /// Window `i` (4 bits, counted from the least significant) of the number.
    fn window(&self, i: usize) -> u64 {
        (limb(&self.0, i / 16) >> ((i % 16) << 2)) & 0xF
    }
}

/// Arithmetic modulo an odd number m > 1 in Montgomery form (R = 2^(64N)).
#[derive(Clone, Copy)]
pub(crate) struct Monty<const N: usize> {
    m: Nat<N>,
    /// -m^-1 mod 2^64.
    m0inv: u64,
    /// R mod m (1 in Montgomery form).
    one: Nat<N>,
    /// R^2 mod m.
    r2: Nat<N>,
}

impl<const N: usize> Zeroize for Monty<N> {
    fn zeroize(&mut self) {
        self.m.zeroize();
        self.m0inv.zeroize();
        self.one.zeroize();
        self.r2.zeroize();
    }
}

impl<const N: usize> Monty<N> {
    /// Parameters for the odd modulus `m` (> 1). Constant time in m: m may be a secret prime.
    pub(crate) fn new(m: Nat<N>) -> Option<Self> {
        if !bool::from(m.is_odd()) || bool::from(m.ct_lt(&Nat::from_u64(2))) {
            return None;
        }
        let m0 = m.0.first().copied().unwrap_or(1);
        // Newton iteration for m0^-1 mod 2^64: each step doubles the correct low bits.
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(m0.wrapping_mul(inv)));
        }
        let m0inv = inv.wrapping_neg();
        let mut p = Monty {
            m,
            m0inv,
            one: Nat::ZERO,
            r2: Nat::ZERO,
        };
        // R mod m and R^2 mod m by modular doubling from 1: 64N and 128N doublings.
        let mut x = Nat::<N>::one();
        // 1 < m, so 1 is reduced.
        for _ in 0..N.saturating_mul(64) {
            x = p.add(&x, &x);
        }
        p.one = x;
        for _ in 0..N.saturating_mul(64) {
            x = p.add(&x, &x);
        }
        p.r2 = x;
        Some(p)
    }

    pub(crate) fn modulus(&self) -> &Nat<N> {
        &self.m
    }

    /// (a + b) mod m for a, b < m.
    pub(crate) fn add(&self, a: &Nat<N>, b: &Nat<N>) -> Nat<N> {
        let (s, carry) = a.add(b);
        let (d, borrow) = s.sub(&self.m);
        // Keep s only if s < m, i.e. no carry out and the subtraction borrowed.
        let keep_s = Choice::from((borrow & (carry ^ 1)) as u8);
        Nat::conditional_select(&d, &s, keep_s)
    }

    /// (a - b) mod m for a, b < m.
    pub(crate) fn sub(&self, a: &Nat<N>, b: &Nat<N>) -> Nat<N> {
        let (d, borrow) = a.sub(b);
        let (e, _) = d.add(&self.m);
        Nat::conditional_select(&d, &e, Choice::from(borrow as u8))
    }

    /// Montgomery product a*b/R mod m, for a, b < m (CIOS: per limb of b, add a*b_i, then
    /// add q*m and shift down one limb).
    pub(crate) fn mul(&self, a: &Nat<N>, b: &Nat<N>) -> Nat<N> {
        let m0 = limb(&self.m.0, 0);
        let mut t = [0u64; N];
        let mut t_hi = 0u64;
        for bi in b.0.iter() {
            let mut carry = 0u64;
            for (tj, aj) in t.iter_mut().zip(a.0.iter()) {
                (*tj, carry) = mac(*tj, *aj, *bi, carry);
            }
            let (s, c1) = adc(t_hi, carry, 0);
            let t0 = limb(&t, 0);
            let q = t0.wrapping_mul(self.m0inv);
            let (_, mut carry) = mac(t0, q, m0, 0);
            let mut u = [0u64; N];
            for (uj, (tj, mj)) in u.iter_mut().zip(t.iter().zip(self.m.0.iter()).skip(1)) {
                (*uj, carry) = mac(*tj, q, *mj, carry);
            }
            let (v, c2) = adc(s, carry, 0);
            if let Some(top) = u.last_mut() {
                *top = v;
            }
            t_hi = c1.wrapping_add(c2);
            t = u;
        }
        let t = Nat(t);
        let (d, borrow) = t.sub(&self.m);
        // t < 2m: subtract m unless t (with its top carry) is already below m.
        let keep_t = Choice::from((borrow & (t_hi ^ 1)) as u8);
        Nat::conditional_select(&d, &t, keep_t)
    }

    /// Montgomery form of any a < 2^(64N) (a*R^2/R; valid as a*R^2 < R*m).
    pub(crate) fn enter(&self, a: &Nat<N>) -> Nat<N> {
        self.mul(a, &self.r2)
    }

    /// The plain value of a Montgomery-form number.
    pub(crate) fn leave(&self, a: &Nat<N>) -> Nat<N> {
        self.mul(a, &Nat::one())
    }

    /// R in Montgomery form (R^2 mod m): multiplying by it multiplies the value by R.
    pub(crate) fn radix(&self) -> Nat<N> {
        self.r2
    }

    /// The 16 powers base^0..base^15 (Montgomery form) for 4-bit windows.
    fn table(&self, base: &Nat<N>) -> [Nat<N>; 16] {
        let mut table = [Nat::<N>::ZERO; 16];
        let mut acc = self.one;
        for entry in table.iter_mut() {
            *entry = acc;
            acc = self.mul(&acc, base);
        }
        table
    }

    /// The table entry for a secret index, reading every entry.
    fn select(table: &[Nat<N>; 16], idx: u64) -> Nat<N> {
        let mut sel = Nat::<N>::ZERO;
        for (k, entry) in (0u64..).zip(table.iter()) {
            sel.conditional_assign(entry, k.ct_eq(&idx));
        }
        sel
    }

    /// base^exp (base in Montgomery form), constant time in both: fixed 4-bit windows over all
    /// 64E exponent bits, table entries selected by scanning the whole table.
    pub(crate) fn pow<const E: usize>(&self, base: &Nat<N>, exp: &Nat<E>) -> Nat<N> {
        let mut table = self.table(base);
        let mut acc = self.one;
        for w in (0..E.saturating_mul(16)).rev() {
            for _ in 0..4 {
                acc = self.mul(&acc, &acc);
            }
            let mut sel = Self::select(&table, exp.window(w));
            acc = self.mul(&acc, &sel);
            sel.zeroize();
        }
        table.zeroize();
        acc
    }

    /// b1^e1 * b2^e2 (bases in Montgomery form) with shared squarings, constant time in all
    /// four (same structure as [`Self::pow`], two table lookups per window).
    pub(crate) fn pow2<const E: usize>(
        &self,
        b1: &Nat<N>,
        e1: &Nat<E>,
        b2: &Nat<N>,
        e2: &Nat<E>,
    ) -> Nat<N> {
        let mut t1 = self.table(b1);
        let mut t2 = self.table(b2);
        let mut acc = self.one;
        for w in (0..E.saturating_mul(16)).rev() {
            for _ in 0..4 {
                acc = self.mul(&acc, &acc);
            }
            let mut s1 = Self::select(&t1, e1.window(w));
            acc = self.mul(&acc, &s1);
            let mut s2 = Self::select(&t2, e2.window(w));
            acc = self.mul(&acc, &s2);
            s1.zeroize();
            s2.zeroize();
        }
        t1.zeroize();
        t2.zeroize();
        acc
    }

    /// base^e for a public exponent e (square and multiply, variable time in e only).
    pub(crate) fn pow_public(&self, base: &Nat<N>, e: u64) -> Nat<N> {
        let mut acc = self.one;
        let bits = 64u32.saturating_sub(e.leading_zeros());
        for i in (0..bits).rev() {
            acc = self.mul(&acc, &acc);
            if (e >> i) & 1 == 1 {
                acc = self.mul(&acc, base);
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
    use crypto_bigint::{Odd, U256, Uint};
    use proptest::prelude::*;

    type N4 = Nat<4>;

    fn to_cb(n: &N4) -> U256 {
        Uint::from_words(n.0.map(|w| w as crypto_bigint::Word))
    }

    fn odd_modulus() -> impl Strategy<Value = N4> {
        any::<[u64; 4]>().prop_map(|mut w| {
            w[0] |= 1;
            w[3] |= 1 << 63;
            Nat(w)
        })
    }

    fn below(m: &N4, x: [u64; 4]) -> N4 {
        let mut x = Nat(x);
        x.0[3] &= m.0[3].wrapping_sub(1) >> 1;
        x
    }

    proptest! {
        // Every operation agrees with crypto-bigint's (64-bit limbs only).
        #[test]
        fn agrees_with_crypto_bigint(m in odd_modulus(), a in any::<[u64; 4]>(), b in any::<[u64; 4]>(), e in any::<[u64; 4]>()) {
            prop_assume!(core::mem::size_of::<crypto_bigint::Word>() == 8);
            let mp = Monty::new(m).unwrap();
            let (a, b) = (below(&m, a), below(&m, b));
            let cp = FixedMontyParams::new_vartime(Odd::new(to_cb(&m)).unwrap());
            let ca = FixedMontyForm::new(&to_cb(&a), &cp);
            let cbv = FixedMontyForm::new(&to_cb(&b), &cp);
            let am = mp.enter(&a);
            let bm = mp.enter(&b);
            prop_assert_eq!(to_cb(&mp.leave(&mp.mul(&am, &bm))), ca.mul(&cbv).retrieve());
            prop_assert_eq!(to_cb(&mp.leave(&mp.add(&am, &bm))), ca.add(&cbv).retrieve());
            prop_assert_eq!(to_cb(&mp.leave(&mp.sub(&am, &bm))), ca.sub(&cbv).retrieve());
            let exp = Nat::<4>(e);
            prop_assert_eq!(to_cb(&mp.leave(&mp.pow(&am, &exp))), ca.pow(&to_cb(&exp)).retrieve());
            prop_assert_eq!(to_cb(&mp.leave(&mp.pow_public(&am, 65537))), ca.pow_vartime(&U256::from_u64(65537)).retrieve());
            // Unreduced input to enter (anything below 2^256).
            let big = Nat::<4>(e);
            prop_assert_eq!(to_cb(&mp.leave(&mp.enter(&big))), to_cb(&big).rem_vartime(&cp.modulus().to_nz().unwrap()));
            let e2 = Nat::<4>(b.0.map(|w| w.rotate_left(17)));
            prop_assert_eq!(
                to_cb(&mp.leave(&mp.pow2(&am, &exp, &bm, &e2))),
                ca.pow(&to_cb(&exp)).mul(&cbv.pow(&to_cb(&e2))).retrieve()
            );
            let (lo, hi) = a.mul_wide(&b);
            let (clo, chi) = to_cb(&a).widening_mul(&to_cb(&b));
            prop_assert_eq!((to_cb(&lo), to_cb(&hi)), (clo, chi));
        }

        #[test]
        fn bytes_round_trip(w in any::<[u64; 4]>(), len in 0usize..40) {
            let n = Nat(w);
            let mut buf = [0u8; 40];
            n.write_be(&mut buf[..len]);
            let back = N4::from_be(&buf[..len]).unwrap();
            let mut mask = [0u64; 4];
            for (i, m) in mask.iter_mut().enumerate() {
                let bits = (len * 8).saturating_sub(i * 64).min(64);
                *m = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
            }
            let expect = Nat([w[0] & mask[0], w[1] & mask[1], w[2] & mask[2], w[3] & mask[3]]);
            prop_assert_eq!(back, expect);
        }
    }

    #[test]
    fn small_cases() {
        assert!(Monty::<1>::new(Nat([4])).is_none());
        assert!(Monty::<1>::new(Nat([1])).is_none());
        // Fermat: 53^(61-2) = 53^-1 = 38 (mod 61).
        let m = Monty::<1>::new(Nat([61])).unwrap();
        let inv = m.leave(&m.pow2(
            &m.enter(&Nat([53])),
            &Nat([59]),
            &m.enter(&Nat([1])),
            &Nat([0]),
        ));
        assert_eq!(inv, Nat([38]));
        assert!(N4::from_be(&[1u8; 33]).is_none());
        assert_eq!(N4::from_be(&[0u8; 40]), Some(N4::ZERO));
    }
}
