//! Secret text (access tokens) that zeroizes on drop and never shows in Debug output.

use zeroize::Zeroizing;

/// A secret string: bearer tokens, assertions. `Debug` prints its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        SecretString(Zeroizing::new(s))
    }

    /// The secret text; keep the borrow short.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretString(<{} bytes>)", self.0.len())
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString::new(s)
    }
}

/// Secret bytes (key material, wrapped keys) that zeroize on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps secret bytes.
    pub fn new(b: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(b))
    }

    /// The bytes; keep the borrow short.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<{} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_contents() {
        let s = SecretString::new("eyJhbGciOi.secret".into());
        assert_eq!(format!("{s:?}"), "SecretString(<17 bytes>)");
        let b = SecretBytes::new(vec![1, 2, 3]);
        assert!(!format!("{b:?}").contains('1'));
    }
}
