//! "Did AMD sign this?": the report signature, the AMD certificate chain, the CRL and the
//! binding of the report to its certificate. What the report should contain is
//! [`crate::policy`]'s question, with its own options.
//!
//! - [`backend`]: the [`Crypto`] trait (SHA-384, ECDSA P-384, RSA) and the core's [`CoreCrypto`].
//! - [`chain`]: verified links [`TrustedArk`] -> [`TrustedIntermediate`] -> [`TrustedSigner`].
//! - [`roots`]: AMD's ARK, ASK and ASVK certificates per product, built in ([`roots::Anchors`]).
//! - [`select`]: picks the VCEK/VLEK, ASK/ASVK and ARK out of certificates given in any order.
//! - [`Verifier`]: keeps verified links, so a report whose chain was seen before costs one ECDSA
//!   verification plus hashing; [`verify`] is the one-shot form. [`Verifier::verify_input`]
//!   also binds an Azure HCL report's variable data ([`Verifier::verify_hcl`]).
//!
//! Caller-supplied chains are always checked against the built-in ARK of the product, unless the
//! caller pins other anchors with [`Verifier::with_pinned_root`] or
//! [`Verifier::with_pinned_anchors`]. A chain may leave out an intermediate that is trusted with
//! the root (AMD's ASK, and its ASVK where built in).

pub mod backend;
mod binding;
pub mod chain;
pub(crate) mod ecdsa;
mod error;
pub mod roots;
pub mod select;
pub mod x509;

pub use backend::{CoreCrypto, Crypto, Padding, SignatureError};
pub use binding::ChipIdCheck;
pub use chain::{
    CrlChecked, TrustedArk, TrustedIntermediate, TrustedSigner, classify, may_issue_certificates,
};
pub use error::{
    BindingError, Category, ChainError, HCL_DIGEST_MAX, HCL_DIGEST_SHOWN, Role, Serial, VerifyError,
};
pub use roots::Anchors;
pub use select::select;

use crate::cert::Time;
use crate::hcl::{HclReport, RuntimeHash};
use crate::input::Parsed;
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
    /// The ASK (for a VCEK) or ASVK (for a VLEK); when absent, the one trusted with the root
    /// (AMD's built-in ASK, or ASVK where built in; or one pinned with the root).
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
    /// `Some(hash)` when the input was an Azure HCL report: its variable data hashes (with
    /// `hash`) to the start of REPORT_DATA. `None` for a plain report.
    pub hcl_variable_data: Option<RuntimeHash>,
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

/// A verifier that keeps what it has verified: the root with the intermediates trusted with it,
/// and the last caller-supplied ASK/ASVK and VCEK/VLEK, identified by the SHA-384 of their DER.
/// Certificates seen before are not verified again (their validity is re-checked), so a new
/// report with a known VCEK costs one ECDSA verification plus hashing.
#[derive(Debug)]
pub struct Verifier<C> {
    crypto: C,
    options: VerifyOptions,
    ark: Option<TrustedArk>,
    anchored: Anchored,
    intermediate: Option<TrustedIntermediate>,
    signer: Option<TrustedSigner>,
}

/// The ASK and ASVK trusted with the current root.
#[derive(Debug, Default)]
struct Anchored {
    ask: Option<TrustedIntermediate>,
    asvk: Option<TrustedIntermediate>,
}

impl Anchored {
    fn get(&self, role: Role) -> Option<&TrustedIntermediate> {
        match role {
            Role::Asvk => self.asvk.as_ref(),
            _ => self.ask.as_ref(),
        }
    }

    /// AMD's built-in ASK and ASVK (where built in) of a built-in root.
    fn builtin<C: Crypto + ?Sized>(crypto: &C, ark: &TrustedArk) -> Result<Self, VerifyError> {
        let asvk = match roots::asvk(ark.product()) {
            Some(_) => Some(ark.builtin_intermediate(crypto, Role::Asvk, None)?),
            None => None,
        };
        Ok(Anchored {
            ask: Some(ark.builtin_intermediate(crypto, Role::Ask, None)?),
            asvk,
        })
    }
}

impl<C: Crypto> Verifier<C> {
    /// A verifier against AMD's built-in roots (the product's, chosen per report).
    pub fn new(crypto: C, options: VerifyOptions) -> Self {
        Verifier {
            crypto,
            options,
            ark: None,
            anchored: Anchored::default(),
            intermediate: None,
            signer: None,
        }
    }

