//! Parsing and validation of both LUKS2 header copies into a [`Luks2Header`], which is all
//! later steps use: nothing re-reads the metadata from the image.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::error::{Copy, HeaderError};
use super::hash::{Hash, sha256};
use super::layout::{self, BINARY_SIZE, HDR_SIZES, MAGIC_PRIMARY, MAGIC_SECONDARY, field};

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
/// Activation flags cryptsetup may persist in `config.flags`; they do not change the layout.
const CONFIG_FLAGS: [&str; 7] = [
    "allow-discards",
    "same-cpu-crypt",
    "submit-from-crypt-cpus",
    "no-journal",
    "no-read-workqueue",
    "no-write-workqueue",
    "high_priority",
];

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

fn binary_err(copy: Copy, field: &'static str, expected: String, actual: String) -> HeaderError {
    HeaderError::Binary {
        copy,
        field,
        expected,
        actual,
    }
}

/// Reads `hdr_size` from the start of a primary binary header, checking magic and version.
pub fn primary_hdr_size(bin: &[u8]) -> Result<u64, HeaderError> {
    check_magic_version(bin, Copy::Primary)?;
    let size = layout::be_u64(bin, field::HDR_SIZE);
    if !HDR_SIZES.contains(&size) {
        return Err(binary_err(
            Copy::Primary,
            "hdr_size",
            "16 KiB .. 4 MiB, a power of two".into(),
            size.to_string(),
        ));
    }
    Ok(size)
}

fn check_magic_version(bin: &[u8], copy: Copy) -> Result<(), HeaderError> {
    if bin.len() < BINARY_SIZE {
        return Err(HeaderError::TooSmall {
            what: "binary header",
            needed: BINARY_SIZE as u64,
            size: bin.len() as u64,
        });
    }
    let magic = match copy {
        Copy::Primary => MAGIC_PRIMARY,
        Copy::Secondary => MAGIC_SECONDARY,
    };
    let found = layout::get(bin, field::MAGIC);
    if found != magic {
        return Err(binary_err(
            copy,
            "magic",
            format!("{magic:02x?}"),
            format!("{found:02x?}"),
        ));
    }
    let version = layout::be_u16(bin, field::VERSION);
    if version != layout::VERSION {
        return Err(binary_err(copy, "version", "2".into(), version.to_string()));
    }
    Ok(())
}

struct Copied<'a> {
    seqid: u64,
    label: &'a str,
    uuid: &'a str,
    subsystem: &'a str,
    json: &'a [u8],
}

/// Checks one copy (`hdr` is exactly `hdr_size` bytes) and returns its parts.
fn check_copy(hdr: &[u8], copy: Copy, hdr_size: u64) -> Result<Copied<'_>, HeaderError> {
    check_magic_version(hdr, copy)?;
    let size = layout::be_u64(hdr, field::HDR_SIZE);
    if size != hdr_size {
        return Err(binary_err(
            copy,
            "hdr_size",
            hdr_size.to_string(),
            size.to_string(),
        ));
    }
    let expected_offset = match copy {
        Copy::Primary => 0,
        Copy::Secondary => hdr_size,
    };
    let off = layout::be_u64(hdr, field::HDR_OFFSET);
    if off != expected_offset {
        return Err(binary_err(
            copy,
            "hdr_offset",
            expected_offset.to_string(),
            off.to_string(),
        ));
    }
    let alg = layout::c_str(hdr, field::CSUM_ALG);
    if alg != Some("sha256") {
        return Err(binary_err(
            copy,
            "checksum_alg",
            "sha256".into(),
            format!("{alg:?}"),
        ));
    }
    let (f0, flen) = field::CSUM;
    let before = hdr.get(..f0).unwrap_or(&[]);
    let after = hdr.get(f0 + flen..).unwrap_or(&[]);
    let sum = sha256(&[before, &[0u8; 64], after]);
    let stored = layout::get(hdr, field::CSUM);
    if stored.get(..32) != Some(&sum[..])
        || stored.get(32..).is_some_and(|r| r.iter().any(|b| *b != 0))
    {
        return Err(HeaderError::Checksum { copy });
    }
    let text = |f, name| {
        layout::c_str(hdr, f).ok_or_else(|| {
            binary_err(
                copy,
                name,
                "NUL-terminated UTF-8".into(),
                "other bytes".into(),
            )
        })
    };
    let label = text(field::LABEL, "label")?;
    let subsystem = text(field::SUBSYSTEM, "subsystem")?;
    let uuid = text(field::UUID, "uuid")?;
    let json_area = hdr.get(BINARY_SIZE..).unwrap_or(&[]);
    let end = json_area
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| HeaderError::Json("JSON area is not NUL-terminated".into()))?;
    if json_area
        .get(end..)
        .is_some_and(|r| r.iter().any(|b| *b != 0))
    {
        return Err(HeaderError::Json(
            "bytes after the JSON terminator are not zero".into(),
        ));
    }
    Ok(Copied {
        seqid: layout::be_u64(hdr, field::SEQID),
        label,
        uuid,
        subsystem,
        json: json_area.get(..end).unwrap_or(&[]),
    })
}

