//! The crate's error type: one `#[non_exhaustive]` enum built from focused sub-enums.
//!
//! Every variant carries what a person needs to act: the field, the expected and the actual
//! value, or the byte offset where input went wrong.

use core::fmt;

use crate::report::Product;

/// Any error of this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A report could not be read.
    Report(ReportError),
    /// An HCL wrapper could not be read.
    Hcl(HclError),
    /// Hex text could not be decoded.
    Hex(HexError),
    /// JSON could not be read or written.
    Json(JsonError),
    /// Input is none of the report formats this crate reads.
    Input(InputError),
    /// DER could not be read.
    Der(crate::der::DerError),
    /// Base64 could not be decoded.
    Base64(crate::base64::Base64Error),
    /// AES key wrap or unwrap failed.
    KeyWrap(crate::keywrap::KeyWrapError),
    /// A private key could not be read.
    Key(crate::private_key::KeyError),
    /// RSA-OAEP decryption failed.
    Oaep(crate::rsa::oaep::OaepError),
    /// A released key could not be unwrapped.
    Release(crate::keywrap::ReleaseError),
    /// Key derivation failed.
    Derive(crate::keywrap::hkdf::DeriveError),
    /// A JWK could not be rendered.
    Jwk(crate::jwk::JwkError),
    /// PEM could not be read.
    Pem(crate::pem::PemError),
    /// A certificate or CRL could not be read.
    Cert(crate::cert::CertError),
    /// An extended-report certificate table could not be read.
    CertTable(crate::certtable::CertTableError),
}

/// Why a report could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportError {
    /// The input is not exactly [`crate::abi::REPORT_SIZE`] bytes long.
    Length {
        /// Bytes given.
        actual: usize,
    },
    /// The VERSION field is outside the versions whose layout this crate knows.
    UnsupportedVersion {
        /// The VERSION field.
        version: u32,
    },
    /// SIGNATURE_ALGO is not ECDSA P-384 with SHA-384.
    SignatureAlgorithm {
        /// The SIGNATURE_ALGO field.
        algo: u32,
    },
    /// The caller's product hint contradicts the CPUID bytes of a version 3+ report.
    ProductMismatch {
        /// What the caller said.
        hint: Product,
        /// What the CPUID bytes say.
        detected: Product,
    },
}

/// Why an Azure vTPM HCL report could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HclError {
    /// The input is shorter than the fixed part of the wrapper.
    TooShort {
        /// Bytes needed for the header, the report and the request data.
        needed: usize,
        /// Bytes given.
        actual: usize,
    },
    /// The first four bytes are not `HCLA`.
    Magic,
    /// The report type is not SNP.
    ReportType {
        /// The report_type field of the IGVM request data.
        report_type: u32,
    },
    /// The runtime data hash type is not one of SHA-256/384/512.
    HashType {
        /// The report_data_hash_type field.
        hash_type: u32,
    },
    /// The variable data size points past the end of the input.
    VariableData {
        /// Bytes the header claims.
        claimed: usize,
        /// Bytes available after the fixed part.
        available: usize,
    },
    /// The embedded SNP report could not be read.
    Report(ReportError),
}

/// Why hex text could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HexError {
    /// A byte that is neither a hex digit nor white space.
    InvalidDigit {
        /// Offset of the byte in the text.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// An odd number of hex digits.
    OddLength,
    /// The decoded bytes do not fit the output.
    OutputTooSmall {
        /// Bytes the output can take.
        capacity: usize,
    },
    /// The decoded length differs from what the field requires.
    Length {
        /// Bytes required.
        expected: usize,
        /// Bytes decoded.
        actual: usize,
    },
}

/// Why JSON could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// The output buffer is too small for the rendering.
    BufferTooSmall {
        /// Bytes the buffer has.
        capacity: usize,
    },
    /// Malformed JSON at a byte offset.
    Syntax {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// Nesting is deeper than the reader supports.
    TooDeep {
        /// Offset where the limit was reached.
        offset: usize,
    },
    /// A required member is missing.
    MissingField {
        /// The member name.
        field: &'static str,
    },
    /// A member has the wrong type or an out-of-range value.
    InvalidField {
        /// The member name.
        field: &'static str,
    },
    /// A hex member does not decode to the size of its field.
    FieldHex {
        /// The member name.
        field: &'static str,
        /// What went wrong.
        error: HexError,
    },
}

/// Why input is not a report in any format this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// Empty input.
    Empty,
    /// Not 1184 bytes, no `HCLA` header, and not hex text.
    Unrecognised {
        /// Bytes given.
        len: usize,
        /// The first byte that is not hex text.
        offset: usize,
        /// That byte.
        byte: u8,
    },
    /// Hex text that decodes to something that is neither a report nor an HCL report.
    HexLength {
        /// Bytes decoded.
        decoded: usize,
    },
}

macro_rules! from_sub {
    ($($sub:ty => $variant:ident),* $(,)?) => {$(
        impl From<$sub> for Error {
            fn from(e: $sub) -> Self {
                Error::$variant(e)
            }
        }
    )*};
}
from_sub!(ReportError => Report, HclError => Hcl, HexError => Hex, JsonError => Json, InputError => Input);

