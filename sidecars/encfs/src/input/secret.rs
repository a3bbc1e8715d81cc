//! Secret text from the input (`bearer_token`, `raw_key`): zeroed on drop, never shown by
//! `Debug` or `Display`.

use std::fmt;

use zeroize::Zeroizing;

/// A secret string. `Debug` prints only whether it is set.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `s`.
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }

    /// The text (for the one place that uses it; never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when empty (Go's zero value: "not given").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(empty)")
        } else {
            f.write_str("Secret(redacted)")
        }
    }
}

/// Secret bytes (a decoded raw key). `Debug` prints only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps `b`.
    pub fn new(b: Vec<u8>) -> Self {
        Self(Zeroizing::new(b))
    }

    /// The bytes (never log them).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Moves the bytes out, still zeroized on drop.
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.sig".into());
        let shown = format!("{s:?} {:?}", SecretBytes::new(b"0123456789abcdef".to_vec()));
        assert!(!shown.contains("eyJ") && !shown.contains("0123"), "{shown}");
        assert_eq!(shown, "Secret(redacted) SecretBytes(16 bytes, redacted)");
        assert_eq!(format!("{:?}", Secret::default()), "Secret(empty)");
    }
}
