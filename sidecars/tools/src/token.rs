//! `get-token`: fetches a managed identity token from IMDS, as upstream's tool does, to check
//! that a container group's identity works.
//!
//! Flags (upstream's): `-r RESOURCE` (required; e.g. `https://managedhsm.azure.net`),
//! `-c CLIENT_ID` (a user-assigned identity). Plus `-imds-url` and `-ca-file` (see
//! [`crate::azure`]).
//!
//! Output, as upstream's: `Token:  <token>`, `ExpiresIn:  <seconds>`, the token's payload
//! segment, then the lifetime (Go duration syntax, e.g. `1h0m0s`) of a second token fetched for
//! the first one's `aud` with its `appid` as client id (the refresh path the blob client uses).
//! Unlike upstream, a failure stops with a message and a non-zero exit (1 usage, 4 service,
//! 6 a token that is not a JWT or lacks `aud`/`appid`) instead of printing an empty token or
//! panicking.

use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

use csc_azure::identity::{AccessToken, TokenProvider};
use csc_azure::jose::b64url;

use crate::args::Args;
use crate::azure::{self, Endpoints};
use crate::exit::Failure;

/// Usage text.
pub const USAGE: &str =
    "usage: get-token -r RESOURCE [-c CLIENT_ID] [-imds-url URL] [-ca-file PEM]";

/// Whole seconds until `token` expires, rounded up (so a fresh one-hour token shows 3600).
pub fn expires_in(token: &AccessToken, now: SystemTime) -> u64 {
    match token.expires_at.duration_since(now) {
        Ok(d) => d.as_secs() + u64::from(d.subsec_nanos() > 0),
        Err(_) => 0,
    }
}

/// A duration in seconds as Go's `time.Duration.String` writes it (`0s`, `59s`, `1m0s`,
/// `1h0m0s`, `25h1m1s`).
pub fn go_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// The payload segment of a JWT and its `aud` and `appid` claims.
pub fn payload_claims(jwt: &str) -> Result<(&str, String, String), Failure> {
    let payload = jwt
        .split('.')
        .nth(1)
        .filter(|_| jwt.split('.').count() == 3)
        .ok_or_else(|| Failure::malformed("the token is not a JWT (three dot-separated parts)"))?;
    let bytes = b64url(payload)
        .map_err(|e| Failure::malformed(format!("the token's payload is not base64url: {e}")))?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::malformed(format!("the token's payload is not JSON: {e}")))?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Failure::malformed(format!("the token has no {k} claim")))
    };
    Ok((payload, text("aud")?, text("appid")?))
}

/// Runs the tool.
pub fn run(
    args: &Args,
    env: impl Fn(&str) -> Option<String>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let mut known = vec!["r", "c"];
    known.extend(azure::OPTIONS);
    args.reject_unknown(&known)
        .map_err(|e| Failure::usage(format!("{e}\n{USAGE}")))?;
    let resource = match args.value("r") {
        Some(r) if !r.is_empty() && args.positional().is_empty() => r.to_string(),
        _ => return Err(Failure::usage(USAGE)),
    };
    let client_id = args.value("c").unwrap_or("").to_string();
    let endpoints = Endpoints::from_args(args, env);
    let http = endpoints.http()?;
    let w = |r: std::io::Result<()>| r.map_err(|e| Failure::usage(format!("cannot write: {e}")));

    azure::runtime()?.block_on(async {
        let first = TokenProvider::new(http.clone(), endpoints.managed_identity(&client_id));
        let token = first
            .token(&resource)
            .await
            .map_err(azure::service_failure)?;
        let secs = expires_in(&token, SystemTime::now());
        w(writeln!(out, "Token:  {}", token.token.expose()))?;
        w(writeln!(out, "ExpiresIn:  {secs}"))?;
        let (payload, aud, appid) = payload_claims(token.token.expose())?;
        w(writeln!(out, "{payload}"))?;

        let refresh = Arc::new(TokenProvider::new(http, endpoints.managed_identity(&appid)));
        let again = refresh.token(&aud).await.map_err(azure::service_failure)?;
        w(writeln!(
            out,
            "{}",
            go_duration(expires_in(&again, SystemTime::now()))
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_duration_matches_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(59), "59s");
        assert_eq!(go_duration(60), "1m0s");
        assert_eq!(go_duration(3600), "1h0m0s");
        assert_eq!(go_duration(86399), "23h59m59s");
        assert_eq!(go_duration(90061), "25h1m1s");
    }

    #[test]
    fn expiry_rounds_up_and_never_goes_negative() {
        let now = SystemTime::now();
        let t = |secs: u64, nanos: u32| AccessToken {
            token: String::from("x").into(),
            expires_at: now + Duration::new(secs, nanos),
            refresh_at: now,
        };
        assert_eq!(expires_in(&t(3599, 500), now), 3600);
        assert_eq!(expires_in(&t(3600, 0), now), 3600);
        let past = AccessToken {
            token: String::from("x").into(),
            expires_at: now - Duration::from_secs(5),
            refresh_at: now,
        };
        assert_eq!(expires_in(&past, now), 0);
    }

    #[test]
    fn payload_claims_need_a_jwt_with_aud_and_appid() {
        use csc_azure::jose::b64url_encode;
        let jwt = |claims: &str| format!("e30.{}.c2ln", b64url_encode(claims.as_bytes()));
        let good = jwt(r#"{"aud":"https://vault.azure.net","appid":"app-1"}"#);
        let (p, aud, appid) = payload_claims(&good).unwrap();
        assert_eq!(p, good.split('.').nth(1).unwrap());
        assert_eq!(
            (aud.as_str(), appid.as_str()),
            ("https://vault.azure.net", "app-1")
        );
        for bad in [
            "no-dots".to_string(),
            "a.b".to_string(),
            "a.!!!.c".to_string(),
            jwt("not json"),
            jwt(r#"{"aud":"x"}"#),
            jwt(r#"{"appid":"x"}"#),
        ] {
            let f = payload_claims(&bad).unwrap_err();
            assert_eq!(f.code, crate::exit::MALFORMED, "{bad}");
        }
    }
}
