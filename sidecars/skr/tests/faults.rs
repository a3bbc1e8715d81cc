//! Emulator faults behind the real HTTP server: the sidecar's service over the in-process
//! sandbox, with MAA, the HSM and IMDS failing in each way the emulator can fail. Every answer
//! is one JSON error naming the failed step, nothing hangs, and a release works again once the
//! fault is cleared.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use csc_emulate::{Fault, FaultRule, Target};
use serde_json::{Value, json};
use skr::service::ReleaseService;

#[test]
fn emulator_faults_become_clear_errors() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sandbox, oct, _rsa, _) = rt
        .block_on(skr::simulate::start_sandbox(None, None))
        .unwrap();
    let (_attester, releaser) = csc_release::build(sandbox.release_config().unwrap()).unwrap();
    let service = Arc::new(ReleaseService::new(releaser));
    service.set_ready();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(skr::api::http::serve(listener, service, async {
        let _ = stopped.await;
    }));
    let host = |u: &str| u.trim_start_matches("https://").to_string();
    let body = json!({
        "maa_endpoint": host(&sandbox.endpoints().maa),
        "akv_endpoint": host(&sandbox.endpoints().hsm),
        "kid": oct,
    })
    .to_string();
    let release = || common::call(addr, "POST", "/key/release", body.as_bytes());
    assert_eq!(release().0, 200);

    let cases = [
        (Target::Maa, Fault::Status { status: 500 }, "MAA"),
        (Target::Maa, Fault::Truncate, "MAA"),
        // The flow checks the MAA token's signature itself: it never reaches the vault.
        (Target::Maa, Fault::BadSignature, "token"),
        (Target::Hsm, Fault::Status { status: 503 }, "key release"),
        (Target::Hsm, Fault::Truncate, "key release"),
        (Target::Hsm, Fault::BadSignature, "key release"),
        (Target::Hsm, Fault::ExpiredCert, "key release"),
        (Target::Hsm, Fault::WrongClaims, "key release"),
    ];
    for (target, fault, step) in cases {
        sandbox
            .emulator()
            .set_fault(target, FaultRule::always(fault.clone()));
        let t = Instant::now();
        let (status, answer) = release();
        let took = t.elapsed();
        sandbox.emulator().clear_faults();
        let v: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("{target:?} {fault:?}: not JSON ({e}): {answer}"));
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(
            (400..600).contains(&status) && msg.contains(step),
            "{target:?} {fault:?}: {status} {answer}"
        );
        assert!(
            took < Duration::from_secs(45),
            "{target:?} {fault:?} took {took:?}"
        );
        assert_eq!(release().0, 200, "after clearing {target:?} {fault:?}");
    }
    // Latency within the deadline still succeeds.
    sandbox
        .emulator()
        .set_fault(Target::Maa, FaultRule::always(Fault::Latency { ms: 300 }));
    assert_eq!(release().0, 200);
    sandbox.emulator().clear_faults();

    let _ = stop.send(());
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
    });
}
