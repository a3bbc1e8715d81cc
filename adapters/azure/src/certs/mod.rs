//! AMD certificates: THIM (IMDS), AMD KDS (VCEK by chip and TCB, VLEK, cert_chain, CRL) and
//! AzCache, cached by (product, hwID, TCB) in memory and optionally on disk, with a cool-down
//! after KDS says 429 so that it is not asked again before it allows.

mod cache;
pub mod kds;
mod tcb;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use csc_core::report::{Product, TcbVersion};
use http::Method;
use http::header::HeaderName;
use serde::{Deserialize, Serialize};

pub use cache::CertCache;
pub use kds::KeyKind;
pub use tcb::CertState;

use crate::error::{Error, Result, Service};
use crate::http::{HttpClient, Request};

/// THIM JSON as IMDS serves it (and as the UVM security context carries it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ThimCerts {
    /// The VCEK, PEM.
    #[serde(rename = "vcekCert", default)]
    pub vcek_cert: String,
    /// The TCB the VCEK is for: hex u64 without `0x`.
    #[serde(default)]
    pub tcbm: String,
    /// ASK then ARK, PEM.
    #[serde(rename = "certificateChain", default)]
    pub certificate_chain: String,
    /// Seconds the answer may be cached.
    #[serde(rename = "cacheControl", default)]
    pub cache_control: String,
}

impl ThimCerts {
    /// THIM's answer for a VCEK (PEM), the TCB it is for and its ASK and ARK (PEM), cached for
    /// a day as IMDS says.
    pub fn new(vcek_pem: String, tcb: u64, ask_pem: &str, ark_pem: &str) -> Self {
        ThimCerts {
            vcek_cert: vcek_pem,
            tcbm: format!("{tcb:016X}"),
            certificate_chain: format!("{ask_pem}{ark_pem}"),
            cache_control: "86400".into(),
        }
    }

    /// Parses THIM JSON (unknown fields ignored).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::malformed(Service::Thim, "THIM JSON", e))
    }

    /// Both the VCEK and the chain are empty.
    pub fn is_absent(&self) -> bool {
        self.vcek_cert.is_empty() && self.certificate_chain.is_empty()
    }

    /// `tcbm` as a number (base 16, as upstream parses it).
    pub fn tcbm(&self) -> Result<u64> {
        u64::from_str_radix(self.tcbm.trim(), 16).map_err(|_| {
            Error::malformed(
                Service::Thim,
                "THIM JSON",
                format!("tcbm {:?} is not a hex u64", self.tcbm),
            )
        })
    }

    /// As a [`CertChain`].
    pub fn to_chain(&self) -> Result<CertChain> {
        Ok(CertChain {
            leaf_pem: self.vcek_cert.clone(),
            chain_pem: self.certificate_chain.clone(),
            tcb: self.tcbm()?,
        })
    }
}

/// A leaf certificate (VCEK or VLEK) with its issuing chain and the TCB it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertChain {
    /// The VCEK (or VLEK), PEM.
    pub leaf_pem: String,
    /// ASK (or ASVK) then ARK, PEM.
    pub chain_pem: String,
    /// The TCB_VERSION the leaf was issued for.
    pub tcb: u64,
}

impl CertChain {
    /// Leaf then chain, as one PEM text (what MAA's `VcekCertChain` carries).
    pub fn pem(&self) -> String {
        let mut s = self.leaf_pem.clone();
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&self.chain_pem);
        s
    }
}

/// Wraps DER in a PEM block.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Where certificates come from (upstream's `certcache` `endpoint_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertSource {
    /// AMD KDS: `base` is e.g. `https://kdsintf.amd.com`.
    Amd {
        /// KDS base URL.
        base: String,
    },
    /// Azure's cache.
    AzCache {
        /// Base URL, e.g. `https://global.acccache.azure.net`.
        base: String,
        /// e.g. `SevSnpVM`.
        tee_type: String,
        /// A whole query fragment, e.g. `api-version=2020-10-15-preview`.
        api_version: String,
        /// A whole query fragment, e.g. `clientId=ConfidentialACI`; may be empty.
        client_id: String,
    },
    /// The IMDS THIM endpoint (the host's current certificates; chip and TCB are not asked).
    LocalThim {
        /// Full URL, e.g. `http://169.254.169.254/metadata/THIM/amd/certification`.
        url: String,
    },
}

