//! IMDS managed identity tokens and the Entra ID (AAD v2) client-credentials endpoint used by
//! workload identity. Tokens are RS256 JWTs signed by the emulator, with the claims Azure puts
//! in them (`aud`, `iss`, `appid`, `tid`, `xms_az_rid`), so that the HSM can check them and
//! Azurite (in OAuth mode) accepts them.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::State;
use crate::fault::Fault;
use crate::http::{Reply, Req, query_param};
use crate::jwt;
use crate::pki::Signers;

/// The client id of the emulated system-assigned identity.
pub const SYSTEM_CLIENT_ID: &str = "00000000-0000-4000-8000-00000000c5c0";

/// Issues an access token for `audience`.
pub fn issue(
    state: &State,
    keys: &Signers,
    audience: &str,
    client_id: &str,
    fault: Option<&Fault>,
) -> Option<(String, u64)> {
    let now = jwt::now();
    let lifetime = state.config.token_lifetime.as_secs().max(1);
    let aud = if matches!(fault, Some(Fault::WrongClaims)) {
        "https://wrong-audience.example"
    } else {
        audience
    };
    let claims = json!({
        "aud": aud,
        "iss": format!("https://sts.windows.net/{}/", state.config.tenant_id),
        "iat": now,
        "nbf": now.saturating_sub(60),
        "exp": now + lifetime,
        "appid": client_id,
        "oid": client_id,
        "sub": client_id,
        "tid": state.config.tenant_id,
        "xms_az_rid": "/subscriptions/00000000-0000-4000-8000-000000000001/resourcegroups/emulated/providers/Microsoft.ContainerInstance/containerGroups/emulated",
        "ver": "1.0",
    });
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": jwt::kid(&keys.identity)});
    let token = jwt::sign(
        &keys.identity,
        &header,
        claims.to_string().as_bytes(),
        matches!(fault, Some(Fault::BadSignature)),
    )?;
    Some((token, lifetime))
}

/// GET `/metadata/identity/oauth2/token?api-version=...&resource=...[&client_id=...]`.
pub fn imds(state: &State, keys: &Signers, req: &Req, fault: Option<&Fault>) -> Reply {
    if req.method != Method::GET {
        return Reply::oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "GET only",
        );
    }
    if req.header("metadata") != Some("true") {
        return Reply::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    let Some(resource) = req.param("resource").filter(|r| !r.is_empty()) else {
        return Reply::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    if req.param("api-version").is_none() {
        return Reply::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let client_id = req
        .param("client_id")
        .unwrap_or_else(|| SYSTEM_CLIENT_ID.to_string());
    let Some((token, lifetime)) = issue(state, keys, &resource, &client_id, fault) else {
        return Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SigningFailed",
            "could not sign",
        );
    };
    let now = jwt::now();
    Reply::json(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "refresh_token": "",
            "expires_in": lifetime.to_string(),
            "expires_on": (now + lifetime).to_string(),
            "not_before": now.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
    )
}

/// POST `/{tenant}/oauth2/v2.0/token` with the client-credentials form and a federated
/// assertion.
pub fn aad(state: &State, keys: &Signers, req: &Req, tenant: &str, fault: Option<&Fault>) -> Reply {
    let form = String::from_utf8_lossy(&req.body).to_string();
    let p = |k: &str| query_param(&form, k).unwrap_or_default();
    let bad = |d: &str| Reply::oauth_error(StatusCode::BAD_REQUEST, "invalid_request", d);
    if req.method != Method::POST {
        return bad("POST only");
    }
    if tenant != state.config.tenant_id {
        return bad("unknown tenant");
    }
    if p("grant_type") != "client_credentials" {
        return bad("grant_type must be client_credentials");
    }
    if p("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
        return bad("client_assertion_type must be jwt-bearer");
    }
    let assertion = p("client_assertion");
    if assertion.is_empty() {
        return bad("client_assertion is missing");
    }
    if let Some(expected) = &state.config.federated_token
        && assertion != *expected
    {
        return Reply::oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS700211: the client assertion is not the federated token",
        );
    }
    let client_id = p("client_id");
    if client_id.is_empty() {
        return bad("client_id is missing");
    }
    let scope = p("scope");
    let Some(audience) = scope.strip_suffix("/.default").filter(|a| !a.is_empty()) else {
        return bad("scope must be <resource>/.default");
    };
    let Some((token, lifetime)) = issue(state, keys, audience, &client_id, fault) else {
        return Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SigningFailed",
            "could not sign",
        );
    };
    Reply::json(
        StatusCode::OK,
        &json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }),
    )
}

/// Checks a bearer token issued by this emulator for `audience`; the claims on success.
pub fn check_bearer(keys: &Signers, req: &Req, audiences: &[&str]) -> Result<Value, String> {
    let auth = req
        .header("authorization")
        .ok_or("no Authorization header")?;
    let token = auth
        .strip_prefix("Bearer ")
        .ok_or("Authorization is not a Bearer token")?;
    let claims = jwt::verify(&keys.identity, token)?;
    let aud = claims.get("aud").and_then(Value::as_str).unwrap_or("");
    if !audiences
        .iter()
        .any(|a| a.trim_end_matches('/') == aud.trim_end_matches('/'))
    {
        return Err(format!("token audience {aud:?} is not accepted here"));
    }
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if exp < jwt::now() {
        return Err("token expired".into());
    }
    Ok(Value::Object(claims))
}
