//! Writing a new LUKS2 header the way `cryptsetup luksFormat --type luks2 --cipher
//! aes-xts-plain64 --pbkdf pbkdf2` lays it out: 16 KiB header copies, one keyslot at 32 KiB,
//! data at 16 MiB.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::error::FormatError;
use super::hash::{Hash, af_split, sha256};
use super::layout::{self, BINARY_SIZE, MAGIC_PRIMARY, MAGIC_SECONDARY, field};
use super::metadata::{
    self, AfJson, AfType, AreaJson, AreaType, Base64, Cipher, ConfigJson, Decimal, DigestJson,
    DigestType, KdfJson, KeyslotJson, KeyslotType, Metadata, SegmentJson, SegmentSize, SegmentType,
};
use super::model::{KEY_SIZE, SALT_LEN, STRIPES};
use super::unlock::{Passphrase, VolumeKey};
use crate::xts::Xts;

/// Parameters of a new header.
#[derive(Clone, Debug)]
pub struct FormatParams {
    /// PBKDF2 iterations for the keyslot and the digest (upstream's generatefs: 1000).
    pub iterations: u32,
    /// PBKDF2 and AF hash.
    pub hash: Hash,
    /// Encryption sector size of the segment (upstream: 4096).
    pub sector_size: u32,
    /// Byte offset of the data (cryptsetup's default: 16 MiB).
    pub data_offset: u64,
    /// Header label.
    pub label: String,
}

impl Default for FormatParams {
    fn default() -> Self {
        Self {
            iterations: 1000,
            hash: Hash::Sha256,
            sector_size: 4096,
            data_offset: 16 * 1024 * 1024,
            label: String::new(),
        }
    }
}

const HDR_SIZE: u64 = 0x4000;
const KEYSLOT_OFFSET: u64 = 2 * HDR_SIZE;

fn random(len: usize) -> Result<Vec<u8>, FormatError> {
    let mut v = vec![0u8; len];
    getrandom::fill(&mut v).map_err(FormatError::Random)?;
    Ok(v)
}

