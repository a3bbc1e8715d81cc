//! Identity tokens against the emulated IMDS and Entra ID, including faults.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use csc_azure::identity::{Credential, TokenProvider};
use csc_azure::{Error, Service};
use csc_emulate::{Fault, FaultRule, Target};

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&csc_azure::jose::b64url(payload).unwrap()).unwrap()
}

fn imds(emu: &csc_emulate::Emulator, client_id: Option<&str>) -> Credential {
    Credential::ManagedIdentity {
        base_url: emu.endpoints().imds.clone(),
        client_id: client_id.map(String::from),
    }
}

#[tokio::test]
async fn system_and_user_assigned_identity_tokens() {
    let emu = common::emulator().await;
    let sys = TokenProvider::new(common::http(&emu), imds(&emu, None));
    let t = sys.token("https://vault.azure.net").await.unwrap();
    let c = claims(t.token.expose());
    assert_eq!(c["aud"], "https://vault.azure.net");
    assert_eq!(c["appid"], csc_emulate::identity::SYSTEM_CLIENT_ID);
    let user = TokenProvider::new(common::http(&emu), imds(&emu, Some("my-client")));
    let t = user.token("https://managedhsm.azure.net").await.unwrap();
    assert_eq!(claims(t.token.expose())["appid"], "my-client");
    assert!(!format!("{t:?}").contains(t.token.expose()));
}

#[tokio::test]
async fn tokens_are_cached_and_refreshed_before_expiry() {
    let emu = common::emulator_with(|c| c.token_lifetime = Duration::from_secs(2)).await;
    let p = TokenProvider::new(common::http(&emu), imds(&emu, None));
    let a = p.token("https://vault.azure.net").await.unwrap();
    let b = p.token("https://vault.azure.net").await.unwrap();
    assert_eq!(a.token, b.token);
    assert_eq!(emu.requests(Target::Imds), 1);
    // A 2 s token is refreshed at half its life, before it expires.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let c = p.token("https://vault.azure.net").await.unwrap();
    assert_eq!(emu.requests(Target::Imds), 2);
    assert!(c.expires_at > a.expires_at);
    p.token("https://storage.azure.com").await.unwrap();
    assert_eq!(emu.requests(Target::Imds), 3);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let emu = common::emulator().await;
    let p = Arc::new(TokenProvider::new(common::http(&emu), imds(&emu, None)));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.token("https://vault.azure.net").await.map(|t| t.token) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(emu.requests(Target::Imds), 1);
}

#[tokio::test]
async fn workload_identity_exchanges_the_federated_token() {
    let emu =
        common::emulator_with(|c| c.federated_token = Some("projected-sa-token".into())).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "projected-sa-token\n").unwrap();
    let e = emu.endpoints().clone();
    let env = |k: &str| match k {
        "AZURE_CLIENT_ID" => Some("wi-client".to_string()),
        "AZURE_TENANT_ID" => Some(e.tenant_id.clone()),
        "AZURE_FEDERATED_TOKEN_FILE" => Some(file.display().to_string()),
        "AZURE_AUTHORITY_HOST" => Some(e.authority.clone()),
        _ => None,
    };
    let cred = Credential::workload_identity_from(env).unwrap();
    let p = TokenProvider::new(common::http(&emu), cred.clone());
    let t = p.token("https://vault.azure.net").await.unwrap();
    let c = claims(t.token.expose());
    assert_eq!(c["aud"], "https://vault.azure.net");
    assert_eq!(c["appid"], "wi-client");
    assert_eq!(emu.requests(Target::Aad), 1);
    assert_eq!(emu.requests(Target::Imds), 0);

    // The file is re-read: a rotated, wrong token is refused with Entra ID's own message.
    std::fs::write(&file, "stale").unwrap();
    let p = TokenProvider::new(common::http(&emu), cred);
    let err = p.token("https://vault.azure.net").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let text = err.to_string();
    assert!(
        text.contains("Entra ID") && text.contains("AADSTS700211"),
        "{text}"
    );
    assert!(!text.contains("stale"), "assertion leaked: {text}");
}

