//! The LUKS2 JSON metadata (on-disk format specification, section 3) as serde types, for
//! reading a header ([`read`]) and writing one ([`super::format_metadata`]). The schema
//! is closed: an unknown member anywhere, a type that is not the one cryptsetup writes for
//! upstream's images (`luks2` keyslots, `luks1` AF, `raw` areas, `crypt` segments,
//! `aes-xts-plain64`, `pbkdf2` digests, PBKDF2 or Argon2id keyslots) or a value of the wrong
//! JSON type is refused here, naming the member's path. What depends on the numbers (sizes,
//! bounds, ranges, which keyslot is bound to what) is checked in [`super::header`].

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::error::HeaderError;
use super::hash::Hash;

/// The whole JSON area, in the order cryptsetup writes its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Metadata {
    /// Keyslots by id.
    pub keyslots: BTreeMap<String, KeyslotJson>,
    /// Tokens by id (none are supported; kept to refuse them with a clear message).
    pub tokens: BTreeMap<String, Value>,
    /// Segments by id.
    pub segments: BTreeMap<String, SegmentJson>,
    /// Digests by id.
    pub digests: BTreeMap<String, DigestJson>,
    /// Sizes and persistent flags.
    pub config: ConfigJson,
}

/// `keyslots.<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyslotJson {
    /// `luks2`.
    #[serde(rename = "type")]
    pub kind: KeyslotType,
    /// Bytes of the key it stores.
    pub key_size: u32,
    /// Anti-forensic splitter.
    pub af: AfJson,
    /// Where the encrypted key material is.
    pub area: AreaJson,
    /// Key derivation from the passphrase.
    pub kdf: KdfJson,
    /// 0 ignore, 1 normal (cryptsetup leaves it out), 2 high.
    #[serde(
        default = "normal_priority",
        skip_serializing_if = "is_normal_priority"
    )]
    pub priority: u8,
}

fn normal_priority() -> u8 {
    1
}

fn is_normal_priority(p: &u8) -> bool {
    *p == 1
}

/// The one keyslot type supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum KeyslotType {
    /// `luks2`.
    #[serde(rename = "luks2")]
    Luks2,
}

/// `keyslots.<id>.af`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AfJson {
    /// `luks1`.
    #[serde(rename = "type")]
    pub kind: AfType,
    /// Stripes.
    pub stripes: u32,
    /// Diffusion hash.
    pub hash: Hash,
}

/// The one AF type supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum AfType {
    /// `luks1`.
    #[serde(rename = "luks1")]
    Luks1,
}

/// `keyslots.<id>.area`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AreaJson {
    /// `raw`.
    #[serde(rename = "type")]
    pub kind: AreaType,
    /// Byte offset in the image.
    pub offset: Decimal,
    /// Bytes.
    pub size: Decimal,
    /// Cipher of the area.
    pub encryption: Cipher,
    /// Bytes of the area key.
    pub key_size: u32,
}

/// The one area type supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum AreaType {
    /// `raw`.
    #[serde(rename = "raw")]
    Raw,
}

/// `keyslots.<id>.kdf`, by its `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub(super) enum KdfJson {
    /// `pbkdf2`.
    #[serde(rename = "pbkdf2")]
    Pbkdf2 {
        /// HMAC hash.
        hash: Hash,
        /// Iterations.
        iterations: u32,
        /// Salt.
        salt: Base64,
    },
    /// `argon2id`.
    #[serde(rename = "argon2id")]
    Argon2id {
        /// Passes.
        time: u32,
        /// KiB.
        memory: u32,
        /// Lanes.
        cpus: u32,
        /// Salt.
        salt: Base64,
    },
}

/// `segments.<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SegmentJson {
    /// `crypt`.
    #[serde(rename = "type")]
    pub kind: SegmentType,
    /// Byte offset of the data.
    pub offset: Decimal,
    /// Bytes, or `dynamic` (to the end of the image).
    pub size: SegmentSize,
    /// Added to the sector number to form the IV.
    pub iv_tweak: Decimal,
    /// Cipher.
    pub encryption: Cipher,
    /// Encryption sector size.
    pub sector_size: u32,
    /// Segment flags (none are supported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Value>,
}

/// The one segment type supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum SegmentType {
    /// `crypt`.
    #[serde(rename = "crypt")]
    Crypt,
}

/// The one cipher supported ([`CIPHER`](super::CIPHER)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Cipher {
    /// `aes-xts-plain64`.
    #[serde(rename = "aes-xts-plain64")]
    AesXtsPlain64,
}

/// `digests.<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DigestJson {
    /// `pbkdf2`.
    #[serde(rename = "type")]
    pub kind: DigestType,
    /// Ids of the keyslots whose key it checks.
    pub keyslots: Vec<String>,
    /// Ids of the segments the key opens.
    pub segments: Vec<String>,
    /// HMAC hash.
    pub hash: Hash,
    /// Iterations.
    pub iterations: u32,
    /// Salt.
    pub salt: Base64,
    /// PBKDF2 output of the volume key.
    pub digest: Base64,
}

