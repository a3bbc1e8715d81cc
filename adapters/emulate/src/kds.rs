//! AMD KDS (and AzCache, THIM) as the emulator serves them: certificates given to it as
//! configuration, keyed by product, hardware id and TCB.

use std::collections::HashMap;
use std::path::Path;

use csc_azure::certs::kds::{KdsPathError, KdsRequest, parse_request, parse_vcek_file_stem};
use csc_core::report::{Product, Report};
use http::StatusCode;

use crate::EmulateError;
use crate::http::{Reply, Req};

/// Which endorsement key (the client's type: one KDS URL model for both sides).
pub use csc_azure::certs::KeyKind;
/// The hardware id KDS uses: all of CHIP_ID, or its first 8 bytes on Turin.
pub use csc_azure::certs::kds::hwid;

/// Certificates the emulated KDS serves.
#[derive(Debug, Clone, Default)]
pub struct KdsStore {
    vceks: HashMap<(Product, Vec<u8>, u64), Vec<u8>>,
    chains: HashMap<(Product, KeyKind), String>,
    crls: HashMap<(Product, KeyKind), Vec<u8>>,
}

impl KdsStore {
    /// Empty.
    pub fn new() -> Self {
        KdsStore::default()
    }

    /// Serves `vcek_der` for (product, hwid, tcb).
    pub fn insert_vcek(&mut self, product: Product, hwid: &[u8], tcb: u64, vcek_der: Vec<u8>) {
        self.vceks.insert((product, hwid.to_vec(), tcb), vcek_der);
    }

    /// Serves `vcek_der` for the chip and REPORTED_TCB of `report`; `product` is used when
    /// the report does not name its CPU (version 2).
    pub fn insert_vcek_for_report(
        &mut self,
        report: &[u8],
        product: Product,
        vcek_der: Vec<u8>,
    ) -> Result<(), EmulateError> {
        let r = Report::parse_with_product(report, Some(product))
            .or_else(|_| Report::parse(report))
            .map_err(|e| EmulateError::Config(format!("report: {e}")))?;
        let product = r.product().unwrap_or(product);
        let id = hwid(product, r.chip_id());
        self.insert_vcek(product, id, r.reported_tcb().raw(), vcek_der);
        Ok(())
    }

    /// Serves `pem` (ASK or ASVK, then ARK) as the product's cert_chain.
    pub fn insert_chain(&mut self, product: Product, kind: KeyKind, pem: String) {
        self.chains.insert((product, kind), pem);
    }

    /// Serves `der` as the product's CRL.
    pub fn insert_crl(&mut self, product: Product, kind: KeyKind, der: Vec<u8>) {
        self.crls.insert((product, kind), der);
    }

    /// Loads a directory laid out as
    /// `<Product>/cert_chain.pem`, `<Product>/vlek_cert_chain.pem`, `<Product>/crl.der`,
    /// `<Product>/vlek_crl.der` and `<Product>/vcek/<hwid hex>-<tcb as 16 hex digits>.der`
    /// (or `.pem`); anything missing is simply not served.
    pub fn from_dir(dir: &Path) -> Result<Self, EmulateError> {
        let mut store = KdsStore::new();
        let io =
            |p: &Path, e: std::io::Error| EmulateError::Config(format!("{}: {e}", p.display()));
        for product in Product::ALL {
            let pd = dir.join(product.name());
            if !pd.is_dir() {
                continue;
            }
            for (file, kind) in [
                ("cert_chain.pem", KeyKind::Vcek),
                ("vlek_cert_chain.pem", KeyKind::Vlek),
            ] {
                let p = pd.join(file);
                if p.exists() {
                    let pem = std::fs::read_to_string(&p).map_err(|e| io(&p, e))?;
                    store.insert_chain(product, kind, pem);
                }
            }
            for (file, kind) in [("crl.der", KeyKind::Vcek), ("vlek_crl.der", KeyKind::Vlek)] {
                let p = pd.join(file);
                if p.exists() {
                    store.insert_crl(product, kind, std::fs::read(&p).map_err(|e| io(&p, e))?);
                }
            }
            let vd = pd.join("vcek");
            if !vd.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(&vd).map_err(|e| io(&vd, e))? {
                let p = entry.map_err(|e| io(&vd, e))?.path();
                let Some(stem) = p.file_stem().and_then(|s| s.to_str()) else {
                    continue;
                };
                if !stem.contains('-') {
                    continue;
                }
                let Some((id, tcb)) = parse_vcek_file_stem(stem) else {
                    return Err(EmulateError::Config(format!(
                        "{}: name is not <hwid hex>-<tcb hex>",
                        p.display()
                    )));
                };
                let bytes = std::fs::read(&p).map_err(|e| io(&p, e))?;
                let der = if p.extension().is_some_and(|e| e == "pem") {
                    pem_to_der(&bytes).ok_or_else(|| {
                        EmulateError::Config(format!("{}: no PEM certificate", p.display()))
                    })?
                } else {
                    bytes
                };
                store.insert_vcek(product, &id, tcb, der);
            }
        }
        Ok(store)
    }