#[tokio::test]
async fn missing_token_file_is_a_clear_error() {
    let emu = common::emulator().await;
    let cred = Credential::WorkloadIdentity {
        authority_host: emu.endpoints().authority.clone(),
        tenant_id: emu.endpoints().tenant_id.clone(),
        client_id: "c".into(),
        token_file: "/nonexistent/token".into(),
    };
    let err = TokenProvider::new(common::http(&emu), cred)
        .token("https://vault.azure.net")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("federated token file /nonexistent/token"),
        "{err}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let emu = common::emulator().await;
    let p = TokenProvider::new(common::http(&emu), imds(&emu, None));
    emu.set_fault(
        Target::Imds,
        FaultRule::times(Fault::Status { status: 503 }, 2),
    );
    p.token("https://vault.azure.net").await.unwrap();
    assert_eq!(emu.requests(Target::Imds), 3);

    emu.set_fault(
        Target::Imds,
        FaultRule::always(Fault::Status { status: 500 }),
    );
    let err = p.token("https://other").await.unwrap_err();
    match &err {
        Error::Status {
            service,
            status,
            attempts,
            message,
            url,
            ..
        } => {
            assert_eq!(*service, Service::Imds);
            assert_eq!(*status, 500);
            assert_eq!(*attempts, 3);
            assert!(
                message
                    .as_deref()
                    .unwrap()
                    .contains("injected server error")
            );
            assert!(url.contains("/metadata/identity/oauth2/token"));
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(emu.requests(Target::Imds), 6);
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_long_one_fails_fast() {
    let emu = common::emulator().await;
    let p = TokenProvider::new(common::http(&emu), imds(&emu, None));
    emu.set_fault(
        Target::Imds,
        FaultRule::times(
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
            1,
        ),
    );
    let t0 = Instant::now();
    p.token("https://vault.azure.net").await.unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert_eq!(emu.requests(Target::Imds), 2);

    emu.set_fault(
        Target::Imds,
        FaultRule::always(Fault::TooManyRequests {
            retry_after_secs: 600,
        }),
    );
    let t0 = Instant::now();
    let err = p.token("https://other").await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(err, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(600)),
        "{err}"
    );
    assert_eq!(emu.requests(Target::Imds), 3);
}

#[tokio::test]
async fn slow_and_truncated_answers_end_in_bounded_time() {
    let emu = common::emulator().await;
    let mut cfg = common::http_config(&emu);
    cfg.attempt_timeout = Duration::from_millis(300);
    let p = TokenProvider::new(
        csc_azure::http::HttpClient::new(cfg).unwrap(),
        imds(&emu, None),
    );
    emu.set_fault(
        Target::Imds,
        FaultRule::always(Fault::Latency { ms: 5_000 }),
    );
    let t0 = Instant::now();
    let err = p.token("https://vault.azure.net").await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(matches!(err, Error::Timeout { attempts: 3, .. }), "{err}");

    emu.set_fault(Target::Imds, FaultRule::always(Fault::Truncate));
    let err = p.token("https://vault.azure.net").await.unwrap_err();
    assert!(matches!(err, Error::Transport { attempts: 3, .. }), "{err}");

    emu.set_fault(Target::Imds, FaultRule::times(Fault::Truncate, 1));
    p.token("https://vault.azure.net").await.unwrap();
}

#[tokio::test]
async fn imds_requires_the_metadata_header_semantics() {
    // The client always sends it; a request without it is refused by IMDS (and the emulator).
    let emu = common::emulator().await;
    let http = common::http(&emu);
    let req = csc_azure::http::Request::new(
        Service::Imds,
        http::Method::GET,
        format!(
            "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x",
            emu.endpoints().imds
        ),
    );
    let err = http.send(req).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(
        err.to_string().contains("Required metadata header"),
        "{err}"
    );
}
