//! AMD KDS and Azure AzCache URLs, both ways: the client builds them, the emulator reads them
//! back ([`parse_request`]) with the same rules. Pure functions: no I/O, so tests can check them
//! byte for byte.

use csc_core::hex::Hex;

use crate::gocompat::decode_hex;
use csc_core::report::{Product, TcbParts, TcbVersion};

/// AMD's public KDS.
pub const AMD_KDS_BASE: &str = "https://kdsintf.amd.com";
/// Azure's certificate cache host (upstream default).
pub const AZCACHE_BASE: &str = "https://global.acccache.azure.net";
/// The IMDS THIM certification URL.
pub const THIM_URL: &str = "http://169.254.169.254/metadata/THIM/amd/certification";

/// Which key the certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// Versioned Chip Endorsement Key (per chip and TCB).
    Vcek,
    /// Versioned Loaded Endorsement Key (per cloud provider; chain ASVK -> ARK).
    Vlek,
}

impl KeyKind {
    /// The KDS path segment.
    pub const fn path(self) -> &'static str {
        match self {
            KeyKind::Vcek => "vcek",
            KeyKind::Vlek => "vlek",
        }
    }

    /// The kind a KDS path segment names.
    pub fn from_path(segment: &str) -> Option<Self> {
        [KeyKind::Vcek, KeyKind::Vlek]
            .into_iter()
            .find(|k| k.path() == segment)
    }
}

/// Bytes of the hardware id KDS indexes a product's VCEKs by.
pub const fn hwid_len(product: Product) -> usize {
    match product {
        Product::Turin => 8,
        Product::Milan | Product::Genoa => 64,
    }
}

/// The hardware id KDS indexes VCEKs by: the 64-byte CHIP_ID on Milan and Genoa, its first
/// 8 bytes on Turin.
pub fn hwid(product: Product, chip_id: &[u8]) -> &[u8] {
    match product {
        Product::Turin => chip_id.get(..hwid_len(product)).unwrap_or(chip_id),
        Product::Milan | Product::Genoa => chip_id,
    }
}

/// `{base}/vcek/v1/{product}/{hwid}?[fmcSPL=..&]blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..`,
/// SPL values in decimal from the report's REPORTED_TCB.
pub fn vcek_url(base: &str, product: Product, hwid: &[u8], tcb: TcbVersion) -> String {
    let p = tcb.parts();
    let fmc = match p.fmc {
        Some(f) if product == Product::Turin => format!("fmcSPL={f}&"),
        _ => String::new(),
    };
    format!(
        "{}/vcek/v1/{}/{}?{fmc}blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
        base.trim_end_matches('/'),
        product.name(),
        Hex(hwid),
        p.bootloader,
        p.tee,
        p.snp,
        p.microcode
    )
}

/// `{base}/{vcek|vlek}/v1/{product}/cert_chain` (PEM: ASK or ASVK, then ARK).
pub fn cert_chain_url(base: &str, kind: KeyKind, product: Product) -> String {
    format!(
        "{}/{}/v1/{}/cert_chain",
        base.trim_end_matches('/'),
        kind.path(),
        product.name()
    )
}

/// `{base}/{vcek|vlek}/v1/{product}/crl` (DER CRL signed by the ARK).
pub fn crl_url(base: &str, kind: KeyKind, product: Product) -> String {
    format!(
        "{}/{}/v1/{}/crl",
        base.trim_end_matches('/'),
        kind.path(),
        product.name()
    )
}

/// AzCache: `{base}/{tee_type}/certificates/{chip_id}/{tcb hex}?{api_version}[&{client_id}]`
/// where `api_version` and `client_id` are whole query fragments, as in upstream's config.
pub fn azcache_url(
    base: &str,
    tee_type: &str,
    chip_id: &[u8],
    tcb: u64,
    api_version: &str,
    client_id: &str,
) -> String {
    let mut url = format!(
        "{}/{}/certificates/{}/{:x}?{}",
        base.trim_end_matches('/'),
        tee_type,
        Hex(chip_id),
        tcb,
        api_version
    );
    if !client_id.is_empty() {
        url.push('&');
        url.push_str(client_id);
    }
    url
}

/// The SPL query parameters of a VCEK URL, in the order [`vcek_url`] writes them.
const SPL_NAMES: [&str; 5] = ["fmcSPL", "blSPL", "teeSPL", "snpSPL", "ucodeSPL"];

/// Parses the SPL query of a VCEK URL back into a TCB: every SPL of the product's layout
/// exactly once (`fmcSPL` only on Turin), each a decimal byte, nothing else.
pub fn tcb_from_query(product: Product, query: &str) -> Option<TcbVersion> {
    let turin = product == Product::Turin;
    let mut values: [Option<u8>; 5] = [None; 5];
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=')?;
        let i = SPL_NAMES.iter().position(|n| *n == k)?;
        let slot = values.get_mut(i)?;
        if slot.is_some() || (i == 0 && !turin) {
            return None;
        }
        *slot = Some(v.parse().ok()?);
    }
    let [fmc, bootloader, tee, snp, microcode] = values;
    if turin && fmc.is_none() {
        return None;
    }
    let parts = TcbParts {
        fmc,
        bootloader: bootloader?,
        tee: tee?,
        snp: snp?,
        microcode: microcode?,
    };
    Some(TcbVersion::from_parts(parts, product.tcb_layout()))
}

