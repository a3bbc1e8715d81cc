//! "Did AMD sign this?": the report signature, the AMD certificate chain, the CRL and the
//! binding of the report to its certificate. What the report should contain is
//! [`crate::policy`]'s question, with its own options.
//!
//! - [`backend`]: the [`Crypto`] trait (SHA-384, ECDSA P-384, RSA) and the core's [`CoreCrypto`].
//! - [`chain`]: verified links [`TrustedArk`] -> [`TrustedIntermediate`] -> [`TrustedSigner`].
//! - [`roots`]: AMD's ARK and ASK certificates per product, built in.
//! - [`Verifier`]: keeps verified links, so a report whose chain was seen before costs one ECDSA
//!   verification plus hashing; [`verify`] is the one-shot form.
//!
//! Caller-supplied chains are always checked against the built-in ARK of the product, unless the
//! caller pins another root with [`Verifier::with_pinned_root`].

pub mod backend;
mod binding;
pub mod chain;
pub(crate) mod ecdsa;
mod error;
pub mod roots;
pub mod x509;

pub use backend::{CoreCrypto, Crypto, Padding, SignatureError};
pub use binding::ChipIdCheck;
pub use chain::{CrlChecked, TrustedArk, TrustedIntermediate, TrustedSigner, classify};
pub use error::{BindingError, Category, ChainError, Role, Serial, VerifyError};

use crate::cert::Time;
use crate::report::{Product, Report, TcbVersion};
use chain::check_validity;

/// Options of [`verify`] and [`Verifier`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The product whose roots to use. `None`: told from the certificates or the report.
    pub product: Option<Product>,
    /// Check every certificate's validity period at this time. `None`: not checked (the core
    /// has no clock; std callers pass the system time).
    pub now: Option<Time>,
}

/// The certificates that come with a report, all DER.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence<'a> {
    /// The VCEK or VLEK certificate.
    pub signer: &'a [u8],
    /// The ASK (for a VCEK; the built-in one when absent) or ASVK (required for a VLEK).
    pub intermediate: Option<&'a [u8]>,
    /// An ARK; if given it must be the trusted root (built in or pinned).
    pub ark: Option<&'a [u8]>,
    /// AMD's CRL for the product; without it revocation is reported as not checked.
    pub crl: Option<&'a [u8]>,
}

impl<'a> Evidence<'a> {
    /// Evidence with only the signer certificate.
    pub fn signer(signer: &'a [u8]) -> Self {
        Evidence {
            signer,
            ..Evidence::default()
        }
    }
}

/// Whether revocation was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrlStatus {
    /// No CRL was given.
    NotChecked,
    /// The CRL is the ARK's and revokes neither the ASK/ASVK nor the VCEK/VLEK.
    Checked(CrlChecked),
}

/// What a successful verification established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The product of the chain (and of the report, when it says).
    pub product: Product,
    /// [`Role::Vcek`] or [`Role::Vlek`].
    pub signer: Role,
    /// [`Role::Ask`] or [`Role::Asvk`].
    pub intermediate: Role,
    /// False: AMD's built-in ARK; true: a root the caller pinned.
    pub pinned_root: bool,
    /// How CHIP_ID was bound.
    pub chip_id: ChipIdCheck,
    /// REPORTED_TCB, equal to the certificate's TCB.
    pub tcb: TcbVersion,
    /// Whether revocation was checked.
    pub crl: CrlStatus,
    /// True if the chain came from earlier verifications (no RSA operation was needed).
    pub cached_chain: bool,
}

/// Verifies a report and its certificates against AMD's built-in roots, in one call.
///
/// Order: certificates are read (malformed input fails first), the chain is verified (and the
/// CRL, if given), then the report signature, then the report/certificate binding.
pub fn verify<C: Crypto + ?Sized>(
    crypto: &C,
    report: &Report<'_>,
    evidence: &Evidence<'_>,
    options: &VerifyOptions,
) -> Result<Verified, VerifyError> {
    Verifier::new(crypto, *options).verify(report, evidence)
}

/// A verifier that keeps what it has verified: the root, the last ASK/ASVK and VCEK/VLEK,
/// identified by the SHA-384 of their DER. Certificates seen before are not verified again
/// (their validity is re-checked), so a new report with a known VCEK costs one ECDSA
/// verification plus hashing.
#[derive(Debug)]
pub struct Verifier<C> {
    crypto: C,
    options: VerifyOptions,
    ark: Option<TrustedArk>,
    intermediate: Option<TrustedIntermediate>,
    signer: Option<TrustedSigner>,
}

impl<C: Crypto> Verifier<C> {
    /// A verifier against AMD's built-in roots (the product's, chosen per report).
    pub fn new(crypto: C, options: VerifyOptions) -> Self {
        Verifier {
            crypto,
            options,
            ark: None,
            intermediate: None,
            signer: None,
        }
    }

