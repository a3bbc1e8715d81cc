//! JSON as upstream's Go programs read it: `encoding/json` matches member names to struct
//! fields case-insensitively, so configurations written for upstream (`"KID"`, `"Key"`, ...)
//! must load here too. The structs of skr's configuration, its gRPC annotations and
//! importkey's configuration use lower-case names and read a value passed through
//! [`lowercase_keys`] first.

use serde_json::Value;

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
    fn member_names_are_lowered_at_every_depth_and_values_kept() {
        let v = json!({"Key": {"KID": "MyKey", "Akv": [{"EndPoint": "X"}]}, "n": [1, "A"]});
        assert_eq!(
            lowercase_keys(v),
            json!({"key": {"kid": "MyKey", "akv": [{"endpoint": "X"}]}, "n": [1, "A"]})
        );
    }
}
