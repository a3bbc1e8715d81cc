//! Why verification failed, grouped the way callers act on it: malformed input, a missing
//! piece, a broken certificate chain, a bad report signature, or a report that does not match
//! its certificate ([`Category`]).

use core::fmt;

use crate::cert::alg::{AlgorithmError, SignatureScheme};
use crate::cert::{CertError, Time};
use crate::hcl::RuntimeHash;
use crate::hex::Hex;
use crate::report::{Product, SigningKey, TcbVersion};

/// Which certificate (or CRL) an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// AMD Root Key certificate (self-signed).
    Ark,
    /// AMD SEV Signing Key certificate (signs VCEKs).
    Ask,
    /// AMD SEV VLEK Signing Key certificate (signs VLEKs).
    Asvk,
    /// Versioned Chip Endorsement Key certificate.
    Vcek,
    /// Versioned Loaded Endorsement Key certificate.
    Vlek,
    /// The certificate revocation list.
    Crl,
}

impl Role {
    /// The name used in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Ark => "ARK",
            Role::Ask => "ASK",
            Role::Asvk => "ASVK",
            Role::Vcek => "VCEK",
            Role::Vlek => "VLEK",
            Role::Crl => "CRL",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest serial number kept for messages (RFC 5280 allows 20 bytes).
pub const MAX_SERIAL: usize = 32;

/// A certificate serial number (INTEGER contents), owned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Serial {
    bytes: [u8; MAX_SERIAL],
    len: u8,
}

impl Serial {
    /// Copies a serial; `None` if longer than [`MAX_SERIAL`].
    pub fn new(contents: &[u8]) -> Option<Serial> {
        let mut bytes = [0u8; MAX_SERIAL];
        bytes.get_mut(..contents.len())?.copy_from_slice(contents);
        Some(Serial {
            bytes,
            len: u8::try_from(contents.len()).ok()?,
        })
    }
    /// The INTEGER contents.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", Hex(self.as_bytes()))
    }
}

/// How callers act on a failure (the `snp-report verify` exit code follows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Input that is not what it claims to be (exit code 6).
    Malformed,
    /// A certificate or the product is needed but was not given (exit code 1).
    Missing,
    /// The certificate chain or CRL does not hold (exit code 3).
    Chain,
    /// The report signature is invalid (exit code 2).
    Signature,
    /// The report and its certificate do not match (exit code 4).
    Binding,
}

