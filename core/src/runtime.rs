//! The conventions that bind data into a report.
//!
//! The sidecars put SHA-256 of the runtime data (the JWK set of the wrapping key, or any bytes
//! the caller posts to `/attest/raw`) in the first 32 bytes of REPORT_DATA and zeros after it.
//! On Azure Container Instances the host sets HOST_DATA to SHA-256 of the security policy text
//! (the base64-decoded policy).

use sha2::{Digest, Sha256};

use crate::abi::size;

/// REPORT_DATA for `runtime_data`: SHA-256 in bytes 0..32, zeros in 32..64.
pub fn report_data_for(runtime_data: &[u8]) -> [u8; size::REPORT_DATA] {
    let mut out = [0u8; size::REPORT_DATA];
    for (o, d) in out.iter_mut().zip(Sha256::digest(runtime_data).iter()) {
        *o = *d;
    }
    out
}

/// HOST_DATA for a security policy: SHA-256 of the policy bytes (already base64-decoded).
pub fn host_data_for(policy: &[u8]) -> [u8; size::HOST_DATA] {
    Sha256::digest(policy).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn report_data_is_sha256_then_zeros() {
        let rd = report_data_for(b"");
        assert_eq!(
            crate::hex::Hex(&rd[..32]).to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(rd[32..].iter().all(|b| *b == 0));
    }
}
