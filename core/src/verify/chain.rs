//! The AMD chain ARK -> ASK/ASVK -> VCEK/VLEK, one verified link at a time.
//!
//! Each link is an owned value that holds what later checks need (the key, the subject name's
//! digest, the validity) and nothing borrowed, so a caller can keep a verified ARK and ASK and
//! check new VCEKs, or keep a verified VCEK and check new reports for one ECDSA verification.

use core::fmt;

use super::backend::{Crypto, Padding, SHA384_LEN};
use super::error::{ChainError, Role, Serial, VerifyError};
use super::roots;
use crate::cert::alg::{P384_POINT_SIZE, PublicKey, RsaPublicKey, SignatureScheme};
use crate::cert::amd::AmdExtensions;
use crate::cert::crl::Crl;
use crate::cert::{Certificate, Time, Validity};
use crate::report::Product;

/// A SHA-384 digest identifying a certificate, name or key.
pub type Digest = [u8; SHA384_LEN];

/// Reads a certificate, naming its role in the error.
pub(crate) fn parse(der: &[u8], role: Role) -> Result<Certificate<'_>, VerifyError> {
    Certificate::from_der(der).map_err(|error| VerifyError::Malformed { role, error })
}

/// What AMD's naming says a certificate is, and for which product.
pub fn classify(cert: &Certificate<'_>) -> Option<(Role, Option<Product>)> {
    let cn = cert.subject().common_name()?;
    let by_name = |name: &str| Product::ALL.into_iter().find(|p| p.name() == name);
    if cn == roots::VCEK_COMMON_NAME || cn == roots::VLEK_COMMON_NAME {
        let role = if cn == roots::VCEK_COMMON_NAME {
            Role::Vcek
        } else {
            Role::Vlek
        };
        let from_ext = AmdExtensions::from_cert(cert)
            .ok()
            .and_then(|e| e.product());
        let from_issuer = cert.issuer().common_name().and_then(|i| {
            let rest = i.strip_prefix("SEV-")?;
            by_name(rest.strip_prefix("VLEK-").unwrap_or(rest))
        });
        return Some((role, from_ext.or(from_issuer)));
    }
    if let Some(p) = cn.strip_prefix("ARK-") {
        return Some((Role::Ark, by_name(p)));
    }
    if let Some(p) = cn.strip_prefix("SEV-VLEK-") {
        return Some((Role::Asvk, by_name(p)));
    }
    cn.strip_prefix("SEV-").map(|p| (Role::Ask, by_name(p)))
}

/// Checks that the inner and outer algorithms agree and are RSASSA-PSS-SHA384, and that the
/// signature over `tbs` verifies with `key`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_pss_signature<C: Crypto + ?Sized>(
    crypto: &C,
    cert: Role,
    issuer: Role,
    inner: &crate::cert::AlgorithmId<'_>,
    outer: &crate::cert::AlgorithmId<'_>,
    tbs: &[u8],
    signature: &[u8],
    key: &RsaPublicKey<'_>,
) -> Result<(), ChainError> {
    if inner.raw != outer.raw {
        return Err(ChainError::AlgorithmMismatch { cert });
    }
    match outer.scheme() {
        Ok(SignatureScheme::RsaPssSha384) => {}
        Ok(scheme) => return Err(ChainError::UnexpectedScheme { cert, scheme }),
        Err(error) => return Err(ChainError::Algorithm { cert, error }),
    }
    crypto
        .verify_rsa(Padding::PssSha384, key, tbs, signature)
        .map_err(|_| ChainError::Signature { cert, issuer })
}

fn check_cert_signature<C: Crypto + ?Sized>(
    crypto: &C,
    cert: &Certificate<'_>,
    role: Role,
    issuer: Role,
    key: &RsaPublicKey<'_>,
) -> Result<(), ChainError> {
    check_pss_signature(
        crypto,
        role,
        issuer,
        cert.tbs_signature_algorithm(),
        cert.signature_algorithm(),
        cert.tbs(),
        cert.signature(),
        key,
    )
}