impl Luks2Header {
    /// Validates the header region of an image: `region` holds at least the first
    /// `2 * hdr_size` bytes of an image of `image_size` bytes.
    pub fn parse(region: &[u8], image_size: u64) -> Result<Self, HeaderError> {
        let hdr_size = primary_hdr_size(region)?;
        let needed = 2 * hdr_size;
        if (region.len() as u64) < needed || image_size < needed {
            return Err(HeaderError::TooSmall {
                what: "both header copies",
                needed,
                size: image_size.min(region.len() as u64),
            });
        }
        let h = hdr_size as usize;
        let (Some(p), Some(s)) = (region.get(..h), region.get(h..2 * h)) else {
            return Err(HeaderError::TooSmall {
                what: "both header copies",
                needed,
                size: region.len() as u64,
            });
        };
        let primary = check_copy(p, Copy::Primary, hdr_size)?;
        let secondary = check_copy(s, Copy::Secondary, hdr_size)?;
        let same = |field: &'static str, a: &[u8], b: &[u8]| {
            if a == b {
                Ok(())
            } else {
                Err(HeaderError::CopiesDiffer { field })
            }
        };
        same(
            "seqid",
            &primary.seqid.to_be_bytes(),
            &secondary.seqid.to_be_bytes(),
        )?;
        same(
            "label",
            primary.label.as_bytes(),
            secondary.label.as_bytes(),
        )?;
        same("uuid", primary.uuid.as_bytes(), secondary.uuid.as_bytes())?;
        same(
            "subsystem",
            primary.subsystem.as_bytes(),
            secondary.subsystem.as_bytes(),
        )?;
        same("JSON area", primary.json, secondary.json)?;
        let json: Value =
            serde_json::from_slice(primary.json).map_err(|e| HeaderError::Json(e.to_string()))?;
        let mut header = Json::new(hdr_size, image_size).header(&json)?;
        header.seqid = primary.seqid;
        header.label = primary.label.to_owned();
        header.uuid = primary.uuid.to_owned();
        Ok(header)
    }
}

fn field_err(path: &str, problem: impl Into<String>) -> HeaderError {
    HeaderError::Field {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

fn obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, HeaderError> {
    v.as_object()
        .ok_or_else(|| field_err(path, "expected an object"))
}

fn member<'a>(m: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a Value, HeaderError> {
    m.get(key)
        .ok_or_else(|| field_err(&format!("{path}.{key}"), "missing"))
}

fn only_keys(m: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), HeaderError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(field_err(&format!("{path}.{k}"), "unsupported field")),
        None => Ok(()),
    }
}

fn string<'a>(m: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a str, HeaderError> {
    member(m, path, key)?
        .as_str()
        .ok_or_else(|| field_err(&format!("{path}.{key}"), "expected a string"))
}

fn exact(m: &Map<String, Value>, path: &str, key: &str, want: &str) -> Result<(), HeaderError> {
    let got = string(m, path, key)?;
    if got == want {
        Ok(())
    } else {
        Err(field_err(
            &format!("{path}.{key}"),
            format!("{got:?} is not supported (only {want:?})"),
        ))
    }
}

