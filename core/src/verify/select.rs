//! Reading a chain by role: out of certificates given in any order (a PEM bundle, several
//! files, a certificate table), the VCEK or VLEK that signs a report and the ASK/ASVK and ARK
//! that link to it. Certificates that are not AMD's, cannot be read, or are not needed are left
//! out; a role is filled by the certificate that links (subject = the issuer name of the one
//! below, key usage allowing certificate signing), or, when none links, by the first
//! certificate of that role, so that verification says what is wrong with it.
//!
//! Nothing is trusted here: the result goes to [`super::Verifier`], which checks every link.
//! No allocation; each pass is linear in the number of certificates.

use super::Evidence;
use super::chain::{classify, may_issue_certificates};
use super::error::{Role, VerifyError};
use crate::cert::Certificate;
use crate::cert::amd::AmdExtensions;
use crate::report::{Product, Report, SigningKey};

/// A certificate with what AMD's naming says it is.
struct Candidate<'a> {
    cert: Certificate<'a>,
    role: Role,
    product: Option<Product>,
}

fn candidates<'a, 'c>(certs: &'c [&'a [u8]]) -> impl Iterator<Item = Candidate<'a>> + 'c {
    certs.iter().filter_map(|der| {
        let cert = Certificate::from_der(der).ok()?;
        let (role, product) = classify(&cert)?;
        Some(Candidate {
            cert,
            role,
            product,
        })
    })
}

/// The first candidate of `role` that satisfies `links`, else the first of `role` at all.
fn pick<'a>(
    certs: &[&'a [u8]],
    role: Role,
    links: impl Fn(&Candidate<'a>) -> bool,
) -> Option<Candidate<'a>> {
    let mut first = None;
    for c in candidates(certs).filter(|c| c.role == role) {
        if links(&c) {
            return Some(c);
        }
        if first.is_none() {
            first = Some(c);
        }
    }
    first
}

/// Picks the evidence for `report` out of `certs` (DER, any order). The VCEK or VLEK is the
/// kind the report's SIGNING_KEY names (for a VCEK, preferably the one whose hwID is CHIP_ID);
/// the ASK (for a VCEK) or ASVK (for a VLEK) is the one whose subject is the signer's issuer;
/// the ARK the one whose subject is that intermediate's issuer, or of the signer's product
/// when no intermediate is given. Without a VCEK or VLEK: [`VerifyError::Missing`].
pub fn select<'a>(certs: &[&'a [u8]], report: &Report<'_>) -> Result<Evidence<'a>, VerifyError> {
    let wanted = match report.signer_info().signing_key() {
        SigningKey::Vlek => Role::Vlek,
        _ => Role::Vcek,
    };
    let chip_id = report.chip_id();
    let same_chip = |c: &Candidate<'_>| {
        AmdExtensions::from_cert(&c.cert)
            .ok()
            .and_then(|e| e.hwid)
            .is_some_and(|h| !h.is_empty() && chip_id.get(..h.len()) == Some(h))
    };
    let signer = pick(certs, wanted, |c| wanted == Role::Vlek || same_chip(c))
        .or_else(|| {
            let other = if wanted == Role::Vlek {
                Role::Vcek
            } else {
                Role::Vlek
            };
            pick(certs, other, |_| true)
        })
        .ok_or(VerifyError::Missing { role: wanted })?;

    let inter_role = if signer.role == Role::Vlek {
        Role::Asvk
    } else {
        Role::Ask
    };
    let issues = |issuer: &Candidate<'_>, subject: &Certificate<'_>| {
        issuer.cert.subject().raw == subject.issuer().raw && may_issue_certificates(&issuer.cert)
    };
    let intermediate = pick(certs, inter_role, |c| issues(c, &signer.cert));
    let ark = pick(certs, Role::Ark, |c| {
        c.cert.is_self_issued()
            && match &intermediate {
                Some(i) => issues(c, &i.cert),
                None => signer.product.is_some() && c.product == signer.product,
            }
    });
    Ok(Evidence {
        signer: signer.cert.der(),
        intermediate: intermediate.map(|c| c.cert.der()),
        ark: ark.map(|c| c.cert.der()),
        crl: None,
    })
}
