//! End to end over gRPC: the real `skr -simulate -server_type grpc` binary, every method of
//! the key provider (WrapKey then UnWrapKey through a real release of the sandbox's RSA key),
//! malformed inputs, and server reflection as `grpcurl list` uses it.

mod common;

use std::time::Duration;

use common::{Skr, b64};
use serde_json::{Value, json};
use skr::grpc::pb::key_provider_service_client::KeyProviderServiceClient;
use skr::grpc::pb::{
    HelloRequest, KeyProviderGetAttestationDataInput, KeyProviderGetReportInput,
    KeyProviderKeyWrapProtocolInput,
};
use tonic::Code;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

fn b64url_decode(s: &str) -> Vec<u8> {
    let mut out = vec![0u8; csc_core::base64::decoded_len_max(s.len())];
    let n = csc_core::base64::decode_into(s.as_bytes(), &mut out).unwrap();
    out.truncate(n);
    out
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let b = n.to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        out.push(0x80 | (b.len() - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
}

fn der(tag: u8, v: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(v.len(), &mut out);
    out.extend_from_slice(v);
    out
}

fn der_uint(be: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    if be[0] >= 0x80 {
        v.push(0);
    }
    v.extend_from_slice(be);
    der(0x02, &v)
}

/// The PEM SubjectPublicKeyInfo of an RSA public JWK.
fn spki_pem(jwk: &Value) -> String {
    let n = b64url_decode(jwk["n"].as_str().unwrap());
    let e = b64url_decode(jwk["e"].as_str().unwrap());
    let rsa = der(0x30, &[der_uint(&n), der_uint(&e)].concat());
    let mut bits = vec![0u8];
    bits.extend_from_slice(&rsa);
    let alg = [
        0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let spki = der(0x30, &[&alg[..], &der(0x03, &bits)].concat());
    csc_azure::certs::pem_encode("PUBLIC KEY", &spki)
}

async fn channel(url: &str) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn input(v: &Value) -> KeyProviderKeyWrapProtocolInput {
    KeyProviderKeyWrapProtocolInput {
        key_provider_key_wrap_protocol_input: v.to_string().into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_provider_methods_reflection_and_sigterm() {
    let mut skr = Skr::start(&["-server_type", "grpc"]);
    let url = format!("http://{}", skr.addr);
    let mut client = KeyProviderServiceClient::new(channel(&url).await);

    // SayHello, as upstream's grpc_test.
    let r = client
        .say_hello(HelloRequest {
            name: "this is a test!".into(),
        })
        .await
        .unwrap();
    assert_eq!(r.into_inner().message, "Hello this is a test!");

    // GetReport: REPORT_DATA = SHA-256 of the hex string's text, as upstream.
    let hex = "00112233";
    let r = client
        .get_report(KeyProviderGetReportInput {
            report_data_hex_string: hex.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.report_hex_string.len(), 2368);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, hex.as_bytes());
    let want = csc_core::hex::Hex(digest.as_ref()).to_string();
    assert_eq!(&r.report_hex_string[160..224], want);

    // GetAttestationData.
    let r = client
        .get_attestation_data(KeyProviderGetAttestationDataInput {
            b64_runtime_data_string: b64(b"runtime"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.endorsed_tcb.len(), 16);
    assert_eq!(b64url_decode(&r.attestation_report).len(), 1184);
    assert!(
        String::from_utf8(b64url_decode(&r.certs))
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let e = client
        .get_attestation_data(KeyProviderGetAttestationDataInput {
            b64_runtime_data_string: "*not base64*".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // WrapKey to the sandbox's RSA key (key files on the sidecar's filesystem, as upstream),
    // then UnWrapKey: a real release of that key through MAA and the emulated HSM.
    let dir = tempfile::tempdir().unwrap();
    let pub_path = dir.path().join("pub.pem");
    std::fs::write(&pub_path, spki_pem(&skr.sim["rsa_public_jwk"])).unwrap();
    let rsa_kid = skr.kid("rsa").to_string();
    let name = rsa_kid.split('/').next().unwrap().to_string();
    let key_path = dir.path().join(&name);
    std::fs::write(
        format!("{}-info.json", key_path.display()),
        json!({"public_key_path": pub_path, "kms_endpoint": skr.akv(), "attester_endpoint": skr.maa()})
            .to_string(),
    )
    .unwrap();
    let secret = b"a layer key of 32 bytes, exactly";
    let wrap = json!({"op": "keywrap", "keywrapparams": {"ec": {"Parameters": {"attestation-agent": [b64(format!("skr:{}", key_path.display()).as_bytes())]}}, "optsdata": b64(secret)}});
    let out = client.wrap_key(input(&wrap)).await.unwrap().into_inner();
    let out: Value = serde_json::from_slice(&out.key_provider_key_wrap_protocol_output).unwrap();
    let annotation = out["keywrapresults"]["annotation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(out["keyunwrapresults"]["optsdata"].is_null());
    let ann: Value = serde_json::from_slice(&b64url_decode(&annotation)).unwrap();
    assert_eq!(ann["kid"], name.as_str());
    assert_eq!(ann["wrap_type"], "rsa_3072");

    let unwrap = json!({"op": "keyunwrap", "keywrapparams": {}, "keyunwrapparams": {"dc": {"Parameters": {"attestation-agent": [b64(b"skr")]}}, "annotation": annotation}});
    let out = client
        .un_wrap_key(input(&unwrap))
        .await
        .unwrap()
        .into_inner();
    let out: Value = serde_json::from_slice(&out.key_provider_key_wrap_protocol_output).unwrap();
    assert!(out["keywrapresults"]["annotation"].is_null());
    assert_eq!(
        b64url_decode(out["keyunwrapresults"]["optsdata"].as_str().unwrap()),
        secret
    );

    // Malformed inputs: InvalidArgument, never a crash.
    for bad in [
        b"".to_vec(),
        b"{".to_vec(),
        b"[1]".to_vec(),
        br#"{"keyunwrapparams": {"dc": {"Parameters": {"attestation-agent": ["c2ty"]}}, "annotation": "!!"}}"#.to_vec(),
        br#"{"keyunwrapparams": {"dc": {"Parameters": {"attestation-agent": ["YWE="]}}}}"#.to_vec(),
        br#"{"keyunwrapparams": {"dc": {"Parameters": {"attestation-agent": [5]}}}}"#.to_vec(),
    ] {
        let e = client
            .un_wrap_key(KeyProviderKeyWrapProtocolInput {
                key_provider_key_wrap_protocol_input: bad.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{}", String::from_utf8_lossy(&bad));
        let e = client
            .wrap_key(KeyProviderKeyWrapProtocolInput {
                key_provider_key_wrap_protocol_input: bad.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
    }
    // An annotation naming a key that is not there: the release is refused.
    let ann_missing = b64(
        json!({"kid": "no-such-key", "wrapped_data": b64(&[0; 256]), "kms_endpoint": skr.akv(), "attester_endpoint": skr.maa()})
            .to_string()
            .as_bytes(),
    );
    let unwrap = json!({"keyunwrapparams": {"dc": {"Parameters": {"attestation-agent": [b64(b"skr")]}}, "annotation": ann_missing}});
    let e = client.un_wrap_key(input(&unwrap)).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    // Oversized message.
    let e = client
        .wrap_key(KeyProviderKeyWrapProtocolInput {
            key_provider_key_wrap_protocol_input: vec![b'x'; 2 * 1024 * 1024],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");

    // Reflection: what `grpcurl list` asks.
    let mut refl = ServerReflectionClient::new(channel(&url).await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("no service list: {resp:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"key_provider.KeyProviderService".to_string()),
        "{names:?}"
    );
    drop(stream);
    drop(refl);
    drop(client);

    skr.terminate();
    let status = skr
        .wait(Duration::from_secs(20))
        .expect("skr did not exit on SIGTERM");
    assert!(status.success(), "{status:?}");
}