/// LUKS2 writes 64-bit sizes as decimal strings.
fn u64_str(m: &Map<String, Value>, path: &str, key: &str) -> Result<u64, HeaderError> {
    let s = string(m, path, key)?;
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_err(
            &format!("{path}.{key}"),
            "expected a decimal string",
        ));
    }
    s.parse()
        .map_err(|_| field_err(&format!("{path}.{key}"), "number out of range"))
}

fn u32_num(m: &Map<String, Value>, path: &str, key: &str) -> Result<u32, HeaderError> {
    member(m, path, key)?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            field_err(
                &format!("{path}.{key}"),
                "expected a 32-bit unsigned number",
            )
        })
}

fn ranged(path: &str, key: &str, v: u32, lo: u32, hi: u32) -> Result<u32, HeaderError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(field_err(
            &format!("{path}.{key}"),
            format!("{v} is outside {lo}..={hi}"),
        ))
    }
}

fn b64(m: &Map<String, Value>, path: &str, key: &str, len: usize) -> Result<Vec<u8>, HeaderError> {
    let s = string(m, path, key)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| field_err(&format!("{path}.{key}"), "invalid base64"))?;
    if bytes.len() != len {
        return Err(field_err(
            &format!("{path}.{key}"),
            format!("{} bytes, expected {len}", bytes.len()),
        ));
    }
    Ok(bytes)
}

fn hash(m: &Map<String, Value>, path: &str, key: &str) -> Result<Hash, HeaderError> {
    let s = string(m, path, key)?;
    Hash::from_name(s).ok_or_else(|| {
        field_err(
            &format!("{path}.{key}"),
            format!("hash {s:?} is not supported (sha1, sha256, sha384, sha512)"),
        )
    })
}

/// Object keys that are ids: decimal, no leading zeros, below `max`.
fn id(key: &str, path: &str, max: u32) -> Result<u32, HeaderError> {
    let ok = !key.is_empty()
        && key.len() <= 2
        && key.bytes().all(|b| b.is_ascii_digit())
        && !(key.len() > 1 && key.starts_with('0'));
    match key.parse::<u32>() {
        Ok(n) if ok && n < max => Ok(n),
        _ => Err(field_err(&format!("{path}.{key}"), "invalid id")),
    }
}

fn id_list(v: &Value, path: &str) -> Result<Vec<u32>, HeaderError> {
    let arr = v
        .as_array()
        .ok_or_else(|| field_err(path, "expected an array"))?;
    let mut out = Vec::with_capacity(arr.len());
    for item in arr {
        let s = item
            .as_str()
            .ok_or_else(|| field_err(path, "expected id strings"))?;
        let n = id(s, path, MAX_KEYSLOTS)?;
        if out.contains(&n) {
            return Err(field_err(path, "duplicate id"));
        }
        out.push(n);
    }
    Ok(out)
}

struct Json {
    hdr_size: u64,
    image_size: u64,
}

impl Json {
    fn new(hdr_size: u64, image_size: u64) -> Self {
        Self {
            hdr_size,
            image_size,
        }
    }