/// A broken certificate chain or CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainError {
    /// The signature algorithm inside the signed part differs from the one outside it.
    AlgorithmMismatch {
        /// The certificate or CRL.
        cert: Role,
    },
    /// The signature algorithm is not one this crate verifies.
    Algorithm {
        /// The certificate or CRL.
        cert: Role,
        /// Why.
        error: AlgorithmError,
    },
    /// A known signature algorithm that AMD's chain never uses.
    UnexpectedScheme {
        /// The certificate or CRL.
        cert: Role,
        /// What it is signed with.
        scheme: SignatureScheme,
    },
    /// The signature does not verify with the issuer's key.
    Signature {
        /// The certificate or CRL.
        cert: Role,
        /// The issuer whose key was used.
        issuer: Role,
    },
    /// The issuer name is not the issuer certificate's subject name.
    IssuerName {
        /// The certificate or CRL.
        cert: Role,
        /// The expected issuer.
        issuer: Role,
    },
    /// The subject common name is not the one AMD gives this role.
    Subject {
        /// The certificate.
        cert: Role,
        /// The common name expected.
        expected: &'static str,
    },
    /// The public key is not of the type the role requires.
    Key {
        /// The certificate.
        cert: Role,
        /// The key type expected.
        expected: &'static str,
        /// The key type found.
        actual: &'static str,
    },
    /// The certificate is not valid yet.
    NotYetValid {
        /// The certificate.
        cert: Role,
        /// Its notBefore.
        not_before: Time,
        /// The time verified at.
        now: Time,
    },
    /// The certificate has expired.
    Expired {
        /// The certificate.
        cert: Role,
        /// Its notAfter.
        not_after: Time,
        /// The time verified at.
        now: Time,
    },
    /// A caller-supplied ARK is not the trusted root (built in, or the one pinned).
    RootMismatch {
        /// The product whose root was expected.
        product: Product,
    },
    /// The VCEK/VLEK names another product than the chain it is signed in.
    ProductName {
        /// The certificate.
        cert: Role,
        /// The chain's product.
        expected: Product,
    },
    /// The CRL lists the certificate's serial number.
    Revoked {
        /// The certificate.
        cert: Role,
        /// Its serial number.
        serial: Serial,
    },
    /// A serial number too long to handle.
    SerialLength {
        /// The certificate.
        cert: Role,
    },
    /// An issuing certificate (ARK, ASK, ASVK) whose key usage does not allow signing
    /// certificates.
    KeyUsage {
        /// The certificate.
        cert: Role,
    },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChainError::AlgorithmMismatch { cert } => write!(
                f,
                "{cert}: signature algorithm outside the signed part differs from the one inside"
            ),
            ChainError::Algorithm { cert, error } => write!(f, "{cert}: {error}"),
            ChainError::UnexpectedScheme { cert, scheme } => write!(
                f,
                "{cert} is signed with {scheme}; AMD's chain uses {}",
                SignatureScheme::RsaPssSha384
            ),
            ChainError::Signature { cert, issuer } => {
                write!(f, "{cert} signature does not verify with the {issuer} key")
            }
            ChainError::IssuerName { cert, issuer } => {
                write!(f, "{cert} issuer name is not the {issuer} subject name")
            }
            ChainError::Subject { cert, expected } => {
                write!(f, "{cert} subject common name is not {expected:?}")
            }
            ChainError::Key {
                cert,
                expected,
                actual,
            } => write!(f, "{cert} key: expected {expected}, found {actual}"),
            ChainError::NotYetValid {
                cert,
                not_before,
                now,
            } => write!(f, "{cert} is not valid before {not_before} (now {now})"),
            ChainError::Expired {
                cert,
                not_after,
                now,
            } => write!(f, "{cert} expired at {not_after} (now {now})"),
            ChainError::RootMismatch { product } => write!(
                f,
                "the ARK given is not the trusted {product} root (pin another root explicitly to use it)"
            ),
            ChainError::ProductName { cert, expected } => write!(
                f,
                "{cert} productName does not name {expected}, the product of its chain"
            ),
            ChainError::Revoked { cert, serial } => {
                write!(f, "{cert} serial {serial} is revoked by the CRL")
            }
            ChainError::SerialLength { cert } => {
                write!(f, "{cert} serial number is longer than {MAX_SERIAL} bytes")
            }
            ChainError::KeyUsage { cert } => write!(
                f,
                "{cert} key usage does not include keyCertSign, so it cannot issue certificates"
            ),
        }
    }
}

/// Bytes of an hwID / CHIP_ID.
pub const CHIP_ID_LEN: usize = crate::abi::size::CHIP_ID;
/// Bytes of hwID and CHIP_ID an error keeps (with the offset of the first difference).
pub const ID_PREFIX: usize = 16;

/// A report that does not match its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindingError {
    /// The report's SIGNING_KEY names another key kind than the certificate is.
    SigningKey {
        /// SIGNING_KEY of the report.
        report: SigningKey,
        /// The certificate's role (VCEK or VLEK).
        cert: Role,
    },
    /// The report was made on another product than the chain is for.
    Product {
        /// The report's product (CPUID bytes or the caller's hint).
        report: Product,
        /// The chain's product.
        chain: Product,
    },
    /// The VCEK's hwID is not the report's CHIP_ID (Turin: its first 8 bytes).
    ChipId {
        /// The first bytes of the VCEK's hwID.
        hwid: [u8; ID_PREFIX],
        /// The first bytes of the report's CHIP_ID.
        chip_id: [u8; ID_PREFIX],
        /// Bytes compared (64; 8 on Turin).
        len: u8,
        /// Offset of the first byte that differs.
        first_difference: u8,
    },
    /// The VCEK has no hwID extension.
    MissingHwid,
    /// The certificate's SPL values are not the report's REPORTED_TCB.
    Tcb {
        /// REPORTED_TCB.
        report: TcbVersion,
        /// The TCB the certificate was issued for.
        cert: TcbVersion,
    },
    /// An Azure vTPM HCL report whose variable data (the runtime key set) does not hash to the
    /// start of REPORT_DATA: it was changed, or belongs to another report.
    HclVariableData {
        /// The hash the HCL header names.
        hash: RuntimeHash,
        /// The hash of the variable data (its first [`HCL_DIGEST_SHOWN`] bytes).
        computed: [u8; HCL_DIGEST_SHOWN],
        /// The start of REPORT_DATA (its first [`HCL_DIGEST_SHOWN`] bytes).
        report_data: [u8; HCL_DIGEST_SHOWN],
        /// Bytes compared: the digest size (32, 48 or 64).
        len: u8,
    },
}

