//! Text as upstream's Go programs read it.
//!
//! - JSON: `encoding/json` matches member names to struct fields case-insensitively, so
//!   configurations written for upstream (`"KID"`, `"Key"`, ...) must load here too. The
//!   structs of skr's configuration, its gRPC annotations and importkey's configuration use
//!   lower-case names and read a value passed through [`lowercase_keys`] first.
//! - Hex: `hex.DecodeString` takes digits of either case and nothing else (no white space,
//!   unlike the core's reader, which skips it for text people paste): [`decode_hex`].

use serde_json::Value;

/// Hex digits of either case and nothing else, as Go's `hex.DecodeString`; `None` for
/// anything else (white space, an odd count, other characters).
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.bytes().any(csc_core::hex::is_space) {
        return None;
    }
    let mut out = vec![0u8; csc_core::hex::decoded_len(text.as_bytes()).ok()?];
    csc_core::hex::decode_into(text.as_bytes(), &mut out).ok()?;
    Some(out)
}

/// `v` with every object member name in ASCII lower case, at every depth (objects inside
/// arrays too, as Go matches the fields of structs in slices).
pub fn lowercase_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lowercase_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hex_is_digits_only() {
        assert_eq!(decode_hex("00fF"), Some(vec![0, 255]));
        assert_eq!(decode_hex(""), Some(vec![]));
        for bad in ["0", "zz", "é0", "00 ff", "00\n"] {
            assert_eq!(decode_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn member_names_are_lowered_at_every_depth_and_values_kept() {
        let v = json!({"Key": {"KID": "MyKey", "Akv": [{"EndPoint": "X"}]}, "n": [1, "A"]});
        assert_eq!(
            lowercase_keys(v),
            json!({"key": {"kid": "MyKey", "akv": [{"endpoint": "X"}]}, "n": [1, "A"]})
        );
    }
}
