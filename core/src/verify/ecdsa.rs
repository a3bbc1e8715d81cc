//! ECDSA P-384 / SHA-384 verification (FIPS 186-5 section 6.4.2) of SNP reports: the `p384`
//! crate's [`VerifyingKey`] over the prehashed SHA-384 digest. The key is an uncompressed SEC1
//! point (decoding checks that it is on the curve); the signature's r and s must be in
//! [1, n-1]. Everything here is public data.

use p384::ecdsa::signature::hazmat::PrehashVerifier;
use p384::ecdsa::{Signature, VerifyingKey};
use p384::elliptic_curve::point::AffineCoordinates;
use p384::{AffinePoint, FieldBytes};

use super::backend::SignatureError;
use crate::cert::alg::P384_POINT_SIZE;

const LEN: usize = 48;

/// Verifies `(r, s)` over the SHA-384 digest `z` with the public key `q` (SEC1 uncompressed).
pub(crate) fn verify_prehashed(
    q: &[u8; P384_POINT_SIZE],
    z: &[u8; LEN],
    r: &[u8; LEN],
    s: &[u8; LEN],
) -> Result<(), SignatureError> {
    // Only the uncompressed form is a valid VCEK/VLEK key (the certificate profile says so);
    // the coordinates must satisfy the curve equation.
    let (tag, xy) = q.split_first().ok_or(SignatureError::Key)?;
    let (x, y) = xy.split_first_chunk::<LEN>().ok_or(SignatureError::Key)?;
    let y = <&[u8; LEN]>::try_from(y).map_err(|_| SignatureError::Key)?;
    if *tag != 0x04 {
        return Err(SignatureError::Key);
    }
    let point = AffinePoint::from_coordinates(&FieldBytes::from(*x), &FieldBytes::from(*y))
        .into_option()
        .ok_or(SignatureError::Key)?;
    let key = VerifyingKey::from_affine(point).map_err(|_| SignatureError::Key)?;
    let signature = Signature::from_scalars(*r, *s).map_err(|_| SignatureError::Invalid)?;
    key.verify_prehash(z, &signature)
        .map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::SigningKey;
    use p384::ecdsa::signature::hazmat::PrehashSigner;
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
        // Signatures made with the key verify; a changed digest or swapped r and s do not.
        // (The comparison with an independent implementation, aws-lc, is in csc-crypto.)
        fn signs_and_refuses_changes(secret in any::<[u8; LEN]>(), digest in any::<[u8; LEN]>(), flip in 0usize..LEN) {
            let Some((sk, q)) = key(secret) else { return Ok(()) };
            let sig: Signature = sk.sign_prehash(&digest).unwrap();
            let (r, s) = split(&sig);
            prop_assert_eq!(verify_prehashed(&q, &digest, &r, &s), Ok(()));
            let mut other = digest;
            other[flip] ^= 0x40;
            prop_assert_eq!(verify_prehashed(&q, &other, &r, &s), Err(SignatureError::Invalid));
            prop_assert!(verify_prehashed(&q, &digest, &s, &r).is_err());
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
        let order = crate::hex::decode_array::<LEN>(
            b"ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
        )
        .unwrap();
        assert_eq!(
            verify_prehashed(&q, &digest, &r, &order),
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
}
