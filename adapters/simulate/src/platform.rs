//! The simulated platform: its configuration, keys, certificate chain and signed reports.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PSS_2048_8192_SHA384,
    UnparsedPublicKey,
};
use csc_core::Product;
use csc_core::abi::{self, REPORT_SIZE, size};
use csc_core::report::{RawReport, TcbParts, TcbVersion};
use csc_core::source::{ReportRequest, ReportSource, Vmpl};
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromZeros, IntoBytes};

use crate::cache::KeyCache;
use crate::certs;
use crate::error::SimError;
use csc_core::certtable::{self, Guid};

/// The settings of a simulated guest and its platform. Start from [`PlatformConfig::new`] and
/// change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlatformConfig {
    /// The processor generation.
    pub product: Product,
    /// The report VERSION: 2, 3 or 5 (Turin: 3 or 5).
    pub version: u32,
    /// The TCB: CURRENT, REPORTED, COMMITTED and LAUNCH all carry it, and the VCEK is for it.
    pub tcb: TcbParts,
    /// GUEST_SVN.
    pub guest_svn: u32,
    /// The guest POLICY.
    pub guest_policy: u64,
    /// FAMILY_ID.
    pub family_id: [u8; size::FAMILY_ID],
    /// IMAGE_ID.
    pub image_id: [u8; size::IMAGE_ID],
    /// MEASUREMENT (the launch digest).
    pub measurement: [u8; size::MEASUREMENT],
    /// HOST_DATA (see [`PlatformConfig::with_security_policy`]).
    pub host_data: [u8; size::HOST_DATA],
    /// PLATFORM_INFO.
    pub platform_info: u64,
    /// The VMPL the guest runs at: requests for a more privileged VMPL fail, as on hardware.
    pub guest_vmpl: Vmpl,
    /// LAUNCH_MIT_VECTOR and CURRENT_MIT_VECTOR (version 5).
    pub mit_vector: u64,
}

/// The launch measurement a simulated guest reports unless told otherwise: SHA-384 of
/// `csc-simulate launch measurement`.
pub fn default_measurement() -> [u8; size::MEASUREMENT] {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA384,
        b"csc-simulate launch measurement",
    );
    let mut out = [0u8; size::MEASUREMENT];
    out.copy_from_slice(d.as_ref());
    out
}

impl PlatformConfig {
    /// A platform for `product` making reports of `version`, with plausible values: a TCB seen
    /// on real parts of that generation, guest policy 0x30000 (SMT allowed), VMPL 0, HOST_DATA
    /// zero, MEASUREMENT [`default_measurement`].
    pub fn new(product: Product, version: u32) -> Result<PlatformConfig, SimError> {
        let supported = match product {
            Product::Milan | Product::Genoa => matches!(version, 2 | 3 | 5),
            // Turin firmware emits version 3 and later only: its TCB layout needs the CPUID bytes.
            Product::Turin => matches!(version, 3 | 5),
        };
        if !supported {
            return Err(SimError::UnsupportedVersion { product, version });
        }
        let tcb = match product {
            Product::Milan => TcbParts {
                fmc: None,
                bootloader: 4,
                tee: 0,
                snp: 24,
                microcode: 219,
            },
            Product::Genoa => TcbParts {
                fmc: None,
                bootloader: 10,
                tee: 0,
                snp: 25,
                microcode: 84,
            },
            Product::Turin => TcbParts {
                fmc: Some(1),
                bootloader: 1,
                tee: 1,
                snp: 4,
                microcode: 81,
            },
        };
        Ok(PlatformConfig {
            product,
            version,
            tcb,
            guest_svn: 1,
            guest_policy: 0x3_0000,
            family_id: [0; size::FAMILY_ID],
            image_id: [0; size::IMAGE_ID],
            measurement: default_measurement(),
            host_data: [0; size::HOST_DATA],
            platform_info: match product {
                Product::Milan => 0x1,
                Product::Genoa | Product::Turin => 0x25,
            },
            guest_vmpl: Vmpl::ZERO,
            mit_vector: 0,
        })
    }

