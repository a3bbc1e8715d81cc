//! The sandbox: the simulated SEV-SNP platform and the Azure emulators, in-process, wired so
//! that a release runs end to end on any machine. The emulated MAA checks every report with
//! the core verifier pinned to the simulated ARK; the emulated HSM holds keys whose release
//! policy requires the simulated platform's HOST_DATA (the SHA-256 of its security policy).
//!
//! Used by `skr demo`, `skr --simulate`, tests and benchmarks. Everything it makes says it is
//! simulated: the platform's warning on stderr, the report verifier's name in every token.

use std::path::PathBuf;
use std::sync::Arc;

use csc_azure::certs::{CertSource, ThimCerts};
use csc_azure::http::HttpConfig;
use csc_azure::identity::Credential;
use csc_core::Product;
use csc_core::hex::Hex;
use csc_core::jwk::{PRIVATE_JWK_CAPACITY, ReleasedKeyType};
use csc_emulate::{CoreReportVerifier, Emulator, EmulatorConfig, Endpoints, KdsStore};
use csc_simulate::{KeyCache, Platform, PlatformConfig, UvmSigner};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::config::{PlatformChoice, ReleaseConfig, Trust, UvmInfo};
use crate::error::{ReleaseError, Result};

/// The security policy the sandbox's platform is launched with unless given one (its SHA-256
/// is HOST_DATA).
pub const DEFAULT_POLICY: &str = csc_simulate::DEFAULT_SECURITY_POLICY;

/// How the sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The simulated CPU.
    pub product: Product,
    /// The report version (2, 3 or 5; Turin from 3).
    pub report_version: u32,
    /// The security policy text.
    pub security_policy: String,
    /// Where the simulated platform's keys are kept (default: the platform's default cache).
    pub key_cache: Option<PathBuf>,
    /// The emulators' port on 127.0.0.1 (0: any).
    pub port: u16,
    /// Write the emulators' CA certificate here (for clients outside the process).
    pub ca_file: Option<PathBuf>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            product: Product::Milan,
            report_version: 3,
            security_policy: DEFAULT_POLICY.to_string(),
            key_cache: None,
            port: 0,
            ca_file: None,
        }
    }
}

/// Which kind of key to put into the emulated HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxKey {
    /// A 256-bit AES key (`oct-HSM`).
    Oct,
    /// An RSA-2048 key (`RSA-HSM`).
    Rsa,
}

/// A key put into the emulated HSM.
pub struct ImportedKey {
    /// `name/version`.
    pub kid: String,
    /// The key as the release will return it (JWK JSON), to compare with.
    pub expected_jwk: Zeroizing<String>,
}

impl std::fmt::Debug for ImportedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImportedKey({}, redacted)", self.kid)
    }
}

/// A running sandbox; the emulators stop when it is dropped.
#[derive(Debug)]
pub struct Sandbox {
    emulator: Emulator,
    options: SandboxOptions,
    cache: KeyCache,
    ark_der: Vec<u8>,
    thim: ThimCerts,
    host_data_hex: String,
    endorsement: Vec<u8>,
}

