//! The report against its verified VCEK/VLEK: the signature over bytes 0..0x2A0, and the
//! binding of report fields to certificate fields (key kind, product, CHIP_ID, REPORTED_TCB).

use super::backend::Crypto;
use super::chain::TrustedSigner;
use super::error::{BindingError, ID_PREFIX, Role, VerifyError};
use crate::report::{Report, SigningKey, TcbVersion};

/// How CHIP_ID was bound to the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChipIdCheck {
    /// CHIP_ID equals the VCEK's hwID (on Turin, its first 8 bytes do).
    Matched,
    /// The guest set MASK_CHIP_KEY, so CHIP_ID is zero and cannot be compared.
    Masked,
    /// A VLEK is not bound to a chip.
    NotApplicable,
}

impl ChipIdCheck {
    /// A stable name for JSON.
    pub const fn name(self) -> &'static str {
        match self {
            ChipIdCheck::Matched => "matched",
            ChipIdCheck::Masked => "masked",
            ChipIdCheck::NotApplicable => "not_applicable",
        }
    }
}

impl TrustedSigner {
    /// Verifies the report's ECDSA P-384/SHA-384 signature with this key. Components whose high
    /// 24 bytes are not zero are not P-384 scalars and fail.
    pub fn verify_signature<C: Crypto + ?Sized>(
        &self,
        crypto: &C,
        report: &Report<'_>,
    ) -> Result<(), VerifyError> {
        let sig = report.signature();
        let (Some(r), Some(s)) = (sig.r_be(), sig.s_be()) else {
            return Err(VerifyError::ReportSignature);
        };
        crypto
            .verify_p384_sha384(&self.key, report.signed_bytes(), &r, &s)
            .map_err(|_| VerifyError::ReportSignature)
    }

    /// Checks that the report belongs to this certificate: SIGNING_KEY names this key kind, the
    /// product agrees, CHIP_ID equals the hwID (VCEK, unless MASK_CHIP_KEY), and REPORTED_TCB
    /// equals the certificate's SPLs (never CURRENT_TCB).
    pub fn check_binding(&self, report: &Report<'_>) -> Result<ChipIdCheck, BindingError> {
        let signer = report.signer_info();
        let kind_ok = matches!(
            (signer.signing_key(), self.role),
            (SigningKey::Vcek, Role::Vcek) | (SigningKey::Vlek, Role::Vlek)
        );
        if !kind_ok {
            return Err(BindingError::SigningKey {
                report: signer.signing_key(),
                cert: self.role,
            });
        }
        if let Some(p) = report.product().filter(|p| *p != self.product) {
            return Err(BindingError::Product {
                report: p,
                chain: self.product,
            });
        }
        let chip = if self.role == Role::Vlek {
            ChipIdCheck::NotApplicable
        } else if signer.mask_chip_key() {
            ChipIdCheck::Masked
        } else {
            let hwid = self.hwid().ok_or(BindingError::MissingHwid)?;
            let chip_id = report.chip_id();
            if chip_id.get(..hwid.len()) != Some(hwid) {
                let prefix = |src: &[u8]| {
                    let mut out = [0u8; ID_PREFIX];
                    for (o, i) in out.iter_mut().zip(src) {
                        *o = *i;
                    }
                    out
                };
                let first = hwid
                    .iter()
                    .zip(chip_id.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Err(BindingError::ChipId {
                    hwid: prefix(hwid),
                    chip_id: prefix(chip_id),
                    len: self.hwid_len,
                    first_difference: u8::try_from(first).unwrap_or(u8::MAX),
                });
            }
            ChipIdCheck::Matched
        };
        // Read REPORTED_TCB in the chain's product layout (v1/v2 reports carry no CPUID bytes).
        let reported = TcbVersion::new(report.reported_tcb().raw(), self.product.tcb_layout());
        if reported != self.tcb {
            return Err(BindingError::Tcb {
                report: reported,
                cert: self.tcb,
            });
        }
        Ok(chip)
    }
}