    /// Sets HOST_DATA to SHA-256 of `policy` (the security policy text, base64-decoded), as the
    /// Azure host does.
    pub fn with_security_policy(mut self, policy: &[u8]) -> Self {
        self.host_data = csc_core::runtime::host_data_for(policy);
        self
    }

    /// The TCB as a TCB_VERSION in this product's layout.
    pub fn tcb_version(&self) -> TcbVersion {
        certs::tcb_version(self.product, self.tcb)
    }
}

/// CPUID family, model and stepping of a representative part of each generation.
fn cpuid(product: Product) -> (u8, u8, u8) {
    match product {
        Product::Milan => (abi::cpuid::FAMILY_ZEN3_ZEN4, 0x01, 0x01),
        Product::Genoa => (abi::cpuid::FAMILY_ZEN3_ZEN4, 0x11, 0x01),
        Product::Turin => (abi::cpuid::FAMILY_ZEN5, 0x02, 0x01),
    }
}

/// SNP firmware version (major, minor, build) the simulated PSP claims.
fn firmware(product: Product) -> (u8, u8, u8) {
    match product {
        Product::Milan => (1, 55, 22),
        Product::Genoa => (1, 55, 43),
        Product::Turin => (1, 55, 65),
    }
}

/// The DER certificates of a simulated platform.
#[derive(Debug, Clone, Copy)]
pub struct Chain<'a> {
    /// The self-signed root (pin this one).
    pub ark: &'a [u8],
    /// The intermediate, signed by the ARK.
    pub ask: &'a [u8],
    /// The chip's VCEK for the configured TCB, signed by the ASK.
    pub vcek: &'a [u8],
}

impl Chain<'_> {
    /// PEM text of VCEK, ASK and ARK in that order (the order of THIM's and AMD KDS's bundles).
    pub fn to_pem(&self) -> String {
        [self.vcek, self.ask, self.ark]
            .iter()
            .map(|d| pem(d))
            .collect()
    }
}

/// PEM encoding of one DER certificate.
pub fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// A software SEV-SNP platform: an AMD-profile chain and a VCEK key that signs reports.
///
/// Its reports verify only against its own ARK ([`Platform::chain`]); against AMD's roots they
/// fail, which is the point.
pub struct Platform {
    config: PlatformConfig,
    vcek_key: EcdsaKeyPair,
    ark_der: Vec<u8>,
    ask_der: Vec<u8>,
    vcek_der: Vec<u8>,
    chip_id: [u8; size::CHIP_ID],
    report_id: [u8; size::REPORT_ID],
    cert_table: Vec<u8>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of Debug output.
        f.debug_struct("Platform")
            .field("config", &self.config)
            .field("chip_id", &csc_core::hex::Hex(&self.chip_id).to_string())
            .finish_non_exhaustive()
    }
}

const ARK_KEY: &str = "ark.pk8";
const ASK_KEY: &str = "ask.pk8";
const VCEK_KEY: &str = "vcek.pk8";
const ARK_CERT: &str = "ark.der";
const ASK_CERT: &str = "ask.der";

