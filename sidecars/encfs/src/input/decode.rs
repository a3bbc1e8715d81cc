//! Decoding JSON into the input structs the way Go's `encoding/json` does, over the core's
//! borrowing reader (strict RFC 8259 syntax, bounded nesting, members in document order):
//!
//! - a member matches a field by name, exactly or case-insensitively with Go's Unicode simple
//!   folding (for the ASCII field names here that means ASCII case plus U+212A KELVIN SIGN for
//!   `k` and U+017F LATIN SMALL LETTER LONG S for `s`);
//! - members are applied in document order, so a repeated member overrides the earlier one,
//!   and an object given twice is merged member by member (Go decodes into the same value);
//! - `null` leaves a field unchanged (an array field becomes empty, as a Go slice becomes nil);
//! - members that match no field are ignored (here with a warning naming them);
//! - a value of the wrong type is an error naming the member's path; decoding carries on so
//!   that one run reports every problem.

use std::fmt;

use csc_core::json::{self, JsonStr, Value};

/// Where a value sits in the input, e.g. `azure_filesystems[1].key.kid`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// The top-level object.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// The member `name` of this object.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }

    /// Element `i` of this array.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// The path text (empty for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("EncfsSideCarArgs")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// One problem with the input, naming where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Problem {
    /// The member's path.
    pub path: String,
    /// What is wrong (never contains a secret).
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: &FieldPath, message: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// Collects errors and warnings while decoding.
#[derive(Debug, Default)]
pub struct Decoder {
    /// Errors: the input is refused if there is any.
    pub errors: Vec<Problem>,
    /// Warnings: reported, not fatal.
    pub warnings: Vec<Problem>,
}

/// The JSON type of a value, as Go's error messages name it.
pub fn type_name(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Object(_) => "object",
        Value::Array(_) => "array",
    }
}

