//! PKCS#1 `RSAPrivateKey` (RFC 8017 appendix A.1.2), read without copying.
//!
//! PKCS#8 `PrivateKeyInfo` wrapping and PEM are handled by [`super::pkcs8`], which
//! hands the inner PKCS#1 bytes to [`read`].

use core::fmt;

use super::KeyError;
use crate::der::{self, tag};

/// The components of a two-prime RSA private key, as big-endian integers without leading zeros,
/// borrowed from the DER they were read from.
///
/// `Debug` prints only the modulus size: every other component is secret.
#[derive(Clone, Copy)]
pub struct RsaPrivateKeyDer<'a> {
    /// Modulus n.
    pub n: &'a [u8],
    /// Public exponent e.
    pub e: &'a [u8],
    /// Private exponent d.
    pub d: &'a [u8],
    /// First prime p.
    pub p: &'a [u8],
    /// Second prime q.
    pub q: &'a [u8],
    /// d mod (p - 1).
    pub dp: &'a [u8],
    /// d mod (q - 1).
    pub dq: &'a [u8],
    /// q^-1 mod p.
    pub qinv: &'a [u8],
}

impl fmt::Debug for RsaPrivateKeyDer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RsaPrivateKeyDer(RSA-{}, private components redacted)",
            self.n.len().saturating_mul(8)
        )
    }
}

fn component<'a>(r: &mut der::Reader<'a>, field: &'static str) -> Result<&'a [u8], KeyError> {
    let v = r.read(tag::INTEGER)?.uint_be()?;
    if v.is_empty() {
        return Err(KeyError::Component { field });
    }
    Ok(v)
}

/// Reads a DER `RSAPrivateKey`. Only two-prime keys (version 0) are accepted, and no component
/// may be zero; whether the numbers form a key is checked by
/// [`crate::rsa::private::RsaPrivateKey`], not here.
pub fn read(der: &[u8]) -> Result<RsaPrivateKeyDer<'_>, KeyError> {
    let seq = der::read_single(der, tag::SEQUENCE)?;
    let mut r = seq.contents();
    let version = r.read(tag::INTEGER)?.u64()?;
    if version != 0 {
        return Err(KeyError::Version {
            structure: "RSAPrivateKey",
            version,
        });
    }
    let key = RsaPrivateKeyDer {
        n: component(&mut r, "n")?,
        e: component(&mut r, "e")?,
        d: component(&mut r, "d")?,
        p: component(&mut r, "p")?,
        q: component(&mut r, "q")?,
        dp: component(&mut r, "dp")?,
        dq: component(&mut r, "dq")?,
        qinv: component(&mut r, "qi")?,
    };
    r.finish()?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::DerErrorKind;

    // A toy key (n = 3233 = 61 * 53, e = 17, d = 2753), small enough to write by hand.
    const TOY: [u8; 31] = [
        0x30, 0x1D, 0x02, 0x01, 0x00, 0x02, 0x02, 0x0C, 0xA1, 0x02, 0x01, 0x11, 0x02, 0x02, 0x0A,
        0xC1, 0x02, 0x01, 0x3D, 0x02, 0x01, 0x35, 0x02, 0x01, 0x35, 0x02, 0x01, 0x31, 0x02, 0x01,
        0x26,
    ];

    #[test]
    fn reads_components() {
        let k = read(&TOY).unwrap();
        assert_eq!(
            (k.n, k.e, k.d, k.p, k.q, k.dp, k.dq, k.qinv),
            (
                &[0x0C, 0xA1][..],
                &[0x11][..],
                &[0x0A, 0xC1][..],
                &[0x3D][..],
                &[0x35][..],
                &[0x35][..],
                &[0x31][..],
                &[0x26][..]
            )
        );
        assert_eq!(
            std::format!("{k:?}"),
            "RsaPrivateKeyDer(RSA-16, private components redacted)"
        );
    }

    #[test]
    fn rejects_multi_prime_zero_and_trailing() {
        let mut v1 = TOY;
        v1[4] = 1;
        assert_eq!(
            read(&v1).unwrap_err(),
            KeyError::Version {
                structure: "RSAPrivateKey",
                version: 1
            }
        );
        let mut zero_q = TOY;
        zero_q[21] = 0;
        assert_eq!(
            read(&zero_q).unwrap_err(),
            KeyError::Component { field: "q" }
        );
        // One byte more inside the SEQUENCE than the nine integers.
        let mut trailing = [0u8; 32];
        trailing[..31].copy_from_slice(&TOY);
        trailing[1] = 0x1E;
        assert!(matches!(
            read(&trailing).unwrap_err(),
            KeyError::Der(crate::der::DerError {
                kind: DerErrorKind::Truncated | DerErrorKind::TrailingData,
                ..
            })
        ));
    }
}