    fn header(&self, json: &Value) -> Result<Luks2Header, HeaderError> {
        let top = obj(json, "$")?;
        only_keys(
            top,
            "$",
            &["keyslots", "tokens", "segments", "digests", "config"],
        )?;
        let tokens = obj(member(top, "$", "tokens")?, "tokens")?;
        if !tokens.is_empty() {
            return Err(field_err("tokens", "tokens are not supported"));
        }
        let keyslots_size = self.config(obj(member(top, "$", "config")?, "config")?)?;
        let segment = self.segment(
            obj(member(top, "$", "segments")?, "segments")?,
            keyslots_size,
        )?;
        let (digest, bound) = self.digest(obj(member(top, "$", "digests")?, "digests")?)?;
        let slots = obj(member(top, "$", "keyslots")?, "keyslots")?;
        let mut keyslots = Vec::with_capacity(slots.len());
        for (key, v) in slots {
            let slot_id = id(key, "keyslots", MAX_KEYSLOTS)?;
            if !bound.contains(&slot_id) {
                return Err(field_err(
                    &format!("keyslots.{key}"),
                    "keyslot is not bound to the segment's digest",
                ));
            }
            let slot = self.keyslot(
                slot_id,
                obj(v, &format!("keyslots.{key}"))?,
                keyslots_size,
                &segment,
            )?;
            keyslots.push(slot);
        }
        for b in &bound {
            if !keyslots.iter().any(|k| k.id == *b) {
                return Err(field_err(
                    "digests.0.keyslots",
                    format!("keyslot {b} does not exist"),
                ));
            }
        }
        if keyslots.is_empty() {
            return Err(field_err("keyslots", "no keyslot"));
        }
        keyslots.sort_by_key(|k| k.id);
        // Keyslot areas must not overlap one another.
        for (i, a) in keyslots.iter().enumerate() {
            for b in keyslots.iter().skip(i + 1) {
                if a.area_offset < b.area_offset + b.area_size
                    && b.area_offset < a.area_offset + a.area_size
                {
                    return Err(HeaderError::OutOfBounds {
                        what: format!("keyslot {} area", b.id),
                        offset: b.area_offset,
                        size: b.area_size,
                        bound: format!("overlaps keyslot {}", a.id),
                    });
                }
            }
        }
        let data_size =
            segment
                .resolved_size(self.image_size)
                .ok_or_else(|| HeaderError::OutOfBounds {
                    what: "segment 0".into(),
                    offset: segment.offset,
                    size: segment.size.unwrap_or(0),
                    bound: format!(
                        "an image of {} bytes (or not a whole number of {}-byte sectors)",
                        self.image_size, segment.sector_size
                    ),
                })?;
        Ok(Luks2Header {
            hdr_size: self.hdr_size,
            seqid: 0,
            label: String::new(),
            uuid: String::new(),
            keyslots,
            segment,
            digest,
            keyslots_size,
            image_size: self.image_size,
            data_size,
        })
    }

    fn config(&self, c: &Map<String, Value>) -> Result<u64, HeaderError> {
        only_keys(
            c,
            "config",
            &["json_size", "keyslots_size", "flags", "requirements"],
        )?;
        let json_size = u64_str(c, "config", "json_size")?;
        if json_size != self.hdr_size - BINARY_SIZE as u64 {
            return Err(field_err(
                "config.json_size",
                format!(
                    "{json_size}, expected {}",
                    self.hdr_size - BINARY_SIZE as u64
                ),
            ));
        }
        let keyslots_size = u64_str(c, "config", "keyslots_size")?;
        if keyslots_size % 4096 != 0 {
            return Err(field_err("config.keyslots_size", "not a multiple of 4096"));
        }
        if let Some(flags) = c.get("flags") {
            let arr = flags
                .as_array()
                .ok_or_else(|| field_err("config.flags", "expected an array"))?;
            for f in arr {
                match f.as_str() {
                    Some(s) if CONFIG_FLAGS.contains(&s) => {}
                    _ => return Err(field_err("config.flags", format!("unknown flag {f}"))),
                }
            }
        }
        if let Some(req) = c.get("requirements") {
            let empty = req.as_object().is_some_and(|r| {
                r.iter()
                    .all(|(_, v)| v.as_array().is_some_and(|a| a.is_empty()))
            });
            if !empty {
                return Err(field_err(
                    "config.requirements",
                    "requirements (e.g. reencryption) are not supported",
                ));
            }
        }
        Ok(keyslots_size)
    }

