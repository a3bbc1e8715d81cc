//! The certificate cache: chains keyed by (product, hwID, TCB), issuing chains keyed by
//! (product, key kind); in memory, and optionally as files that survive restarts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use csc_core::hex::Hex;
use csc_core::report::Product;

use super::{CertChain, KeyKind};

type Key = (Product, Vec<u8>, u64);

/// Cached certificates.
#[derive(Debug, Default)]
pub struct CertCache {
    chains: Mutex<HashMap<Key, Arc<CertChain>>>,
    issuers: Mutex<HashMap<(Product, KeyKind), String>>,
    dir: Option<PathBuf>,
}

const SEPARATOR: &str = "# csc-chain\n";

impl CertCache {
    /// In memory only.
    pub fn memory() -> Self {
        CertCache::default()
    }

    /// In memory and as files in `dir`.
    pub fn on_disk(dir: PathBuf) -> Self {
        CertCache {
            dir: Some(dir),
            ..CertCache::default()
        }
    }

    fn file(&self, product: Product, hwid: &[u8], tcb: u64) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}-{}-{tcb:016x}.pem", product.name(), Hex(hwid))))
    }

    /// A cached chain.
    pub fn get(&self, product: Product, hwid: &[u8], tcb: u64) -> Option<Arc<CertChain>> {
        let key = (product, hwid.to_vec(), tcb);
        if let Some(hit) = self.lock_chains().get(&key) {
            return Some(hit.clone());
        }
        let text = std::fs::read_to_string(self.file(product, hwid, tcb)?).ok()?;
        let (leaf, chain) = text.split_once(SEPARATOR)?;
        let chain = Arc::new(CertChain {
            leaf_pem: leaf.to_string(),
            chain_pem: chain.to_string(),
            tcb,
        });
        self.lock_chains().insert(key, chain.clone());
        Some(chain)
    }

    /// Stores a chain (a failure to write the file only costs a later re-fetch).
    pub fn put(&self, product: Product, hwid: &[u8], tcb: u64, chain: Arc<CertChain>) {
        if let Some(path) = self.file(product, hwid, tcb) {
            let text = format!("{}{SEPARATOR}{}", chain.leaf_pem, chain.chain_pem);
            if let Err(e) = write_atomically(&path, text.as_bytes()) {
                tracing::warn!(path = %path.display(), error = %e, "certificate cache not written");
            }
        }
        self.lock_chains()
            .insert((product, hwid.to_vec(), tcb), chain);
    }

    /// A cached issuing chain.
    pub fn get_chain(&self, product: Product, kind: KeyKind) -> Option<String> {
        self.issuers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(product, kind))
            .cloned()
    }

    /// Stores an issuing chain (memory only: it is small and shared by all chips).
    pub fn put_chain(&self, product: Product, kind: KeyKind, pem: String) {
        self.issuers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((product, kind), pem);
    }

    /// Number of chains held in memory.
    pub fn len(&self) -> usize {
        self.lock_chains().len()
    }

    /// Nothing cached in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock_chains(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<CertChain>>> {
        self.chains.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_cache_survives_a_new_instance() {
        let dir = tempfile::tempdir().unwrap();
        let chain = Arc::new(CertChain {
            leaf_pem: "LEAF\n".into(),
            chain_pem: "ASK\nARK\n".into(),
            tcb: 9,
        });
        let a = CertCache::on_disk(dir.path().join("certs"));
        a.put(Product::Turin, &[1, 2], 9, chain.clone());
        assert_eq!(a.len(), 1);
        let b = CertCache::on_disk(dir.path().join("certs"));
        assert!(b.is_empty());
        assert_eq!(b.get(Product::Turin, &[1, 2], 9).unwrap(), chain);
        assert!(b.get(Product::Turin, &[1, 2], 10).is_none());
        assert!(b.get(Product::Milan, &[1, 2], 9).is_none());
        assert!(
            CertCache::memory()
                .get(Product::Turin, &[1, 2], 9)
                .is_none()
        );
    }
}
