//! The public point d*G of a P-256 or P-384 private key, for rendering released EC keys as
//! JWKs: constant-time, panic-free, on the core's own Montgomery arithmetic
//! ([`crate::rsa::bignum`]).
//!
//! A double-and-add-always ladder over the complete projective addition formula for a = -3
//! (Renes, Costello, Batina 2016, algorithm 4), which also doubles, so there are no special
//! cases to branch on; the affine result is obtained with a Fermat inversion (z^(p-2)). The
//! `p256`/`p384` crates are not used at run time because their field inversion (crypto-bigint
//! safegcd) keeps panic paths the no-panic link check refuses; the tests compare with them.

use subtle::ConditionallySelectable;
use zeroize::Zeroize;

use crate::rsa::bignum::{Monty, Nat};

/// Big-endian curve constants: p, b, Gx, Gy, n.
struct Constants {
    p: &'static str,
    b: &'static str,
    gx: &'static str,
    gy: &'static str,
    n: &'static str,
}

const P256: Constants = Constants {
    p: "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
    b: "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
    gx: "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
    gy: "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
    n: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
};

const P384: Constants = Constants {
    p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    b: "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
    gx: "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
    gy: "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
    n: "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
};

fn nat<const N: usize>(hex: &str) -> Option<Nat<N>> {
    let mut buf = [0u8; 64];
    let len = crate::hex::decode_into(hex.as_bytes(), &mut buf).ok()?;
    Nat::from_be(buf.get(..len)?)
}

#[derive(Clone, Copy)]
struct Point<const N: usize> {
    x: Nat<N>,
    y: Nat<N>,
    z: Nat<N>,
}

impl<const N: usize> ConditionallySelectable for Point<N> {
    fn conditional_select(a: &Self, b: &Self, choice: subtle::Choice) -> Self {
        Point {
            x: Nat::conditional_select(&a.x, &b.x, choice),
            y: Nat::conditional_select(&a.y, &b.y, choice),
            z: Nat::conditional_select(&a.z, &b.z, choice),
        }
    }
}

impl<const N: usize> Zeroize for Point<N> {
    fn zeroize(&mut self) {
        self.x.zeroize();
        self.y.zeroize();
        self.z.zeroize();
    }
}

/// Complete addition (also correct for doubling and the identity), coordinates in Montgomery
/// form; `b` is the curve constant in Montgomery form.
fn add<const N: usize>(f: &Monty<N>, b: &Nat<N>, p: &Point<N>, q: &Point<N>) -> Point<N> {
    let mul = |a: &Nat<N>, c: &Nat<N>| f.mul(a, c);
    let plus = |a: &Nat<N>, c: &Nat<N>| f.add(a, c);
    let minus = |a: &Nat<N>, c: &Nat<N>| f.sub(a, c);
    let (x1, y1, z1, x2, y2, z2) = (&p.x, &p.y, &p.z, &q.x, &q.y, &q.z);
    let mut t0 = mul(x1, x2);
    let mut t1 = mul(y1, y2);
    let mut t2 = mul(z1, z2);
    let mut t3 = plus(x1, y1);
    let mut t4 = plus(x2, y2);
    t3 = mul(&t3, &t4);
    t4 = plus(&t0, &t1);
    t3 = minus(&t3, &t4);
    t4 = plus(y1, z1);
    let mut x3 = plus(y2, z2);
    t4 = mul(&t4, &x3);
    x3 = plus(&t1, &t2);
    t4 = minus(&t4, &x3);
    x3 = plus(x1, z1);
    let mut y3 = plus(x2, z2);
    x3 = mul(&x3, &y3);
    y3 = plus(&t0, &t2);
    y3 = minus(&x3, &y3);
    let mut z3 = mul(b, &t2);
    x3 = minus(&y3, &z3);
    z3 = plus(&x3, &x3);
    x3 = plus(&x3, &z3);
    z3 = minus(&t1, &x3);
    x3 = plus(&t1, &x3);
    y3 = mul(b, &y3);
    t1 = plus(&t2, &t2);
    t2 = plus(&t1, &t2);
    y3 = minus(&y3, &t2);
    y3 = minus(&y3, &t0);
    t1 = plus(&y3, &y3);
    y3 = plus(&t1, &y3);
    t1 = plus(&t0, &t0);
    t0 = plus(&t1, &t0);
    t0 = minus(&t0, &t2);
    t1 = mul(&t4, &y3);
    t2 = mul(&t0, &y3);
    y3 = mul(&x3, &z3);
    y3 = plus(&y3, &t2);
    x3 = mul(&t3, &x3);
    x3 = minus(&x3, &t1);
    z3 = mul(&t4, &z3);
    t1 = mul(&t3, &t0);
    z3 = plus(&z3, &t1);
    for t in [&mut t0, &mut t1, &mut t2, &mut t3, &mut t4] {
        t.zeroize();
    }
    Point {
        x: x3,
        y: y3,
        z: z3,
    }
}

