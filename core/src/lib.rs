//! The no_std core of the confidential sidecars.
//!
//! Bytes in, typed views out. This crate does no I/O, never allocates in its default features and
//! never panics on any input: every parser returns a typed error that names what is wrong. It is
//! meant to run as well inside a sidecar as inside minimal guest firmware or an init program.
//!
//! - [`report`]: a zero-copy view over the 1184-byte SEV-SNP `ATTESTATION_REPORT` (versions 1..=5),
//!   TCB decoding per product, guest policy and platform-info bits, JSON rendering.
//! - [`hcl`]: the Azure vTPM "HCL report" wrapper around an SNP report.
//! - [`input`]: recognises raw, hex-text and HCL-wrapped reports.
//! - [`runtime`]: the report_data / host_data conventions of the sidecars.
//! - [`hex`], [`base64`], [`json`]: small, allocation-free codecs used throughout.
//! - [`der`], [`pem`], [`cert`]: X.509 certificates and CRLs with AMD's extensions.
//! - [`certtable`]: the extended-report certificate table (GUID, offset, length entries).
//! - [`verify`]: report signature, AMD chain, CRL and report/certificate binding, behind a
//!   crypto backend trait; [`policy`]: a relying party's expectations, checked separately.
//! - [`guest`]: SNP guest messages to the PSP without a kernel driver (reports and derived
//!   keys over a caller-supplied transport).
//! - [`keywrap`], [`rsa`], [`jwk`], [`secret`]: released-key unwrap (AES-KW/KWP, constant-time
//!   blinded RSA-OAEP, Key Vault's RSA-AES formats, key readers, HKDF), JWK rendering, and key
//!   material that wipes itself.
#![no_std]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo,
    clippy::arithmetic_side_effects,
    missing_docs
)]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod abi;
pub mod base64;
pub mod cert;
pub mod certtable;
pub mod der;
pub mod ec;
pub mod error;
pub mod guest;
pub mod hcl;
pub mod hex;
pub mod input;
pub mod json;
pub mod jwk;
pub mod keywrap;
pub mod pem;
pub mod policy;
pub mod private_key;
pub mod report;
pub mod rsa;
pub mod runtime;
pub mod secret;
pub mod source;
pub mod verify;

pub use error::Error;
pub use report::{Product, Report};