fn uuid_v4() -> Result<String, FormatError> {
    let mut b = random(16)?;
    if let (Some(b6), Some(b8)) = (b.get(6).copied(), b.get(8).copied()) {
        b[6] = (b6 & 0x0f) | 0x40;
        b[8] = (b8 & 0x3f) | 0x80;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

fn put(hdr: &mut [u8], f: (usize, usize), bytes: &[u8]) {
    let dst = layout::get_mut(hdr, f);
    let n = bytes.len().min(dst.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), bytes.get(..n)) {
        d.copy_from_slice(s);
    }
}

/// Builds the metadata region (both header copies and the keyslot area, `data_offset` bytes)
/// for `key`, with `pass` as the keyslot passphrase.
pub fn format_metadata(
    key: &VolumeKey,
    pass: &Passphrase,
    params: &FormatParams,
) -> Result<Vec<u8>, FormatError> {
    let material_len = KEY_SIZE * STRIPES as usize;
    let area_size = (material_len as u64).div_ceil(4096) * 4096;
    let needed = KEYSLOT_OFFSET + area_size;
    if params.data_offset < needed {
        return Err(FormatError::DataOffset {
            data_offset: params.data_offset,
            needed,
        });
    }
    let keyslots_size = params.data_offset - KEYSLOT_OFFSET;
    let slot_salt = random(SALT_LEN)?;
    let digest_salt = random(SALT_LEN)?;
    let mut digest = vec![0u8; params.hash.output_len()];
    params
        .hash
        .pbkdf2(key.expose(), &digest_salt, params.iterations, &mut digest);

    let meta = Metadata {
        keyslots: BTreeMap::from([(
            "0".to_string(),
            KeyslotJson {
                kind: KeyslotType::Luks2,
                key_size: KEY_SIZE as u32,
                af: AfJson {
                    kind: AfType::Luks1,
                    stripes: STRIPES,
                    hash: params.hash,
                },
                area: AreaJson {
                    kind: AreaType::Raw,
                    offset: Decimal(KEYSLOT_OFFSET),
                    size: Decimal(area_size),
                    encryption: Cipher::AesXtsPlain64,
                    key_size: KEY_SIZE as u32,
                },
                kdf: KdfJson::Pbkdf2 {
                    hash: params.hash,
                    iterations: params.iterations,
                    salt: Base64(slot_salt.clone()),
                },
                priority: 1,
            },
        )]),
        tokens: BTreeMap::new(),
        segments: BTreeMap::from([(
            "0".to_string(),
            SegmentJson {
                kind: SegmentType::Crypt,
                offset: Decimal(params.data_offset),
                size: SegmentSize::Dynamic,
                iv_tweak: Decimal(0),
                encryption: Cipher::AesXtsPlain64,
                sector_size: params.sector_size,
                flags: Vec::new(),
            },
        )]),
        digests: BTreeMap::from([(
            "0".to_string(),
            DigestJson {
                kind: DigestType::Pbkdf2,
                keyslots: vec!["0".into()],
                segments: vec!["0".into()],
                hash: params.hash,
                iterations: params.iterations,
                salt: Base64(digest_salt),
                digest: Base64(digest),
            },
        )]),
        config: ConfigJson {
            json_size: Decimal(HDR_SIZE - BINARY_SIZE as u64),
            keyslots_size: Decimal(keyslots_size),
            flags: Vec::new(),
            requirements: BTreeMap::new(),
        },
    };
    let json = metadata::write(&meta);

    let mut region = vec![0u8; params.data_offset as usize];
    let uuid = uuid_v4()?;
    for (copy, magic) in [(0u64, MAGIC_PRIMARY), (1, MAGIC_SECONDARY)] {
        let start = (copy * HDR_SIZE) as usize;
        let Some(hdr) = region.get_mut(start..start + HDR_SIZE as usize) else {
            return Err(FormatError::DataOffset {
                data_offset: params.data_offset,
                needed,
            });
        };
        put(hdr, field::MAGIC, &magic);
        put(hdr, field::VERSION, &layout::VERSION.to_be_bytes());
        put(hdr, field::HDR_SIZE, &HDR_SIZE.to_be_bytes());
        put(hdr, field::SEQID, &1u64.to_be_bytes());
        let label = params.label.as_bytes();
        put(
            hdr,
            field::LABEL,
            label.get(..label.len().min(47)).unwrap_or(&[]),
        );
        put(hdr, field::CSUM_ALG, b"sha256");
        put(hdr, field::SALT, &random(64)?);
        put(hdr, field::UUID, uuid.as_bytes());
        put(hdr, field::HDR_OFFSET, &(copy * HDR_SIZE).to_be_bytes());
        if let Some(area) = hdr.get_mut(BINARY_SIZE..BINARY_SIZE + json.len()) {
            area.copy_from_slice(json.as_bytes());
        }
        let sum = sha256(&[hdr]);
        put(hdr, field::CSUM, &sum);
    }

    let mut area_key = Zeroizing::new(vec![0u8; KEY_SIZE]);
    params
        .hash
        .pbkdf2(pass.bytes(), &slot_salt, params.iterations, &mut area_key);
    let xts = Xts::new(&area_key).map_err(FormatError::AreaKey)?;
    let mut material = Zeroizing::new(vec![0u8; material_len.div_ceil(512) * 512]);
    af_split(
        params.hash,
        key.expose(),
        STRIPES as usize,
        &mut material[..material_len],
    )
    .map_err(FormatError::Random)?;
    xts.encrypt_sectors(&mut material, 512, 0);
    let s = KEYSLOT_OFFSET as usize;
    if let Some(dst) = region.get_mut(s..s + material.len()) {
        dst.copy_from_slice(&material);
    }
    Ok(region)
}
