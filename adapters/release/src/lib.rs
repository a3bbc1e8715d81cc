//! The secure key release flow both sidecars use, as upstream's `pkg/skr` + `pkg/attest`, with
//! the checks upstream leaves out:
//!
//! 1. a report from the platform ([`Attester::report`]) for runtime data (the JWK set of a
//!    fresh RSA-2048 wrapping key, made ahead of need by [`KeyPool`]);
//! 2. the VCEK chain for its REPORTED_TCB (THIM, AMD KDS or AzCache, cached, refreshed on TCB
//!    change), and a local check of signature, chain and binding against AMD's roots (or the
//!    simulated platform's pinned root) before anything is sent ([`Attester::evidence`]);
//! 3. an MAA token ([`Attester::maa_token`]);
//! 4. the Key Vault / managed HSM release with that token, the JWS answer verified against its
//!    x5c chain, the RSA-OAEP + AES-KWP unwrap, and the JWK upstream returns
//!    ([`Releaser::release`]).
//!
//! Every failure names its step ([`ReleaseError`]); a 403 from the vault lists the token's
//! claims to compare with the key's release policy.
//!
//! With the `sandbox` feature, [`sandbox::Sandbox`] runs the simulated platform and the Azure
//! emulators in-process: `skr demo`, `skr --simulate`, tests and benchmarks use it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attest;
mod config;
mod error;
mod pool;
mod release;
#[cfg(feature = "sandbox")]
pub mod sandbox;

pub use attest::{Attester, Evidence, Timings};
pub use config::{PlatformChoice, ReleaseConfig, Trust, UvmInfo};
pub use error::{ReleaseError, Result};
pub use pool::KeyPool;
pub use release::{KeyRequest, ReleaseAccount, ReleasedJwk, Releaser, token_claims, unwrap_to_jwk};

/// An attester and a releaser from one configuration.
pub fn build(mut config: ReleaseConfig) -> Result<(std::sync::Arc<Attester>, Releaser)> {
    let attester = std::sync::Arc::new(Attester::new(&mut config)?);
    let releaser = Releaser::new(attester.clone(), config.key_pool, config.credential);
    Ok((attester, releaser))
}
