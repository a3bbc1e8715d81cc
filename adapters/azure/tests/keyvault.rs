//! Key import and secure key release against the emulated managed HSM, the whole chain:
//! IMDS token -> MAA attest -> release -> JWS verified -> (test-side) unwrap.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPrivateKeyBin, Pkcs8V1Der};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use csc_azure::identity::{Credential, TokenProvider};
use csc_azure::jose::b64url_encode;
use csc_azure::keyvault::{
    ClaimCondition, JwsVerifier, KeyVaultClient, ReleasePolicy, ReleasedKey,
};
use csc_azure::maa::{Evidence, MaaClient};
use csc_azure::secret::SecretString;
use csc_core::report::Report;
use csc_emulate::{Emulator, Fault, FaultRule, Target};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::json;

/// The upstream SKR test key: its JWK set is `csc/skr/test_jwk_set.json`, and the version-1
/// report of upstream's Test_SNP carries SHA-256 of that JWK set as REPORT_DATA.
fn ephemeral_key() -> OaepPrivateDecryptingKey {
    let pem = common::vector("csc/skr/rsa_aes_kwp_private_key.pem");
    let der = match rustls_pemfile::private_key(&mut &pem[..]).unwrap().unwrap() {
        rustls_pki_types::PrivateKeyDer::Pkcs1(k) => k.secret_pkcs1_der().to_vec(),
        other => panic!("unexpected key {other:?}"),
    };
    let kp = aws_lc_rs::rsa::KeyPair::from_der(&der).unwrap();
    let pkcs8: Pkcs8V1Der<'_> = kp.as_der().unwrap();
    OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref()).unwrap())
        .unwrap()
}

fn v1_report() -> Vec<u8> {
    let hex = String::from_utf8(common::vector("csc/test_snp_v1_report.hex")).unwrap();
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// Test-side unwrap (the production unwrap lives in the core): RSA-OAEP then AES-KWP.
fn unwrap(key: &ReleasedKey) -> Vec<u8> {
    let alg = match key.enc.as_str() {
        "CKM_RSA_AES_KEY_WRAP" => &OAEP_SHA1_MGF1SHA1,
        "RSA_AES_KEY_WRAP_256" => &OAEP_SHA256_MGF1SHA256,
        other => panic!("enc {other}"),
    };
    csc_testkit::unwrap::rsa_aes_kwp(&ephemeral_key(), alg, key.ciphertext.expose())
}

struct Setup {
    emu: Emulator,
    kv: KeyVaultClient,
    maa: MaaClient,
}

async fn setup() -> Setup {
    let emu = common::emulator().await;
    let tokens = Arc::new(TokenProvider::new(
        common::http(&emu),
        Credential::ManagedIdentity {
            base_url: emu.endpoints().imds.clone(),
            client_id: None,
        },
    ));
    let kv = KeyVaultClient::new(common::http(&emu), &emu.endpoints().hsm, tokens).unwrap();
    let maa = MaaClient::new(common::http(&emu), &emu.endpoints().maa);
    Setup { emu, kv, maa }
}

impl Setup {
    fn policy(&self, host_data_hex: &str) -> ReleasePolicy {
        ReleasePolicy::new(
            &self.emu.endpoints().maa,
            vec![vec![
                ClaimCondition {
                    claim: "x-ms-sevsnpvm-hostdata".into(),
                    equals: host_data_hex.into(),
                },
                ClaimCondition {
                    claim: "x-ms-compliance-status".into(),
                    equals: "azure-compliant-uvm".into(),
                },
            ]],
        )
    }

    fn good_policy(&self) -> ReleasePolicy {
        let report = v1_report();
        let r = Report::parse(&report).unwrap();
        let hd = csc_core::hex::Hex(r.host_data()).to_string();
        self.policy(&hd)
    }

    async fn token(&self) -> SecretString {
        let report = v1_report();
        let chain = common::milan_pem();
        let uvm = common::vector("csc/body.uvm_reference_info.bin");
        let runtime = common::vector("csc/skr/test_jwk_set.json");
        self.maa
            .attest(&Evidence {
                report: &report,
                vcek_chain_pem: &chain,
                uvm_endorsement: Some(&uvm),
                runtime_data: &runtime,
            })
            .await
            .unwrap()
    }

    async fn import_oct(&self, name: &str, key: &[u8]) {
        let jwk = json!({"kty": "oct-HSM", "k": b64url_encode(key), "key_ops": ["encrypt", "decrypt"], "key_size": 256});
        let imported = self
            .kv
            .import_key(name, &jwk, &self.good_policy(), None)
            .await
            .unwrap();
        assert!(
            imported
                .kid
                .starts_with(&format!("{}/keys/{name}/", self.emu.endpoints().hsm))
        );
        assert_eq!(imported.key_ops, vec!["encrypt", "decrypt"]);
        assert!(imported.release_policy.is_some());
    }
}

#[tokio::test]
async fn oct_key_import_then_release_with_both_wrapping_schemes() {
    let s = setup().await;
    let key = [0x5a; 32];
    s.import_oct("disk-key", &key).await;
    let token = s.token().await;
    let released = s.kv.release("disk-key", &token, None).await.unwrap();
    assert_eq!(released.kty, "oct-HSM");
    assert_eq!(released.enc, "CKM_RSA_AES_KEY_WRAP");
    assert_eq!(released.key_ops, vec!["encrypt", "decrypt"]);
    assert_eq!(released.ciphertext.expose().len(), 256 + 40);
    assert_eq!(unwrap(&released), key);
    let released =
        s.kv.release("disk-key", &token, Some("RSA_AES_KEY_WRAP_256"))
            .await
            .unwrap();
    assert_eq!(unwrap(&released), key);
    // name/version form
    let version = released.kid.rsplit('/').next().unwrap().to_string();
    s.kv.release(&format!("disk-key/{version}"), &token, None)
        .await
        .unwrap();
    assert!(!format!("{released:?}").contains("90, 90"));
}

#[tokio::test]
async fn ec_key_is_released_as_pkcs8() {
    let s = setup().await;
    let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
    let public = kp.public_key().as_ref().to_vec();
    let d: EcPrivateKeyBin<'_> = kp.private_key().as_be_bytes().unwrap();
    let jwk = json!({"kty": "EC-HSM", "crv": "P-256", "x": b64url_encode(&public[1..33]),
        "y": b64url_encode(&public[33..]), "d": b64url_encode(d.as_ref()), "key_ops": ["sign"]});
    s.kv.import_key("ec-key", &jwk, &s.good_policy(), Some("7.4"))
        .await
        .unwrap();
    let released =
        s.kv.release("ec-key", &s.token().await, None)
            .await
            .unwrap();
    assert_eq!(released.kty, "EC-HSM");
    let pkcs8 = unwrap(&released);
    let back = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8).unwrap();
    assert_eq!(back.public_key().as_ref(), &public[..]);
}

