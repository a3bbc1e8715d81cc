//! [`Luks2Header::parse`]: both binary copies checked ([`super::binary`]) and compared, the
//! JSON metadata read ([`super::metadata`]) and checked against the image (sizes, ranges,
//! bounds, which keyslots the digest binds), giving the data model ([`super::model`]) that all
//! later steps use.

use std::collections::BTreeMap;

use super::binary::{check_copy, primary_hdr_size};
use super::error::{Copy, HeaderError};
use super::layout::BINARY_SIZE;
use super::metadata::{self, ConfigJson, DigestJson, KdfJson, KeyslotJson, Metadata, SegmentSize};
use super::model::{
    KEY_SIZE, Kdf, KeyDigest, Keyslot, Luks2Header, MAX_ARGON2_CPUS, MAX_ARGON2_MEMORY_KIB,
    MAX_ARGON2_TIME, MAX_KEYSLOTS, MAX_PBKDF2_ITERATIONS, SALT_LEN, STRIPES, Segment,
};

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
        let metadata = metadata::read(primary.json)?;
        let mut header = Bounds {
            hdr_size,
            image_size,
        }
        .header(&metadata)?;
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

/// `value` if it lies in `lo..=hi`.
fn ranged(path: &str, value: u32, lo: u32, hi: u32) -> Result<u32, HeaderError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(field_err(path, format!("{value} is outside {lo}..={hi}")))
    }
}

/// `bytes` if there are exactly `len` of them.
fn sized(path: &str, bytes: &[u8], len: usize) -> Result<Vec<u8>, HeaderError> {
    if bytes.len() == len {
        Ok(bytes.to_vec())
    } else {
        Err(field_err(
            path,
            format!("{} bytes, expected {len}", bytes.len()),
        ))
    }
}

/// `value` if it is the one value supported.
fn exactly(path: &str, value: u32, supported: u32) -> Result<u32, HeaderError> {
    if value == supported {
        Ok(value)
    } else {
        Err(field_err(
            path,
            format!("{value} is not supported ({supported})"),
        ))
    }
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

/// A list of distinct ids.
fn id_list(items: &[String], path: &str) -> Result<Vec<u32>, HeaderError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let n = id(item, path, MAX_KEYSLOTS)?;
        if out.contains(&n) {
            return Err(field_err(path, "duplicate id"));
        }
        out.push(n);
    }
    Ok(out)
}

/// Where the metadata must fit: the header copies' size and the image's.
struct Bounds {
    hdr_size: u64,
    image_size: u64,
}

