//! `importkey`, `get-token` and `securitypolicydigest` as binaries, against the Azure emulator
//! started in this process: a key is imported with a release policy built from a security
//! policy, then released through MAA by a simulated guest whose HOST_DATA is that policy's
//! digest (and refused to one whose HOST_DATA is not).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{
    KeyPair, KeySize, OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use csc_azure::http::{HttpClient, HttpConfig};
use csc_azure::identity::{Credential, TokenProvider};
use csc_azure::keyvault::KeyVaultClient;
use csc_azure::maa::{Evidence, MaaClient};
use csc_core::Product;
use csc_core::jwk::KeyOps;
use csc_core::source::{ReportRequest, Vmpl};
use csc_emulate::{
    Emulator, EmulatorConfig, Fault, FaultRule, Target, UncheckedSignaturePlaceholder,
};
use csc_simulate::{Platform, PlatformConfig};
use csc_tools::importkey::{derive_octet_key, rsa_jwk, with_rsa_key};
use serde_json::{Value, json};

const IMPORTKEY: &str = env!("CARGO_BIN_EXE_importkey");
const GET_TOKEN: &str = env!("CARGO_BIN_EXE_get-token");
const DIGEST: &str = env!("CARGO_BIN_EXE_securitypolicydigest");

/// SHA-256 of the decoded `csc/uvm_security_policy.base64` (vectors/data/MANIFEST.md), the
/// HOST_DATA of the production ACI report.
const POLICY_DIGEST: &str = "cadd74f71ebb8fbf9782baab649612520f3c416bc5ce9ac768808ddc8d9b031c";

fn vector_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../vectors/data")
        .join(rel)
}

