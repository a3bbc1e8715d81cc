//! URLs as they may appear in errors and logs: query values that are secrets are replaced.

/// Query parameters whose values are secrets (SAS signature, assertions, tokens).
const SECRET_PARAMS: [&str; 6] = [
    "sig",
    "client_assertion",
    "client_secret",
    "access_token",
    "token",
    "code",
];

/// The URL with the values of secret query parameters replaced by `REDACTED`.
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(k)) => {
                format!("{k}=REDACTED")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sas_signature_is_hidden() {
        let u = "https://a.blob.core.windows.net/c/b?sv=2020-10-02&sig=abc%2Bdef&sp=r";
        assert_eq!(
            redact_url(u),
            "https://a.blob.core.windows.net/c/b?sv=2020-10-02&sig=REDACTED&sp=r"
        );
        assert_eq!(redact_url("https://x/y"), "https://x/y");
    }
}
