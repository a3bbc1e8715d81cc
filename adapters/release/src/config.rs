//! What the release flow is configured with.

use std::path::PathBuf;

use csc_azure::certs::{CertSource, ThimCerts};
use csc_azure::http::HttpConfig;
use csc_azure::identity::Credential;
use csc_core::Product;

/// How the platform is reached.
#[derive(Debug)]
pub enum PlatformChoice {
    /// Detect (or force) a kernel interface, or the simulated platform when asked by name.
    Choose(Box<csc_sev::Choice>),
    /// This source, already opened.
    Source(csc_sev::Source),
}

impl Default for PlatformChoice {
    fn default() -> Self {
        PlatformChoice::Choose(Box::default())
    }
}

/// What the platform's own report is checked against before it is sent to MAA.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// AMD's built-in roots (real hardware).
    #[default]
    Amd,
    /// A pinned root: the simulated platform's ARK.
    Pinned {
        /// The ARK (DER).
        ark_der: Vec<u8>,
        /// Its product.
        product: Product,
    },
}

impl Trust {
    /// A pinned ARK read from `path` (PEM or DER, AMD's profile, self-signed), its product
    /// taken from its subject (`ARK-Milan`, `ARK-Genoa`, `ARK-Turin`). For deployments whose
    /// guest is not AMD hardware (a `tsm-simulate` guest writes its ARK with `--ark-out`).
    pub fn from_ark_file(path: &std::path::Path) -> Result<Trust, String> {
        let what = |e: &dyn std::fmt::Display| format!("ARK file {}: {e}", path.display());
        let bytes = std::fs::read(path).map_err(|e| what(&e))?;
        let ark_der = if csc_core::pem::is_pem(&bytes) {
            csc_azure::http::parse_pem_certs(&bytes)
                .map_err(|e| what(&e))?
                .into_iter()
                .next()
                .ok_or_else(|| what(&"no certificate in it"))?
                .to_vec()
        } else {
            bytes
        };
        let cert = csc_core::cert::Certificate::from_der(&ark_der).map_err(|e| what(&e))?;
        let cn = cert.subject().common_name().unwrap_or("");
        let product = cn
            .strip_prefix("ARK-")
            .and_then(Product::from_name)
            .ok_or_else(|| {
                what(&format!(
                    "subject CN {cn:?} is not an ARK's (ARK-Milan, ARK-Genoa or ARK-Turin)"
                ))
            })?;
        // Refused here rather than at the first report if it is not a usable root.
        csc_crypto::check::ReportChecker::pinned(&ark_der, product).map_err(|e| what(&e))?;
        Ok(Trust::Pinned { ark_der, product })
    }
}

/// The UVM security context (upstream's `UvmInformation`), decoded.
#[derive(Debug, Clone, Default)]
pub struct UvmInfo {
    /// The security policy text (its SHA-256 is HOST_DATA).
    pub security_policy: Vec<u8>,
    /// The UVM endorsement (COSE_Sign1 bytes), empty when the platform gave none.
    pub reference_info: Vec<u8>,
    /// The UVM reference info as given (base64 text), returned by /attest/combined.
    pub reference_info_base64: String,
    /// The host's certificates (THIM JSON), when the platform gave them.
    pub host_certs: Option<ThimCerts>,
}

/// Everything the flow needs.
#[derive(Debug)]
pub struct ReleaseConfig {
    /// How reports are obtained.
    pub platform: PlatformChoice,
    /// Where VCEK chains come from.
    pub cert_source: CertSource,
    /// Keep fetched chains here across restarts.
    pub cert_cache_dir: Option<PathBuf>,
    /// The UVM security context.
    pub uvm: UvmInfo,
    /// The HTTP client (deadlines, retries, extra trusted roots).
    pub http: HttpConfig,
    /// Where Key Vault tokens come from when the request carries none.
    pub credential: Credential,
    /// The root the platform's reports are checked against.
    pub trust: Trust,
    /// The product of version-2 reports (they do not name their CPU).
    pub default_product: Product,
    /// The User-Agent sent to MAA (upstream's `maaconfig.user_agent`).
    pub maa_user_agent: Option<String>,
    /// Ephemeral RSA wrapping keys kept ready (0: each release makes its own).
    pub key_pool: usize,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        ReleaseConfig {
            platform: PlatformChoice::default(),
            cert_source: CertSource::local_thim(),
            cert_cache_dir: None,
            uvm: UvmInfo::default(),
            http: HttpConfig::default(),
            credential: Credential::from_env_or_managed_identity(None),
            trust: Trust::Amd,
            default_product: Product::Milan,
            maa_user_agent: None,
            key_pool: 2,
        }
    }
}
