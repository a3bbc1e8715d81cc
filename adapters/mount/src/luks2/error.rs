//! Errors of LUKS2 header validation and unlocking.

/// Which header copy an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Copy {
    /// At offset 0.
    Primary,
    /// At offset `hdr_size`.
    Secondary,
}

impl std::fmt::Display for Copy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Primary => "primary",
            Self::Secondary => "secondary",
        })
    }
}

/// Why a LUKS2 header was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The image is shorter than the headers need.
    #[error("image of {size} bytes is too small: {needed} bytes needed for {what}")]
    TooSmall {
        /// What needed the room.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Image size.
        size: u64,
    },
    /// A binary header field has a wrong value.
    #[error("{copy} header: field {field} is {actual}, expected {expected}")]
    Binary {
        /// Which copy.
        copy: Copy,
        /// The field.
        field: &'static str,
        /// What was expected.
        expected: String,
        /// What was found.
        actual: String,
    },
    /// The checksum over a header copy does not match.
    #[error("{copy} header: checksum mismatch")]
    Checksum {
        /// Which copy.
        copy: Copy,
    },
    /// The two copies differ.
    #[error("primary and secondary headers differ in {field}")]
    CopiesDiffer {
        /// The differing part.
        field: &'static str,
    },
    /// The JSON area is not valid JSON.
    #[error("JSON area: {0}")]
    Json(String),
    /// A JSON field is missing, has the wrong type or an unsupported value.
    #[error("JSON {path}: {problem}")]
    Field {
        /// Path of the field, e.g. `keyslots.0.kdf.type`.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// A keyslot area or segment lies outside where it may be.
    #[error("{what} {offset}+{size} lies outside {bound}")]
    OutOfBounds {
        /// The object.
        what: String,
        /// Its offset.
        offset: u64,
        /// Its size.
        size: u64,
        /// The limit it breaks.
        bound: String,
    },
}

/// Why an image could not be unlocked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnlockError {
    /// No keyslot opened with the key file (wrong key).
    #[error("no keyslot opened with this key (tried {tried})")]
    WrongKey {
        /// Keyslots tried.
        tried: usize,
    },
    /// The key file is empty.
    #[error("the key file is empty")]
    EmptyKey,
    /// The key derivation failed (parameters refused by the KDF).
    #[error("keyslot {slot}: key derivation failed: {reason}")]
    Kdf {
        /// Keyslot id.
        slot: u32,
        /// Cause.
        reason: String,
    },
    /// Reading the keyslot area failed.
    #[error("keyslot {slot}: {source}")]
    Read {
        /// Keyslot id.
        slot: u32,
        /// Cause.
        #[source]
        source: crate::store::StoreError,
    },
    /// Random numbers were not available.
    #[error("no randomness: {0}")]
    Random(String),
}

/// Why a new header could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Random numbers (salts, UUID, AF stripes) were not available.
    #[error("no randomness: {0}")]
    Random(getrandom::Error),
    /// The data offset leaves no room for both header copies and the keyslot area.
    #[error(
        "data offset {data_offset} is too small: the header copies and the keyslot area take {needed} bytes"
    )]
    DataOffset {
        /// The offset asked for.
        data_offset: u64,
        /// Bytes the metadata needs before the data.
        needed: u64,
    },
    /// The keyslot area key is not an XTS key.
    #[error("keyslot area key: {0}")]
    AreaKey(crate::xts::KeyLengthError),
}