impl Platform {
    /// A platform with `config`, its keys from (or made into) `cache`.
    pub fn new(config: PlatformConfig, cache: &KeyCache) -> Result<Platform, SimError> {
        // Validate again: fields are public and may have been changed after new().
        PlatformConfig::new(config.product, config.version)?;
        let dir = cache.subdir(&config.product.name().to_ascii_lowercase())?;
        // Making RSA-4096 keys takes seconds: let one thread of this process make them while
        // the others wait for the files, instead of all making their own and discarding them.
        static MAKING_KEYS: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let making = MAKING_KEYS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rsa = |name: &str| -> Result<RsaKeyPair, SimError> {
            let pk8 = dir.get_or_create(name, || {
                let key = RsaKeyPair::generate(KeySize::Rsa4096)
                    .map_err(|_| SimError::Crypto("RSA-4096 key generation"))?;
                use aws_lc_rs::encoding::AsDer;
                let der = key
                    .as_der()
                    .map_err(|_| SimError::Crypto("RSA key encoding"))?;
                Ok(der.as_ref().to_vec())
            })?;
            RsaKeyPair::from_pkcs8(&pk8).map_err(|_| SimError::CorruptCache {
                path: dir.path(name),
                what: "RSA private key",
            })
        };
        let ark_key = rsa(ARK_KEY)?;
        let ask_key = rsa(ASK_KEY)?;
        let pk8 = dir.get_or_create(VCEK_KEY, || {
            let key = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING)
                .map_err(|_| SimError::Crypto("P-384 key generation"))?;
            let doc = key
                .to_pkcs8v1()
                .map_err(|_| SimError::Crypto("P-384 key encoding"))?;
            Ok(doc.as_ref().to_vec())
        })?;
        let vcek_key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &pk8).map_err(|_| {
                SimError::CorruptCache {
                    path: dir.path(VCEK_KEY),
                    what: "P-384 private key",
                }
            })?;

        drop(making);

        // A day in the past, so a verifier with a slightly slow clock accepts new certificates.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_sub(86_400);
        let product = config.product;
        let ark_der = cached_cert(&dir, ARK_CERT, &ark_key, &ark_key, || {
            certs::mint_ark(product, &ark_key, now)
        })?;
        let ask_der = cached_cert(&dir, ASK_CERT, &ask_key, &ark_key, || {
            certs::mint_ask(product, &ask_key, &ark_key, now)
        })?;

        let point = vcek_key.public_key().as_ref().to_vec();
        let chip_id = chip_id_for(product, &point);
        let hw_id = hw_id(product, &chip_id);
        let tcb = config.tcb_version();
        let vcek_name = format!("vcek-{:016x}.der", tcb.raw());
        let vcek_der = dir
            .get_or_create(&vcek_name, || {
                certs::mint_vcek(product, &point, hw_id, config.tcb, &ask_key, now)
            })?
            .to_vec();
        let spki = certs::ec_spki(&point)?;
        let vcek_der = if signed_by(&vcek_der, &ask_key) && cert_spki(&vcek_der) == Some(&spki[..])
        {
            vcek_der
        } else {
            let fresh = certs::mint_vcek(product, &point, hw_id, config.tcb, &ask_key, now)?;
            dir.replace(&vcek_name, &fresh)?;
            fresh
        };

        let mut report_id = [0u8; size::REPORT_ID];
        SystemRandom::new()
            .fill(&mut report_id)
            .map_err(|_| SimError::Crypto("random REPORT_ID"))?;
        let entries: [(Guid, &[u8]); 3] = [
            (Guid::VCEK, &vcek_der),
            (Guid::ASK, &ask_der),
            (Guid::ARK, &ark_der),
        ];
        let mut cert_table = vec![
            0u8;
            (entries.len() + 1) * certtable::ENTRY_SIZE
                + vcek_der.len()
                + ask_der.len()
                + ark_der.len()
        ];
        let n = certtable::encode_into(&entries, &mut cert_table)
            .map_err(|_| SimError::Crypto("certificate table"))?;
        cert_table.truncate(n);
        Ok(Platform {
            config,
            vcek_key,
            ark_der,
            ask_der,
            vcek_der,
            chip_id,
            report_id,
            cert_table,
        })
    }

    /// A platform with its keys in the default cache ([`KeyCache::open_default`]).
    pub fn with_default_cache(config: PlatformConfig) -> Result<Platform, SimError> {
        Self::new(config, &KeyCache::open_default()?)
    }

    /// The configuration.
    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }
    /// The product.
    pub fn product(&self) -> Product {
        self.config.product
    }
    /// ARK, ASK and VCEK as DER.
    pub fn chain(&self) -> Chain<'_> {
        Chain {
            ark: &self.ark_der,
            ask: &self.ask_der,
            vcek: &self.vcek_der,
        }
    }
    /// The root to pin when verifying this platform's reports.
    pub fn ark_der(&self) -> &[u8] {
        &self.ark_der
    }
    /// CHIP_ID of the reports (Turin: 8 significant bytes, then zeros).
    pub fn chip_id(&self) -> &[u8; size::CHIP_ID] {
        &self.chip_id
    }
    /// REPORTED_TCB of the reports, which the VCEK's SPL extensions carry.
    pub fn reported_tcb(&self) -> TcbVersion {
        self.config.tcb_version()
    }
    /// The VCEK public key as an uncompressed SEC1 point (97 bytes).
    pub fn vcek_public_key(&self) -> &[u8] {
        self.vcek_key.public_key().as_ref()
    }
    /// The extended-report certificate table (VCEK, ASK, ARK), as a host would supply it.
    pub fn cert_table(&self) -> &[u8] {
        &self.cert_table
    }

    /// A signed report for `request`.
    pub fn report(&self, request: &ReportRequest) -> Result<[u8; REPORT_SIZE], SimError> {
        if request.vmpl < self.config.guest_vmpl {
            return Err(SimError::VmplBelowFloor {
                requested: request.vmpl.get(),
                floor: self.config.guest_vmpl.get(),
            });
        }
        let c = &self.config;
        let tcb = U64::new(c.tcb_version().raw());
        let mut r = RawReport::new_zeroed();
        r.version = U32::new(c.version);
        r.guest_svn = U32::new(c.guest_svn);
        r.policy = U64::new(c.guest_policy);
        r.family_id = c.family_id;
        r.image_id = c.image_id;
        r.vmpl = U32::new(request.vmpl.get().into());
        r.signature_algo = U32::new(abi::SIG_ALGO_ECDSA_P384_SHA384);
        r.current_tcb = tcb;
        r.platform_info = U64::new(c.platform_info);
        r.report_data = request.report_data;
        r.measurement = c.measurement;
        r.host_data = c.host_data;
        r.report_id = self.report_id;
        r.report_id_ma = [0xFF; size::REPORT_ID];
        r.reported_tcb = tcb;
        if c.version >= abi::REPORT_VERSION_CPUID {
            (r.cpuid_fam_id, r.cpuid_mod_id, r.cpuid_step) = cpuid(c.product);
        }
        r.chip_id = self.chip_id;
        r.committed_tcb = tcb;
        let (major, minor, build) = firmware(c.product);
        (r.current_major, r.current_minor, r.current_build) = (major, minor, build);
        (r.committed_major, r.committed_minor, r.committed_build) = (major, minor, build);
        r.launch_tcb = tcb;
        if c.version >= abi::REPORT_VERSION_MIT_VECTORS {
            r.launch_mit_vector = U64::new(c.mit_vector);
            r.current_mit_vector = U64::new(c.mit_vector);
        }
        let mut out = [0u8; REPORT_SIZE];
        out.copy_from_slice(r.as_bytes());
        self.sign(&mut out)?;
        Ok(out)
    }

    /// (Re)signs `report` in place with the VCEK key: for tests that need a validly signed
    /// report with chosen contents.
    pub fn sign(&self, report: &mut [u8; REPORT_SIZE]) -> Result<(), SimError> {
        let (signed, sig) = report.split_at_mut(abi::SIGNED_LEN);
        let rs = self
            .vcek_key
            .sign(&SystemRandom::new(), signed)
            .map_err(|_| SimError::Crypto("ECDSA P-384 signing the report"))?;
        let rs = rs.as_ref();
        let (r, s) = rs.split_at(abi::P384_SCALAR_SIZE);
        sig.fill(0);
        // AMD's format: each component little-endian, zero-extended to 72 bytes.
        let (r_le, rest) = sig.split_at_mut(abi::ECDSA_COMPONENT_SIZE);
        for (d, b) in r_le.iter_mut().zip(r.iter().rev()) {
            *d = *b;
        }
        for (d, b) in rest.iter_mut().zip(s.iter().rev()) {
            *d = *b;
        }
        Ok(())
    }
}