/// d*G for 0 < d < n (big-endian scalar of the curve's size): affine (x, y), big-endian, into
/// `x_out` and `y_out`. `None` if d is out of range.
fn base_mul<const N: usize>(
    c: &Constants,
    d_be: &[u8],
    x_out: &mut [u8],
    y_out: &mut [u8],
) -> Option<()> {
    let p = nat::<N>(c.p)?;
    let f = Monty::new(p)?;
    let b = f.enter(&nat::<N>(c.b)?);
    let n = nat::<N>(c.n)?;
    let mut d = Nat::<N>::from_be(d_be)?;
    let in_range = !d.ct_eq(&Nat::ZERO) & d.ct_lt(&n);
    let g = Point {
        x: f.enter(&nat::<N>(c.gx)?),
        y: f.enter(&nat::<N>(c.gy)?),
        z: f.enter(&Nat::one()),
    };
    let mut acc = Point {
        x: Nat::ZERO,
        y: f.enter(&Nat::one()),
        z: Nat::ZERO,
    };
    for limb in d.0.iter().rev() {
        for i in (0..64).rev() {
            acc = add(&f, &b, &acc, &acc);
            let sum = add(&f, &b, &acc, &g);
            let bit = subtle::Choice::from(((limb >> i) & 1) as u8);
            acc.conditional_assign(&sum, bit);
        }
    }
    d.zeroize();
    let (p_minus_2, _) = p.sub(&Nat::from_u64(2));
    let z_inv = f.pow(&acc.z, &p_minus_2);
    let x = f.leave(&f.mul(&acc.x, &z_inv));
    let y = f.leave(&f.mul(&acc.y, &z_inv));
    acc.zeroize();
    if !bool::from(in_range) {
        return None;
    }
    x.write_be(x_out);
    y.write_be(y_out);
    Some(())
}

/// Whether 0 < d < n (constant time in d).
fn scalar_ok<const N: usize>(c: &Constants, d_be: &[u8]) -> bool {
    let (Some(n), Some(mut d)) = (nat::<N>(c.n), Nat::<N>::from_be(d_be)) else {
        return false;
    };
    let ok = !d.ct_eq(&Nat::ZERO) & d.ct_lt(&n);
    d.zeroize();
    bool::from(ok)
}

/// Whether a big-endian scalar is a valid P-256 private key.
pub(crate) fn p256_scalar_ok(d: &[u8]) -> bool {
    scalar_ok::<4>(&P256, d)
}

/// Whether a big-endian scalar is a valid P-384 private key.
pub(crate) fn p384_scalar_ok(d: &[u8]) -> bool {
    scalar_ok::<6>(&P384, d)
}

/// P-256: d*G for a 32-byte big-endian scalar.
pub(crate) fn p256_public(d: &[u8], x: &mut [u8], y: &mut [u8]) -> Option<()> {
    base_mul::<4>(&P256, d, x, y)
}

/// P-384: d*G for a 48-byte big-endian scalar.
pub(crate) fn p384_public(d: &[u8], x: &mut [u8], y: &mut [u8]) -> Option<()> {
    base_mul::<6>(&P384, d, x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::point::AffineCoordinates;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        // Same public points as the p256 and p384 crates.
        #[test]
        fn agrees_with_rustcrypto(seed in any::<[u8; 48]>()) {
            let d256 = &seed[..32];
            let mut x = [0u8; 32];
            let mut y = [0u8; 32];
            match p256::SecretKey::from_slice(d256) {
                Ok(sk) => {
                    p256_public(d256, &mut x, &mut y).unwrap();
                    let a = *sk.public_key().as_affine();
                    prop_assert_eq!(x.to_vec(), a.x().to_vec());
                    prop_assert_eq!(y.to_vec(), a.y().to_vec());
                }
                Err(_) => prop_assert!(p256_public(d256, &mut x, &mut y).is_none()),
            }
            let mut x = [0u8; 48];
            let mut y = [0u8; 48];
            match p384::SecretKey::from_slice(&seed) {
                Ok(sk) => {
                    p384_public(&seed, &mut x, &mut y).unwrap();
                    let a = *sk.public_key().as_affine();
                    prop_assert_eq!(x.to_vec(), a.x().to_vec());
                    prop_assert_eq!(y.to_vec(), a.y().to_vec());
                }
                Err(_) => prop_assert!(p384_public(&seed, &mut x, &mut y).is_none()),
            }
        }
    }

    #[test]
    fn range_and_small_scalars() {
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        assert!(p256_public(&[0; 32], &mut x, &mut y).is_none());
        let n = crate::hex::decode_array::<32>(P256.n.as_bytes()).unwrap();
        assert!(p256_public(&n, &mut x, &mut y).is_none());
        let mut one = [0u8; 32];
        one[31] = 1;
        p256_public(&one, &mut x, &mut y).unwrap();
        assert_eq!(
            x,
            crate::hex::decode_array::<32>(P256.gx.as_bytes()).unwrap()
        );
        // n - 1 gives -G: same x, y = p - Gy.
        let mut n1 = n;
        n1[31] -= 1;
        p256_public(&n1, &mut x, &mut y).unwrap();
        assert_eq!(
            x,
            crate::hex::decode_array::<32>(P256.gx.as_bytes()).unwrap()
        );
    }
}
