//! The data model of a validated LUKS2 header: what unlocking, dm-crypt and the userspace view
//! use, and the limits every header must keep. Made only by [`Luks2Header::parse`]; nothing
//! re-reads the metadata from the image.

use super::hash::Hash;

/// The one cipher accepted (what upstream images and cryptsetup's default use).
pub const CIPHER: &str = "aes-xts-plain64";
/// Volume and keyslot-area key size for AES-256-XTS.
pub const KEY_SIZE: usize = 64;
/// AF stripes cryptsetup always uses.
pub const STRIPES: u32 = 4000;
/// Upper bound on PBKDF2 iterations (a hostile header must not pin the CPU for hours).
pub const MAX_PBKDF2_ITERATIONS: u32 = 1 << 24;
/// Upper bound on argon2 memory in KiB (cryptsetup's own maximum, 4 GiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 4 * 1024 * 1024;
/// Upper bound on argon2 passes.
pub const MAX_ARGON2_TIME: u32 = 64;
/// Upper bound on argon2 lanes.
pub const MAX_ARGON2_CPUS: u32 = 64;
/// Salt length cryptsetup writes for keyslots and digests.
pub const SALT_LEN: usize = 32;
/// Keyslot ids LUKS2 allows.
pub const MAX_KEYSLOTS: u32 = 32;

/// A keyslot's key derivation.
#[derive(Clone, PartialEq, Eq)]
pub enum Kdf {
    /// PBKDF2-HMAC.
    Pbkdf2 {
        /// Hash.
        hash: Hash,
        /// Iterations.
        iterations: u32,
        /// Salt.
        salt: Vec<u8>,
    },
    /// Argon2id (version 0x13).
    Argon2id {
        /// Passes.
        time: u32,
        /// Memory in KiB.
        memory_kib: u32,
        /// Lanes.
        cpus: u32,
        /// Salt.
        salt: Vec<u8>,
    },
}

impl std::fmt::Debug for Kdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pbkdf2 {
                hash, iterations, ..
            } => write!(f, "pbkdf2({}, {iterations})", hash.name()),
            Self::Argon2id {
                time,
                memory_kib,
                cpus,
                ..
            } => write!(f, "argon2id(t={time}, m={memory_kib}KiB, p={cpus})"),
        }
    }
}

/// A validated keyslot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyslot {
    /// Keyslot id.
    pub id: u32,
    /// Size of the key it stores (the volume key).
    pub key_size: usize,
    /// Byte offset of its encrypted area in the image.
    pub area_offset: u64,
    /// Size of the area.
    pub area_size: u64,
    /// AF stripes.
    pub stripes: u32,
    /// AF hash.
    pub af_hash: Hash,
    /// Key derivation.
    pub kdf: Kdf,
    /// Priority (0 = ignore, 1 = normal, 2 = high).
    pub priority: u8,
}

impl Keyslot {
    /// Bytes of AF material the area holds (key size times stripes).
    pub fn material_len(&self) -> u64 {
        self.key_size as u64 * u64::from(self.stripes)
    }
}

/// The validated crypt segment: what dm-crypt or the userspace view decrypts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Byte offset of the data in the image.
    pub offset: u64,
    /// Size in bytes, `None` for `dynamic` (to the end of the image).
    pub size: Option<u64>,
    /// Added to the 512-byte sector number to form the IV.
    pub iv_tweak: u64,
    /// Encryption sector size (512 or 4096).
    pub sector_size: u32,
}

impl Segment {
    /// Plaintext size for an image of `image_size` bytes, if the segment fits.
    pub fn resolved_size(&self, image_size: u64) -> Option<u64> {
        let size = match self.size {
            Some(s) => s,
            None => image_size.checked_sub(self.offset)?,
        };
        let end = self.offset.checked_add(size)?;
        (end <= image_size && size > 0 && size % u64::from(self.sector_size) == 0).then_some(size)
    }
}

/// The validated volume-key digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDigest {
    /// PBKDF2 hash.
    pub hash: Hash,
    /// Iterations.
    pub iterations: u32,
    /// Salt.
    pub salt: Vec<u8>,
    /// Expected PBKDF2 output.
    pub digest: Vec<u8>,
}

/// A LUKS2 header whose two copies were checked against each other and against the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Luks2Header {
    /// `hdr_size` of each copy.
    pub hdr_size: u64,
    /// Sequence id.
    pub seqid: u64,
    /// Label.
    pub label: String,
    /// UUID.
    pub uuid: String,
    /// Keyslots bound to the segment's digest, in id order.
    pub keyslots: Vec<Keyslot>,
    /// The one crypt segment.
    pub segment: Segment,
    /// The digest of the volume key.
    pub digest: KeyDigest,
    /// `config.keyslots_size`.
    pub keyslots_size: u64,
    /// Size of the image the header was validated against.
    pub image_size: u64,
    /// Plaintext size.
    pub data_size: u64,
}