impl ReportSource for Platform {
    type Error = SimError;

    fn name(&self) -> &'static str {
        "simulated"
    }

    fn simulated(&self) -> bool {
        true
    }

    async fn report(
        &self,
        request: &ReportRequest,
        out: &mut [u8; REPORT_SIZE],
    ) -> Result<(), SimError> {
        *out = Platform::report(self, request)?;
        Ok(())
    }

    async fn extended_report(
        &self,
        request: &ReportRequest,
        out: &mut [u8; REPORT_SIZE],
        certs: &mut [u8],
    ) -> Result<usize, SimError> {
        let table = &self.cert_table;
        let Some(dest) = certs.get_mut(..table.len()) else {
            return Err(SimError::CertsBufferTooSmall {
                needed: table.len(),
                given: certs.len(),
            });
        };
        *out = Platform::report(self, request)?;
        dest.copy_from_slice(table);
        Ok(table.len())
    }
}

/// A chip id derived from the VCEK key, so it is stable for a cache directory: SHA-512 of a
/// label and the key. Turin parts report only 8 bytes (their hwID), the rest zero.
fn chip_id_for(product: Product, point: &[u8]) -> [u8; size::CHIP_ID] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA512);
    ctx.update(b"csc-simulate chip id");
    ctx.update(point);
    let mut id = [0u8; size::CHIP_ID];
    id.copy_from_slice(ctx.finish().as_ref());
    if product == Product::Turin {
        id[size::TURIN_HWID..].fill(0);
    }
    id
}

