//! Fixed-size Montgomery arithmetic for RSA public-key operations: up to 4096-bit odd moduli
//! in 64-bit limbs on the stack, variable time (every value here is public).
//!
//! crypto-bigint's runtime-modulus setup (`MontyParams::new_vartime`) divides, and its division
//! and byte decoding keep bounds checks the optimiser cannot remove; the core must have no
//! panic path, so the few operations RSA verification needs are written here without indexing:
//! Montgomery multiplication (CIOS), comparison, subtraction and doubling.

/// Most limbs a modulus may have (4096 bits).
pub const MAX_LIMBS: usize = 64;
const LIMB_BYTES: usize = 8;

type Limbs = [u64; MAX_LIMBS];

/// An odd modulus with its Montgomery constants, using `m` limbs (R = 2^(64 m)).
pub struct Modulus {
    n: Limbs,
    m: usize,
    n0inv: u64,
    r2: Limbs,
}

impl core::fmt::Debug for Modulus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Modulus({} limbs)", self.m)
    }
}

/// Big-endian bytes into `m` little-endian limbs; `None` if they do not fit.
pub fn limbs_from_be(bytes: &[u8], m: usize) -> Option<Limbs> {
    let mut out = [0u64; MAX_LIMBS];
    if bytes.len() > m.checked_mul(LIMB_BYTES)? || m > MAX_LIMBS {
        return None;
    }
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks(LIMB_BYTES)) {
        *limb = chunk.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    }
    Some(out)
}

/// The low `len` bytes of `m` limbs, big-endian, into `out` (`out.len()` bytes).
pub fn limbs_to_be(limbs: &Limbs, out: &mut [u8]) {
    for (i, o) in out.iter_mut().rev().enumerate() {
        let limb = limbs.get(i / LIMB_BYTES).copied().unwrap_or(0);
        let shift = (i % LIMB_BYTES).saturating_mul(8);
        *o = (limb >> shift) as u8;
    }
}

fn active(x: &Limbs, m: usize) -> &[u64] {
    x.get(..m).unwrap_or(x)
}

fn active_mut(x: &mut Limbs, m: usize) -> &mut [u64] {
    let len = m.min(MAX_LIMBS);
    let (head, _) = x.split_at_mut(len);
    head
}