/// Fails if `now` is given and outside `validity`.
pub(crate) fn check_validity(
    role: Role,
    validity: Validity,
    now: Option<Time>,
) -> Result<(), ChainError> {
    let Some(now) = now else { return Ok(()) };
    if now < validity.not_before {
        return Err(ChainError::NotYetValid {
            cert: role,
            not_before: validity.not_before,
            now,
        });
    }
    if now > validity.not_after {
        return Err(ChainError::Expired {
            cert: role,
            not_after: validity.not_after,
            now,
        });
    }
    Ok(())
}

fn check_subject(
    cert: &Certificate<'_>,
    role: Role,
    expected: &'static str,
) -> Result<(), ChainError> {
    if cert.subject().common_name() == Some(expected) {
        Ok(())
    } else {
        Err(ChainError::Subject {
            cert: role,
            expected,
        })
    }
}

/// The id-ce-keyUsage OID (2.5.29.15).
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x0F];
/// keyCertSign is bit 5 of KeyUsage: in the first content byte, mask 0x04.
const KEY_CERT_SIGN: u8 = 0x04;

/// False if the certificate has a key usage extension that does not allow signing
/// certificates (or cannot be read); true if it allows it or has none (AMD's ARK and ASK carry
/// one with keyCertSign; VCEKs and VLEKs carry none).
pub fn may_issue_certificates(cert: &Certificate<'_>) -> bool {
    let Some(ext) = cert.extension(OID_KEY_USAGE) else {
        return true;
    };
    let Ok(bits) = crate::der::read_single(ext.value, crate::der::tag::BIT_STRING) else {
        return false;
    };
    // BIT STRING contents: the unused-bit count, then the bits, first bit in the high bit.
    match bits.value {
        [unused, first, ..] if *unused < 8 => first & KEY_CERT_SIGN != 0,
        _ => false,
    }
}

fn check_key_usage(cert: &Certificate<'_>, role: Role) -> Result<(), ChainError> {
    if may_issue_certificates(cert) {
        Ok(())
    } else {
        Err(ChainError::KeyUsage { cert: role })
    }
}

fn serial(cert: &Certificate<'_>, role: Role) -> Result<Serial, ChainError> {
    Serial::new(cert.serial()).ok_or(ChainError::SerialLength { cert: role })
}

/// An RSA public key copied out of a certificate (up to 4096 bits).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RsaKeyBuf {
    n: [u8; crate::rsa::public::MAX_MODULUS_BYTES],
    n_len: u16,
    e: [u8; crate::rsa::public::MAX_EXPONENT_BYTES],
    e_len: u8,
}

impl RsaKeyBuf {
    fn from_cert(cert: &Certificate<'_>, role: Role) -> Result<Self, ChainError> {
        let actual = cert.public_key().kind_name();
        let bad = ChainError::Key {
            cert: role,
            expected: "RSA (2048 to 4096 bits)",
            actual,
        };
        let PublicKey::Rsa(k) = cert.public_key() else {
            return Err(bad);
        };
        let mut buf = RsaKeyBuf {
            n: [0; crate::rsa::public::MAX_MODULUS_BYTES],
            n_len: u16::try_from(k.modulus.len()).map_err(|_| bad)?,
            e: [0; crate::rsa::public::MAX_EXPONENT_BYTES],
            e_len: u8::try_from(k.exponent.len()).map_err(|_| bad)?,
        };
        buf.n
            .get_mut(..k.modulus.len())
            .ok_or(bad)?
            .copy_from_slice(k.modulus);
        buf.e
            .get_mut(..k.exponent.len())
            .ok_or(bad)?
            .copy_from_slice(k.exponent);
        Ok(buf)
    }

    /// The key as the backends take it.
    pub fn key(&self) -> RsaPublicKey<'_> {
        RsaPublicKey {
            modulus: self.n.get(..usize::from(self.n_len)).unwrap_or_default(),
            exponent: self.e.get(..usize::from(self.e_len)).unwrap_or_default(),
        }
    }
}

impl fmt::Debug for RsaKeyBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaKeyBuf({} modulus bytes)", self.n_len)
    }
}

/// A verified root: AMD's built-in ARK for a product, or a root the caller pinned.
#[derive(Debug, Clone)]
pub struct TrustedArk {
    product: Product,
    pinned: bool,
    key: RsaKeyBuf,
    spki: Digest,
    subject: Digest,
    validity: Validity,
    crl: Option<Digest>,
}