    fn segment(
        &self,
        segs: &Map<String, Value>,
        keyslots_size: u64,
    ) -> Result<Segment, HeaderError> {
        if segs.len() != 1 {
            return Err(field_err(
                "segments",
                format!("{} segments, expected exactly 1", segs.len()),
            ));
        }
        let s = obj(member(segs, "segments", "0")?, "segments.0")?;
        let p = "segments.0";
        only_keys(
            s,
            p,
            &[
                "type",
                "offset",
                "size",
                "iv_tweak",
                "encryption",
                "sector_size",
                "flags",
            ],
        )?;
        exact(s, p, "type", "crypt")?;
        exact(s, p, "encryption", CIPHER)?;
        if let Some(f) = s.get("flags")
            && !f.as_array().is_some_and(|a| a.is_empty())
        {
            return Err(field_err(
                "segments.0.flags",
                "segment flags are not supported",
            ));
        }
        let sector_size = u32_num(s, p, "sector_size")?;
        if sector_size != 512 && sector_size != 4096 {
            return Err(field_err(
                "segments.0.sector_size",
                format!("{sector_size} is not supported (512 or 4096)"),
            ));
        }
        let offset = u64_str(s, p, "offset")?;
        let metadata_end = 2 * self.hdr_size + keyslots_size;
        if offset < metadata_end || offset % 4096 != 0 {
            return Err(HeaderError::OutOfBounds {
                what: "segment 0 offset".into(),
                offset,
                size: 0,
                bound: format!("the data area (4 KiB-aligned, from {metadata_end})"),
            });
        }
        let size = match string(s, p, "size")? {
            "dynamic" => None,
            _ => {
                let n = u64_str(s, p, "size")?;
                if n == 0 || n % u64::from(sector_size) != 0 {
                    return Err(field_err(
                        "segments.0.size",
                        "not a positive multiple of the sector size",
                    ));
                }
                Some(n)
            }
        };
        let iv_tweak = u64_str(s, p, "iv_tweak")?;
        Ok(Segment {
            offset,
            size,
            iv_tweak,
            sector_size,
        })
    }

    fn digest(&self, digs: &Map<String, Value>) -> Result<(KeyDigest, Vec<u32>), HeaderError> {
        if digs.len() != 1 {
            return Err(field_err(
                "digests",
                format!("{} digests, expected exactly 1", digs.len()),
            ));
        }
        let (key, v) = digs
            .iter()
            .next()
            .ok_or_else(|| field_err("digests", "empty"))?;
        let p = format!("digests.{key}");
        id(key, "digests", MAX_KEYSLOTS)?;
        let d = obj(v, &p)?;
        only_keys(
            d,
            &p,
            &[
                "type",
                "keyslots",
                "segments",
                "hash",
                "iterations",
                "salt",
                "digest",
            ],
        )?;
        exact(d, &p, "type", "pbkdf2")?;
        let segments = id_list(member(d, &p, "segments")?, &format!("{p}.segments"))?;
        if segments != [0] {
            return Err(field_err(
                &format!("{p}.segments"),
                "must be exactly [\"0\"]",
            ));
        }
        let bound = id_list(member(d, &p, "keyslots")?, &format!("{p}.keyslots"))?;
        let hash = hash(d, &p, "hash")?;
        let iterations = ranged(
            &p,
            "iterations",
            u32_num(d, &p, "iterations")?,
            1,
            MAX_PBKDF2_ITERATIONS,
        )?;
        let salt = b64(d, &p, "salt", SALT_LEN)?;
        let digest = b64(d, &p, "digest", hash.output_len())?;
        Ok((
            KeyDigest {
                hash,
                iterations,
                salt,
                digest,
            },
            bound,
        ))
    }