/// Go's case-insensitive member match, for field names made of ASCII lowercase letters,
/// digits and `_`.
pub fn name_matches(key: &str, field: &str) -> bool {
    let mut k = key.chars();
    for f in field.bytes() {
        let Some(c) = k.next() else { return false };
        let ok = match c {
            '\u{212A}' => f == b'k',
            '\u{017F}' => f == b's',
            c if c.is_ascii() => c.to_ascii_lowercase() as u32 == u32::from(f),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    k.next().is_none()
}

/// Resolves a JSON string's escapes.
pub fn unescape(s: JsonStr<'_>) -> Result<String, csc_core::error::JsonError> {
    if let Some(plain) = s.as_plain() {
        return Ok(plain.to_string());
    }
    // Escapes never expand: the text is at most as long as its escaped form.
    let mut buf = vec![0u8; s.raw().len()];
    s.unescape_into(&mut buf).map(str::to_string)
}

impl Decoder {
    fn type_error(&mut self, path: &FieldPath, expected: &str, v: &Value<'_>) {
        self.errors.push(Problem::new(
            path,
            format!("expected {expected}, found {}", type_name(v)),
        ));
    }

    /// A string member; `null` leaves `out` unchanged.
    pub fn string(&mut self, v: Value<'_>, path: &FieldPath, out: &mut String) {
        match v {
            Value::Null => {}
            Value::String(s) => match unescape(s) {
                Ok(t) => *out = t,
                Err(e) => self.errors.push(Problem::new(path, e.to_string())),
            },
            other => self.type_error(path, "a string", &other),
        }
    }

    /// A boolean member; `null` leaves `out` unchanged.
    pub fn bool(&mut self, v: Value<'_>, path: &FieldPath, out: &mut bool) {
        match v {
            Value::Null => {}
            Value::Bool(b) => *out = b,
            other => self.type_error(path, "true or false", &other),
        }
    }

    /// An array of strings; `null` empties it.
    pub fn strings(&mut self, v: Value<'_>, path: &FieldPath, out: &mut Vec<String>) {
        self.array(v, path, out, |d, v, p, item: &mut String| {
            d.string(v, p, item)
        });
    }

    /// An array whose elements `f` decodes into fresh default values; `null` empties it.
    pub fn array<'a, T: Default>(
        &mut self,
        v: Value<'a>,
        path: &FieldPath,
        out: &mut Vec<T>,
        mut f: impl FnMut(&mut Self, Value<'a>, &FieldPath, &mut T),
    ) {
        match v {
            Value::Null => out.clear(),
            Value::Array(text) => {
                out.clear();
                for (i, e) in json::elements(text).enumerate() {
                    match e {
                        Ok(e) => {
                            let mut item = T::default();
                            f(self, e, &path.index(i), &mut item);
                            out.push(item);
                        }
                        Err(e) => {
                            self.errors.push(Problem::new(path, e.to_string()));
                            return;
                        }
                    }
                }
            }
            other => self.type_error(path, "an array", &other),
        }
    }

    /// An object: each member whose name matches one of `fields` is handed to `f` with the
    /// field's index; other members are ignored with a warning. `null` changes nothing.
    /// Returns whether the value was an object.
    pub fn object<'a>(
        &mut self,
        v: Value<'a>,
        path: &FieldPath,
        fields: &[&str],
        mut f: impl FnMut(&mut Self, usize, Value<'a>, &FieldPath),
    ) -> bool {
        let text = match v {
            Value::Null => return false,
            Value::Object(text) => text,
            other => {
                self.type_error(path, "an object", &other);
                return false;
            }
        };
        for m in json::members(text) {
            let (k, value) = match m {
                Ok(kv) => kv,
                Err(e) => {
                    self.errors.push(Problem::new(path, e.to_string()));
                    break;
                }
            };
            let key = match unescape(k) {
                Ok(key) => key,
                Err(e) => {
                    self.errors.push(Problem::new(path, e.to_string()));
                    continue;
                }
            };
            match fields.iter().position(|name| name_matches(&key, name)) {
                Some(i) => f(
                    self,
                    i,
                    value,
                    &path.child(fields.get(i).copied().unwrap_or("")),
                ),
                None => self.warnings.push(Problem::new(
                    &path.child(&key),
                    "unknown member, ignored (as upstream does)",
                )),
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_like_go() {
        assert!(name_matches("mount_point", "mount_point"));
        assert!(name_matches("Mount_Point", "mount_point"));
        assert!(name_matches("MOUNT_POINT", "mount_point"));
        assert!(name_matches("\u{212A}ey", "key"));
        assert!(name_matches("\u{017F}alt", "salt"));
        assert!(!name_matches("mount-point", "mount_point"));
        assert!(!name_matches("mount_points", "mount_point"));
        assert!(!name_matches("mount_poin", "mount_point"));
        assert!(!name_matches("k\u{0301}ey", "key"));
        assert!(!name_matches("", "key"));
    }

    #[test]
    fn paths_read_like_the_input() {
        let p = FieldPath::root()
            .child("azure_filesystems")
            .index(1)
            .child("key")
            .child("kid");
        assert_eq!(p.to_string(), "azure_filesystems[1].key.kid");
        assert_eq!(FieldPath::root().to_string(), "EncfsSideCarArgs");
    }

    #[test]
    fn later_members_win_and_null_changes_nothing() {
        let text = r#"{"a": "one", "A": "two", "b": null, "c": 3, "z": 1}"#;
        let v = json::parse(text).unwrap();
        let mut d = Decoder::default();
        let (mut a, mut b, mut c) = (String::new(), "keep".to_string(), String::new());
        d.object(
            v,
            &FieldPath::root(),
            &["a", "b", "c"],
            |d, i, v, p| match i {
                0 => d.string(v, p, &mut a),
                1 => d.string(v, p, &mut b),
                _ => d.string(v, p, &mut c),
            },
        );
        assert_eq!((a.as_str(), b.as_str(), c.as_str()), ("two", "keep", ""));
        assert_eq!(d.errors.len(), 1);
        assert_eq!(
            d.errors[0].to_string(),
            "c: expected a string, found number"
        );
        assert_eq!(d.warnings.len(), 1);
        assert_eq!(d.warnings[0].path, "z");
    }

    #[test]
    fn escaped_keys_and_values_are_resolved() {
        let text = r#"{"\u006bid": "a\"b\u00e9"}"#;
        let v = json::parse(text).unwrap();
        let mut d = Decoder::default();
        let mut kid = String::new();
        d.object(v, &FieldPath::root(), &["kid"], |d, _, v, p| {
            d.string(v, p, &mut kid)
        });
        assert_eq!(kid, "a\"b\u{e9}");
        assert!(d.errors.is_empty() && d.warnings.is_empty());
    }
}