impl Bounds {
    fn header(&self, m: &Metadata) -> Result<Luks2Header, HeaderError> {
        if !m.tokens.is_empty() {
            return Err(field_err("tokens", "tokens are not supported"));
        }
        let keyslots_size = self.config(&m.config)?;
        let segment = self.segment(&m.segments, keyslots_size)?;
        let (digest, bound) = self.digest(&m.digests)?;
        let mut keyslots = Vec::with_capacity(m.keyslots.len());
        for (key, slot) in &m.keyslots {
            let slot_id = id(key, "keyslots", MAX_KEYSLOTS)?;
            if !bound.contains(&slot_id) {
                return Err(field_err(
                    &format!("keyslots.{key}"),
                    "keyslot is not bound to the segment's digest",
                ));
            }
            keyslots.push(self.keyslot(slot_id, slot, keyslots_size, &segment)?);
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

    /// `config.keyslots_size`, with the JSON area's size and the flags checked.
    fn config(&self, c: &ConfigJson) -> Result<u64, HeaderError> {
        let json_size = self.hdr_size - BINARY_SIZE as u64;
        if c.json_size.0 != json_size {
            return Err(field_err(
                "config.json_size",
                format!("{}, expected {json_size}", c.json_size.0),
            ));
        }
        let keyslots_size = c.keyslots_size.0;
        if !keyslots_size.is_multiple_of(4096) {
            return Err(field_err("config.keyslots_size", "not a multiple of 4096"));
        }
        if let Some(f) = c.flags.iter().find(|f| !CONFIG_FLAGS.contains(&f.as_str())) {
            return Err(field_err("config.flags", format!("unknown flag {f:?}")));
        }
        if c.requirements.values().any(|r| !r.is_empty()) {
            return Err(field_err(
                "config.requirements",
                "requirements (e.g. reencryption) are not supported",
            ));
        }
        Ok(keyslots_size)
    }

    fn segment(
        &self,
        segments: &BTreeMap<String, metadata::SegmentJson>,
        keyslots_size: u64,
    ) -> Result<Segment, HeaderError> {
        if segments.len() != 1 {
            return Err(field_err(
                "segments",
                format!("{} segments, expected exactly 1", segments.len()),
            ));
        }
        let s = segments
            .get("0")
            .ok_or_else(|| field_err("segments.0", "missing"))?;
        if !s.flags.is_empty() {
            return Err(field_err(
                "segments.0.flags",
                "segment flags are not supported",
            ));
        }
        let sector_size = s.sector_size;
        if sector_size != 512 && sector_size != 4096 {
            return Err(field_err(
                "segments.0.sector_size",
                format!("{sector_size} is not supported (512 or 4096)"),
            ));
        }
        let offset = s.offset.0;
        let metadata_end = 2 * self.hdr_size + keyslots_size;
        if offset < metadata_end || offset % 4096 != 0 {
            return Err(HeaderError::OutOfBounds {
                what: "segment 0 offset".into(),
                offset,
                size: 0,
                bound: format!("the data area (4 KiB-aligned, from {metadata_end})"),
            });
        }
        let size = match s.size {
            SegmentSize::Dynamic => None,
            SegmentSize::Bytes(n) => {
                if n == 0 || n % u64::from(sector_size) != 0 {
                    return Err(field_err(
                        "segments.0.size",
                        "not a positive multiple of the sector size",
                    ));
                }
                Some(n)
            }
        };
        Ok(Segment {
            offset,
            size,
            iv_tweak: s.iv_tweak.0,
            sector_size,
        })
    }

    /// The one digest, and the ids of the keyslots it binds.
    fn digest(
        &self,
        digests: &BTreeMap<String, DigestJson>,
    ) -> Result<(KeyDigest, Vec<u32>), HeaderError> {
        if digests.len() != 1 {
            return Err(field_err(
                "digests",
                format!("{} digests, expected exactly 1", digests.len()),
            ));
        }
        let (key, d) = digests
            .iter()
            .next()
            .ok_or_else(|| field_err("digests", "empty"))?;
        let p = format!("digests.{key}");
        id(key, "digests", MAX_KEYSLOTS)?;
        let segments = id_list(&d.segments, &format!("{p}.segments"))?;
        if segments != [0] {
            return Err(field_err(
                &format!("{p}.segments"),
                "must be exactly [\"0\"]",
            ));
        }
        let bound = id_list(&d.keyslots, &format!("{p}.keyslots"))?;
        let iterations = ranged(
            &format!("{p}.iterations"),
            d.iterations,
            1,
            MAX_PBKDF2_ITERATIONS,
        )?;
        let salt = sized(&format!("{p}.salt"), &d.salt.0, SALT_LEN)?;
        let digest = sized(&format!("{p}.digest"), &d.digest.0, d.hash.output_len())?;
        Ok((
            KeyDigest {
                hash: d.hash,
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
        k: &KeyslotJson,
        keyslots_size: u64,
        segment: &Segment,
    ) -> Result<Keyslot, HeaderError> {
        let p = format!("keyslots.{slot_id}");
        let key_size = exactly(&format!("{p}.key_size"), k.key_size, KEY_SIZE as u32)? as usize;
        if k.priority > 2 {
            return Err(field_err(&format!("{p}.priority"), "expected 0, 1 or 2"));
        }
        let stripes = exactly(&format!("{p}.af.stripes"), k.af.stripes, STRIPES)?;
        exactly(
            &format!("{p}.area.key_size"),
            k.area.key_size,
            KEY_SIZE as u32,
        )?;
        let (area_offset, area_size) = (k.area.offset.0, k.area.size.0);
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
        let kdf = match &k.kdf {
            KdfJson::Pbkdf2 {
                hash,
                iterations,
                salt,
            } => Kdf::Pbkdf2 {
                hash: *hash,
                iterations: ranged(
                    &format!("{kdf_p}.iterations"),
                    *iterations,
                    1,
                    MAX_PBKDF2_ITERATIONS,
                )?,
                salt: sized(&format!("{kdf_p}.salt"), &salt.0, SALT_LEN)?,
            },
            KdfJson::Argon2id {
                time,
                memory,
                cpus,
                salt,
            } => Kdf::Argon2id {
                time: ranged(&format!("{kdf_p}.time"), *time, 1, MAX_ARGON2_TIME)?,
                memory_kib: ranged(
                    &format!("{kdf_p}.memory"),
                    *memory,
                    32,
                    MAX_ARGON2_MEMORY_KIB,
                )?,
                cpus: ranged(&format!("{kdf_p}.cpus"), *cpus, 1, MAX_ARGON2_CPUS)?,
                salt: sized(&format!("{kdf_p}.salt"), &salt.0, SALT_LEN)?,
            },
        };
        Ok(Keyslot {
            id: slot_id,
            key_size,
            area_offset,
            area_size,
            stripes,
            af_hash: k.af.hash,
            kdf,
            priority: k.priority,
        })
    }
}