impl TrustedArk {
    /// AMD's ARK for `product`. It is compiled in, so its self-signature is not checked at run
    /// time (the test suite checks it with both backends); only its name and key are read.
    pub fn builtin<C: Crypto + ?Sized>(crypto: &C, product: Product) -> Result<Self, VerifyError> {
        Self::from_der(crypto, roots::ark(product), product, false)
    }

    /// A root the caller explicitly trusts instead of AMD's (a test or simulated platform).
    /// It must follow AMD's profile: self-signed with RSASSA-PSS-SHA384, named `ARK-<product>`.
    pub fn pinned<C: Crypto + ?Sized>(
        crypto: &C,
        der: &[u8],
        product: Product,
    ) -> Result<Self, VerifyError> {
        Self::from_der(crypto, der, product, true)
    }

    fn from_der<C: Crypto + ?Sized>(
        crypto: &C,
        der: &[u8],
        product: Product,
        pinned: bool,
    ) -> Result<Self, VerifyError> {
        let cert = parse(der, Role::Ark)?;
        check_subject(&cert, Role::Ark, roots::ark_common_name(product))?;
        if !cert.is_self_issued() {
            return Err(ChainError::IssuerName {
                cert: Role::Ark,
                issuer: Role::Ark,
            }
            .into());
        }
        check_key_usage(&cert, Role::Ark)?;
        let key = RsaKeyBuf::from_cert(&cert, Role::Ark)?;
        if pinned {
            check_cert_signature(crypto, &cert, Role::Ark, Role::Ark, &key.key())?;
        }
        Ok(TrustedArk {
            product,
            pinned,
            key,
            spki: crypto.sha384(&[cert.spki()]),
            subject: crypto.sha384(&[cert.subject().raw]),
            validity: cert.validity(),
            crl: None,
        })
    }

    /// The product this root is for.
    pub fn product(&self) -> Product {
        self.product
    }
    /// True for a caller-pinned root, false for AMD's built-in one.
    pub fn is_pinned(&self) -> bool {
        self.pinned
    }
    /// notBefore and notAfter of the root.
    pub fn validity(&self) -> Validity {
        self.validity
    }

    /// Accepts a caller-supplied ARK only if it carries this root's key and name.
    pub fn check_same_root<C: Crypto + ?Sized>(
        &self,
        crypto: &C,
        der: &[u8],
    ) -> Result<(), VerifyError> {
        let cert = parse(der, Role::Ark)?;
        let same = crypto.sha384(&[cert.spki()]) == self.spki
            && crypto.sha384(&[cert.subject().raw]) == self.subject;
        if same {
            Ok(())
        } else {
            Err(ChainError::RootMismatch {
                product: self.product,
            }
            .into())
        }
    }

    /// Verifies an ASK or ASVK certificate (which one is `role`) against this root.
    pub fn verify_intermediate<C: Crypto + ?Sized>(
        &self,
        crypto: &C,
        der: &[u8],
        role: Role,
        now: Option<Time>,
    ) -> Result<TrustedIntermediate, VerifyError> {
        self.intermediate(crypto, der, role, now, true)
    }

    /// AMD's built-in ASK for this built-in root: compiled in like the ARK, so its signature is
    /// not checked at run time (the test suite does); names, key and validity are. A pinned root
    /// has no built-in ASK.
    pub fn builtin_ask<C: Crypto + ?Sized>(
        &self,
        crypto: &C,
        now: Option<Time>,
    ) -> Result<TrustedIntermediate, VerifyError> {
        self.builtin_intermediate(crypto, Role::Ask, now)
    }

    /// AMD's built-in ASK or ASVK (`role`) for this built-in root, trusted like
    /// [`Self::builtin_ask`]. A pinned root, or a product whose ASVK slot is empty, has none.
    pub fn builtin_intermediate<C: Crypto + ?Sized>(
        &self,
        crypto: &C,
        role: Role,
        now: Option<Time>,
    ) -> Result<TrustedIntermediate, VerifyError> {
        let der = match role {
            Role::Ask => Some(roots::ask(self.product)),
            Role::Asvk => roots::asvk(self.product),
            _ => None,
        };
        match der {
            Some(der) if !self.pinned => self.intermediate(crypto, der, role, now, false),
            _ => Err(VerifyError::Missing { role }),
        }
    }

