//! RS256 JWT/JWS signing and checking with the emulator's own keys.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::pki::RsaSigner;

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url with or without padding.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let t = s.trim_end_matches('=');
    // Azure takes either alphabet in JSON bodies (az and Python clients send standard base64).
    URL_SAFE_NO_PAD.decode(t).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(t)
            .ok()
    })
}

/// Signs `header.payload` with RS256; `corrupt` flips a bit of the signature (fault injection).
pub fn sign(signer: &RsaSigner, header: &Value, payload: &[u8], corrupt: bool) -> Option<String> {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload)
    );
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut sig = vec![0u8; signer.key.public_modulus_len()];
    signer
        .key
        .sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
        .ok()?;
    if corrupt && let Some(last) = sig.last_mut() {
        *last ^= 0x01;
    }
    Some(format!("{input}.{}", b64url(&sig)))
}

/// Checks an RS256 JWT made by `signer` and returns its claims (signature only; callers
/// check times and audiences).
pub fn verify(signer: &RsaSigner, token: &str) -> Result<Map<String, Value>, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("token is not a compact JWS".into());
    };
    let header: Value = b64url_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("token header is not base64url JSON")?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("token alg is not RS256".into());
    }
    let sig = b64url_decode(s).ok_or("token signature is not base64url")?;
    let key = RsaPublicKeyComponents {
        n: &signer.n,
        e: &signer.e,
    };
    key.verify(
        &RSA_PKCS1_2048_8192_SHA256,
        format!("{h}.{p}").as_bytes(),
        &sig,
    )
    .map_err(|_| "token signature does not verify".to_string())?;
    match b64url_decode(p).and_then(|b| serde_json::from_slice(&b).ok()) {
        Some(Value::Object(m)) => Ok(m),
        _ => Err("token payload is not a JSON object".into()),
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The key id the emulator publishes for a signer: its certificate thumbprint.
pub fn kid(signer: &RsaSigner) -> String {
    signer.x5t_s256.clone()
}
