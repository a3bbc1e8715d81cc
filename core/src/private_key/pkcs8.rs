//! Private-key readers: PKCS#8 `PrivateKeyInfo` (RFC 5958) holding an RSA key (PKCS#1, RFC
//! 8017) or an EC key (SEC1 `ECPrivateKey`, RFC 5915) on P-256 or P-384; bare PKCS#1 and SEC1
//! too; DER or PEM. Everything borrows from the input (or from the caller's PEM scratch
//! buffer); nothing is allocated.
//!
//! Released keys arrive from Key Vault as PKCS#8 DER and must become JWKs. For EC keys the
//! public point is recomputed from the private scalar, as Go's `x509.ParsePKCS8PrivateKey` does
//! (upstream ignores the public key stored in the structure), so the JWK's x and y always belong
//! to d.

use core::fmt;

use super::KeyError;
use super::pem::{self, PemKind};
use super::pkcs1::{self, RsaPrivateKeyDer};
use crate::der::{self, tag};
use crate::secret::SecretBytes;

/// rsaEncryption, 1.2.840.113549.1.1.1.
pub const OID_RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1.
pub const OID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// prime256v1 (P-256), 1.2.840.10045.3.1.7.
pub const OID_P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// secp384r1 (P-384), 1.3.132.0.34.
pub const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];

pub use crate::ec::Curve;

fn curve_from_oid(oid: &[u8]) -> Result<Curve, KeyError> {
    match oid {
        OID_P256 => Ok(Curve::P256),
        OID_P384 => Ok(Curve::P384),
        _ => Err(KeyError::Curve),
    }
}

/// An EC private key as read: the curve and the private scalar's bytes as stored.
#[derive(Clone, Copy)]
pub struct EcPrivateKeyDer<'a> {
    /// The curve.
    pub curve: Curve,
    d: &'a [u8],
}

impl fmt::Debug for EcPrivateKeyDer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EcPrivateKeyDer({:?}, redacted)", self.curve)
    }
}

/// An affine public point: x and y, big-endian, each [`Curve::size`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcPublicPoint {
    x: [u8; 48],
    y: [u8; 48],
    len: usize,
}

impl EcPublicPoint {
    /// The x coordinate.
    pub fn x(&self) -> &[u8] {
        self.x.get(..self.len).unwrap_or(&[])
    }
    /// The y coordinate.
    pub fn y(&self) -> &[u8] {
        self.y.get(..self.len).unwrap_or(&[])
    }
}

impl EcPrivateKeyDer<'_> {
    /// The private scalar padded to the curve size (leading zero bytes beyond it are dropped,
    /// as Go does); rejects zero and scalars not below the group order.
    pub fn scalar(&self) -> Result<SecretBytes<48>, KeyError> {
        let size = self.curve.size();
        let first_nonzero = self
            .d
            .iter()
            .position(|b| *b != 0)
            .ok_or(KeyError::Component { field: "d" })?;
        let digits = self.d.get(first_nonzero..).unwrap_or(&[]);
        let pad = size
            .checked_sub(digits.len())
            .ok_or(KeyError::Component { field: "d" })?;
        let mut out = SecretBytes::<48>::new();
        out.fill_with(|buf| {
            let dst = buf
                .get_mut(pad..size)
                .ok_or(KeyError::Component { field: "d" })?;
            dst.copy_from_slice(digits);
            Ok::<usize, KeyError>(size)
        })?;
        if crate::ec::scalar_ok(self.curve, out.as_bytes()) {
            Ok(out)
        } else {
            Err(KeyError::Component { field: "d" })
        }
    }

    /// The public point d*G.
    pub fn public_point(&self) -> Result<EcPublicPoint, KeyError> {
        let d = self.scalar()?;
        self.point_from(d.as_bytes())
    }

    fn point_from(&self, d: &[u8]) -> Result<EcPublicPoint, KeyError> {
        let bad = KeyError::Component { field: "d" };
        let mut p = EcPublicPoint {
            x: [0; 48],
            y: [0; 48],
            len: self.curve.size(),
        };
        let size = self.curve.size();
        let d = d.get(..size).ok_or(bad)?;
        let (Some(x), Some(y)) = (p.x.get_mut(..size), p.y.get_mut(..size)) else {
            return Err(bad);
        };
        crate::ec::public_point(self.curve, d, x, y).ok_or(bad)?;
        Ok(p)
    }
}

