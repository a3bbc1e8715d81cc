//! EC private keys on the two NIST curves the key readers accept, through the `p256` and
//! `p384` crates: the range check of a private scalar and its public point d*G (for rendering a
//! released EC key as a JWK). The scalar multiplication is the crates' constant-time one; the
//! secret key they hold is wiped on drop.

use p256::elliptic_curve::point::AffineCoordinates;

/// The NIST curves the readers accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-256 (secp256r1).
    P256,
    /// P-384 (secp384r1).
    P384,
}

impl Curve {
    /// Field and scalar size in bytes.
    pub const fn size(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    /// The JWK `crv` name.
    pub const fn jwk_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }
}

/// Whether `d` (big-endian, exactly the curve size) is a private key: 0 < d < n.
pub(crate) fn scalar_ok(curve: Curve, d: &[u8]) -> bool {
    match curve {
        Curve::P256 => p256::SecretKey::from_slice(d).is_ok(),
        Curve::P384 => p384::SecretKey::from_slice(d).is_ok(),
    }
}

/// d*G for the private key `d` (big-endian, exactly the curve size): the affine x and y,
/// big-endian, into `x` and `y` (each the curve size). `None` if `d` is not a private key or
/// the outputs have the wrong size.
pub(crate) fn public_point(curve: Curve, d: &[u8], x: &mut [u8], y: &mut [u8]) -> Option<()> {
    fn write(dst: &mut [u8], src: &[u8]) -> Option<()> {
        (dst.len() == src.len()).then(|| dst.copy_from_slice(src))
    }
    match curve {
        Curve::P256 => {
            let public = p256::SecretKey::from_slice(d).ok()?.public_key();
            let a = public.as_affine();
            write(x, &a.x())?;
            write(y, &a.y())
        }
        Curve::P384 => {
            let public = p384::SecretKey::from_slice(d).ok()?.public_key();
            let a = public.as_affine();
            write(x, &a.x())?;
            write(y, &a.y())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const P256_GX: &str = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
    const P256_GY: &str = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    const P384_GX: &str = "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7";

    fn h<const N: usize>(s: &str) -> [u8; N] {
        crate::hex::decode_array(s.as_bytes()).unwrap()
    }

    #[test]
    fn range_and_small_scalars() {
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        assert!(!scalar_ok(Curve::P256, &[0; 32]));
        assert!(public_point(Curve::P256, &[0; 32], &mut x, &mut y).is_none());
        let n: [u8; 32] = h(P256_N);
        assert!(!scalar_ok(Curve::P256, &n));
        assert!(public_point(Curve::P256, &n, &mut x, &mut y).is_none());
        let mut one = [0u8; 32];
        one[31] = 1;
        assert!(scalar_ok(Curve::P256, &one));
        public_point(Curve::P256, &one, &mut x, &mut y).unwrap();
        assert_eq!((x, y), (h(P256_GX), h(P256_GY)));
        // n - 1 gives -G: the same x.
        let mut n1 = n;
        n1[31] -= 1;
        public_point(Curve::P256, &n1, &mut x, &mut y).unwrap();
        assert_eq!(x, h::<32>(P256_GX));
        assert_ne!(y, h::<32>(P256_GY));
        let mut x = [0u8; 48];
        let mut y = [0u8; 48];
        let mut one = [0u8; 48];
        one[47] = 1;
        public_point(Curve::P384, &one, &mut x, &mut y).unwrap();
        assert_eq!(x, h::<48>(P384_GX));
        // Wrong sizes are refused, not truncated.
        assert!(public_point(Curve::P384, &one[..47], &mut x, &mut y).is_none());
        assert!(public_point(Curve::P384, &one, &mut x[..32], &mut y).is_none());
    }
}
