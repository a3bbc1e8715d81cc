//! Clients for the Azure (and AMD) services the sidecars use, on hyper 1 + rustls (aws-lc-rs)
//! over tokio, all going through one HTTP layer with deadlines, bounded bodies and retries.
//!
//! - [`http`]: the HTTP layer ([`http::HttpClient`], [`http::HttpConfig`], [`http::RetryPolicy`]).
//! - [`identity`]: IMDS managed identity and workload identity tokens, cached.
//! - [`certs`]: THIM, AMD KDS and AzCache certificates, cached; TCB refresh ([`certs::CertState`]).
//! - [`maa`]: MAA attest and token verification.
//! - [`keyvault`]: key release (JWS verified) and import with a release policy.
//! - [`blob`]: blob properties, ranged reads, page writes with ETag conditions.
//! - [`gocompat`], [`secret`]: JSON and hex read as upstream's Go reads them; secret text and bytes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blob;
pub mod certs;
pub mod error;
pub mod gocompat;
pub mod http;
pub mod identity;
pub mod jose;
pub mod keyvault;
pub mod maa;
pub mod secret;
pub mod url;

pub use error::{Error, Result, Service};