impl Sandbox {
    /// Makes the platform (keys from the cache, or new) and starts the emulators on the
    /// current tokio runtime.
    pub async fn start(options: SandboxOptions) -> Result<Sandbox> {
        let cache = match &options.key_cache {
            Some(d) => KeyCache::open(d),
            None => KeyCache::open_default(),
        }
        .map_err(|e| ReleaseError::Config(format!("simulated platform key cache: {e}")))?;
        let platform = new_platform(&options, &cache)?;
        eprintln!("{}", csc_simulate::WARNING);
        let chain = platform.chain();
        let ark_der = chain.ark.to_vec();
        let product = platform.product();
        let thim = ThimCerts::new(
            csc_simulate::pem(chain.vcek),
            platform.reported_tcb().raw(),
            &csc_simulate::pem(chain.ask),
            &csc_simulate::pem(chain.ark),
        );
        let mut kds = KdsStore::new();
        kds.insert_vcek(
            product,
            csc_emulate::kds::hwid(product, platform.chip_id()),
            platform.reported_tcb().raw(),
            chain.vcek.to_vec(),
        );
        kds.insert_chain(
            product,
            csc_emulate::kds::KeyKind::Vcek,
            thim.certificate_chain.clone(),
        );
        // The host's UVM endorsement (as ACI hands it over), which the emulated MAA verifies
        // to vouch for the UVM with x-ms-compliance-status, as MAA does.
        let signer = UvmSigner::open(&cache)
            .map_err(|e| ReleaseError::Config(format!("simulated UVM signer: {e}")))?;
        let endorsement = signer
            .endorse(&platform.config().measurement, platform.config().guest_svn)
            .map_err(|e| ReleaseError::Config(format!("simulated UVM endorsement: {e}")))?;
        let verifier = CoreReportVerifier::pinned(&ark_der, product)
            .map_err(ReleaseError::Config)?
            .with_compliance_status(Some("azure-compliant-uvm".into()))
            .with_uvm_signers(vec![signer.cert_der().to_vec()]);
        let mut config = EmulatorConfig::new(Arc::new(verifier));
        config.port = options.port;
        config.ca_file = options.ca_file.clone();
        config.kds = kds;
        config.thim = Some(thim_json(&thim));
        let emulator = csc_emulate::start(config)
            .await
            .map_err(|e| ReleaseError::Config(format!("emulators: {e}")))?;
        let host_data_hex = Hex(&Sha256::digest(options.security_policy.as_bytes())).to_string();
        Ok(Sandbox {
            emulator,
            options,
            cache,
            ark_der,
            thim,
            host_data_hex,
            endorsement,
        })
    }

    /// Waits until the emulators can sign (their RSA keys are made in the background).
    pub async fn ready(&self) -> Result<()> {
        self.emulator
            .ready()
            .await
            .map_err(|e| ReleaseError::Config(format!("emulators: {e}")))
    }

    /// Where the emulated services are.
    pub fn endpoints(&self) -> &Endpoints {
        self.emulator.endpoints()
    }

    /// The emulators (faults, counters, direct key import).
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// The simulated ARK (DER): the root reports verify against.
    pub fn ark_der(&self) -> &[u8] {
        &self.ark_der
    }

    /// The options.
    pub fn options(&self) -> &SandboxOptions {
        &self.options
    }

    /// HOST_DATA of the platform's reports, hex.
    pub fn host_data_hex(&self) -> &str {
        &self.host_data_hex
    }

    /// The HTTP settings that trust the emulators' CA.
    pub fn http_config(&self) -> HttpConfig {
        HttpConfig {
            system_roots: false,
            extra_roots: vec![self.emulator.ca_der()],
            ..HttpConfig::default()
        }
    }

    /// A release configuration pointing at the sandbox: the simulated platform as source,
    /// certificates from the emulated THIM (and the host certificates ACI would hand over),
    /// identity from the emulated IMDS, reports checked against the simulated ARK.
    pub fn release_config(&self) -> Result<ReleaseConfig> {
        let platform = new_platform(&self.options, &self.cache)?;
        let endpoints = self.endpoints();
        Ok(ReleaseConfig {
            platform: PlatformChoice::Source(csc_sev::Source::Simulated(Box::new(platform))),
            cert_source: CertSource::LocalThim {
                url: endpoints.thim.clone(),
            },
            cert_cache_dir: None,
            uvm: UvmInfo {
                security_policy: self.options.security_policy.as_bytes().to_vec(),
                reference_info: self.endorsement.clone(),
                reference_info_base64: csc_core::base64::Base64(
                    &self.endorsement,
                    csc_core::base64::Alphabet::Standard,
                )
                .to_string(),
                host_certs: Some(self.thim.clone()),
            },
            http: self.http_config(),
            credential: Credential::ManagedIdentity {
                base_url: endpoints.imds.clone(),
                client_id: None,
            },
            trust: Trust::Pinned {
                ark_der: self.ark_der.clone(),
                product: self.options.product,
            },
            default_product: self.options.product,
            maa_user_agent: None,
            key_pool: 2,
        })
    }