/// A private key of either kind.
#[derive(Debug, Clone, Copy)]
pub enum PrivateKeyDer<'a> {
    /// An RSA key.
    Rsa(RsaPrivateKeyDer<'a>),
    /// An EC key.
    Ec(EcPrivateKeyDer<'a>),
}

/// Reads a PKCS#8 `PrivateKeyInfo` (version 1 or 2).
pub fn read_pkcs8(der: &[u8]) -> Result<PrivateKeyDer<'_>, KeyError> {
    let seq = der::read_single(der, tag::SEQUENCE)?;
    let mut r = seq.contents();
    let version = r.read(tag::INTEGER)?.u64()?;
    if version > 1 {
        return Err(KeyError::Version {
            structure: "PrivateKeyInfo",
            version,
        });
    }
    let alg = r.read(tag::SEQUENCE)?;
    let mut a = alg.contents();
    let oid = a.read(tag::OID)?;
    let params = if a.is_empty() {
        None
    } else {
        Some(a.read_any()?)
    };
    a.finish()?;
    let key = r.read(tag::OCTET_STRING)?.value;
    // attributes [0] and (version 2) publicKey [1] are allowed and ignored.
    let _ = r.read_optional(tag::context(0))?;
    if version == 1 {
        let _ = r.read_optional(tag::context_primitive(1))?;
    }
    r.finish()?;
    match oid.value {
        OID_RSA_ENCRYPTION => {
            if let Some(p) = params {
                p.expect(tag::NULL)?;
            }
            Ok(PrivateKeyDer::Rsa(pkcs1::read(key)?))
        }
        OID_EC_PUBLIC_KEY => {
            let curve_oid = params.ok_or(KeyError::Curve)?.expect(tag::OID)?;
            let curve = curve_from_oid(curve_oid.value)?;
            Ok(PrivateKeyDer::Ec(read_sec1(key, Some(curve))?))
        }
        _ => Err(KeyError::Algorithm),
    }
}

/// Reads a SEC1 `ECPrivateKey`. `outer` is the curve named by an enclosing PKCS#8 structure;
/// if the key names one as well, both must agree.
pub fn read_sec1(der: &[u8], outer: Option<Curve>) -> Result<EcPrivateKeyDer<'_>, KeyError> {
    let seq = der::read_single(der, tag::SEQUENCE)?;
    let mut r = seq.contents();
    let version = r.read(tag::INTEGER)?.u64()?;
    if version != 1 {
        return Err(KeyError::Version {
            structure: "ECPrivateKey",
            version,
        });
    }
    let d = r.read(tag::OCTET_STRING)?.value;
    let inner = match r.read_optional(tag::context(0))? {
        Some(p) => {
            let oid = der::read_single(p.value, tag::OID)?;
            Some(curve_from_oid(oid.value)?)
        }
        None => None,
    };
    // The stored public key is ignored (recomputed from d), but must be well-formed DER.
    let _ = r.read_optional(tag::context(1))?;
    r.finish()?;
    let curve = match (outer, inner) {
        (Some(o), Some(i)) if o != i => return Err(KeyError::Curve),
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => return Err(KeyError::Curve),
    };
    Ok(EcPrivateKeyDer { curve, d })
}

/// Reads DER of any supported form: PKCS#8, PKCS#1 RSA or SEC1 EC (tried in that order).
pub fn read_der(der: &[u8]) -> Result<PrivateKeyDer<'_>, KeyError> {
    match read_pkcs8(der) {
        Ok(k) => Ok(k),
        Err(first) => {
            // Tell the forms apart by their second element: PKCS#8 has an AlgorithmIdentifier
            // SEQUENCE, PKCS#1 has INTEGERs, SEC1 has an OCTET STRING.
            let seq = der::read_single(der, tag::SEQUENCE)?;
            let mut r = seq.contents();
            let _version = r.read(tag::INTEGER)?;
            match r.peek_tag() {
                Some(tag::INTEGER) => Ok(PrivateKeyDer::Rsa(pkcs1::read(der)?)),
                Some(tag::OCTET_STRING) => Ok(PrivateKeyDer::Ec(read_sec1(der, None)?)),
                _ => Err(first),
            }
        }
    }
}