    /// A verifier that trusts `ark_der` (AMD's profile: `ARK-<product>`, self-signed with
    /// RSASSA-PSS-SHA384) instead of AMD's root. Every chain must then lead to it.
    pub fn with_pinned_root(
        crypto: C,
        ark_der: &[u8],
        product: Product,
        options: VerifyOptions,
    ) -> Result<Self, VerifyError> {
        let ark = TrustedArk::pinned(&crypto, ark_der, product)?;
        Ok(Verifier {
            crypto,
            options: VerifyOptions {
                product: Some(product),
                ..options
            },
            ark: Some(ark),
            intermediate: None,
            signer: None,
        })
    }

    /// The crypto backend.
    pub fn crypto(&self) -> &C {
        &self.crypto
    }

    /// The options.
    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// Sets the time certificate validity is checked at (`None`: not checked); a long-lived
    /// verifier is given the current time before each check.
    pub fn set_time(&mut self, now: Option<Time>) {
        self.options.now = now;
    }

    /// The last VCEK/VLEK verified, if any.
    pub fn signer(&self) -> Option<&TrustedSigner> {
        self.signer.as_ref()
    }

    /// Verifies a report with its certificates (see [`verify`] for the order of checks).
    pub fn verify(
        &mut self,
        report: &Report<'_>,
        evidence: &Evidence<'_>,
    ) -> Result<Verified, VerifyError> {
        let crypto = &self.crypto;
        let now = self.options.now;
        let mut cached_chain = true;

        // The signer: known by fingerprint, or read to learn its kind and product.
        let signer_fp = crypto.sha384(&[evidence.signer]);
        let known = self.signer.as_ref().filter(|s| s.fingerprint == signer_fp);
        let (role, cert_product) = match known {
            Some(s) => (s.role, Some(s.product)),
            None => {
                let cert = chain::parse(evidence.signer, Role::Vcek)?;
                match classify(&cert) {
                    Some((r @ (Role::Vcek | Role::Vlek), p)) => (r, p),
                    _ => return Err(VerifyError::NotAnEndorsementKey),
                }
            }
        };
        let product = self
            .options
            .product
            .or(cert_product)
            .or(report.product())
            .ok_or(VerifyError::UnknownProduct)?;

        // The root.
        if self.ark.as_ref().map(TrustedArk::product) != Some(product) {
            if let Some(pinned) = self.ark.as_ref().filter(|a| a.is_pinned()) {
                return Err(ChainError::RootMismatch {
                    product: pinned.product(),
                }
                .into());
            }
            self.ark = None;
            self.intermediate = None;
            self.signer = None;
            self.ark = Some(TrustedArk::builtin(crypto, product)?);
            cached_chain = false;
        }
        let Some(ark) = self.ark.as_mut() else {
            return Err(VerifyError::UnknownProduct);
        };
        if let Some(der) = evidence.ark {
            ark.check_same_root(crypto, der)?;
        }
        check_validity(Role::Ark, ark.validity(), now)?;

        // The ASK or ASVK.
        let inter_role = if role == Role::Vlek {
            Role::Asvk
        } else {
            Role::Ask
        };
        let slot = &mut self.intermediate;
        // The built-in ASK (given or implied) of a built-in root needs no RSA check.
        let builtin_ask = roots::ask(product);
        let inter_der = match evidence.intermediate {
            Some(der) => der,
            None if inter_role == Role::Ask && !ark.is_pinned() => builtin_ask,
            None => return Err(VerifyError::Missing { role: inter_role }),
        };
        let inter_fp = crypto.sha384(&[inter_der]);
        let known = slot
            .as_ref()
            .is_some_and(|i| i.fingerprint() == &inter_fp && i.role() == inter_role);
        if !known {
            *slot = None;
            let verified =
                if inter_role == Role::Ask && inter_der == builtin_ask && !ark.is_pinned() {
                    ark.builtin_ask(crypto, now)?
                } else {
                    cached_chain = false;
                    ark.verify_intermediate(crypto, inter_der, inter_role, now)?
                };
            *slot = Some(verified);
        }
        let Some(inter) = slot.as_ref() else {
            return Err(VerifyError::Missing { role: inter_role });
        };
        check_validity(inter_role, inter.validity(), now)?;

        // The VCEK or VLEK.
        let reuse = self
            .signer
            .as_ref()
            .is_some_and(|s| s.fingerprint == signer_fp && s.issuer == inter_fp);
        if !reuse {
            self.signer = None;
            self.signer = Some(inter.verify_signer(crypto, evidence.signer, now)?);
            cached_chain = false;
        }
        let Some(signer) = self.signer.as_ref() else {
            return Err(VerifyError::Missing { role });
        };
        check_validity(signer.role, signer.validity, now)?;

        let crl = match evidence.crl {
            Some(der) => {
                let serials = [(inter_role, inter.serial()), (signer.role, signer.serial())];
                CrlStatus::Checked(ark.check_crl(crypto, der, &serials)?)
            }
            None => CrlStatus::NotChecked,
        };

        signer.verify_signature(crypto, report)?;
        let chip_id = signer.check_binding(report)?;
        Ok(Verified {
            product,
            signer: signer.role,
            intermediate: inter_role,
            pinned_root: ark.is_pinned(),
            chip_id,
            tcb: signer.tcb,
            crl,
            cached_chain,
        })
    }
}

#[cfg(test)]
mod tests;
