//! AMD KDS and Azure AzCache URLs. Pure functions: no I/O, so the emulator and tests can check
//! them byte for byte.

use csc_core::hex::Hex;
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
}

/// The hardware id KDS indexes VCEKs by: the 64-byte CHIP_ID on Milan and Genoa, its first
/// 8 bytes on Turin.
pub fn hwid(product: Product, chip_id: &[u8]) -> &[u8] {
    match product {
        Product::Turin => chip_id.get(..8).unwrap_or(chip_id),
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

/// Parses the SPL query of a VCEK URL back into a TCB (used by the emulator).
pub fn tcb_from_query(product: Product, query: &str) -> Option<TcbVersion> {
    let mut parts = TcbParts::default();
    let mut seen = 0u8;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=')?;
        let v: u8 = v.parse().ok()?;
        match k {
            "fmcSPL" => parts.fmc = Some(v),
            "blSPL" => parts.bootloader = v,
            "teeSPL" => parts.tee = v,
            "snpSPL" => parts.snp = v,
            "ucodeSPL" => parts.microcode = v,
            _ => return None,
        }
        seen += 1;
    }
    let needed = if product == Product::Turin { 5 } else { 4 };
    if seen != needed || (product != Product::Turin && parts.fmc.is_some()) {
        return None;
    }
    Some(TcbVersion::from_parts(parts, product.tcb_layout()))
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
