//! Secrets held by the sidecar (bearer tokens): zeroized on drop, redacted in Debug.

use zeroize::Zeroizing;

/// A string that never prints and is wiped when dropped.
#[derive(Clone)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Takes ownership of `s`.
    pub fn new(s: String) -> Self {
        SecretString(Zeroizing::new(s))
    }
    /// The secret, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretString(<{} bytes redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_does_not_show_the_secret() {
        let s = super::SecretString::new("eyJ0b2tlbiI".to_string());
        assert!(!format!("{s:?}").contains("eyJ"));
        assert_eq!(s.expose(), "eyJ0b2tlbiI");
    }
}
