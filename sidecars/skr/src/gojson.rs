//! Reading request JSON the way upstream's Go code does (`encoding/json` into a struct), so that
//! every body and key-provider input means the same to this sidecar as to upstream's:
//!
//! - a member name matches a field when they are equal under Go's `bytes.EqualFold`: ASCII
//!   letters in either case, and the Kelvin sign (U+212A) and long s (U+017F) standing for `k`
//!   and `s`; nothing else folds;
//! - members are applied in document order, so among duplicates and case variants the last one
//!   wins; `null` leaves a string or struct field as it was, and clears a map or byte slice;
//! - a struct-valued field given twice is decoded twice into the same struct (members merge);
//!   map keys match exactly (maps do not fold);
//! - a known field of the wrong JSON type fails the whole input; unknown members are ignored
//!   whatever they hold.
//!
//! The text is checked in full first (syntax and nesting, with the core's borrowing reader,
//! nothing copied but the strings asked for). Invalid UTF-8 is read as U+FFFD, as Go does.

use std::borrow::Cow;
use std::collections::BTreeMap;

use csc_core::json::{self, JsonStr, Value};

/// Why a JSON input does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoJsonError {
    /// Not a JSON text.
    #[error("not JSON: {0}")]
    Syntax(String),
    /// The text is JSON but not an object.
    #[error("expected a JSON object, got {0}")]
    NotObject(&'static str),
    /// A known member of the wrong type.
    #[error("\"{field}\" must be {expected}, not {got}")]
    Type {
        /// The member (dotted path for nested ones).
        field: &'static str,
        /// What Go's field type takes.
        expected: &'static str,
        /// What the input had.
        got: &'static str,
    },
    /// A string whose escapes do not decode.
    #[error("\"{field}\": {detail}")]
    Text {
        /// The member.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// The JSON type of a value, for messages.
pub fn kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The request text: invalid UTF-8 becomes U+FFFD, as Go's decoder reads it.
pub fn text(body: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(body)
}

/// True when the member name `key` selects the field `field` (an ASCII name) in Go.
pub fn name_matches(key: &str, field: &str) -> bool {
    let mut k = key.chars();
    for f in field.chars() {
        let Some(c) = k.next() else { return false };
        let same = if c.is_ascii() {
            c.eq_ignore_ascii_case(&f)
        } else {
            match c {
                '\u{212A}' => f.eq_ignore_ascii_case(&'k'),
                '\u{17F}' => f.eq_ignore_ascii_case(&'s'),
                _ => false,
            }
        };
        if !same {
            return false;
        }
    }
    k.next().is_none()
}

fn unescape(field: &'static str, s: JsonStr<'_>) -> Result<String, GoJsonError> {
    if let Some(plain) = s.as_plain() {
        return Ok(plain.to_string());
    }
    let mut buf = vec![0u8; s.raw().len()];
    let n = s
        .unescape_into(&mut buf)
        .map_err(|e| GoJsonError::Text {
            field,
            detail: e.to_string(),
        })?
        .len();
    buf.truncate(n);
    String::from_utf8(buf).map_err(|e| GoJsonError::Text {
        field,
        detail: e.to_string(),
    })
}

fn key_matches(key: JsonStr<'_>, field: &str) -> bool {
    match key.as_plain() {
        Some(k) => name_matches(k, field),
        None => {
            // A name with escapes; one that does not fit is longer than any field name.
            let mut buf = [0u8; 256];
            matches!(key.unescape_into(&mut buf), Ok(k) if name_matches(k, field))
        }
    }
}

/// A JSON object decoded as a Go struct: the texts of every object that was decoded into
/// it, in document order (one, unless the field was given more than once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoObject<'a> {
    parts: Vec<&'a str>,
}

impl<'a> GoObject<'a> {
    /// Checks the whole text and takes its top-level object. A top-level `null` is an empty
    /// struct, as in Go.
    pub fn parse(text: &'a str) -> Result<Self, GoJsonError> {
        match json::parse(text) {
            Ok(Value::Object(o)) => Ok(GoObject { parts: vec![o] }),
            Ok(Value::Null) => Ok(GoObject::default()),
            Ok(other) => Err(GoJsonError::NotObject(kind(&other))),
            Err(e) => Err(GoJsonError::Syntax(e.to_string())),
        }
    }

    /// The values of the members that select `field`, in document order.
    fn values(&self, field: &str) -> Vec<Value<'a>> {
        let mut out = Vec::new();
        for part in &self.parts {
            // The text was checked by `parse`; a member that fails to read cannot occur.
            for (k, v) in json::members(part).flatten() {
                if key_matches(k, field) {
                    out.push(v);
                }
            }
        }
        out
    }

    /// A `string` field: the last string given; `null` leaves it; `None` if never set.
    pub fn string(&self, field: &'static str) -> Result<Option<String>, GoJsonError> {
        let mut current = None;
        for v in self.values(field) {
            match v {
                Value::Null => {}
                Value::String(s) => current = Some(unescape(field, s)?),
                other => {
                    return Err(GoJsonError::Type {
                        field,
                        expected: "a string",
                        got: kind(&other),
                    });
                }
            }
        }
        Ok(current)
    }

    /// A `[]byte` field's base64 text: as a string field, except that `null` clears it.
    pub fn bytes_text(&self, field: &'static str) -> Result<Option<String>, GoJsonError> {
        let mut current = None;
        for v in self.values(field) {
            match v {
                Value::Null => current = None,
                Value::String(s) => current = Some(unescape(field, s)?),
                other => {
                    return Err(GoJsonError::Type {
                        field,
                        expected: "a base64 string",
                        got: kind(&other),
                    });
                }
            }
        }
        Ok(current)
    }

    /// A struct-valued field: every object given for it, merged in order; `null` leaves it.
    pub fn object(&self, field: &'static str) -> Result<GoObject<'a>, GoJsonError> {
        let mut parts = Vec::new();
        for v in self.values(field) {
            match v {
                Value::Null => {}
                Value::Object(o) => parts.push(o),
                other => {
                    return Err(GoJsonError::Type {
                        field,
                        expected: "an object",
                        got: kind(&other),
                    });
                }
            }
        }
        Ok(GoObject { parts })
    }

    /// A `map[string][]string` field: keys exactly as written (the last duplicate wins),
    /// objects given twice merge, `null` clears the map; a `null` element is `""`.
    pub fn string_lists(
        &self,
        field: &'static str,
    ) -> Result<BTreeMap<String, Vec<String>>, GoJsonError> {
        let mut map = BTreeMap::new();
        for v in self.values(field) {
            let o = match v {
                Value::Null => {
                    map.clear();
                    continue;
                }
                Value::Object(o) => o,
                other => {
                    return Err(GoJsonError::Type {
                        field,
                        expected: "an object of string arrays",
                        got: kind(&other),
                    });
                }
            };
            for (k, v) in json::members(o).flatten() {
                let key = unescape(field, k)?;
                let list = match v {
                    Value::Null => Vec::new(),
                    Value::Array(a) => string_list(field, a)?,
                    other => {
                        return Err(GoJsonError::Type {
                            field,
                            expected: "an object of string arrays",
                            got: kind(&other),
                        });
                    }
                };
                map.insert(key, list);
            }
        }
        Ok(map)
    }
}

fn string_list(field: &'static str, array: &str) -> Result<Vec<String>, GoJsonError> {
    let mut out = Vec::new();
    for e in json::elements(array).flatten() {
        match e {
            Value::Null => out.push(String::new()),
            Value::String(s) => out.push(unescape(field, s)?),
            other => {
                return Err(GoJsonError::Type {
                    field,
                    expected: "an array of strings",
                    got: kind(&other),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Expected results are what Go 1.23's `json.Unmarshal` gives for the same input into
    //! upstream's structs (`KeyReleaseData`, `DecryptConfig`, `AnnotationPacket`), following
    //! its documentation: "preferring an exact match but also accepting a case-insensitive
    //! match", later members overwrite earlier ones, null is a no-op for strings and structs
    //! and sets maps and slices to nil.
    use super::*;
    use proptest::strategy::Strategy;

    fn obj(text: &str) -> GoObject<'_> {
        GoObject::parse(text).unwrap()
    }

    #[test]
    fn last_in_document_order_wins_among_case_variants() {
        let t = r#"{"runtime_data":"!!!","RUNTIME_DATA":"AA=="}"#;
        assert_eq!(obj(t).string("runtime_data").unwrap().unwrap(), "AA==");
        let t = r#"{"RUNTIME_DATA":"AA==","runtime_data":"!!!"}"#;
        assert_eq!(obj(t).string("runtime_data").unwrap().unwrap(), "!!!");
        let t = r#"{"kid":"a","KID":"b","Kid":"c"}"#;
        assert_eq!(obj(t).string("kid").unwrap().unwrap(), "c");
        let t = r#"{"kid":"a","kid":"b"}"#;
        assert_eq!(obj(t).string("kid").unwrap().unwrap(), "b");
    }

    #[test]
    fn null_leaves_a_string_and_clears_bytes() {
        let t = r#"{"runtime_data":"AA==","runtime_data":null}"#;
        assert_eq!(obj(t).string("runtime_data").unwrap().unwrap(), "AA==");
        let t = r#"{"wrapped_data":"AQID","WRAPPED_DATA":null}"#;
        assert_eq!(obj(t).bytes_text("wrapped_data").unwrap(), None);
        assert_eq!(obj("{}").string("kid").unwrap(), None);
        assert_eq!(obj("null").string("kid").unwrap(), None);
    }

    #[test]
    fn go_folding_kelvin_and_long_s_only() {
        let t = r#"{"\u212Aid":"kelvin","acce\u017F\u017F_to\u212Aen":"longs"}"#;
        assert_eq!(obj(t).string("kid").unwrap().unwrap(), "kelvin");
        assert_eq!(obj(t).string("access_token").unwrap().unwrap(), "longs");
        // Raw (unescaped) non-ASCII names fold the same way.
        let t = "{\"\u{212A}ID\":\"raw\"}";
        assert_eq!(obj(t).string("kid").unwrap().unwrap(), "raw");
        // Dotted and dotless i do not fold to i in Go.
        for t in [
            r#"{"k\u0130d":"x"}"#,
            r#"{"k\u0131d":"x"}"#,
            "{\"k\u{130}d\":\"x\"}",
        ] {
            assert_eq!(obj(t).string("kid").unwrap(), None, "{t}");
        }
        assert!(!name_matches("kidx", "kid"));
        assert!(!name_matches("ki", "kid"));
        assert!(name_matches("KiD", "kid"));
        assert!(!name_matches("k-d", "kid"));
        // Escaped ASCII is the same name.
        assert_eq!(
            obj(r#"{"\u006bid":"e"}"#).string("kid").unwrap().unwrap(),
            "e"
        );
    }

    #[test]
    fn wrong_types_fail_even_when_a_later_member_is_right() {
        for t in [
            r#"{"runtime_data":5,"runtime_data":"AA=="}"#,
            r#"{"kid":"k","kid":5}"#,
            r#"{"kid":"k","kid":{}}"#,
            r#"{"kid":"k","kid":true,"kid":"z"}"#,
        ] {
            let o = obj(t);
            let name = if t.contains("runtime") {
                "runtime_data"
            } else {
                "kid"
            };
            assert!(
                matches!(o.string(name), Err(GoJsonError::Type { .. })),
                "{t}"
            );
        }
        // Unknown members are not looked at, whatever they hold.
        let t = r#"{"kid":"k","unknown":{"kid":5},"x":[1,{"a":null}]}"#;
        assert_eq!(obj(t).string("kid").unwrap().unwrap(), "k");
    }

    #[test]
    fn structs_merge_maps_match_exactly() {
        let t = r#"{"keyunwrapparams":{"dc":{"Parameters":{"a":["1"]}}},"KeyUnwrapParams":{"dc":{"Parameters":{"b":["2"]}},"annotation":"x"}}"#;
        let kup = obj(t).object("keyunwrapparams").unwrap();
        let p = kup
            .object("dc")
            .unwrap()
            .string_lists("parameters")
            .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p["a"], ["1"]);
        assert_eq!(p["b"], ["2"]);
        assert_eq!(kup.string("annotation").unwrap().unwrap(), "x");

        let t = r#"{"keyunwrapparams":{"dc":{"Parameters":{"a":["1"]}}},"KeyUnwrapParams":{"DC":{"parameters":null}}}"#;
        let p = obj(t)
            .object("keyunwrapparams")
            .unwrap()
            .object("dc")
            .unwrap()
            .string_lists("parameters")
            .unwrap();
        assert!(p.is_empty());

        let t = r#"{"Parameters":{"A":["1"],"a":["2"],"a":["3","4"],"n":["x",null]}}"#;
        let p = obj(t).string_lists("parameters").unwrap();
        assert_eq!(p["A"], ["1"]);
        assert_eq!(p["a"], ["3", "4"]);
        assert_eq!(p["n"], ["x", ""]);

        // A struct given as null keeps what it had.
        let t = r#"{"keyunwrapparams":{"annotation":"x"},"keyunwrapparams":null}"#;
        let kup = obj(t).object("keyunwrapparams").unwrap();
        assert_eq!(kup.string("annotation").unwrap().unwrap(), "x");

        for t in [
            r#"{"Parameters":{"a":"1"}}"#,
            r#"{"Parameters":{"a":[1]}}"#,
            r#"{"Parameters":[]}"#,
        ] {
            assert!(obj(t).string_lists("parameters").is_err(), "{t}");
        }
        assert!(obj(r#"{"dc":5}"#).object("dc").is_err());
    }

    #[test]
    fn text_errors() {
        assert!(matches!(GoObject::parse("{"), Err(GoJsonError::Syntax(_))));
        assert!(matches!(
            GoObject::parse("[1]"),
            Err(GoJsonError::NotObject("an array"))
        ));
        assert!(matches!(
            GoObject::parse("\"x\""),
            Err(GoJsonError::NotObject("a string"))
        ));
        // Invalid UTF-8 inside a string reads as U+FFFD.
        let t = text(b"{\"kid\":\"a\xff\"}");
        assert_eq!(obj(&t).string("kid").unwrap().unwrap(), "a\u{FFFD}");
        assert_eq!(
            obj(r#"{"kid":"A\u00e9"}"#).string("kid").unwrap().unwrap(),
            "Aé"
        );
    }

    /// Go's fold of a name, written out from `bytes.EqualFold`'s definition for the runes
    /// the generator uses (a reference for the property below).
    fn go_fold(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                'a'..='z' => c.to_ascii_uppercase(),
                '\u{212A}' => 'K',
                '\u{17F}' => 'S',
                other => other,
            })
            .collect()
    }

    #[derive(Debug, Clone)]
    enum Member {
        Null,
        Str(String),
        Num,
        Obj,
    }

    fn render(members: &[(String, Member, bool)]) -> String {
        let mut out = String::from("{");
        for (i, (k, v, escape)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let key = if *escape {
                k.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
            } else {
                k.clone()
            };
            out.push_str(&format!("\"{key}\":"));
            match v {
                Member::Null => out.push_str("null"),
                Member::Str(s) => out.push_str(&format!("\"{s}\"")),
                Member::Num => out.push('5'),
                Member::Obj => out.push_str(r#"{"kid":"inner"}"#),
            }
        }
        out.push('}');
        out
    }

    proptest::proptest! {
        #[test]
        fn string_fields_follow_document_order_and_go_folding(
            members in proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "kid", "KID", "Kid", "kId", "\u{212A}id", "k\u{130}d", "k\u{131}d",
                        "kidx", "ki", "other", "\u{17F}id",
                    ]),
                    proptest::prop_oneof![
                        proptest::strategy::Just(Member::Null),
                        "[a-z]{0,6}".prop_map(Member::Str),
                        proptest::strategy::Just(Member::Num),
                        proptest::strategy::Just(Member::Obj),
                    ],
                    proptest::bool::ANY,
                ),
                0..8,
            )
        ) {
            use proptest::prop_assert;
            use proptest::prop_assert_eq;
            let members: Vec<(String, Member, bool)> =
                members.into_iter().map(|(k, v, e)| (k.to_string(), v, e)).collect();
            let text = render(&members);
            let got = GoObject::parse(&text).unwrap().string("kid");
            // Reference: every member whose folded name is KID, in order.
            let mut want: Result<Option<String>, ()> = Ok(None);
            for (k, v, _) in &members {
                if go_fold(k) != "KID" {
                    continue;
                }
                match v {
                    Member::Null => {}
                    Member::Str(s) => {
                        if let Ok(cur) = &mut want {
                            *cur = Some(s.clone());
                        }
                    }
                    Member::Num | Member::Obj => want = Err(()),
                }
            }
            match want {
                Ok(w) => prop_assert_eq!(got, Ok(w), "{}", text),
                Err(()) => prop_assert!(got.is_err(), "{}: {:?}", text, got),
            }
        }

        #[test]
        fn any_input_reads_or_fails_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let t = text(&bytes);
            if let Ok(o) = GoObject::parse(&t) {
                let _ = o.string("kid");
                let _ = o.bytes_text("wrapped_data");
                let _ = o.string_lists("parameters");
                if let Ok(inner) = o.object("keyunwrapparams") {
                    let _ = inner.object("dc").and_then(|d| d.string_lists("parameters"));
                }
            }
        }
    }
}
