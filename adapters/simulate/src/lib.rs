//! A software SEV-SNP platform for tests, demos and developers.
//!
//! [`Platform`] mints a certificate chain in AMD's profile (ARK and ASK: RSA-4096 signed with
//! RSASSA-PSS SHA-384; VCEK: P-384 with AMD's SPL and hwID extensions) for Milan, Genoa or Turin
//! and signs reports of version 2, 3 or 5 with the VCEK key, exactly as the PSP would lay them
//! out. It implements the core's [`ReportSource`](csc_core::source::ReportSource), so anything
//! above it runs unchanged on a machine without SNP hardware.
//!
//! [`SimulatedPsp`] speaks the PSP's side of SNP guest messages (VMPCKs, sequence numbers,
//! MSG_REPORT_REQ and MSG_KEY_REQ with deterministic derived keys), so the core's guest-message
//! layer runs end to end without hardware.
//!
//! Its reports verify only when its own ARK is pinned ([`Platform::ark_der`]); against AMD's
//! roots they fail. It is never chosen silently: only when asked by name (a `--simulate` flag or
//! [`ENV_VAR`]`=1`), and every output made with it says so ([`WARNING`], [`MARKER`]).
//!
//! ```no_run
//! use csc_core::Product;
//! use csc_core::source::{ReportRequest, Vmpl};
//! use csc_simulate::{KeyCache, Platform, PlatformConfig};
//!
//! let config = PlatformConfig::new(Product::Genoa, 5)?.with_security_policy(b"package policy");
//! let platform = Platform::new(config, &KeyCache::open("/tmp/keys")?)?;
//! let report = platform.report(&ReportRequest::new([7; 64], Vmpl::ZERO))?;
//! let chain = platform.chain(); // chain.ark is the root to pin
//! # Ok::<(), csc_simulate::SimError>(())
//! ```

mod cache;
pub mod certs;
pub mod der;
pub mod endorsement;
mod error;
#[cfg(any(feature = "tsmfs", feature = "sevguestfs"))]
mod fuse;
mod platform;
pub mod psp;
#[cfg(feature = "sevguestfs")]
pub mod sevguestfs;
#[cfg(feature = "tsmfs")]
pub mod tsmfs;

pub use cache::{CACHE_ENV_VAR, KeyCache};
pub use endorsement::UvmSigner;
pub use error::SimError;
pub use platform::{Chain, Platform, PlatformConfig, default_measurement, pem};
pub use psp::{PspTransport, SimulatedPsp};

/// The security policy a simulated guest is launched with unless given one (its SHA-256 is
/// HOST_DATA): allow everything.
pub const DEFAULT_SECURITY_POLICY: &str = "package policy\n\napi_version := \"0.10.0\"\nframework_version := \"0.2.3\"\n\n# csc sandbox: allow everything (simulated platform)\nmount_device := {\"allowed\": true}\nexec_in_container := {\"allowed\": true}\n";

/// The environment variable that selects the simulated platform: `1` (or `true`, `yes`, `on`).
pub const ENV_VAR: &str = "CSC_SIMULATE";

/// The word every output made with the simulated platform carries.
pub const MARKER: &str = "SIMULATED";

/// The line printed on standard error whenever the simulated platform is in use.
pub const WARNING: &str = "WARNING: SIMULATED SEV-SNP platform in use (csc-simulate): reports are signed by a software key, prove nothing about hardware, and verify only against the simulated ARK";

/// Whether [`ENV_VAR`] asks for the simulated platform. Unset or empty, `0`, `false`, `no`,
/// `off` mean no; anything else not listed is an error rather than a guess.
pub fn requested_by_env() -> Result<bool, SimError> {
    match std::env::var_os(ENV_VAR) {
        None => Ok(false),
        Some(v) => parse_switch(&v.to_string_lossy()),
    }
}

fn parse_switch(v: &str) -> Result<bool, SimError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" => Ok(false),
        "1" | "true" | "yes" | "on" => Ok(true),
        _ => Err(SimError::BadEnv {
            var: ENV_VAR,
            value: v.chars().take(64).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_values() {
        for on in ["1", "true", "YES", " on "] {
            assert!(parse_switch(on).unwrap(), "{on}");
        }
        for off in ["", "0", "false", "No", "off"] {
            assert!(!parse_switch(off).unwrap(), "{off}");
        }
        let e = parse_switch("maybe").unwrap_err();
        assert!(e.to_string().contains("CSC_SIMULATE=\"maybe\""), "{e}");
    }
}