impl CertSource {
    /// AMD's KDS.
    pub fn amd() -> Self {
        CertSource::Amd {
            base: kds::AMD_KDS_BASE.to_string(),
        }
    }

    /// Upstream's AzCache defaults.
    pub fn azcache() -> Self {
        CertSource::AzCache {
            base: kds::AZCACHE_BASE.to_string(),
            tee_type: "SevSnpVM".into(),
            api_version: "api-version=2020-10-15-preview".into(),
            client_id: "clientId=ConfidentialACI".into(),
        }
    }

    /// The local THIM endpoint on Azure.
    pub fn local_thim() -> Self {
        CertSource::LocalThim {
            url: kds::THIM_URL.to_string(),
        }
    }

    /// Upstream's `certcache` (`endpoint_type`, `endpoint`, `tee_type`, `api_version`,
    /// `client_id`) as a source. `endpoint` is honoured for every type: a host (and path) as
    /// upstream writes it (`https://` is added, `http://` for LocalTHIM, which IMDS serves
    /// over plain HTTP), or a whole URL. An empty type means LocalTHIM, as upstream. The error
    /// names the unknown type.
    pub fn from_certcache(
        endpoint_type: &str,
        endpoint: &str,
        tee_type: &str,
        api_version: &str,
        client_id: &str,
    ) -> std::result::Result<CertSource, String> {
        let endpoint = endpoint.trim().trim_end_matches('/');
        let url = |default_scheme: &str| {
            if endpoint.contains("://") {
                endpoint.to_string()
            } else {
                format!("{default_scheme}://{endpoint}")
            }
        };
        let given = |v: &str, default: String| {
            if v.is_empty() { default } else { v.to_string() }
        };
        Ok(match endpoint_type {
            "" | "LocalTHIM" if endpoint.is_empty() => CertSource::local_thim(),
            "" | "LocalTHIM" => CertSource::LocalThim { url: url("http") },
            "AMD" if endpoint.is_empty() => CertSource::amd(),
            // Upstream's endpoint includes the `/vcek/v1` path the KDS client adds itself.
            "AMD" => CertSource::Amd {
                base: url("https").trim_end_matches("/vcek/v1").to_string(),
            },
            "AzCache" => {
                let CertSource::AzCache {
                    base,
                    tee_type: t,
                    api_version: a,
                    client_id: c,
                } = CertSource::azcache()
                else {
                    return Err("AzCache defaults".into());
                };
                CertSource::AzCache {
                    base: if endpoint.is_empty() {
                        base
                    } else {
                        url("https")
                    },
                    tee_type: given(tee_type, t),
                    api_version: given(api_version, a),
                    client_id: given(client_id, c),
                }
            }
            other => {
                return Err(format!(
                    "invalid endpoint type: {other} (certcache.endpoint_type must be AMD, AzCache or LocalTHIM)"
                ));
            }
        })
    }

    fn service(&self) -> Service {
        match self {
            CertSource::Amd { .. } => Service::Kds,
            CertSource::AzCache { .. } => Service::AzCache,
            CertSource::LocalThim { .. } => Service::Thim,
        }
    }
}

/// Fetches and caches AMD certificates.
#[derive(Debug)]
pub struct CertFetcher {
    http: HttpClient,
    source: CertSource,
    cache: CertCache,
    /// No request is sent before this instant (set from a 429's Retry-After).
    cool_down: Mutex<Option<Instant>>,
    /// One fetch at a time: concurrent callers for the same chain wait and then hit the cache.
    fetch_lock: tokio::sync::Mutex<()>,
    default_cool_down: Duration,
}

impl CertFetcher {
    /// A fetcher with an in-memory cache only.
    pub fn new(http: HttpClient, source: CertSource) -> Self {
        CertFetcher {
            http,
            source,
            cache: CertCache::memory(),
            cool_down: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            default_cool_down: Duration::from_secs(30),
        }
    }

