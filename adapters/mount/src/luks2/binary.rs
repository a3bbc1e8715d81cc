//! One copy of the LUKS2 binary header checked on its own: magic, version, `hdr_size`, offset,
//! SHA-256 checksum over the whole copy, the NUL-terminated text fields, and the JSON area
//! (terminated, zero after). Comparing the two copies and reading the JSON is
//! [`Luks2Header::parse`](super::Luks2Header::parse)'s.

use super::error::{Copy, HeaderError};
use super::hash::sha256;
use super::layout::{self, BINARY_SIZE, HDR_SIZES, MAGIC_PRIMARY, MAGIC_SECONDARY, field};

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

/// The parts of one checked copy that the two copies must agree on.
pub(super) struct BinaryCopy<'a> {
    /// Sequence id.
    pub seqid: u64,
    /// Label.
    pub label: &'a str,
    /// UUID.
    pub uuid: &'a str,
    /// Subsystem.
    pub subsystem: &'a str,
    /// The JSON text, without its terminator.
    pub json: &'a [u8],
}

/// Checks one copy (`hdr` is exactly `hdr_size` bytes) and returns its parts.
pub(super) fn check_copy(
    hdr: &[u8],
    copy: Copy,
    hdr_size: u64,
) -> Result<BinaryCopy<'_>, HeaderError> {
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
    Ok(BinaryCopy {
        seqid: layout::be_u64(hdr, field::SEQID),
        label,
        uuid,
        subsystem,
        json: json_area.get(..end).unwrap_or(&[]),
    })
}