    fn intermediate<C: Crypto + ?Sized>(
        &self,
        crypto: &C,
        der: &[u8],
        role: Role,
        now: Option<Time>,
        check_signature: bool,
    ) -> Result<TrustedIntermediate, VerifyError> {
        let cert = parse(der, role)?;
        let expected = match role {
            Role::Asvk => roots::asvk_common_name(self.product),
            _ => roots::ask_common_name(self.product),
        };
        check_subject(&cert, role, expected)?;
        if crypto.sha384(&[cert.issuer().raw]) != self.subject {
            return Err(ChainError::IssuerName {
                cert: role,
                issuer: Role::Ark,
            }
            .into());
        }
        check_key_usage(&cert, role)?;
        if check_signature {
            check_cert_signature(crypto, &cert, role, Role::Ark, &self.key.key())?;
        }
        check_validity(Role::Ark, self.validity, now)?;
        check_validity(role, cert.validity(), now)?;
        Ok(TrustedIntermediate {
            role: if role == Role::Asvk {
                Role::Asvk
            } else {
                Role::Ask
            },
            product: self.product,
            key: RsaKeyBuf::from_cert(&cert, role)?,
            subject: crypto.sha384(&[cert.subject().raw]),
            fingerprint: crypto.sha384(&[der]),
            serial: serial(&cert, role)?,
            validity: cert.validity(),
        })
    }

    /// Checks a CRL's issuer and ARK signature (once per distinct CRL; later calls with the same
    /// bytes skip the RSA check), then that none of `serials` is revoked.
    pub fn check_crl<C: Crypto + ?Sized>(
        &mut self,
        crypto: &C,
        der: &[u8],
        serials: &[(Role, &Serial)],
    ) -> Result<CrlChecked, VerifyError> {
        let crl = Crl::from_der(der).map_err(|error| VerifyError::Malformed {
            role: Role::Crl,
            error,
        })?;
        let fingerprint = crypto.sha384(&[der]);
        if self.crl != Some(fingerprint) {
            if crypto.sha384(&[crl.issuer().raw]) != self.subject {
                return Err(ChainError::IssuerName {
                    cert: Role::Crl,
                    issuer: Role::Ark,
                }
                .into());
            }
            check_pss_signature(
                crypto,
                Role::Crl,
                Role::Ark,
                crl.tbs_signature_algorithm(),
                crl.signature_algorithm(),
                crl.tbs(),
                crl.signature(),
                &self.key.key(),
            )?;
            self.crl = Some(fingerprint);
        }
        for (role, serial) in serials {
            if crl.is_revoked(serial.as_bytes()) {
                return Err(ChainError::Revoked {
                    cert: *role,
                    serial: **serial,
                }
                .into());
            }
        }
        Ok(CrlChecked {
            this_update: crl.this_update(),
            next_update: crl.next_update(),
            revoked: crl.revoked().count(),
        })
    }
}

/// What a CRL check found (nothing revoked, or it would have failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrlChecked {
    /// thisUpdate of the CRL.
    pub this_update: Time,
    /// nextUpdate of the CRL.
    pub next_update: Option<Time>,
    /// Entries the CRL lists (none of them ours).
    pub revoked: usize,
}

/// A verified ASK or ASVK.
#[derive(Debug, Clone)]
pub struct TrustedIntermediate {
    role: Role,
    product: Product,
    key: RsaKeyBuf,
    subject: Digest,
    fingerprint: Digest,
    serial: Serial,
    validity: Validity,
}

impl TrustedIntermediate {
    /// [`Role::Ask`] or [`Role::Asvk`].
    pub fn role(&self) -> Role {
        self.role
    }
    /// The product of its chain.
    pub fn product(&self) -> Product {
        self.product
    }
    /// SHA-384 of its DER.
    pub fn fingerprint(&self) -> &Digest {
        &self.fingerprint
    }
    /// Its serial number.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }
    /// notBefore and notAfter.
    pub fn validity(&self) -> Validity {
        self.validity
    }

