//! Generic X.509 signature and path checks for chains outside AMD's profile (for example the
//! managed-HSM TLS chain a key release response carries in `x5c`): any signature scheme of
//! [`SignatureScheme`] with RSA issuer keys, issuer/subject name chaining and validity.
//!
//! This is not a full RFC 5280 path validation (no name constraints, policies or key usage);
//! callers that need those use a web PKI library. It answers "is each certificate signed by the
//! next, up to this root, and valid at this time?".

use core::fmt;

use super::backend::{Crypto, Padding};
use crate::cert::alg::{AlgorithmError, PublicKey, SignatureScheme};
use crate::cert::{Certificate, Time};

/// Why a certificate is not signed by its issuer, or not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum X509Error {
    /// Inner and outer signature algorithms differ.
    AlgorithmMismatch,
    /// The signature algorithm is not supported.
    Algorithm(AlgorithmError),
    /// The issuer's key cannot make this kind of signature (or is not RSA).
    IssuerKey,
    /// The issuer name is not the issuer certificate's subject.
    IssuerName,
    /// The signature does not verify.
    Signature,
    /// The certificate is not valid at the time given.
    NotValidAt {
        /// The time checked.
        now: Time,
        /// notBefore.
        not_before: Time,
        /// notAfter.
        not_after: Time,
    },
}

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            X509Error::AlgorithmMismatch => {
                f.write_str("signature algorithm outside the signed part differs from the inside")
            }
            X509Error::Algorithm(e) => e.fmt(f),
            X509Error::IssuerKey => f.write_str("issuer key cannot verify this signature"),
            X509Error::IssuerName => f.write_str("issuer name is not the issuer's subject"),
            X509Error::Signature => f.write_str("signature does not verify"),
            X509Error::NotValidAt {
                now,
                not_before,
                not_after,
            } => write!(
                f,
                "certificate has expired or is not yet valid: {now} is outside {not_before} .. {not_after}"
            ),
        }
    }
}

impl core::error::Error for X509Error {}

/// Checks that `cert` is signed by `issuer`'s key (and names it as issuer); returns the scheme.
pub fn check_signed_by<C: Crypto + ?Sized>(
    crypto: &C,
    cert: &Certificate<'_>,
    issuer: &Certificate<'_>,
) -> Result<SignatureScheme, X509Error> {
    if cert.issuer().raw != issuer.subject().raw {
        return Err(X509Error::IssuerName);
    }
    check_signature(crypto, cert, &issuer.public_key())
}

/// Checks `cert`'s signature with `key`, without looking at names.
pub fn check_signature<C: Crypto + ?Sized>(
    crypto: &C,
    cert: &Certificate<'_>,
    key: &PublicKey<'_>,
) -> Result<SignatureScheme, X509Error> {
    if cert.tbs_signature_algorithm().raw != cert.signature_algorithm().raw {
        return Err(X509Error::AlgorithmMismatch);
    }
    let scheme = cert
        .signature_algorithm()
        .scheme()
        .map_err(X509Error::Algorithm)?;
    let padding = match scheme {
        SignatureScheme::RsaPssSha384 => Padding::PssSha384,
        SignatureScheme::RsaPkcs1Sha256 => Padding::Pkcs1Sha256,
        SignatureScheme::RsaPkcs1Sha384 => Padding::Pkcs1Sha384,
        SignatureScheme::EcdsaP384Sha384 => return Err(X509Error::IssuerKey),
    };
    let PublicKey::Rsa(key) = key else {
        return Err(X509Error::IssuerKey);
    };
    crypto
        .verify_rsa(padding, key, cert.tbs(), cert.signature())
        .map_err(|_| X509Error::Signature)?;
    Ok(scheme)
}

/// Verifies `chain` (leaf first; each signed by the next) up to the trusted `root` (which signs
/// the last element and itself), every certificate valid at `now` if given. On failure, the
/// index in `chain` of the certificate at fault (`chain.len()` for the root).
pub fn verify_path<C: Crypto + ?Sized>(
    crypto: &C,
    chain: &[Certificate<'_>],
    root: &Certificate<'_>,
    now: Option<Time>,
) -> Result<(), (usize, X509Error)> {
    let valid = |c: &Certificate<'_>, i: usize| match now {
        Some(now) if !c.validity().contains(now) => Err((
            i,
            X509Error::NotValidAt {
                now,
                not_before: c.validity().not_before,
                not_after: c.validity().not_after,
            },
        )),
        _ => Ok(()),
    };
    for (i, cert) in chain.iter().enumerate() {
        let issuer = chain.get(i.saturating_add(1)).unwrap_or(root);
        check_signed_by(crypto, cert, issuer).map_err(|e| (i, e))?;
        valid(cert, i)?;
    }
    valid(root, chain.len())
}
