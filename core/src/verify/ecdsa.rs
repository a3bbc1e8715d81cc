//! ECDSA P-384 / SHA-384 verification (FIPS 186-5 section 6.4.2) on the `p384` crate's field
//! and scalar arithmetic, with the point arithmetic and the double-scalar multiplication here.
//!
//! Why not `p384::ecdsa::VerifyingKey`: its SEC1 decoding, scalar inversion (safegcd) and
//! wNAF multiplication keep bounds checks and `expect`s that the optimiser cannot remove, so the
//! core would have panic paths (`ci/nopanic.sh` proves it has none). Here the field and scalar
//! types are only multiplied, added and raised to fixed powers, which compile without them:
//! inversion is Fermat's `x^(n-2)`, points use the complete formulas of Renes, Costello and
//! Batina (eprint 2015/1060, algorithms 4 and 6, for a = -3) in homogeneous coordinates, and
//! the final comparison `x(R) mod n == r` is done projectively (`X == r * Z`), so no field
//! inversion is needed either. Everything here is public data; variable time is fine.

// The operators here act on field elements (mod p) and scalars (mod n): modular arithmetic has
// no overflow. Integer arithmetic in this file uses explicit wrapping operations.
#![allow(clippy::arithmetic_side_effects)]

use p384::elliptic_curve::hazmat::FieldArithmetic;
use p384::elliptic_curve::{Field, PrimeField};
use p384::{FieldBytes, NistP384, Scalar};

use super::backend::SignatureError;
use crate::cert::alg::P384_POINT_SIZE;

type Fe = <NistP384 as FieldArithmetic>::FieldElement;

const LEN: usize = 48;

/// The group order n, big-endian.
const ORDER: [u8; LEN] = hex48(
    b"ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
);
/// n - 2, as little-endian u64 limbs (the exponent of Fermat inversion).
const ORDER_MINUS_2: [u64; 6] = [
    0xecec_196a_ccc5_2971,
    0x581a_0db2_48b0_a77a,
    0xc763_4d81_f437_2ddf,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_ffff_ffff,
];
/// p - n, big-endian: an x(R) below it may also stand for x(R) + n.
const P_MINUS_N: [u8; LEN] = hex48(
    b"000000000000000000000000000000000000000000000000389cb27e0bc8d21fa7e5f24cb74f58851313e696333ad68c",
);
/// The curve coefficient b.
const B: [u8; LEN] = hex48(
    b"b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
);
/// The generator's coordinates.
const GX: [u8; LEN] = hex48(
    b"aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
);
const GY: [u8; LEN] = hex48(
    b"3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
);

/// Hex decoding of a 48-byte constant, evaluated at compile time (the unit tests check every
/// constant against an independent property, so a typo cannot go unnoticed).
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn hex48(text: &[u8; 2 * LEN]) -> [u8; LEN] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c.wrapping_sub(b'0'),
            _ => c.wrapping_sub(b'a').wrapping_add(10),
        }
    }
    let mut out = [0u8; LEN];
    let mut i = 0;
    while i < LEN {
        out[i] = (nib(text[2 * i]) << 4) | nib(text[2 * i + 1]);
        i += 1;
    }
    out
}

fn fe(bytes: &[u8; LEN]) -> Option<Fe> {
    Fe::from_repr(FieldBytes::from(*bytes)).into_option()
}

fn scalar(bytes: &[u8; LEN]) -> Option<Scalar> {
    Scalar::from_repr(FieldBytes::from(*bytes)).into_option()
}

/// `a < b` for big-endian byte strings of equal length.
fn less(a: &[u8; LEN], b: &[u8; LEN]) -> bool {
    a < b
}

/// `a - b` for big-endian 48-byte integers with `a >= b`.
fn sub(a: &[u8; LEN], b: &[u8; LEN]) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    let mut borrow = 0u16;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b).rev() {
        let d = 0x100u16
            .wrapping_add(u16::from(*x))
            .wrapping_sub(u16::from(*y))
            .wrapping_sub(borrow);
        let [_, lo] = d.to_be_bytes();
        *o = lo;
        borrow = u16::from(d < 0x100);
    }
    out
}