    /// Also keeps fetched chains in `dir` (created if missing), across restarts.
    pub fn with_disk_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = CertCache::on_disk(dir.into());
        self
    }

    /// The source.
    pub fn source(&self) -> &CertSource {
        &self.source
    }

    /// The cache.
    pub fn cache(&self) -> &CertCache {
        &self.cache
    }

    /// The VCEK chain for a chip at a TCB (the report's REPORTED_TCB), from the cache when
    /// present. With [`CertSource::LocalThim`] the host's current chain is returned and its
    /// TCB may differ from the one asked for: see [`CertState`].
    pub async fn vcek_chain(
        &self,
        product: Product,
        chip_id: &[u8],
        tcb: TcbVersion,
    ) -> Result<Arc<CertChain>> {
        let hwid = kds::hwid(product, chip_id);
        if let Some(hit) = self.cache.get(product, hwid, tcb.raw()) {
            return Ok(hit);
        }
        let _one = self.fetch_lock.lock().await;
        if let Some(hit) = self.cache.get(product, hwid, tcb.raw()) {
            return Ok(hit);
        }
        let chain = match &self.source {
            CertSource::Amd { base } => {
                let der = self
                    .get(kds::vcek_url(base, product, hwid, tcb), None)
                    .await?;
                let chain_pem = self.kds_chain(base, product, KeyKind::Vcek).await?;
                CertChain {
                    leaf_pem: pem_encode("CERTIFICATE", &der),
                    chain_pem,
                    tcb: tcb.raw(),
                }
            }
            CertSource::AzCache {
                base,
                tee_type,
                api_version,
                client_id,
            } => {
                if client_id.is_empty() {
                    tracing::warn!("AzCache request without a client id");
                }
                let url =
                    kds::azcache_url(base, tee_type, chip_id, tcb.raw(), api_version, client_id);
                let pem = self.get(url, None).await?;
                split_pem_chain(&pem, tcb.raw(), Service::AzCache)?
            }
            CertSource::LocalThim { .. } => {
                // THIM answers for the host's current TCB, not the one asked for: key the
                // cache by what it answered.
                let chain = self.thim().await?.to_chain()?;
                let chain = Arc::new(chain);
                self.cache.put(product, hwid, chain.tcb, chain.clone());
                return Ok(chain);
            }
        };
        let chain = Arc::new(chain);
        self.cache.put(product, hwid, tcb.raw(), chain.clone());
        Ok(chain)
    }

    async fn kds_chain(&self, base: &str, product: Product, kind: KeyKind) -> Result<String> {
        if let Some(hit) = self.cache.get_chain(product, kind) {
            return Ok(hit);
        }
        let bytes = self
            .get(kds::cert_chain_url(base, kind, product), None)
            .await?;
        let pem = String::from_utf8(bytes)
            .map_err(|_| Error::malformed(Service::Kds, "cert_chain", "not PEM text"))?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::malformed(
                Service::Kds,
                "cert_chain",
                "no PEM certificate",
            ));
        }
        self.cache.put_chain(product, kind, pem.clone());
        Ok(pem)
    }

    /// The VCEK itself (DER) from KDS.
    pub async fn vcek_der(
        &self,
        product: Product,
        chip_id: &[u8],
        tcb: TcbVersion,
    ) -> Result<Vec<u8>> {
        let base = self.kds_base()?;
        let hwid = kds::hwid(product, chip_id);
        self.get(kds::vcek_url(base, product, hwid, tcb), None)
            .await
    }

    /// The issuing chain (ASK or ASVK, then ARK) as PEM, from KDS.
    pub async fn cert_chain(&self, product: Product, kind: KeyKind) -> Result<String> {
        let base = self.kds_base()?.to_string();
        self.kds_chain(&base, product, kind).await
    }

    /// The ARK-signed CRL (DER) from KDS.
    pub async fn crl(&self, product: Product, kind: KeyKind) -> Result<Vec<u8>> {
        let base = self.kds_base()?;
        self.get(kds::crl_url(base, kind, product), None).await
    }

    /// The THIM document.
    pub async fn thim(&self) -> Result<ThimCerts> {
        let CertSource::LocalThim { url } = &self.source else {
            return Err(Error::Config(
                "THIM needs a LocalThim certificate source".into(),
            ));
        };
        let body = self
            .get(
                url.clone(),
                Some((HeaderName::from_static("metadata"), "true")),
            )
            .await?;
        ThimCerts::from_json(&body)
    }

    fn kds_base(&self) -> Result<&str> {
        match &self.source {
            CertSource::Amd { base } => Ok(base),
            _ => Err(Error::Config(
                "this call needs an AMD KDS certificate source".into(),
            )),
        }
    }

    async fn get(&self, url: String, header: Option<(HeaderName, &str)>) -> Result<Vec<u8>> {
        let service = self.source.service();
        if let Some(until) = *self.cool_down.lock().unwrap_or_else(|p| p.into_inner()) {
            let now = Instant::now();
            if now < until {
                return Err(Error::RateLimited {
                    service,
                    url: crate::http::redact_url(&url),
                    retry_after: until - now,
                });
            }
        }
        let mut req = Request::new(service, Method::GET, url);
        if let Some((name, value)) = header {
            req = req.header(name, value)?;
        }
        match self.http.send(req).await {
            Ok(resp) => Ok(resp.body.to_vec()),
            Err(e) => {
                let wait = match &e {
                    Error::RateLimited { retry_after, .. } => Some(*retry_after),
                    Error::Status {
                        status: 429,
                        retry_after,
                        ..
                    } => Some(retry_after.unwrap_or(self.default_cool_down)),
                    _ => None,
                };
                if let Some(wait) = wait {
                    *self.cool_down.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Instant::now() + wait);
                }
                Err(e)
            }
        }
    }
}