#[tokio::test]
async fn release_policy_not_met_is_refused() {
    let s = setup().await;
    let jwk = json!({"kty": "oct-HSM", "k": b64url_encode(&[1; 32])});
    s.kv.import_key("locked", &jwk, &s.policy(&"00".repeat(32)), None)
        .await
        .unwrap();
    let err =
        s.kv.release("locked", &s.token().await, None)
            .await
            .unwrap_err();
    assert_eq!(err.status(), Some(403));
    let text = err.to_string();
    assert!(
        text.contains("AccessDenied") && text.contains("x-ms-sevsnpvm-hostdata"),
        "{text}"
    );
    assert!(
        text.contains("Key Vault: POST https://localhost:"),
        "{text}"
    );
    let err =
        s.kv.release("missing", &s.token().await, None)
            .await
            .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn forged_expired_or_mismatched_answers_are_rejected() {
    let s = setup().await;
    s.import_oct("k", &[7; 32]).await;
    let token = s.token().await;
    for (fault, expect) in [
        (
            Fault::BadSignature,
            "release JWS signature rejected: signature does not verify (RS256)",
        ),
        (Fault::ExpiredCert, "JWS x5c chain rejected: CertExpired"),
        (
            Fault::WrongClaims,
            "is not the key \"k\" that was asked for",
        ),
    ] {
        s.emu
            .set_fault(Target::Hsm, FaultRule::times(fault.clone(), 1));
        let err = s.kv.release("k", &token, None).await.unwrap_err();
        assert!(err.to_string().contains(expect), "{fault:?}: {err}");
    }
    s.kv.release("k", &token, None).await.unwrap();
}

#[tokio::test]
async fn untrusted_roots_and_wrong_host_names_are_rejected() {
    let s = setup().await;
    s.import_oct("k", &[7; 32]).await;
    let token = s.token().await;
    let stranger = common::emulator().await;
    let kv =
        s.kv.clone()
            .with_verifier(JwsVerifier::new(&[stranger.ca_der()]).unwrap());
    let err = kv.release("k", &token, None).await.unwrap_err();
    // Same CA name, other key: the path ends at a root whose signature does not match.
    let text = err.to_string();
    assert!(
        text.contains("JWS x5c chain rejected: InvalidSignatureForPublicKey")
            || text.contains("JWS x5c chain rejected: UnknownIssuer"),
        "{text}"
    );

    // Same vault reached by IP: the TLS certificate allows it, the JWS signing certificate
    // (issued for `localhost`) does not.
    let tokens = Arc::new(TokenProvider::new(
        common::http(&s.emu),
        Credential::ManagedIdentity {
            base_url: s.emu.endpoints().imds.clone(),
            client_id: None,
        },
    ));
    let by_ip = format!("https://127.0.0.1:{}", s.emu.addr().port());
    let kv = KeyVaultClient::new(common::http(&s.emu), &by_ip, tokens).unwrap();
    let err = kv.release("k", &token, None).await.unwrap_err();
    assert!(err.to_string().contains("not valid for 127.0.0.1"), "{err}");
}

#[tokio::test]
async fn bad_bearer_tokens_and_targets_are_refused() {
    let s = setup().await;
    s.import_oct("k", &[7; 32]).await;
    let tokens = Arc::new(TokenProvider::new(
        common::http(&s.emu),
        Credential::Static(SecretString::new("not-a-token".into())),
    ));
    let kv = KeyVaultClient::new(common::http(&s.emu), &s.emu.endpoints().hsm, tokens).unwrap();
    let err = kv.release("k", &s.token().await, None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!err.to_string().contains("not-a-token"));

    // Identity tokens issued for another audience.
    s.emu
        .set_fault(Target::Imds, FaultRule::times(Fault::WrongClaims, 1));
    let tokens = Arc::new(TokenProvider::new(
        common::http(&s.emu),
        Credential::ManagedIdentity {
            base_url: s.emu.endpoints().imds.clone(),
            client_id: None,
        },
    ));
    let kv = KeyVaultClient::new(common::http(&s.emu), &s.emu.endpoints().hsm, tokens).unwrap();
    let err = kv.release("k", &s.token().await, None).await.unwrap_err();
    assert!(err.to_string().contains("audience"), "{err}");

    // An MAA token that does not verify.
    let forged = SecretString::new(format!("{}x", s.token().await.expose()));
    let err = s.kv.release("k", &forged, None).await.unwrap_err();
    assert!(
        err.to_string().contains("attestation token rejected"),
        "{err}"
    );
    assert!(s.kv.release("../k", &forged, None).await.is_err());
}

#[tokio::test]
async fn transport_faults_on_release() {
    let s = setup().await;
    s.import_oct("k", &[7; 32]).await;
    let token = s.token().await;
    s.emu.set_fault(
        Target::Hsm,
        FaultRule::times(Fault::Status { status: 503 }, 2),
    );
    s.kv.release("k", &token, None).await.unwrap();
    s.emu
        .set_fault(Target::Hsm, FaultRule::times(Fault::Truncate, 1));
    s.kv.release("k", &token, None).await.unwrap();
    s.emu.set_fault(
        Target::Hsm,
        FaultRule::always(Fault::Status { status: 500 }),
    );
    let err = s.kv.release("k", &token, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            csc_azure::Error::Status {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    s.emu.set_fault(
        Target::Hsm,
        FaultRule::always(Fault::TooManyRequests {
            retry_after_secs: 999,
        }),
    );
    let err = s.kv.release("k", &token, None).await.unwrap_err();
    assert!(matches!(err, csc_azure::Error::RateLimited { .. }), "{err}");
}

#[test]
fn real_managed_hsm_chain_is_valid_in_2022_and_expired_now() {
    let v: serde_json::Value =
        serde_json::from_slice(&common::vector("csc/skr/mhsm_x5c_expired.json")).unwrap();
    let der = |s: &serde_json::Value| {
        CertificateDer::from(csc_azure::jose::b64std(s.as_str().unwrap()).unwrap())
    };
    let x5c: Vec<_> = v["x5c"].as_array().unwrap().iter().map(der).collect();
    let verifier = JwsVerifier::new(&[der(&v["root"])]).unwrap();
    let host = v["dns_name"].as_str().unwrap();
    let at = |unix: u64| UnixTime::since_unix_epoch(Duration::from_secs(unix));
    verifier
        .verify_chain(&x5c, host, at(1_669_852_800))
        .unwrap(); // 2022-12-01
    let err = verifier
        .verify_chain(&x5c, host, UnixTime::now())
        .unwrap_err();
    assert!(err.to_string().contains("CertExpired"), "{err}");
    let err = verifier
        .verify_chain(&x5c, "other.managedhsm.azure.net", at(1_669_852_800))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not valid for other.managedhsm.azure.net"),
        "{err}"
    );
    // Without the intermediate the leaf does not chain.
    let err = verifier
        .verify_chain(&[x5c[0].clone()], host, at(1_669_852_800))
        .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[test]
fn header_algorithms_other_than_rs256_are_refused() {
    let header = b64url_encode(br#"{"alg":"HS256","x5c":[]}"#);
    let jws = format!("{header}.e30.AAAA");
    let v = JwsVerifier::new(&[common_root()]).unwrap();
    let err = v.verify(&jws, "localhost", UnixTime::now()).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"HS256\" is not one of the accepted [\"RS256\"]"),
        "{err}"
    );
    let header = b64url_encode(br#"{"alg":"RS256"}"#);
    let err = v
        .verify(&format!("{header}.e30.AAAA"), "localhost", UnixTime::now())
        .unwrap_err();
    assert!(err.to_string().contains("no x5c"), "{err}");
}

fn common_root() -> CertificateDer<'static> {
    let v: serde_json::Value =
        serde_json::from_slice(&common::vector("csc/skr/mhsm_x5c_expired.json")).unwrap();
    CertificateDer::from(csc_azure::jose::b64std(v["root"].as_str().unwrap()).unwrap())
}
