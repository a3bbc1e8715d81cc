//! LUKS2: header validation, keyslot unlock (PBKDF2, argon2id, AF merge, digest check) and
//! writing new headers.
//!
//! - `layout` and `binary`: the on-disk binary header and one copy's checks;
//! - `metadata`: the JSON metadata as serde types (read and written);
//! - `header`: both copies compared, the metadata checked against the image;
//! - `model`: the validated header every later step uses;
//! - `unlock`: keyslot unlocking; `format`: writing a new header.

mod binary;
mod error;
mod format;
mod hash;
mod header;
mod layout;
mod metadata;
mod model;
mod unlock;

#[cfg(test)]
mod tests;

pub use binary::primary_hdr_size;
pub use error::{Copy, FormatError, HeaderError, UnlockError};
pub use format::{FormatParams, format_metadata};
pub use hash::Hash;
pub use layout::{BINARY_SIZE, HDR_SIZES};
pub use model::{
    CIPHER, KEY_SIZE, Kdf, KeyDigest, Keyslot, Luks2Header, MAX_ARGON2_MEMORY_KIB,
    MAX_PBKDF2_ITERATIONS, STRIPES, Segment,
};
pub use unlock::{Passphrase, VolumeKey};

use crate::store::{BlockStore, StoreError};

/// Why a header could not be read from a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The store failed.
    #[error("reading the LUKS2 header: {0}")]
    Store(#[from] StoreError),
    /// The header is invalid.
    #[error("invalid LUKS2 header: {0}")]
    Header(#[from] HeaderError),
}

impl Luks2Header {
    /// Reads both header copies from `store` once and validates them.
    pub fn read(store: &dyn BlockStore) -> Result<Self, ReadError> {
        let size = store.size();
        if size < BINARY_SIZE as u64 {
            return Err(HeaderError::TooSmall {
                what: "binary header",
                needed: BINARY_SIZE as u64,
                size,
            }
            .into());
        }
        let mut bin = vec![0u8; BINARY_SIZE];
        store.read_at(0, &mut bin)?;
        let hdr_size = primary_hdr_size(&bin)?;
        if size < 2 * hdr_size {
            return Err(HeaderError::TooSmall {
                what: "both header copies",
                needed: 2 * hdr_size,
                size,
            }
            .into());
        }
        let mut region = vec![0u8; 2 * hdr_size as usize];
        store.read_at(0, &mut region)?;
        Ok(Self::parse(&region, size)?)
    }
}