/// The hwID a VCEK certificate carries: all 64 bytes of CHIP_ID, or 8 on Turin.
fn hw_id(product: Product, chip_id: &[u8; size::CHIP_ID]) -> &[u8] {
    if product == Product::Turin {
        &chip_id[..size::TURIN_HWID]
    } else {
        chip_id
    }
}

/// A cached certificate of `subject`'s key signed by `issuer`; re-minted if the cached one does
/// not match the keys (they were replaced).
fn cached_cert(
    dir: &KeyCache,
    name: &str,
    subject: &RsaKeyPair,
    issuer: &RsaKeyPair,
    mint: impl Fn() -> Result<Vec<u8>, SimError>,
) -> Result<Vec<u8>, SimError> {
    let der = dir.get_or_create(name, &mint)?.to_vec();
    let spki = certs::rsa_spki(subject)?;
    if cert_spki(&der) == Some(&spki[..]) && signed_by(&der, issuer) {
        return Ok(der);
    }
    let fresh = mint()?;
    dir.replace(name, &fresh)?;
    Ok(fresh)
}

/// The parts of a certificate: TBS bytes, SPKI, signature.
fn cert_parts(der: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    use csc_core::der::{read_single, tag};
    let mut cert = read_single(der, tag::SEQUENCE).ok()?.contents();
    let tbs = cert.read(tag::SEQUENCE).ok()?;
    cert.read(tag::SEQUENCE).ok()?;
    let sig = cert.read(tag::BIT_STRING).ok()?.bit_string_bytes().ok()?;
    let mut t = tbs.contents();
    t.read(tag::context(0)).ok()?;
    for _ in 0..5 {
        // serial, signature algorithm, issuer, validity, subject
        t.read_any().ok()?;
    }
    let spki = t.read(tag::SEQUENCE).ok()?;
    Some((tbs.raw, spki.raw, sig))
}

fn cert_spki(der: &[u8]) -> Option<&[u8]> {
    cert_parts(der).map(|(_, spki, _)| spki)
}

/// True if `der` is signed by `issuer` with RSASSA-PSS SHA-384.
pub(crate) fn signed_by(der: &[u8], issuer: &RsaKeyPair) -> bool {
    let Some((tbs, _, sig)) = cert_parts(der) else {
        return false;
    };
    UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA384, issuer.public_key().as_ref())
        .verify(tbs, sig)
        .is_ok()
}