    /// The release policy the sandbox's keys carry, upstream's standard one: issued by the
    /// emulated MAA, for this platform's HOST_DATA, a compliant UVM (its endorsement
    /// verified), not debuggable, VMPL 0.
    pub fn release_policy(&self) -> Value {
        json!({
            "version": "1.0.0",
            "anyOf": [{
                "authority": self.endpoints().maa,
                "allOf": [
                    {"claim": "x-ms-sevsnpvm-hostdata", "equals": self.host_data_hex},
                    {"claim": "x-ms-compliance-status", "equals": "azure-compliant-uvm"},
                    {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": "false"},
                    {"claim": "x-ms-sevsnpvm-vmpl", "equals": "0"},
                ],
            }],
        })
    }

    /// The UVM endorsement the simulated host hands over (COSE_Sign1).
    pub fn uvm_endorsement(&self) -> &[u8] {
        &self.endorsement
    }

    /// Puts a new random key of `kind` named `name` into the emulated HSM with
    /// [`Sandbox::release_policy`].
    pub fn import_key(&self, name: &str, kind: SandboxKey) -> Result<ImportedKey> {
        self.import_key_with_policy(name, kind, &self.release_policy())
    }

    /// As [`Sandbox::import_key`], with another release policy.
    pub fn import_key_with_policy(
        &self,
        name: &str,
        kind: SandboxKey,
        policy: &Value,
    ) -> Result<ImportedKey> {
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let ops = vec!["encrypt".to_string(), "decrypt".to_string()];
        let op_refs = csc_core::jwk::KeyOps::from_names(ops.iter().map(String::as_str))
            .map_err(|e| ReleaseError::Config(e.to_string()))?;
        let mut out = Zeroizing::new(vec![0u8; PRIVATE_JWK_CAPACITY]);
        let (import, expected) = match kind {
            SandboxKey::Oct => {
                let mut k = Zeroizing::new([0u8; 32]);
                aws_fill(&mut *k)?;
                let jwk = json!({"kty": "oct-HSM", "k": b64(&*k), "key_size": 256});
                let text = csc_core::jwk::render_released_key(
                    ReleasedKeyType::Oct,
                    &*k,
                    op_refs.as_slice(),
                    &mut out,
                )
                .map_err(|e| ReleaseError::Config(e.to_string()))?;
                (jwk, text.to_string())
            }
            SandboxKey::Rsa => {
                let key = csc_crypto::unwrap::AwsLcRsaKey::generate_ephemeral()
                    .map_err(|e| ReleaseError::Config(e.to_string()))?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| ReleaseError::Config(e.to_string()))?;
                let text = csc_core::jwk::render_released_key(
                    ReleasedKeyType::Rsa,
                    &der,
                    op_refs.as_slice(),
                    &mut out,
                )
                .map_err(|e| ReleaseError::Config(e.to_string()))?;
                let mut jwk: Value =
                    serde_json::from_str(text).map_err(|e| ReleaseError::Config(e.to_string()))?;
                jwk["kty"] = "RSA-HSM".into();
                if let Some(o) = jwk.as_object_mut() {
                    o.remove("key_ops");
                }
                (jwk, text.to_string())
            }
        };
        let kid = self
            .emulator
            .import_key(name, &import, policy, ops)
            .map_err(ReleaseError::Config)?;
        Ok(ImportedKey {
            kid,
            expected_jwk: Zeroizing::new(expected),
        })
    }
}

fn aws_fill(buf: &mut [u8]) -> Result<()> {
    aws_lc_rs::rand::fill(buf).map_err(|_| ReleaseError::Config("no randomness".into()))
}

fn new_platform(options: &SandboxOptions, cache: &KeyCache) -> Result<Platform> {
    let config = PlatformConfig::new(options.product, options.report_version)
        .map_err(|e| ReleaseError::Config(format!("simulated platform: {e}")))?
        .with_security_policy(options.security_policy.as_bytes());
    Platform::new(config, cache)
        .map_err(|e| ReleaseError::Config(format!("simulated platform: {e}")))
}

fn thim_json(t: &ThimCerts) -> String {
    serde_json::to_string(t).unwrap_or_default()
}