    /// Number of VCEKs held.
    pub fn vcek_count(&self) -> usize {
        self.vceks.len()
    }

    /// KDS routes: `/{vcek|vlek}/v1/{product}/{hwid|cert_chain|crl}`, and AzCache's
    /// `/{tee}/certificates/{chip}/{tcb hex}`, read by the client's own URL model.
    pub fn handle(&self, req: &Req) -> Reply {
        match parse_request(&req.path, &req.query) {
            Ok(KdsRequest::CertChain { kind, product }) => {
                match self.chains.get(&(product, kind)) {
                    Some(pem) => Reply::bytes("application/x-pem-file", pem.clone()),
                    None => not_found("no cert_chain for this product"),
                }
            }
            Ok(KdsRequest::Crl { kind, product }) => match self.crls.get(&(product, kind)) {
                Some(der) => Reply::bytes("application/pkix-crl", der.clone()),
                None => not_found("no CRL for this product"),
            },
            Ok(KdsRequest::Vcek { product, hwid, tcb }) => {
                match self.vceks.get(&(product, hwid, tcb.raw())) {
                    Some(der) => Reply::bytes("application/pkix-cert", der.clone()),
                    None => not_found("no VCEK for this chip and TCB"),
                }
            }
            Ok(KdsRequest::AzCache { chip_id, tcb }) => self.azcache(&chip_id, tcb),
            Err(
                e @ (KdsPathError::HardwareId { .. } | KdsPathError::Spl | KdsPathError::AzCache),
            ) => bad_request(&e.to_string()),
            Err(e) => not_found(&e.to_string()),
        }
    }

    fn azcache(&self, chip: &[u8], tcb: u64) -> Reply {
        for ((product, id, t), der) in &self.vceks {
            if *t == tcb && hwid(*product, chip) == id.as_slice() {
                let chain = self
                    .chains
                    .get(&(*product, KeyKind::Vcek))
                    .cloned()
                    .unwrap_or_default();
                let pem = format!("{}{chain}", der_to_pem(der));
                return Reply::bytes("application/x-pem-file", pem);
            }
        }
        not_found("no certificate for this chip and TCB")
    }
}

fn not_found(msg: &str) -> Reply {
    Reply {
        status: StatusCode::NOT_FOUND,
        content_type: "text/plain",
        body: msg.to_string().into(),
        headers: Vec::new(),
    }
}

fn bad_request(msg: &str) -> Reply {
    Reply {
        status: StatusCode::BAD_REQUEST,
        content_type: "text/plain",
        body: msg.to_string().into(),
        headers: Vec::new(),
    }
}

/// DER to a PEM CERTIFICATE block.
pub fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(line));
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

/// The first PEM CERTIFICATE block, as DER.
pub fn pem_to_der(pem: &[u8]) -> Option<Vec<u8>> {
    rustls_pemfile::certs(&mut &pem[..])
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

/// Every PEM CERTIFICATE block, as DER.
pub fn pem_to_ders(pem: &[u8]) -> Vec<Vec<u8>> {
    rustls_pemfile::certs(&mut &pem[..])
        .filter_map(|c| c.ok().map(|c| c.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_layout_loads() {
        let d = tempfile::tempdir().unwrap();
        let vd = d.path().join("Milan/vcek");
        std::fs::create_dir_all(&vd).unwrap();
        std::fs::write(d.path().join("Milan/cert_chain.pem"), "PEM").unwrap();
        std::fs::write(
            vd.join(format!("{}-7308000000000003.der", "ab".repeat(64))),
            [1, 2],
        )
        .unwrap();
        let s = KdsStore::from_dir(d.path()).unwrap();
        assert_eq!(s.vcek_count(), 1);
        std::fs::write(vd.join("zz-1.der"), [1]).unwrap();
        assert!(KdsStore::from_dir(d.path()).is_err());
    }
}