/// Reads PEM (the first `RSA PRIVATE KEY`, `PRIVATE KEY` or `EC PRIVATE KEY` block, decoded
/// into `scratch`) or, if the input has no PEM begin line, DER.
pub fn read<'a>(input: &'a [u8], scratch: &'a mut [u8]) -> Result<PrivateKeyDer<'a>, KeyError> {
    if !pem::looks_like_pem(input) {
        return read_der(input);
    }
    let (kind, der) = pem::unarmor(input, scratch)?;
    match kind {
        PemKind::Pkcs1 => Ok(PrivateKeyDer::Rsa(pkcs1::read(der)?)),
        PemKind::Pkcs8 => read_pkcs8(der),
        PemKind::Sec1 => Ok(PrivateKeyDer::Ec(read_sec1(der, None)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // d of the P-256 example key of RFC 7517 appendix A.2; x as `openssl ec -text` prints it.
    const JWK_D: [u8; 32] = [
        0xf3, 0xbd, 0x0c, 0x07, 0xa8, 0x1f, 0xb9, 0x32, 0x78, 0x1e, 0xd5, 0x27, 0x52, 0xf6, 0x0c,
        0xc8, 0x9a, 0x6b, 0xe5, 0xe5, 0x19, 0x34, 0xfe, 0x01, 0x93, 0x8d, 0xdb, 0x55, 0xd8, 0xf7,
        0x78, 0x01,
    ];
    const JWK_X: [u8; 32] = [
        0x30, 0xa0, 0x42, 0x4c, 0xd2, 0x1c, 0x29, 0x44, 0x83, 0x8a, 0x2d, 0x75, 0xc9, 0x2b, 0x37,
        0xe7, 0x6e, 0xa2, 0x0d, 0x9f, 0x00, 0x89, 0x3a, 0x3b, 0x4e, 0xee, 0x8a, 0x3c, 0x0a, 0xaf,
        0xec, 0x3e,
    ];

    fn pkcs8_p256(d: &[u8]) -> std::vec::Vec<u8> {
        // PrivateKeyInfo { 0, {ecPublicKey, P-256}, OCTET STRING ECPrivateKey { 1, d } }
        let mut ec = std::vec![
            0x30,
            (5 + d.len()) as u8,
            0x02,
            0x01,
            0x01,
            0x04,
            d.len() as u8
        ];
        ec.extend_from_slice(d);
        let mut alg = std::vec![0x30, 0x13, 0x06, 0x07];
        alg.extend_from_slice(OID_EC_PUBLIC_KEY);
        alg.extend_from_slice(&[0x06, 0x08]);
        alg.extend_from_slice(OID_P256);
        let mut body = std::vec![0x02, 0x01, 0x00];
        body.extend_from_slice(&alg);
        body.extend_from_slice(&[0x04, ec.len() as u8]);
        body.extend_from_slice(&ec);
        let mut out = std::vec![0x30, body.len() as u8];
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn ec_public_point_from_scalar() {
        let der = pkcs8_p256(&JWK_D);
        let PrivateKeyDer::Ec(k) = read_der(&der).unwrap() else {
            panic!("not EC")
        };
        assert_eq!(k.curve, Curve::P256);
        let p = k.public_point().unwrap();
        assert_eq!(p.x(), &JWK_X);
        assert_eq!(k.scalar().unwrap().as_bytes(), &JWK_D);
        // A scalar stored without its leading zero byte gets it back; zero is refused.
        let short = pkcs8_p256(&[0, 0, 1]);
        let PrivateKeyDer::Ec(k) = read_der(&short).unwrap() else {
            panic!()
        };
        let s = k.scalar().unwrap();
        assert_eq!(s.len(), 32);
        assert_eq!(s.as_bytes()[31], 1);
        let zero = pkcs8_p256(&[0; 32]);
        let PrivateKeyDer::Ec(k) = read_der(&zero).unwrap() else {
            panic!()
        };
        assert_eq!(k.scalar().unwrap_err(), KeyError::Component { field: "d" });
        // The group order itself is out of range.
        let n: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
            0xfc, 0x63, 0x25, 0x51,
        ];
        let der = pkcs8_p256(&n);
        let PrivateKeyDer::Ec(k) = read_der(&der).unwrap() else {
            panic!()
        };
        assert!(k.public_point().is_err());
        assert_eq!(std::format!("{k:?}"), "EcPrivateKeyDer(P256, redacted)");
    }

    #[test]
    fn rejects_other_algorithms_and_curves() {
        let mut der = pkcs8_p256(&JWK_D);
        // Change the curve OID's last byte (P-256 -> 1.2.840.10045.3.1.6).
        let pos = der
            .windows(OID_P256.len())
            .position(|w| w == OID_P256)
            .unwrap();
        der[pos + OID_P256.len() - 1] = 6;
        assert_eq!(read_pkcs8(&der).unwrap_err(), KeyError::Curve);
        let mut der = pkcs8_p256(&JWK_D);
        let pos = der
            .windows(OID_EC_PUBLIC_KEY.len())
            .position(|w| w == OID_EC_PUBLIC_KEY)
            .unwrap();
        der[pos + 6] = 9;
        assert_eq!(read_pkcs8(&der).unwrap_err(), KeyError::Algorithm);
        let mut der = pkcs8_p256(&JWK_D);
        der[4] = 2;
        assert!(matches!(
            read_pkcs8(&der).unwrap_err(),
            KeyError::Version { .. }
        ));
    }
}