/// What a KDS or AzCache URL asks for (what [`vcek_url`], [`cert_chain_url`], [`crl_url`] and
/// [`azcache_url`] build).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KdsRequest {
    /// `/vcek/v1/{product}/{hwid}?{SPLs}`.
    Vcek {
        /// The product.
        product: Product,
        /// The hardware id (64 bytes, 8 on Turin).
        hwid: Vec<u8>,
        /// The TCB the SPLs name.
        tcb: TcbVersion,
    },
    /// `/{vcek|vlek}/v1/{product}/cert_chain`.
    CertChain {
        /// VCEK or VLEK chain.
        kind: KeyKind,
        /// The product.
        product: Product,
    },
    /// `/{vcek|vlek}/v1/{product}/crl`.
    Crl {
        /// VCEK or VLEK CRL.
        kind: KeyKind,
        /// The product.
        product: Product,
    },
    /// AzCache: `/{tee_type}/certificates/{chip_id hex}/{tcb hex}`.
    AzCache {
        /// The whole CHIP_ID.
        chip_id: Vec<u8>,
        /// The TCB, raw.
        tcb: u64,
    },
}

/// Why a URL is not a KDS or AzCache request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KdsPathError {
    /// Neither a KDS nor an AzCache path.
    #[error("unknown KDS path")]
    UnknownPath,
    /// A KDS path naming a product or key kind that does not exist.
    #[error("unknown product or key type")]
    UnknownProductOrKind,
    /// A VLEK asked for by chip (VLEKs are per cloud provider).
    #[error("VLEKs are not served per chip")]
    VlekPerChip,
    /// The hardware id is not hex of the product's length.
    #[error("hwid must be {len} bytes of hex")]
    HardwareId {
        /// Bytes the product's hardware id has.
        len: usize,
    },
    /// The SPL query is not the product's set of SPLs.
    #[error("bad or missing SPL parameters")]
    Spl,
    /// The AzCache chip id or TCB is not hex.
    #[error("bad chip id or TCB")]
    AzCache,
}

/// Reads a request path (without the query) and its query back into what it asks for.
pub fn parse_request(path: &str, query: &str) -> Result<KdsRequest, KdsPathError> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [kind, "v1", product, what] => {
            let (Some(kind), Some(product)) =
                (KeyKind::from_path(kind), Product::from_name(product))
            else {
                return Err(KdsPathError::UnknownProductOrKind);
            };
            match *what {
                "cert_chain" => Ok(KdsRequest::CertChain { kind, product }),
                "crl" => Ok(KdsRequest::Crl { kind, product }),
                _ if kind == KeyKind::Vlek => Err(KdsPathError::VlekPerChip),
                id => {
                    let len = hwid_len(product);
                    let hwid = decode_hex(id)
                        .filter(|h| h.len() == len)
                        .ok_or(KdsPathError::HardwareId { len })?;
                    let tcb = tcb_from_query(product, query).ok_or(KdsPathError::Spl)?;
                    Ok(KdsRequest::Vcek { product, hwid, tcb })
                }
            }
        }
        [_tee, "certificates", chip, tcb] => {
            match (decode_hex(chip), u64::from_str_radix(tcb, 16)) {
                (Some(chip_id), Ok(tcb)) => Ok(KdsRequest::AzCache { chip_id, tcb }),
                _ => Err(KdsPathError::AzCache),
            }
        }
        _ => Err(KdsPathError::UnknownPath),
    }
}

