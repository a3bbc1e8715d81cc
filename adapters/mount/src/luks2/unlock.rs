//! Opening a keyslot with the key file and checking the volume key against the digest.

use zeroize::Zeroizing;

use super::error::UnlockError;
use super::hash::{af_merge, ct_eq};
use super::model::{Kdf, Keyslot, Luks2Header};
use crate::store::BlockStore;
use crate::xts::Xts;

/// Keyslot areas are encrypted in 512-byte sectors numbered from the area start.
const AREA_SECTOR: usize = 512;

/// The volume key. Zeroed on drop; Debug shows only its length.
#[derive(Clone)]
pub struct VolumeKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for VolumeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VolumeKey({} bytes, hidden)", self.0.len())
    }
}

impl VolumeKey {
    /// Wraps key bytes.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// A fresh random key of `len` bytes.
    pub fn random(len: usize) -> Result<Self, UnlockError> {
        let mut k = Zeroizing::new(vec![0u8; len]);
        getrandom::fill(&mut k).map_err(|e| UnlockError::Random(e.to_string()))?;
        Ok(Self(k))
    }

    /// The key bytes (for building a cipher or a dm table; never log them).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// An XTS cipher keyed with this key.
    pub fn xts(&self) -> Result<Xts, crate::xts::KeyLengthError> {
        Xts::new(&self.0)
    }
}

/// The key file's bytes, used as the passphrase (as `cryptsetup --key-file` does).
#[derive(Clone)]
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Passphrase({} bytes, hidden)", self.0.len())
    }
}

impl Passphrase {
    /// Wraps passphrase bytes.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// Reads a key file.
    pub fn from_file(path: &std::path::Path) -> std::io::Result<Self> {
        Ok(Self(Zeroizing::new(std::fs::read(path)?)))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Derives a keyslot's area key from the passphrase.
pub(crate) fn derive(slot: &Keyslot, pass: &[u8], out: &mut [u8]) -> Result<(), UnlockError> {
    match &slot.kdf {
        Kdf::Pbkdf2 {
            hash,
            iterations,
            salt,
        } => {
            hash.pbkdf2(pass, salt, *iterations, out);
            Ok(())
        }
        Kdf::Argon2id {
            time,
            memory_kib,
            cpus,
            salt,
        } => {
            let kdf_err = |e: argon2::Error| UnlockError::Kdf {
                slot: slot.id,
                reason: e.to_string(),
            };
            let params =
                argon2::Params::new(*memory_kib, *time, *cpus, Some(out.len())).map_err(kdf_err)?;
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(pass, salt, out)
                .map_err(kdf_err)
        }
    }
}

impl Luks2Header {
    /// Checks a candidate volume key against the header's digest.
    pub fn verify_key(&self, key: &[u8]) -> bool {
        let d = &self.digest;
        let mut out = Zeroizing::new(vec![0u8; d.digest.len()]);
        d.hash.pbkdf2(key, &d.salt, d.iterations, &mut out);
        ct_eq(&out, &d.digest)
    }

    /// Opens the volume key with `pass`, trying keyslots by priority (high first, 0 never).
    /// Only the keyslot areas are read from `store`; every parameter comes from `self`.
    pub fn unlock(
        &self,
        store: &dyn BlockStore,
        pass: &Passphrase,
    ) -> Result<VolumeKey, UnlockError> {
        if pass.bytes().is_empty() {
            return Err(UnlockError::EmptyKey);
        }
        let mut order: Vec<&Keyslot> = self.keyslots.iter().filter(|k| k.priority > 0).collect();
        order.sort_by_key(|k| (std::cmp::Reverse(k.priority), k.id));
        for slot in &order {
            if let Some(key) = self.try_slot(store, slot, pass)? {
                return Ok(key);
            }
        }
        Err(UnlockError::WrongKey { tried: order.len() })
    }

    fn try_slot(
        &self,
        store: &dyn BlockStore,
        slot: &Keyslot,
        pass: &Passphrase,
    ) -> Result<Option<VolumeKey>, UnlockError> {
        let mut area_key = Zeroizing::new(vec![0u8; slot.key_size]);
        derive(slot, pass.bytes(), &mut area_key)?;
        let len = (slot.material_len() as usize).div_ceil(AREA_SECTOR) * AREA_SECTOR;
        let mut material = Zeroizing::new(vec![0u8; len]);
        store
            .read_at(slot.area_offset, &mut material)
            .map_err(|source| UnlockError::Read {
                slot: slot.id,
                source,
            })?;
        let xts = Xts::new(&area_key).map_err(|e| UnlockError::Kdf {
            slot: slot.id,
            reason: e.to_string(),
        })?;
        xts.decrypt_sectors(&mut material, AREA_SECTOR, 0);
        let mut key = Zeroizing::new(vec![0u8; slot.key_size]);
        af_merge(slot.af_hash, &material, slot.stripes as usize, &mut key);
        Ok(self.verify_key(&key).then(|| VolumeKey(key)))
    }
}
