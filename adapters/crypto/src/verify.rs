//! aws-lc-rs report-signature and RSA-PSS verification backend. (Issue 3.)