from_sub!(
    crate::der::DerError => Der,
    crate::base64::Base64Error => Base64,
    crate::keywrap::KeyWrapError => KeyWrap,
    crate::private_key::KeyError => Key,
    crate::rsa::oaep::OaepError => Oaep,
    crate::keywrap::ReleaseError => Release,
    crate::keywrap::hkdf::DeriveError => Derive,
    crate::jwk::JwkError => Jwk,
    crate::pem::PemError => Pem,
    crate::cert::CertError => Cert,
    crate::certtable::CertTableError => CertTable,
);

impl From<ReportError> for HclError {
    fn from(e: ReportError) -> Self {
        HclError::Report(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Report(e) => e.fmt(f),
            Error::Hcl(e) => e.fmt(f),
            Error::Hex(e) => e.fmt(f),
            Error::Json(e) => e.fmt(f),
            Error::Input(e) => e.fmt(f),
            Error::Der(e) => e.fmt(f),
            Error::Base64(e) => e.fmt(f),
            Error::KeyWrap(e) => e.fmt(f),
            Error::Key(e) => e.fmt(f),
            Error::Oaep(e) => e.fmt(f),
            Error::Release(e) => e.fmt(f),
            Error::Derive(e) => e.fmt(f),
            Error::Jwk(e) => e.fmt(f),
            Error::Pem(e) => e.fmt(f),
            Error::Cert(e) => e.fmt(f),
            Error::CertTable(e) => e.fmt(f),
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::abi::*;
        match *self {
            ReportError::Length { actual } => write!(
                f,
                "report is {actual} bytes; an SEV-SNP attestation report is exactly {REPORT_SIZE} bytes"
            ),
            ReportError::UnsupportedVersion { version } => write!(
                f,
                "report version {version} is not supported (known layouts: {MIN_REPORT_VERSION}..={MAX_REPORT_VERSION})"
            ),
            ReportError::SignatureAlgorithm { algo } => write!(
                f,
                "report signature_algo is {algo}; only {SIG_ALGO_ECDSA_P384_SHA384} (ECDSA P-384 with SHA-384) is defined"
            ),
            ReportError::ProductMismatch { hint, detected } => write!(
                f,
                "product given as {hint} but the report's CPUID bytes identify {detected}"
            ),
        }
    }
}

impl fmt::Display for HclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HclError::TooShort { needed, actual } => write!(
                f,
                "HCL report is {actual} bytes; header, SNP report and request data need {needed}"
            ),
            HclError::Magic => f.write_str("HCL report does not start with \"HCLA\""),
            HclError::ReportType { report_type } => write!(
                f,
                "HCL report type is {report_type}, not SNP ({})",
                crate::hcl::REPORT_TYPE_SNP
            ),
            HclError::HashType { hash_type } => write!(
                f,
                "HCL runtime data hash type {hash_type} is unknown (1 = SHA-256, 2 = SHA-384, 3 = SHA-512)"
            ),
            HclError::VariableData { claimed, available } => write!(
                f,
                "HCL variable data claims {claimed} bytes but only {available} follow the header"
            ),
            HclError::Report(e) => write!(f, "SNP report inside the HCL report: {e}"),
        }
    }
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HexError::InvalidDigit { offset, byte } => {
                write!(f, "byte 0x{byte:02x} at offset {offset} is not a hex digit")
            }
            HexError::OddLength => f.write_str("hex text has an odd number of digits"),
            HexError::OutputTooSmall { capacity } => {
                write!(f, "hex text decodes to more than {capacity} bytes")
            }
            HexError::Length { expected, actual } => {
                write!(f, "hex text decodes to {actual} bytes, expected {expected}")
            }
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            JsonError::BufferTooSmall { capacity } => {
                write!(f, "JSON output does not fit in {capacity} bytes")
            }
            JsonError::Syntax { offset } => write!(f, "malformed JSON at byte {offset}"),
            JsonError::TooDeep { offset } => write!(f, "JSON nested too deeply at byte {offset}"),
            JsonError::MissingField { field } => write!(f, "JSON member \"{field}\" is missing"),
            JsonError::InvalidField { field } => {
                write!(f, "JSON member \"{field}\" has the wrong type or value")
            }
            JsonError::FieldHex { field, error } => write!(f, "JSON member \"{field}\": {error}"),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InputError::Empty => f.write_str("input is empty"),
            InputError::Unrecognised { len, offset, byte } => write!(
                f,
                "input ({len} bytes) is not a {}-byte report, has no HCLA header, and is not hex text (byte 0x{byte:02x} at offset {offset})",
                crate::abi::REPORT_SIZE
            ),
            InputError::HexLength { decoded } => write!(
                f,
                "hex text decodes to {decoded} bytes: neither a {}-byte report nor an HCL report",
                crate::abi::REPORT_SIZE
            ),
        }
    }
}

impl core::error::Error for Error {}
impl core::error::Error for ReportError {}
impl core::error::Error for HclError {}
impl core::error::Error for HexError {}
impl core::error::Error for JsonError {}
impl core::error::Error for InputError {}