/// The one digest type supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum DigestType {
    /// `pbkdf2`.
    #[serde(rename = "pbkdf2")]
    Pbkdf2,
}

/// `config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigJson {
    /// Bytes of the JSON area.
    pub json_size: Decimal,
    /// Bytes of the keyslots area.
    pub keyslots_size: Decimal,
    /// Persistent activation flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// Requirement lists by kind (all must be empty: no reencryption and the like).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requirements: BTreeMap<String, Vec<Value>>,
}

/// Deserializes a JSON string through `parse`, which returns the value or what is wrong.
fn from_json_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct StrVisitor<T> {
        expecting: &'static str,
        parse: fn(&str) -> Result<T, String>,
    }
    impl<T> Visitor<'_> for StrVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            (self.parse)(s).map_err(E::custom)
        }
    }
    d.deserialize_str(StrVisitor { expecting, parse })
}

/// A 64-bit number written as a decimal string, as LUKS2 writes sizes and offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decimal(pub u64);

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_json_str(d, "a decimal string", |s| {
            parse_decimal(s)
                .map(Decimal)
                .ok_or_else(|| format!("{s:?} is not a decimal string"))
        })
    }
}

/// Digits only, at most 20 of them, within `u64`.
fn parse_decimal(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| s.parse().ok()).flatten()
}

/// A segment's size: a decimal string, or `dynamic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SegmentSize {
    /// To the end of the image.
    Dynamic,
    /// Bytes.
    Bytes(u64),
}

impl Serialize for SegmentSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SegmentSize::Dynamic => s.serialize_str("dynamic"),
            SegmentSize::Bytes(n) => s.collect_str(n),
        }
    }
}

impl<'de> Deserialize<'de> for SegmentSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_json_str(d, "a decimal string or \"dynamic\"", |s| match s {
            "dynamic" => Ok(SegmentSize::Dynamic),
            _ => parse_decimal(s)
                .map(SegmentSize::Bytes)
                .ok_or_else(|| format!("{s:?} is neither a decimal string nor \"dynamic\"")),
        })
    }
}

/// Bytes written as standard base64 (salts, digests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Base64(pub Vec<u8>);

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_json_str(d, "standard base64", |s| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map(Base64)
                .map_err(|_| "invalid base64".to_string())
        })
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_json_str(d, "a hash name", |s| {
            Hash::from_name(s).ok_or_else(|| {
                format!("hash {s:?} is not supported (sha1, sha256, sha384, sha512)")
            })
        })
    }
}

/// Reads the JSON area's text. Text that is not JSON is [`HeaderError::Json`]; JSON that does
/// not fit the schema is [`HeaderError::Field`] at the path of the offending member (`$` for
/// the top level).
pub(super) fn read(json: &[u8]) -> Result<Metadata, HeaderError> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let metadata = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => HeaderError::Field {
                path: if path == "." { "$".into() } else { path },
                problem: inner.to_string(),
            },
            _ => HeaderError::Json(inner.to_string()),
        }
    })?;
    de.end().map_err(|e| HeaderError::Json(e.to_string()))?;
    Ok(metadata)
}

/// The JSON text of `metadata` (compact, as cryptsetup writes it).
pub(super) fn write(metadata: &Metadata) -> String {
    // Serializing these types into a String cannot fail: every map key is a string.
    serde_json::to_string(metadata).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(json: &str) -> (String, String) {
        match read(json.as_bytes()) {
            Err(HeaderError::Field { path, problem }) => (path, problem),
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn the_cipher_is_the_one_the_model_names() {
        assert_eq!(
            serde_json::to_value(Cipher::AesXtsPlain64).unwrap(),
            super::super::CIPHER
        );
    }

    #[test]
    fn schema_errors_name_the_member() {
        assert!(matches!(read(b"{"), Err(HeaderError::Json(_))));
        assert!(matches!(
            read(br#"{"keyslots": {"#),
            Err(HeaderError::Json(_))
        ));
        assert_eq!(field("[]").0, "$");
        let (path, problem) = field(r#"{"keyslots": {"0": {"type": "luks1"}}}"#);
        assert_eq!(path, "keyslots.0.type");
        assert!(problem.contains("luks1"), "{problem}");
        let (path, problem) =
            field(r#"{"keyslots": {}, "tokens": {}, "segments": {}, "digests": {}, "x": 1}"#);
        assert_eq!(path, "x");
        assert!(problem.contains("unknown field `x`"), "{problem}");
        let (path, _) = field(r#"{"keyslots": {"0": {"kdf": {"type": "pbkdf2", "rounds": 1}}}}"#);
        assert!(path.starts_with("keyslots.0.kdf"), "{path}");
    }

    #[test]
    fn decimals_are_digits_within_u64() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "-1", "+1", "1.0", " 1", "18446744073709551616", "0x10"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }
}
