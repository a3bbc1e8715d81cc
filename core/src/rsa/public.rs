//! RSA public-key operations: RSASSA-PSS verification. (Issue 3.)