    fn keyslot(
        &self,
        slot_id: u32,
        k: &Map<String, Value>,
        keyslots_size: u64,
        segment: &Segment,
    ) -> Result<Keyslot, HeaderError> {
        let p = format!("keyslots.{slot_id}");
        only_keys(
            k,
            &p,
            &["type", "key_size", "af", "area", "kdf", "priority"],
        )?;
        exact(k, &p, "type", "luks2")?;
        let key_size = u32_num(k, &p, "key_size")? as usize;
        if key_size != KEY_SIZE {
            return Err(field_err(
                &format!("{p}.key_size"),
                format!("{key_size} is not supported (64)"),
            ));
        }
        let priority = match k.get("priority") {
            None => 1,
            Some(v) => match v.as_u64() {
                Some(n @ 0..=2) => n as u8,
                _ => return Err(field_err(&format!("{p}.priority"), "expected 0, 1 or 2")),
            },
        };
        let af_p = format!("{p}.af");
        let af = obj(member(k, &p, "af")?, &af_p)?;
        only_keys(af, &af_p, &["type", "stripes", "hash"])?;
        exact(af, &af_p, "type", "luks1")?;
        let stripes = u32_num(af, &af_p, "stripes")?;
        if stripes != STRIPES {
            return Err(field_err(
                &format!("{af_p}.stripes"),
                format!("{stripes} is not supported (4000)"),
            ));
        }
        let af_hash = hash(af, &af_p, "hash")?;
        let area_p = format!("{p}.area");
        let area = obj(member(k, &p, "area")?, &area_p)?;
        only_keys(
            area,
            &area_p,
            &["type", "offset", "size", "encryption", "key_size"],
        )?;
        exact(area, &area_p, "type", "raw")?;
        exact(area, &area_p, "encryption", CIPHER)?;
        let area_key = u32_num(area, &area_p, "key_size")? as usize;
        if area_key != KEY_SIZE {
            return Err(field_err(
                &format!("{area_p}.key_size"),
                format!("{area_key} is not supported (64)"),
            ));
        }
        let area_offset = u64_str(area, &area_p, "offset")?;
        let area_size = u64_str(area, &area_p, "size")?;
        let material = key_size as u64 * u64::from(stripes);
        let lo = 2 * self.hdr_size;
        let hi = lo + keyslots_size;
        let end = area_offset.checked_add(area_size);
        let inside = area_offset >= lo
            && area_offset % 4096 == 0
            && end.is_some_and(|e| e <= hi && e <= segment.offset && e <= self.image_size)
            && area_size >= material;
        if !inside {
            return Err(HeaderError::OutOfBounds {
                what: format!("keyslot {slot_id} area"),
                offset: area_offset,
                size: area_size,
                bound: format!(
                    "the keyslots area {lo}..{} (and at least {material} bytes)",
                    hi.min(segment.offset)
                ),
            });
        }
        let kdf_p = format!("{p}.kdf");
        let kdf = obj(member(k, &p, "kdf")?, &kdf_p)?;
        let kdf = match string(kdf, &kdf_p, "type")? {
            "pbkdf2" => {
                only_keys(kdf, &kdf_p, &["type", "hash", "iterations", "salt"])?;
                Kdf::Pbkdf2 {
                    hash: hash(kdf, &kdf_p, "hash")?,
                    iterations: ranged(
                        &kdf_p,
                        "iterations",
                        u32_num(kdf, &kdf_p, "iterations")?,
                        1,
                        MAX_PBKDF2_ITERATIONS,
                    )?,
                    salt: b64(kdf, &kdf_p, "salt", SALT_LEN)?,
                }
            }
            "argon2id" => {
                only_keys(kdf, &kdf_p, &["type", "time", "memory", "cpus", "salt"])?;
                Kdf::Argon2id {
                    time: ranged(
                        &kdf_p,
                        "time",
                        u32_num(kdf, &kdf_p, "time")?,
                        1,
                        MAX_ARGON2_TIME,
                    )?,
                    memory_kib: ranged(
                        &kdf_p,
                        "memory",
                        u32_num(kdf, &kdf_p, "memory")?,
                        32,
                        MAX_ARGON2_MEMORY_KIB,
                    )?,
                    cpus: ranged(
                        &kdf_p,
                        "cpus",
                        u32_num(kdf, &kdf_p, "cpus")?,
                        1,
                        MAX_ARGON2_CPUS,
                    )?,
                    salt: b64(kdf, &kdf_p, "salt", SALT_LEN)?,
                }
            }
            other => {
                return Err(field_err(
                    &format!("{kdf_p}.type"),
                    format!("{other:?} is not supported (pbkdf2, argon2id)"),
                ));
            }
        };
        Ok(Keyslot {
            id: slot_id,
            key_size,
            area_offset,
            area_size,
            stripes,
            af_hash,
            kdf,
            priority,
        })
    }
}