    /// A verifier that trusts `ark_der` (AMD's profile: `ARK-<product>`, self-signed with
    /// RSASSA-PSS-SHA384) instead of AMD's root. Every chain must then lead to it, and bring its
    /// ASK or ASVK.
    pub fn with_pinned_root(
        crypto: C,
        ark_der: &[u8],
        product: Product,
        options: VerifyOptions,
    ) -> Result<Self, VerifyError> {
        let anchors = Anchors {
            ark: ark_der,
            ask: None,
            asvk: None,
        };
        Self::with_pinned_anchors(crypto, &anchors, product, options)
    }

    /// A verifier that trusts `anchors` instead of AMD's: the root (as for
    /// [`Self::with_pinned_root`]) and the ASK and ASVK given with it, which are verified against
    /// the root here, once, and then stand in for a chain's missing intermediate.
    pub fn with_pinned_anchors(
        crypto: C,
        anchors: &Anchors<'_>,
        product: Product,
        options: VerifyOptions,
    ) -> Result<Self, VerifyError> {
        let ark = TrustedArk::pinned(&crypto, anchors.ark, product)?;
        let anchored = Anchored {
            ask: anchors
                .ask
                .map(|der| ark.verify_intermediate(&crypto, der, Role::Ask, None))
                .transpose()?,
            asvk: anchors
                .asvk
                .map(|der| ark.verify_intermediate(&crypto, der, Role::Asvk, None))
                .transpose()?,
        };
        Ok(Verifier {
            crypto,
            options: VerifyOptions {
                product: Some(product),
                ..options
            },
            ark: Some(ark),
            anchored,
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
            self.anchored = Anchored::default();
            self.intermediate = None;
            self.signer = None;
            let ark = TrustedArk::builtin(crypto, product)?;
            self.anchored = Anchored::builtin(crypto, &ark)?;
            self.ark = Some(ark);
            cached_chain = false;
        }
        let Some(ark) = self.ark.as_mut() else {
            return Err(VerifyError::UnknownProduct);
        };
        if let Some(der) = evidence.ark {
            ark.check_same_root(crypto, der)?;
        }
        check_validity(Role::Ark, ark.validity(), now)?;

        // The ASK or ASVK: the one trusted with the root when none is given or it is the one
        // given; else the last one verified, if the same; else verified now.
        let inter_role = if role == Role::Vlek {
            Role::Asvk
        } else {
            Role::Ask
        };
        let anchor = self.anchored.get(inter_role);
        let inter = match evidence.intermediate {
            None => anchor.ok_or(VerifyError::Missing { role: inter_role })?,
            Some(der) => {
                let fp = crypto.sha384(&[der]);
                match anchor.filter(|a| a.fingerprint() == &fp) {
                    Some(a) => a,
                    None => {
                        let slot = &mut self.intermediate;
                        let known = slot
                            .as_ref()
                            .is_some_and(|i| i.fingerprint() == &fp && i.role() == inter_role);
                        if !known {
                            *slot = None;
                            *slot = Some(ark.verify_intermediate(crypto, der, inter_role, now)?);
                            cached_chain = false;
                        }
                        slot.as_ref()
                            .ok_or(VerifyError::Missing { role: inter_role })?
                    }
                }
            }
        };
        check_validity(inter_role, inter.validity(), now)?;
        let inter_fp = *inter.fingerprint();

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
            hcl_variable_data: None,
        })
    }

    /// Verifies an Azure vTPM HCL report: its SNP report as [`Self::verify`] does, then that
    /// its variable data (the runtime key set, which the signature does not cover) hashes to
    /// the start of REPORT_DATA; a mismatch is a [`BindingError::HclVariableData`].
    pub fn verify_hcl(
        &mut self,
        hcl: &HclReport<'_>,
        evidence: &Evidence<'_>,
    ) -> Result<Verified, VerifyError> {
        let verified = self.verify(hcl.report(), evidence)?;
        hcl.check_binding()?;
        Ok(Verified {
            hcl_variable_data: Some(hcl.runtime_hash()),
            ..verified
        })
    }

    /// Verifies a report in whichever form it was read: an HCL report with its variable-data
    /// binding ([`Self::verify_hcl`]), a plain report as [`Self::verify`].
    pub fn verify_input(
        &mut self,
        input: &Parsed<'_>,
        evidence: &Evidence<'_>,
    ) -> Result<Verified, VerifyError> {
        match &input.hcl {
            Some(hcl) => self.verify_hcl(hcl, evidence),
            None => self.verify(&input.report, evidence),
        }
    }
}

#[cfg(test)]
mod tests;