/// Splits an AzCache PEM answer (VCEK first, then ASK and ARK).
fn split_pem_chain(bytes: &[u8], tcb: u64, service: Service) -> Result<CertChain> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::malformed(service, "certificate chain", "not PEM text"))?;
    const END: &str = "-----END CERTIFICATE-----";
    let Some(end) = text.find(END) else {
        return Err(Error::malformed(
            service,
            "certificate chain",
            "no PEM certificate",
        ));
    };
    let split = end + END.len();
    let leaf = format!("{}\n", text[..split].trim_start());
    let rest = text[split..].trim_start().to_string();
    Ok(CertChain {
        leaf_pem: leaf,
        chain_pem: rest,
        tcb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certcache_endpoint_is_honoured_for_every_type() {
        let f = |t: &str, e: &str| CertSource::from_certcache(t, e, "", "", "").unwrap();
        assert_eq!(f("", ""), CertSource::local_thim());
        assert_eq!(
            f(
                "LocalTHIM",
                "127.0.0.1:8443/metadata/THIM/amd/certification"
            ),
            CertSource::LocalThim {
                url: "http://127.0.0.1:8443/metadata/THIM/amd/certification".into()
            }
        );
        assert_eq!(
            f("LocalTHIM", "https://localhost:1/t/"),
            CertSource::LocalThim {
                url: "https://localhost:1/t".into()
            }
        );
        assert_eq!(
            f("AMD", "kds.example/vcek/v1"),
            CertSource::Amd {
                base: "https://kds.example".into()
            }
        );
        assert_eq!(f("AMD", ""), CertSource::amd());
        let CertSource::AzCache { base, tee_type, .. } =
            CertSource::from_certcache("AzCache", "cache.example", "SevSnpVM2", "", "").unwrap()
        else {
            panic!("not AzCache")
        };
        assert_eq!(
            (base.as_str(), tee_type.as_str()),
            ("https://cache.example", "SevSnpVM2")
        );
        let e = CertSource::from_certcache("KDS", "", "", "", "").unwrap_err();
        assert!(e.contains("invalid endpoint type: KDS"), "{e}");
    }

    #[test]
    fn thim_json_parses_and_tcbm_is_hex() {
        let t = ThimCerts::from_json(
            br#"{"vcekCert":"V","tcbm":"7308000000000003","certificateChain":"C","cacheControl":"86400","other":1}"#,
        )
        .unwrap();
        assert_eq!(t.tcbm().unwrap(), 0x7308000000000003);
        assert_eq!(t.to_chain().unwrap().pem(), "V\nC");
        assert!(!t.is_absent());
        let bad = ThimCerts {
            tcbm: "0x12".into(),
            ..ThimCerts::default()
        };
        assert!(bad.tcbm().is_err());
        assert!(bad.is_absent());
        assert!(ThimCerts::from_json(b"[").is_err());
    }

    #[test]
    fn pem_chain_split() {
        let one = pem_encode("CERTIFICATE", &[1; 100]);
        let two = pem_encode("CERTIFICATE", &[2; 10]);
        let c = split_pem_chain(format!("{one}{two}").as_bytes(), 5, Service::AzCache).unwrap();
        assert_eq!(c.leaf_pem, one);
        assert_eq!(c.chain_pem, two);
        assert_eq!(c.pem(), format!("{one}{two}"));
        assert!(split_pem_chain(b"nothing", 5, Service::AzCache).is_err());
    }
}