/// `a >= b` over equal-length limb slices.
fn geq(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().zip(b).rev() {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b` over equal-length limb slices; returns the borrow out.
fn sub_assign(a: &mut [u64], b: &[u64]) -> bool {
    let mut borrow = false;
    for (x, y) in a.iter_mut().zip(b) {
        let (d, b1) = x.overflowing_sub(*y);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        *x = d;
        borrow = b1 || b2;
    }
    borrow
}

/// `a = 2a mod n` for `a < n`.
fn double_mod(a: &mut [u64], n: &[u64]) {
    let mut carry = 0u64;
    for x in a.iter_mut() {
        let top = *x >> 63;
        *x = (*x << 1) | carry;
        carry = top;
    }
    if carry == 1 || geq(a, n) {
        sub_assign(a, n);
    }
}

/// `x * y + add + carry` as (low, high); cannot overflow u128.
fn mac(x: u64, y: u64, add: u64, carry: u64) -> (u64, u64) {
    let v = u128::from(x)
        .wrapping_mul(u128::from(y))
        .wrapping_add(u128::from(add))
        .wrapping_add(u128::from(carry));
    (v as u64, (v >> 64) as u64)
}

impl Modulus {
    /// Sets up an odd modulus of at least 2 bits given big-endian; `None` otherwise.
    pub fn new(be: &[u8]) -> Option<Modulus> {
        let first = be.iter().position(|b| *b != 0)?;
        let be = be.get(first..)?;
        let m = be.len().div_ceil(LIMB_BYTES);
        let n = limbs_from_be(be, m)?;
        let n0 = *n.first()?;
        if n0 & 1 == 0 || (m == 1 && n0 < 3) {
            return None;
        }
        // n0^-1 mod 2^64 by Newton's iteration (each step doubles the correct low bits).
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
        }
        let mut md = Modulus {
            n,
            m,
            n0inv: inv.wrapping_neg(),
            r2: [0; MAX_LIMBS],
        };
        let mut r2 = [0u64; MAX_LIMBS];
        md.compute_r2(&mut r2)?;
        md.r2 = r2;
        Some(md)
    }

    /// Limbs in use.
    pub fn limbs(&self) -> usize {
        self.m
    }

    fn n(&self) -> &[u64] {
        active(&self.n, self.m)
    }

    /// R^2 mod n: R mod n by doubling from the top bit of n, then Montgomery powering.
    fn compute_r2(&self, out: &mut Limbs) -> Option<()> {
        let m = self.m;
        let n = self.n();
        let top = *n.last()?;
        let bits = m
            .checked_mul(64)?
            .checked_sub(top.leading_zeros() as usize)?;
        // out = 2^(bits-1) < n, then double up to 2^(64m) mod n = R mod n.
        *out = [0u64; MAX_LIMBS];
        let top_bit = bits.checked_sub(1)?;
        *out.get_mut(top_bit / 64)? = 1u64 << (top_bit % 64);
        for _ in top_bit..m.checked_mul(64)? {
            double_mod(active_mut(out, m), n);
        }
        // out = R mod n is 1 in Montgomery form; 64 doublings give 2^64 in Montgomery form.
        let mut base = *out;
        for _ in 0..64 {
            double_mod(active_mut(&mut base, m), n);
        }
        // (2^64)^m = R, in Montgomery form: R * R mod n = R^2 mod n.
        let bits_m = usize::BITS.saturating_sub(m.leading_zeros());
        for i in (0..bits_m).rev() {
            self.square_assign(out);
            if (m >> i) & 1 == 1 {
                self.mul_assign(out, &base);
            }
        }
        Some(())
    }

    /// Montgomery product `a * b / R` into `t` (m limbs plus a carry limb), CIOS.
    fn mont_mul(&self, a: &Limbs, b: &Limbs, t: &mut [u64; MAX_LIMBS + 2]) {
        let m = self.m;
        let n = self.n();
        let a = active(a, m);
        *t = [0u64; MAX_LIMBS + 2];
        for &bi in active(b, m) {
            let (body, spare) = t.split_at_mut(m.min(MAX_LIMBS));
            let mut carry = 0u64;
            for (tj, &aj) in body.iter_mut().zip(a) {
                let (lo, hi) = mac(aj, bi, *tj, carry);
                *tj = lo;
                carry = hi;
            }
            if let [tm, tm1, ..] = spare {
                let (s, over) = tm.overflowing_add(carry);
                *tm = s;
                *tm1 = u64::from(over);
            }
            // t = (t + u n) / 2^64, with u chosen so the low limb vanishes.
            let t0 = body.first().copied().unwrap_or(0);
            let u = t0.wrapping_mul(self.n0inv);
            let (_, mut carry) = mac(u, n.first().copied().unwrap_or(0), t0, 0);
            for j in 1..body.len() {
                let tj = body.get(j).copied().unwrap_or(0);
                let nj = n.get(j).copied().unwrap_or(0);
                let (lo, hi) = mac(u, nj, tj, carry);
                if let Some(prev) = body.get_mut(j.wrapping_sub(1)) {
                    *prev = lo;
                }
                carry = hi;
            }
            if let [tm, tm1, ..] = spare {
                let (s, over) = tm.overflowing_add(carry);
                if let Some(last) = body.last_mut() {
                    *last = s;
                }
                *tm = tm1.wrapping_add(u64::from(over));
                *tm1 = 0;
            }
        }
    }

    /// Moves a Montgomery product from `t` into `out`, reduced below n.
    fn finish(&self, t: &[u64; MAX_LIMBS + 2], out: &mut Limbs) {
        let m = self.m;
        let (body, spare) = t.split_at(m.min(MAX_LIMBS));
        let o = active_mut(out, m);
        o.copy_from_slice(body);
        if spare.first().copied().unwrap_or(0) != 0 || geq(o, self.n()) {
            sub_assign(o, self.n());
        }
    }

    /// `acc = acc * b / R mod n` for `acc, b < n`.
    pub fn mul_assign(&self, acc: &mut Limbs, b: &Limbs) {
        let mut t = [0u64; MAX_LIMBS + 2];
        self.mont_mul(acc, b, &mut t);
        self.finish(&t, acc);
    }

    /// `acc = acc^2 / R mod n` for `acc < n`.
    pub fn square_assign(&self, acc: &mut Limbs) {
        let mut t = [0u64; MAX_LIMBS + 2];
        self.mont_mul(acc, acc, &mut t);
        self.finish(&t, acc);
    }

    /// `x = x^e mod n` for `x < n` and a public exponent `e >= 1` (left-to-right binary).
    pub fn pow_assign(&self, x: &mut Limbs, e: u64) {
        // b = x in Montgomery form; acc runs in `x`.
        let mut b = *x;
        self.mul_assign(&mut b, &self.r2);
        *x = b;
        let bits = 64u32.saturating_sub(e.leading_zeros());
        for i in (0..bits.saturating_sub(1)).rev() {
            self.square_assign(x);
            if (e >> i) & 1 == 1 {
                self.mul_assign(x, &b);
            }
        }
        // Out of Montgomery form: multiply by 1.
        b = [0u64; MAX_LIMBS];
        if let Some(o) = b.first_mut() {
            *o = 1;
        }
        self.mul_assign(x, &b);
    }

    /// True if `x < n`.
    pub fn reduced(&self, x: &Limbs) -> bool {
        !geq(active(x, self.m), self.n())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_u128(x: &Limbs) -> u128 {
        u128::from(x[0]) | (u128::from(x[1]) << 64)
    }

    fn pow_mod(mut b: u128, mut e: u64, n: u128) -> u128 {
        // Small moduli only (n < 2^64), so products fit in u128.
        let mut r = 1u128;
        b %= n;
        while e > 0 {
            if e & 1 == 1 {
                r = r * b % n;
            }
            b = b * b % n;
            e >>= 1;
        }
        r
    }

    #[test]
    fn rejects_even_and_tiny_moduli() {
        assert!(Modulus::new(&[0x10, 0x00]).is_none());
        assert!(Modulus::new(&[0, 0, 1]).is_none());
        assert!(Modulus::new(&[]).is_none());
        assert!(Modulus::new(&[0u8; 520]).is_none());
        assert_eq!(Modulus::new(&[0, 0x01, 0x01]).unwrap().limbs(), 1);
    }

    proptest! {
        #[test]
        fn matches_u128_arithmetic(n in (3u64..).prop_map(|n| n | 1), b in any::<u64>(), e in 1u64..) {
            let md = Modulus::new(&n.to_be_bytes()).unwrap();
            let mut base = [0u64; MAX_LIMBS];
            base[0] = b % n;
            md.pow_assign(&mut base, e);
            prop_assert_eq!(to_u128(&base), pow_mod(u128::from(b), e, u128::from(n)));
        }

        #[test]
        fn two_limb_moduli(hi in 1u64.., lo in any::<u64>(), b in any::<u64>(), e in 1u64..100_000) {
            // n = hi * 2^64 + (lo | 1); check b^e mod n against repeated multiplication mod n
            // done with the same Montgomery code at one limb of headroom: (b^e) via pow equals
            // the product of b^(e-1) and b computed through mul with R^2 conversions.
            let mut nb = [0u8; 16];
            nb[..8].copy_from_slice(&hi.to_be_bytes());
            nb[8..].copy_from_slice(&(lo | 1).to_be_bytes());
            let md = Modulus::new(&nb).unwrap();
            let mut base = [0u64; MAX_LIMBS];
            base[0] = b;
            prop_assume!(md.reduced(&base));
            let mut whole = base;
            md.pow_assign(&mut whole, e);
            let mut part = base;
            md.pow_assign(&mut part, e - 1);
            // Montgomery: (x R)(y) / R = x y; so mul(mul(part, R^2), base) = part * base.
            md.mul_assign(&mut part, &md.r2);
            md.mul_assign(&mut part, &base);
            prop_assert_eq!(whole, part);
        }
    }
}