/// Bytes of the largest digest an HCL report binds its variable data with (SHA-512).
pub const HCL_DIGEST_MAX: usize = 64;
/// Bytes of each digest a [`BindingError::HclVariableData`] keeps: all of a SHA-256 (what
/// Azure uses), the start of a longer one.
pub const HCL_DIGEST_SHOWN: usize = 32;

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BindingError::SigningKey { report, cert } => write!(
                f,
                "report SIGNING_KEY is {report} but the certificate is a {cert}"
            ),
            BindingError::Product { report, chain } => write!(
                f,
                "report product is {report} but the certificate chain is for {chain}"
            ),
            BindingError::ChipId {
                hwid,
                chip_id,
                len,
                first_difference,
            } => {
                let n = usize::from(len).min(ID_PREFIX);
                let more = if usize::from(len) > ID_PREFIX {
                    "..."
                } else {
                    ""
                };
                write!(
                    f,
                    "CHIP_ID: expected {}{more} (VCEK hwID), found {}{more}; first difference at byte {first_difference} of {len}",
                    Hex(hwid.get(..n).unwrap_or_default()),
                    Hex(chip_id.get(..n).unwrap_or_default())
                )
            }
            BindingError::MissingHwid => f.write_str("VCEK has no hwID extension"),
            BindingError::HclVariableData {
                hash,
                computed,
                report_data,
                len,
            } => {
                let n = usize::from(len).min(HCL_DIGEST_SHOWN);
                let more = if usize::from(len) > n { "..." } else { "" };
                write!(
                    f,
                    "HCL variable data: its {} is {}{more} but REPORT_DATA[0:{len}] is {}{more}; the runtime data was changed or belongs to another report",
                    hash.name(),
                    Hex(computed.get(..n).unwrap_or_default()),
                    Hex(report_data.get(..n).unwrap_or_default())
                )
            }
            BindingError::Tcb { report, cert } => write!(
                f,
                "REPORTED_TCB: expected 0x{:016x} ({}) from the certificate, found 0x{:016x} ({})",
                cert.raw(),
                cert.parts(),
                report.raw(),
                report.parts()
            ),
        }
    }
}

/// Why a report, chain or CRL did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// A certificate or CRL could not be read.
    Malformed {
        /// Which one.
        role: Role,
        /// What is wrong.
        error: CertError,
    },
    /// A certificate the report's key kind needs was not given (an ASVK for a VLEK).
    Missing {
        /// Which one.
        role: Role,
    },
    /// The product could not be told from the options, the report or the certificates.
    UnknownProduct,
    /// The certificate given as signer is neither a VCEK nor a VLEK.
    NotAnEndorsementKey,
    /// The certificate chain or CRL does not hold.
    Chain(ChainError),
    /// The report signature does not verify with the VCEK/VLEK key.
    ReportSignature,
    /// The report and its certificate do not match.
    Binding(BindingError),
}

impl VerifyError {
    /// How callers act on it.
    pub const fn category(&self) -> Category {
        match self {
            VerifyError::Malformed { .. } => Category::Malformed,
            VerifyError::Missing { .. } | VerifyError::UnknownProduct => Category::Missing,
            VerifyError::NotAnEndorsementKey | VerifyError::Chain(_) => Category::Chain,
            VerifyError::ReportSignature => Category::Signature,
            VerifyError::Binding(_) => Category::Binding,
        }
    }
}

impl From<ChainError> for VerifyError {
    fn from(e: ChainError) -> Self {
        VerifyError::Chain(e)
    }
}

impl From<BindingError> for VerifyError {
    fn from(e: BindingError) -> Self {
        VerifyError::Binding(e)
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Malformed { role, error } => write!(f, "{role}: {error}"),
            VerifyError::Missing { role } => write!(f, "no {role} certificate was given"),
            VerifyError::UnknownProduct => f.write_str(
                "the product (Milan, Genoa, Turin) is not known from the report or certificates; name it",
            ),
            VerifyError::NotAnEndorsementKey => {
                f.write_str("the signer certificate is neither a VCEK (CN SEV-VCEK) nor a VLEK (CN SEV-VLEK)")
            }
            VerifyError::Chain(e) => write!(f, "certificate chain: {e}"),
            VerifyError::ReportSignature => {
                f.write_str("report signature does not verify with the VCEK/VLEK key")
            }
            VerifyError::Binding(e) => write!(f, "report/certificate binding: {e}"),
        }
    }
}

impl core::error::Error for ChainError {}
impl core::error::Error for BindingError {}
impl core::error::Error for VerifyError {}