    /// Verifies a VCEK (under an ASK) or VLEK (under an ASVK) certificate.
    pub fn verify_signer<C: Crypto + ?Sized>(
        &self,
        crypto: &C,
        der: &[u8],
        now: Option<Time>,
    ) -> Result<TrustedSigner, VerifyError> {
        let role = if self.role == Role::Asvk {
            Role::Vlek
        } else {
            Role::Vcek
        };
        let cert = parse(der, role)?;
        let expected = if role == Role::Vlek {
            roots::VLEK_COMMON_NAME
        } else {
            roots::VCEK_COMMON_NAME
        };
        check_subject(&cert, role, expected)?;
        if crypto.sha384(&[cert.issuer().raw]) != self.subject {
            return Err(ChainError::IssuerName {
                cert: role,
                issuer: self.role,
            }
            .into());
        }
        check_cert_signature(crypto, &cert, role, self.role, &self.key.key())?;
        check_validity(role, cert.validity(), now)?;
        let ext = AmdExtensions::from_cert(&cert)
            .map_err(|error| VerifyError::Malformed { role, error })?;
        if ext.product_name.is_some() && ext.product() != Some(self.product) {
            return Err(ChainError::ProductName {
                cert: role,
                expected: self.product,
            }
            .into());
        }
        let PublicKey::EcP384(point) = cert.public_key() else {
            return Err(ChainError::Key {
                cert: role,
                expected: "EC P-384",
                actual: cert.public_key().kind_name(),
            }
            .into());
        };
        let mut hwid = [0u8; super::error::CHIP_ID_LEN];
        let hwid_len = match ext.hwid {
            Some(h) => {
                if let Some(dst) = hwid.get_mut(..h.len()) {
                    dst.copy_from_slice(h);
                }
                u8::try_from(h.len()).unwrap_or(0)
            }
            None => 0,
        };
        Ok(TrustedSigner {
            role,
            product: self.product,
            key: *point,
            fingerprint: crypto.sha384(&[der]),
            issuer: self.fingerprint,
            serial: serial(&cert, role)?,
            validity: cert.validity(),
            tcb: ext.tcb(self.product.tcb_layout()),
            hwid,
            hwid_len,
        })
    }
}

/// A verified VCEK or VLEK: what checking a report against it needs.
#[derive(Debug, Clone)]
pub struct TrustedSigner {
    pub(crate) role: Role,
    pub(crate) product: Product,
    pub(crate) key: [u8; P384_POINT_SIZE],
    pub(crate) fingerprint: Digest,
    pub(crate) issuer: Digest,
    pub(crate) serial: Serial,
    pub(crate) validity: Validity,
    pub(crate) tcb: crate::report::TcbVersion,
    pub(crate) hwid: [u8; super::error::CHIP_ID_LEN],
    pub(crate) hwid_len: u8,
}

impl TrustedSigner {
    /// [`Role::Vcek`] or [`Role::Vlek`].
    pub fn role(&self) -> Role {
        self.role
    }
    /// The product of its chain.
    pub fn product(&self) -> Product {
        self.product
    }
    /// SHA-384 of its DER.
    pub fn fingerprint(&self) -> &Digest {
        &self.fingerprint
    }
    /// SHA-384 of the DER of the ASK/ASVK it was verified under.
    pub fn issuer_fingerprint(&self) -> &Digest {
        &self.issuer
    }
    /// Its serial number.
    pub fn serial(&self) -> &Serial {
        &self.serial
    }
    /// notBefore and notAfter.
    pub fn validity(&self) -> Validity {
        self.validity
    }
    /// The TCB the certificate was issued for (its SPL extensions in the product's layout).
    pub fn tcb(&self) -> crate::report::TcbVersion {
        self.tcb
    }
    /// The hwID extension (64 bytes; 8 on Turin), if present.
    pub fn hwid(&self) -> Option<&[u8]> {
        self.hwid
            .get(..usize::from(self.hwid_len))
            .filter(|h| !h.is_empty())
    }
    /// The public key, an uncompressed P-384 point.
    pub fn public_key(&self) -> &[u8; P384_POINT_SIZE] {
        &self.key
    }
}