fn scratch(name: &str) -> PathBuf {
    csc_testkit::scratch(&format!("azure-tools-{name}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Env {
    emu: Emulator,
    ca: PathBuf,
    dir: PathBuf,
}

async fn env(name: &str) -> Env {
    let dir = scratch(name);
    let ca = dir.join("emulator-ca.pem");
    let mut cfg = EmulatorConfig::new(Arc::new(UncheckedSignaturePlaceholder {
        compliance_status: Some("azure-compliant-uvm".into()),
    }));
    cfg.ca_file = Some(ca.clone());
    let emu = csc_emulate::start(cfg).await.unwrap();
    emu.ready().await.unwrap();
    Env { emu, ca, dir }
}

impl Env {
    /// Runs a tool in the scratch directory, pointed at the emulator, without any inherited
    /// override.
    async fn run(&self, bin: &str, args: &[&str]) -> Output {
        let mut c = std::process::Command::new(bin);
        c.args(args)
            .current_dir(&self.dir)
            .env("CSC_CA_FILE", &self.ca)
            .env("CSC_IMDS_URL", &self.emu.endpoints().imds);
        tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap()
    }

    fn config(&self, name: &str, key: Value) -> PathBuf {
        let mut blob = json!({
            "kid": name,
            "authority": {"endpoint": self.emu.endpoints().maa},
            "akv": {"endpoint": self.emu.endpoints().hsm, "api_version": "api-version=7.4"},
        });
        for (k, v) in key.as_object().unwrap() {
            blob[k] = v.clone();
        }
        let cfg = json!({
            "key": blob,
            "claims": [[
                {"claim": "x-ms-sevsnpvm-hostdata", "equals": "<hash-digest-of-the-security-policy>"},
                {"claim": "x-ms-compliance-status", "equals": "azure-compliant-uvm"},
                {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": "false"},
                {"claim": "x-ms-sevsnpvm-vmpl", "equals": "0"},
            ]],
            "key_derivation": {"salt": "92a631483ca875aad7e2477da755d58cac3876b77d10bcdd7b33bfa11e7d8b8e", "label": "Model Encryption Key"},
        });
        let path = self.dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        path
    }

    fn http(&self) -> HttpClient {
        HttpClient::new(HttpConfig::default().with_ca_file(&self.ca).unwrap()).unwrap()
    }

    fn key_vault(&self) -> KeyVaultClient {
        let tokens = Arc::new(TokenProvider::new(
            self.http(),
            Credential::ManagedIdentity {
                base_url: self.emu.endpoints().imds.clone(),
                client_id: None,
            },
        ));
        KeyVaultClient::new(self.http(), &self.emu.endpoints().hsm, tokens).unwrap()
    }

    /// A simulated guest whose HOST_DATA is SHA-256 of `policy` attests with a fresh wrapping
    /// key and asks for `kid`; returns the unwrapped key, or the release error.
    async fn release_as_guest(
        &self,
        policy: &[u8],
        kid: &str,
    ) -> Result<Vec<u8>, csc_azure::Error> {
        let cache = csc_testkit::key_cache();
        let platform = Platform::new(
            PlatformConfig::new(Product::Milan, 3)
                .unwrap()
                .with_security_policy(policy),
            &cache,
        )
        .unwrap();
        let wrapping = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8: Pkcs8V1Der<'_> = wrapping.as_der().unwrap();
        let public = jwk_of(pkcs8.as_ref());
        let jwks = json!({"keys": [{"kty": "RSA", "key_ops": ["encrypt"], "kid": "wrap", "n": public["n"], "e": public["e"]}]})
            .to_string();
        let report = platform
            .report(&ReportRequest::for_runtime_data(
                jwks.as_bytes(),
                Vmpl::ZERO,
            ))
            .unwrap();
        let chain = platform.chain().to_pem();
        let maa = MaaClient::new(self.http(), &self.emu.endpoints().maa);
        let token = maa
            .attest(&Evidence {
                report: &report,
                vcek_chain_pem: &chain,
                uvm_endorsement: Some(b"uvm endorsement"),
                runtime_data: jwks.as_bytes(),
            })
            .await
            .unwrap();
        let released = self.key_vault().release(kid, &token, None).await?;
        assert_eq!(released.enc, "CKM_RSA_AES_KEY_WRAP");
        let dk = OaepPrivateDecryptingKey::new(
            PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref()).unwrap(),
        )
        .unwrap();
        Ok(csc_testkit::unwrap::rsa_aes_kwp(
            &dk,
            &OAEP_SHA1_MGF1SHA1,
            released.ciphertext.expose(),
        ))
    }
}

/// The private JWK of a key (PEM or DER), without key_ops.
fn jwk_of(key: &[u8]) -> Value {
    with_rsa_key(key, |k| rsa_jwk(k, &KeyOps::new())).unwrap()
}

fn policy_bytes() -> Vec<u8> {
    let b64 = std::fs::read(vector_path("csc/uvm_security_policy.base64")).unwrap();
    csc_tools::policydigest::decode_policy(&b64).unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oct_key_import_binds_the_policy_digest_and_only_that_guest_gets_it() {
    let e = env("oct").await;
    let cfg = e.config(
        "tool-oct",
        json!({"kty": "oct-HSM", "key_ops": ["encrypt", "decrypt"]}),
    );
    let policy_file = vector_path("csc/uvm_security_policy.base64");
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-a",
                "-out=true",
                "-security-policy",
                policy_file.to_str().unwrap(),
            ],
        )
        .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let n = lines.len();
    assert!(n >= 3, "{stdout}");
    assert!(
        lines[n - 2].starts_with(&format!("{}/keys/tool-oct/", e.emu.endpoints().hsm)),
        "{stdout}"
    );
    let policy: Value = serde_json::from_str(lines[n - 1]).unwrap();
    assert_eq!(policy["version"], "1.0.0");
    assert_eq!(
        policy["anyOf"][0]["authority"],
        e.emu.endpoints().maa.as_str()
    );
    assert_eq!(
        policy["anyOf"][0]["allOf"][0],
        json!({"claim": "x-ms-sevsnpvm-hostdata", "equals": POLICY_DIGEST})
    );
    assert_eq!(policy["anyOf"][0]["allOf"].as_array().unwrap().len(), 4);

    // The key file: 32 bytes, 0600; the key appears nowhere in the output.
    let keyfile = e.dir.join("keyfile.bin");
    let key = std::fs::read(&keyfile).unwrap();
    assert_eq!(key.len(), 32);
    assert_eq!(mode(&keyfile), 0o600);
    let hex = csc_core::hex::Hex(&key).to_string();
    let all = format!("{stdout}{}", text(&out.stderr));
    assert!(!all.contains(&hex), "{all}");
    assert!(
        !all.contains(&csc_azure::jose::b64url_encode(&key)),
        "{all}"
    );

    // The guest running that policy gets exactly the key; a guest with another policy does not.
    let released = e
        .release_as_guest(&policy_bytes(), "tool-oct")
        .await
        .unwrap();
    assert_eq!(released, key);
    let refused = e
        .release_as_guest(b"another policy", "tool-oct")
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");

    // A second run truncates keyfile.bin (a new, different key of the same size).
    std::fs::write(&keyfile, vec![0u8; 100]).unwrap();
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-a",
                "-out",
                "-security-policy",
                policy_file.to_str().unwrap(),
            ],
        )
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&keyfile).unwrap().len(), 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_key_is_generated_written_0600_and_its_derived_key_matches() {
    let e = env("rsa").await;
    let cfg = e.config(
        "tool-rsa",
        json!({"kty": "RSA-HSM", "key_ops": ["unwrapKey", "decrypt"]}),
    );
    let policy_file = vector_path("csc/uvm_security_policy.base64");
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-a",
                "-out",
                "-security-policy",
                policy_file.to_str().unwrap(),
            ],
        )
        .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("salt: 92a631483ca875aad7e2477da755d58cac3876b77d10bcdd7b33bfa11e7d8b8e label: Model Encryption Key"), "{stdout}");

    let pem_path = e.dir.join("private_key.pem");
    assert_eq!(mode(&pem_path), 0o600);
    let pem = std::fs::read(&pem_path).unwrap();
    let jwk = jwk_of(&pem);
    assert_eq!(
        csc_azure::jose::b64url(jwk["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    assert!(!stdout.contains(jwk["d"].as_str().unwrap()));

    // keyfile.bin is what encfs derives from the released key with the same salt and label.
    let expected = with_rsa_key(&pem, |k| {
        derive_octet_key(
            k,
            "92a631483ca875aad7e2477da755d58cac3876b77d10bcdd7b33bfa11e7d8b8e",
            "Model Encryption Key",
        )
    })
    .unwrap();
    assert_eq!(
        std::fs::read(e.dir.join("keyfile.bin")).unwrap(),
        expected.to_vec()
    );

    // The released key (PKCS#8 DER) is the one in private_key.pem.
    let released = e
        .release_as_guest(&policy_bytes(), "tool-rsa")
        .await
        .unwrap();
    assert_eq!(jwk_of(&released), jwk);

    // An existing key given with -kp is imported as it is (no private_key.pem written).
    let other = e.dir.join("given");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::rename(&pem_path, other.join("key.pem")).unwrap();
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-a",
                "-kp",
                other.join("key.pem").to_str().unwrap(),
                "-security-policy",
                policy_file.to_str().unwrap(),
            ],
        )
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!pem_path.exists());
    let again = e
        .release_as_guest(&policy_bytes(), "tool-rsa")
        .await
        .unwrap();
    assert_eq!(jwk_of(&again), jwk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importkey_makes_an_ec_key_that_a_guest_with_the_policy_gets_back() {
    let e = env("ec").await;
    let cfg = e.config(
        "tool-ec",
        json!({"kty": "EC-HSM", "key_ops": ["sign", "verify"]}),
    );
    let policy_file = vector_path("csc/uvm_security_policy.base64");
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-a",
                "-security-policy",
                policy_file.to_str().unwrap(),
            ],
        )
        .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("EC key (P-256) generated"), "{stdout}");
    let pem_path = e.dir.join("private_key.pem");
    assert_eq!(mode(&pem_path), 0o600);
    let pem = std::fs::read(&pem_path).unwrap();
    let mut der = vec![0u8; pem.len()];
    let der = csc_core::pem::decode_first(&pem, "PRIVATE KEY", &mut der).unwrap();
    let ops = csc_core::jwk::KeyOps::new();
    let mine = csc_tools::importkey::ec_jwk(der, &ops).unwrap();
    assert!(!stdout.contains(mine["d"].as_str().unwrap()));
    // The released key (PKCS#8 DER) is the one in private_key.pem.
    let released = e
        .release_as_guest(&policy_bytes(), "tool-ec")
        .await
        .unwrap();
    let theirs = csc_tools::importkey::ec_jwk(&released, &ops).unwrap();
    assert_eq!(theirs, mine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importkey_refuses_before_sending_and_reports_vault_errors() {
    let e = env("refuse").await;
    let hsm_before = e.emu.requests(Target::Hsm);

    // Placeholder left in the claims, no -security-policy.
    let cfg = e.config("k", json!({"kty": "oct-HSM"}));
    let out = e.run(IMPORTKEY, &["-c", cfg.to_str().unwrap(), "-a"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("placeholder"),
        "{}",
        text(&out.stderr)
    );

    // No token: neither bearer_token nor -a.
    let policy_file = vector_path("csc/uvm_security_policy.base64");
    let sp = policy_file.to_str().unwrap();
    let out = e
        .run(
            IMPORTKEY,
            &["-c", cfg.to_str().unwrap(), "-security-policy", sp],
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bearer_token"),
        "{}",
        text(&out.stderr)
    );

    // Unsupported key type, bad -kh, -kp with an oct key, missing -c.
    let ec = e.config("k-dsa", json!({"kty": "DSA-HSM"}));
    let out = e
        .run(
            IMPORTKEY,
            &["-c", ec.to_str().unwrap(), "-a", "-security-policy", sp],
        )
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("Key not supported"),
        "{}",
        text(&out.stderr)
    );
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-a",
                "-security-policy",
                sp,
                "-kh",
                "zz",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-a",
                "-security-policy",
                sp,
                "-kh",
                &"ab".repeat(20),
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-a",
                "-security-policy",
                sp,
                "-kp",
                "x.pem",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = e.run(IMPORTKEY, &["-a"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("usage"), "{}", text(&out.stderr));
    assert_eq!(
        e.emu.requests(Target::Hsm),
        hsm_before,
        "nothing may reach the vault"
    );

    // A bearer token from the configuration (upstream's way outside Azure), with a given key.
    let token = e
        .emu
        .issue_token("https://managedhsm.azure.net")
        .await
        .unwrap();
    let mut v: Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    v["key"]["akv"]["bearer_token"] = json!(token);
    std::fs::write(&cfg, v.to_string()).unwrap();
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-security-policy",
                sp,
                "-kh",
                &"5a".repeat(32),
            ],
        )
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains(&"5a".repeat(32)));
    let released = e.release_as_guest(&policy_bytes(), "k").await.unwrap();
    assert_eq!(released, vec![0x5a; 32]);

    // The vault refuses: exit 4 with the vault's message, no secret in it.
    e.emu.set_fault(
        Target::Hsm,
        FaultRule::always(Fault::Status { status: 403 }),
    );
    let out = e
        .run(
            IMPORTKEY,
            &[
                "-c",
                cfg.to_str().unwrap(),
                "-security-policy",
                sp,
                "-kh",
                &"5a".repeat(32),
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("403"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_token_prints_upstreams_lines() {
    let e = env("token").await;
    let out = e
        .run(
            GET_TOKEN,
            &["-r", "https://vault.azure.net", "-c", "client-7"],
        )
        .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let token = lines[0].strip_prefix("Token:  ").unwrap();
    let secs: u64 = lines[1]
        .strip_prefix("ExpiresIn:  ")
        .unwrap()
        .parse()
        .unwrap();
    assert!((3590..=3600).contains(&secs), "{secs}");
    assert_eq!(lines[2], token.split('.').nth(1).unwrap());
    let claims: Value =
        serde_json::from_slice(&csc_azure::jose::b64url(lines[2]).unwrap()).unwrap();
    assert_eq!(claims["aud"], "https://vault.azure.net");
    assert_eq!(claims["appid"], "client-7");
    assert!(
        ["1h0m0s", "59m59s", "59m58s"].contains(&lines[3]),
        "{}",
        lines[3]
    );

    // No -r: usage; IMDS refusing: exit 4 naming IMDS.
    let out = e.run(GET_TOKEN, &["-c", "x"]).await;
    assert_eq!(out.status.code(), Some(1));
    e.emu.set_fault(
        Target::Imds,
        FaultRule::always(Fault::Status { status: 400 }),
    );
    let out = e.run(GET_TOKEN, &["-r", "https://vault.azure.net"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("IMDS"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn securitypolicydigest_matches_the_vector() {
    let e = env("digest").await;
    let file = vector_path("csc/uvm_security_policy.base64");
    let out = e.run(DIGEST, &["-f", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{POLICY_DIGEST}\n"));

    let b64 = String::from_utf8(std::fs::read(&file).unwrap()).unwrap();
    let out = e.run(DIGEST, &["-p", b64.trim(), "-v"]).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("inittimeData package policy"),
        "{stdout}"
    );
    assert!(stdout.ends_with(&format!("inittimeData sha-256 digest {POLICY_DIGEST}\n")));

    for bad in [&["-p", "###"][..], &["-f", "/nonexistent"][..], &[][..]] {
        let out = e.run(DIGEST, bad).await;
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(out.stdout.is_empty());
    }
}
