//! The release flow end to end against the sandbox: the simulated platform and the Azure
//! emulators over TLS on loopback, with the emulated MAA checking reports with the core
//! verifier pinned to the simulated ARK.

use std::path::Path;

use csc_core::hex::Hex;
use csc_core::report::Report;
use csc_emulate::{Fault, FaultRule, Target};
use csc_release::sandbox::{Sandbox, SandboxKey, SandboxOptions};
use csc_release::{KeyRequest, ReleaseError, build};

fn options() -> SandboxOptions {
    SandboxOptions {
        key_cache: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("csc-release-keys")),
        ..SandboxOptions::default()
    }
}

async fn sandbox() -> Sandbox {
    let sb = Sandbox::start(options()).await.unwrap();
    sb.ready().await.unwrap();
    sb
}

fn request(sb: &Sandbox, kid: &str) -> KeyRequest {
    KeyRequest {
        maa_endpoint: sb.endpoints().maa.clone(),
        akv_endpoint: sb.endpoints().hsm.clone(),
        kid: kid.to_string(),
        access_token: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oct_and_rsa_keys_are_released_and_unwrapped_to_the_imported_jwk() {
    let sb = sandbox().await;
    let (attester, releaser) = build(sb.release_config().unwrap()).unwrap();
    assert!(attester.simulated());
    for (name, kind) in [("oct-key", SandboxKey::Oct), ("rsa-key", SandboxKey::Rsa)] {
        let imported = sb.import_key(name, kind).unwrap();
        // By name and by name/version.
        for kid in [name.to_string(), imported.kid.clone()] {
            let (jwk, account) = releaser
                .release_with_account(&request(&sb, &kid))
                .await
                .unwrap_or_else(|e| panic!("{kid}: {e}"));
            assert_eq!(jwk.json(), imported.expected_jwk.as_str(), "{kid}");
            assert!(!format!("{jwk:?}").contains(jwk.json()));
            let claims = account.claims.unwrap();
            assert!(claims.contains(sb.host_data_hex()), "{claims}");
            assert!(account.verified.unwrap().contains("pinned"));
        }
    }
    // Two releases drew two different wrapping keys, and the pool refills (in the background:
    // RSA generation takes long on a loaded machine, so wait for it rather than a fixed time).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while releaser.pool().ready() == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(releaser.pool().ready() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_reports_bind_runtime_data_and_verify_locally() {
    let sb = sandbox().await;
    let (attester, _) = build(sb.release_config().unwrap()).unwrap();
    let report = attester.report(b"{\"hello\":1}").await.unwrap();
    let r = Report::parse(&report).unwrap();
    assert_eq!(
        &r.report_data()[..32],
        &csc_core::runtime::report_data_for(b"{\"hello\":1}")[..32]
    );
    assert_eq!(Hex(r.host_data()).to_string(), sb.host_data_hex());
    let evidence = attester.evidence(b"x").await.unwrap();
    assert!(evidence.verified.pinned_root);
    assert!(evidence.chain_pem.contains("BEGIN CERTIFICATE"));
    let token = attester
        .maa_token(&sb.endpoints().maa, b"{\"a\":2}")
        .await
        .unwrap();
    let claims = csc_release::token_claims(token.expose()).unwrap();
    assert!(claims.contains("sevsnpvm"), "{claims}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_their_step() {
    let sb = sandbox().await;
    let (_, releaser) = build(sb.release_config().unwrap()).unwrap();

    // A key whose policy wants another HOST_DATA: refused by the HSM, with the token's claims.
    let mut policy = sb.release_policy();
    policy["anyOf"][0]["allOf"][0]["equals"] = "00".repeat(32).into();
    sb.import_key_with_policy("other-policy", SandboxKey::Oct, &policy)
        .unwrap();
    let e = releaser
        .release(&request(&sb, "other-policy"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ReleaseError::KeyVault {
                claims: Some(_),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.http_status(), 403);
    assert!(e.to_string().contains(sb.host_data_hex()), "{e}");

    // Unknown key.
    let e = releaser
        .release(&request(&sb, "missing"))
        .await
        .unwrap_err();
    assert!(matches!(e, ReleaseError::KeyVault { .. }), "{e}");

    // Empty fields: a request error, nothing sent.
    let e = releaser.release(&request(&sb, " ")).await.unwrap_err();
    assert_eq!(e.http_status(), 400, "{e}");

    // MAA down.
    sb.import_key("ok", SandboxKey::Oct).unwrap();
    sb.emulator().set_fault(
        Target::Maa,
        FaultRule::always(Fault::Status { status: 400 }),
    );
    let e = releaser.release(&request(&sb, "ok")).await.unwrap_err();
    assert!(matches!(e, ReleaseError::Maa { .. }), "{e}");
    sb.emulator().clear_faults();

    // A token that does not verify (bad signature, wrong claims) is never sent to the vault.
    for fault in [Fault::BadSignature, Fault::WrongClaims] {
        sb.emulator()
            .set_fault(Target::Maa, FaultRule::always(fault));
        let hsm_before = sb.emulator().requests(Target::Hsm);
        let e = releaser.release(&request(&sb, "ok")).await.unwrap_err();
        assert!(matches!(e, ReleaseError::Maa { .. }), "{e}");
        assert!(e.to_string().contains("MAA token"), "{e}");
        assert_eq!(sb.emulator().requests(Target::Hsm), hsm_before);
        sb.emulator().clear_faults();
    }

    // A tampered HSM answer is refused by the JWS check.
    sb.emulator()
        .set_fault(Target::Hsm, FaultRule::always(Fault::BadSignature));
    let e = releaser.release(&request(&sb, "ok")).await.unwrap_err();
    assert!(matches!(e, ReleaseError::KeyVault { .. }), "{e}");
    sb.emulator().clear_faults();

    releaser.release(&request(&sb, "ok")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_does_not_verify_locally_is_never_sent() {
    let sb = sandbox().await;
    let mut config = sb.release_config().unwrap();
    // Trust AMD's roots: the simulated platform's report must be refused locally.
    config.trust = csc_release::Trust::Amd;
    let (_, releaser) = build(config).unwrap();
    sb.import_key("k", SandboxKey::Oct).unwrap();
    let before = sb.emulator().requests(Target::Maa);
    let e = releaser.release(&request(&sb, "k")).await.unwrap_err();
    assert!(matches!(e, ReleaseError::Verification(_)), "{e}");
    assert_eq!(sb.emulator().requests(Target::Maa), before);
}