/// A point in homogeneous projective coordinates: (X : Y : Z) is (X/Z, Y/Z); Z = 0 is infinity.
#[derive(Clone, Copy)]
struct Point {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl Point {
    const IDENTITY: Point = Point {
        x: Fe::ZERO,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    /// Complete addition (Renes-Costello-Batina, algorithm 4, a = -3).
    fn add(&self, o: &Point, b: &Fe) -> Point {
        let t0 = self.x * o.x;
        let t1 = self.y * o.y;
        let t2 = self.z * o.z;
        let xy = (self.x + self.y) * (o.x + o.y) - (t0 + t1);
        let yz = (self.y + self.z) * (o.y + o.z) - (t1 + t2);
        let xz = (self.x + self.z) * (o.x + o.z) - (t0 + t2);
        let bz = xz - *b * t2;
        let bz3 = bz.double() + bz;
        let y_minus = t1 - bz3;
        let y_plus = t1 + bz3;
        let z3 = t2.double() + t2;
        let bx = *b * xz - (z3 + t0);
        let bx3 = bx.double() + bx;
        let x3_minus = t0.double() + t0 - z3;
        Point {
            x: y_plus * xy - yz * bx3,
            y: y_plus * y_minus + x3_minus * bx3,
            z: y_minus * yz + xy * x3_minus,
        }
    }

    /// Doubling (Renes-Costello-Batina, algorithm 6, a = -3).
    fn double(&self, b: &Fe) -> Point {
        let xx = self.x.square();
        let yy = self.y.square();
        let zz = self.z.square();
        let xy2 = (self.x * self.y).double();
        let xz2 = (self.x * self.z).double();
        let bz = *b * zz - xz2;
        let bz3 = bz.double() + bz;
        let y_minus = yy - bz3;
        let y_plus = yy + bz3;
        let z3 = zz.double() + zz;
        let bx = *b * xz2 - (z3 + xx);
        let bx3 = bx.double() + bx;
        let x3_minus = xx.double() + xx - z3;
        let yz2 = (self.y * self.z).double();
        Point {
            x: y_minus * xy2 - bx3 * yz2,
            y: y_plus * y_minus + x3_minus * bx3,
            z: (yz2 * yy).double().double(),
        }
    }
}

/// A public key: an affine point on the curve (checked), from `04 || X || Y`.
fn public_point(sec1: &[u8; P384_POINT_SIZE], b: &Fe) -> Option<Point> {
    let (tag, xy) = sec1.split_first()?;
    let (x, y) = xy.split_at_checked(LEN)?;
    let (x, y) = (fe(x.try_into().ok()?)?, fe(y.try_into().ok()?)?);
    // y^2 = x^3 - 3x + b
    let on_curve = y.square() == x.square() * x - (x.double() + x) + *b;
    (*tag == 0x04 && on_curve).then_some(Point { x, y, z: Fe::ONE })
}

/// Verifies `(r, s)` over the SHA-384 digest `z` with the public key `q` (SEC1 uncompressed).
pub(crate) fn verify_prehashed(
    q: &[u8; P384_POINT_SIZE],
    z: &[u8; LEN],
    r_bytes: &[u8; LEN],
    s_bytes: &[u8; LEN],
) -> Result<(), SignatureError> {
    let b = fe(&B).ok_or(SignatureError::Key)?;
    let q = public_point(q, &b).ok_or(SignatureError::Key)?;
    let g = Point {
        x: fe(&GX).ok_or(SignatureError::Key)?,
        y: fe(&GY).ok_or(SignatureError::Key)?,
        z: Fe::ONE,
    };
    let invalid = SignatureError::Invalid;
    // 1 <= r, s < n.
    let r = scalar(r_bytes)
        .filter(|v| !bool::from(v.is_zero()))
        .ok_or(invalid)?;
    let s = scalar(s_bytes)
        .filter(|v| !bool::from(v.is_zero()))
        .ok_or(invalid)?;
    // The digest as an integer mod n (it is below 2^384 < 2n).
    let z = if less(z, &ORDER) { *z } else { sub(z, &ORDER) };
    let z = scalar(&z).ok_or(invalid)?;
    let w = <Scalar as Field>::pow_vartime(&s, ORDER_MINUS_2);
    let u1 = (z * w).to_repr();
    let u2 = (r * w).to_repr();

    // R = u1 G + u2 Q by simultaneous double-and-add (Shamir's trick).
    let gq = g.add(&q, &b);
    let mut acc = Point::IDENTITY;
    for (a, c) in u1.iter().zip(u2.iter()) {
        for bit in (0..8).rev() {
            acc = acc.double(&b);
            let table = match ((a >> bit) & 1, (c >> bit) & 1) {
                (1, 1) => Some(&gq),
                (1, _) => Some(&g),
                (_, 1) => Some(&q),
                _ => None,
            };
            if let Some(t) = table {
                acc = acc.add(t, &b);
            }
        }
    }
    if bool::from(acc.z.is_zero()) {
        return Err(invalid);
    }
    // x(R) mod n == r, without inverting Z: X == r Z, or X == (r + n) Z when r + n < p.
    let r_fe = fe(r_bytes).ok_or(invalid)?;
    if acc.x == r_fe * acc.z {
        return Ok(());
    }
    if less(r_bytes, &P_MINUS_N) {
        let n_fe = fe(&ORDER).ok_or(invalid)?;
        if acc.x == (r_fe + n_fe) * acc.z {
            return Ok(());
        }
    }
    Err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    use p384::ecdsa::{Signature, SigningKey};
    use proptest::prelude::*;

    fn key(secret: [u8; LEN]) -> Option<(SigningKey, [u8; P384_POINT_SIZE])> {
        let sk = SigningKey::from_bytes(&FieldBytes::from(secret)).ok()?;
        let point = sk.verifying_key().to_sec1_point(false);
        Some((sk, point.as_bytes().try_into().ok()?))
    }

    fn split(sig: &Signature) -> ([u8; LEN], [u8; LEN]) {
        let (r, s) = sig.split_bytes();
        (r.into(), s.into())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn agrees_with_the_p384_crate(secret in any::<[u8; LEN]>(), digest in any::<[u8; LEN]>(), flip in 0usize..LEN) {
            let Some((sk, q)) = key(secret) else { return Ok(()) };
            let sig: Signature = sk.sign_prehash(&digest).unwrap();
            let (r, s) = split(&sig);
            prop_assert_eq!(verify_prehashed(&q, &digest, &r, &s), Ok(()));
            let mut other = digest;
            other[flip] ^= 0x40;
            prop_assert_eq!(verify_prehashed(&q, &other, &r, &s), Err(SignatureError::Invalid));
            prop_assert!(sk.verifying_key().verify_prehash(&other, &sig).is_err());
            // Swapped r and s: invalid for both implementations.
            let ours = verify_prehashed(&q, &digest, &s, &r).is_ok();
            let theirs = Signature::from_scalars(s, r)
                .is_ok_and(|swapped| sk.verifying_key().verify_prehash(&digest, &swapped).is_ok());
            prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn rejects_out_of_range_and_bad_keys() {
        let (sk, q) = key([3u8; LEN]).unwrap();
        let digest = [9u8; LEN];
        let sig: Signature = sk.sign_prehash(&digest).unwrap();
        let (r, s) = split(&sig);
        let zero = [0u8; LEN];
        assert_eq!(
            verify_prehashed(&q, &digest, &zero, &s),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify_prehashed(&q, &digest, &r, &ORDER),
            Err(SignatureError::Invalid)
        );
        let mut off_curve = q;
        off_curve[50] ^= 1;
        assert_eq!(
            verify_prehashed(&off_curve, &digest, &r, &s),
            Err(SignatureError::Key)
        );
        let mut compressed = q;
        compressed[0] = 0x02;
        assert_eq!(
            verify_prehashed(&compressed, &digest, &r, &s),
            Err(SignatureError::Key)
        );
        // A digest at or above n is reduced, as FIPS 186 requires.
        let big = [0xFFu8; LEN];
        let sig: Signature = sk.sign_prehash(&big).unwrap();
        let (r, s) = split(&sig);
        assert_eq!(verify_prehashed(&q, &big, &r, &s), Ok(()));
    }

    #[test]
    fn constants() {
        // n - 2 limbs match the big-endian order.
        let mut be = [0u8; LEN];
        for (chunk, limb) in be.rchunks_mut(8).zip(ORDER_MINUS_2) {
            chunk.copy_from_slice(&limb.to_be_bytes());
        }
        let mut n = ORDER;
        n[LEN - 1] -= 2;
        assert_eq!(be, n);
        // The generator is on the curve; n·G is the identity.
        let b = fe(&B).unwrap();
        let mut g = [4u8; P384_POINT_SIZE];
        g[1..49].copy_from_slice(&GX);
        g[49..].copy_from_slice(&GY);
        assert!(public_point(&g, &b).is_some());
        g[96] ^= 1;
        assert!(public_point(&g, &b).is_none());
        assert!(less(&P_MINUS_N, &ORDER));
        assert_eq!(sub(&ORDER, &ORDER), [0u8; LEN]);
        // p - n + n = p, i.e. p - n + n overflows the field: (p - n) + n == 0 as field elements.
        let pn = fe(&P_MINUS_N).unwrap();
        assert!(bool::from((pn + fe(&ORDER).unwrap()).is_zero()));
    }
}