/// Reads a VCEK file name of the emulator's certificate directory, `<hwid hex>-<tcb hex>`.
pub fn parse_vcek_file_stem(stem: &str) -> Option<(Vec<u8>, u64)> {
    let (id, tcb) = stem.rsplit_once('-')?;
    Some((decode_hex(id)?, u64::from_str_radix(tcb, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use csc_core::report::TcbLayout;

    #[test]
    fn milan_url_uses_decimal_spls_of_reported_tcb() {
        let tcb = TcbVersion::new(0x7308000000000003, TcbLayout::Zen3Zen4);
        let url = vcek_url(AMD_KDS_BASE, Product::Milan, &[0xab; 64], tcb);
        assert_eq!(
            url,
            format!(
                "https://kdsintf.amd.com/vcek/v1/Milan/{}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115",
                "ab".repeat(64)
            )
        );
        let q = url.split_once('?').unwrap().1;
        assert_eq!(tcb_from_query(Product::Milan, q), Some(tcb));
    }

    #[test]
    fn turin_url_has_fmc_and_8_byte_hwid() {
        let parts = TcbParts {
            fmc: Some(1),
            bootloader: 2,
            tee: 3,
            snp: 4,
            microcode: 5,
        };
        let tcb = TcbVersion::from_parts(parts, TcbLayout::Zen5);
        let chip = [7u8; 64];
        let url = vcek_url(
            "https://k/",
            Product::Turin,
            hwid(Product::Turin, &chip),
            tcb,
        );
        assert_eq!(
            url,
            "https://k/vcek/v1/Turin/0707070707070707?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=5"
        );
        assert_eq!(
            tcb_from_query(Product::Turin, url.split_once('?').unwrap().1),
            Some(tcb)
        );
        assert_eq!(
            tcb_from_query(Product::Turin, "blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=5"),
            None
        );
        assert_eq!(
            tcb_from_query(Product::Milan, "fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4"),
            None
        );
        assert_eq!(
            tcb_from_query(Product::Milan, "blSPL=999&teeSPL=3&snpSPL=4&ucodeSPL=5"),
            None
        );
        // Each SPL once: a repeated one is refused, however often it comes.
        assert_eq!(
            tcb_from_query(Product::Milan, "blSPL=2&blSPL=2&snpSPL=4&ucodeSPL=5"),
            None
        );
        let many = vec!["blSPL=1"; 300].join("&");
        assert_eq!(tcb_from_query(Product::Milan, &many), None);
    }

    #[test]
    fn requests_read_back_what_the_builders_write() {
        let tcb = TcbVersion::new(0x7308000000000003, TcbLayout::Zen3Zen4);
        let split = |url: &str| {
            let rest = url.strip_prefix(AMD_KDS_BASE).unwrap().to_string();
            let (path, query) = rest.split_once('?').unwrap_or((&rest, ""));
            parse_request(path, query)
        };
        assert_eq!(
            split(&vcek_url(AMD_KDS_BASE, Product::Milan, &[0xab; 64], tcb)),
            Ok(KdsRequest::Vcek {
                product: Product::Milan,
                hwid: vec![0xab; 64],
                tcb
            })
        );
        for kind in [KeyKind::Vcek, KeyKind::Vlek] {
            assert_eq!(
                split(&cert_chain_url(AMD_KDS_BASE, kind, Product::Genoa)),
                Ok(KdsRequest::CertChain {
                    kind,
                    product: Product::Genoa
                })
            );
            assert_eq!(
                split(&crl_url(AMD_KDS_BASE, kind, Product::Turin)),
                Ok(KdsRequest::Crl {
                    kind,
                    product: Product::Turin
                })
            );
        }
        let az = azcache_url(AZCACHE_BASE, "SevSnpVM", &[1, 2], 0x18, "api-version=1", "");
        let rest = az.strip_prefix(AZCACHE_BASE).unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        assert_eq!(
            parse_request(path, query),
            Ok(KdsRequest::AzCache {
                chip_id: vec![1, 2],
                tcb: 0x18
            })
        );
        for (path, query, want) in [
            ("/vcek/v1/Rome/ab", "", KdsPathError::UnknownProductOrKind),
            ("/vlek/v1/Milan/ab", "", KdsPathError::VlekPerChip),
            (
                "/vcek/v1/Turin/abab",
                "",
                KdsPathError::HardwareId { len: 8 },
            ),
            (
                "/vcek/v1/Milan/zz",
                "",
                KdsPathError::HardwareId { len: 64 },
            ),
            (
                "/vcek/v1/Turin/0707070707070707",
                "blSPL=1",
                KdsPathError::Spl,
            ),
            ("/SevSnpVM/certificates/0x/18", "", KdsPathError::AzCache),
            ("/other", "", KdsPathError::UnknownPath),
        ] {
            assert_eq!(parse_request(path, query), Err(want), "{path}?{query}");
        }
        assert_eq!(
            parse_vcek_file_stem("abab-7308000000000003"),
            Some((vec![0xab, 0xab], 0x7308000000000003))
        );
        assert_eq!(parse_vcek_file_stem("zz-1"), None);
    }

    #[test]
    fn chain_crl_and_azcache_urls() {
        assert_eq!(
            cert_chain_url(AMD_KDS_BASE, KeyKind::Vlek, Product::Genoa),
            "https://kdsintf.amd.com/vlek/v1/Genoa/cert_chain"
        );
        assert_eq!(
            crl_url(AMD_KDS_BASE, KeyKind::Vcek, Product::Milan),
            "https://kdsintf.amd.com/vcek/v1/Milan/crl"
        );
        assert_eq!(
            azcache_url(
                AZCACHE_BASE,
                "SevSnpVM",
                &[1, 2],
                0x0400000000000018,
                "api-version=2020-10-15-preview",
                "clientId=ConfidentialACI"
            ),
            "https://global.acccache.azure.net/SevSnpVM/certificates/0102/400000000000018?api-version=2020-10-15-preview&clientId=ConfidentialACI"
        );
    }
}
