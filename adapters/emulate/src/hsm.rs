//! The emulated managed HSM / Key Vault: import of exportable keys with a release policy, and
//! secure key release: the MAA token is checked (signature by the emulated MAA, expiry), the
//! release policy is evaluated against its claims (anyOf / allOf, claim equals), and the key
//! is wrapped for the RSA key in the token's `x-ms-runtime` claim with RSA-OAEP + AES-KWP
//! (CKM_RSA_AES_KEY_WRAP / RSA_AES_KEY_WRAP_256 / _384), in a JWS signed with an x5c chain
//! from the emulator's CA.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeyPairComponents, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384,
    OaepAlgorithm, OaepPublicEncryptingKey, PublicEncryptingKey, PublicKeyComponents,
};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::fault::Fault;
use crate::http::{Reply, Req};
use crate::identity::check_bearer;
use crate::pki::Signers;
use crate::{State, jwt};

/// Token resources the HSM accepts bearer tokens for.
pub const AUDIENCES: [&str; 2] = ["https://managedhsm.azure.net", "https://vault.azure.net"];

/// A stored key.
#[derive(Debug)]
struct StoredKey {
    version: String,
    kty: String,
    key_ops: Vec<String>,
    /// What release wraps: raw bytes (oct) or PKCS#8 DER (RSA, EC).
    material: Zeroizing<Vec<u8>>,
    public: Value,
    policy: Value,
    policy_data: String,
    exportable: bool,
}

/// The keys of the emulated HSM.
#[derive(Debug, Default)]
pub struct Hsm {
    keys: Mutex<HashMap<String, StoredKey>>,
}

fn b64(s: &Value, k: &str) -> Result<Vec<u8>, String> {
    s.get(k)
        .and_then(Value::as_str)
        .and_then(jwt::b64url_decode)
        .ok_or_else(|| format!("JWK member {k} is missing or not base64url"))
}

/// Converts an imported JWK into what release wraps, plus its public JWK.
fn material(jwk: &Value) -> Result<(String, Zeroizing<Vec<u8>>, Value), String> {
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    match kty.as_str() {
        "oct" | "oct-HSM" => {
            let k = Zeroizing::new(b64(jwk, "k")?);
            if ![16, 24, 32].contains(&k.len()) {
                return Err(format!(
                    "oct key of {} bytes (16, 24 or 32 expected)",
                    k.len()
                ));
            }
            Ok((kty, k, json!({"kty": "oct-HSM"})))
        }
        "RSA" | "RSA-HSM" => {
            let n = b64(jwk, "n")?;
            let e = b64(jwk, "e")?;
            let parts = ["d", "p", "q", "dp", "dq", "qi"]
                .iter()
                .map(|k| b64(jwk, k).map(Zeroizing::new))
                .collect::<Result<Vec<_>, _>>()?;
            let comps = KeyPairComponents {
                public_key: PublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                },
                d: &parts[0][..],
                p: &parts[1][..],
                q: &parts[2][..],
                dP: &parts[3][..],
                dQ: &parts[4][..],
                qInv: &parts[5][..],
            };
            let kp = aws_lc_rs::rsa::KeyPair::from_components(&comps)
                .map_err(|e| format!("RSA key rejected: {e}"))?;
            let der: Pkcs8V1Der<'_> = kp.as_der().map_err(|_| "RSA key export failed")?;
            let public = json!({"kty": "RSA-HSM", "n": jwt::b64url(&n), "e": jwt::b64url(&e)});
            Ok((kty, Zeroizing::new(der.as_ref().to_vec()), public))
        }
        "EC" | "EC-HSM" => {
            let crv = jwk.get("crv").and_then(Value::as_str).unwrap_or("");
            let alg = match crv {
                "P-256" => &ECDSA_P256_SHA256_ASN1_SIGNING,
                "P-384" => &ECDSA_P384_SHA384_ASN1_SIGNING,
                _ => return Err(format!("curve {crv:?} not supported")),
            };
            let (x, y, d) = (
                b64(jwk, "x")?,
                b64(jwk, "y")?,
                Zeroizing::new(b64(jwk, "d")?),
            );
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let kp = EcdsaKeyPair::from_private_key_and_public_key(alg, &d, &point)
                .map_err(|e| format!("EC key rejected: {e}"))?;
            let der = kp.to_pkcs8v1().map_err(|_| "EC key export failed")?;
            let public =
                json!({"kty": "EC-HSM", "crv": crv, "x": jwt::b64url(&x), "y": jwt::b64url(&y)});
            Ok((kty, Zeroizing::new(der.as_ref().to_vec()), public))
        }
        other => Err(format!("key type {other:?} not supported")),
    }
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = aws_lc_rs::rand::fill(&mut b);
    csc_core::hex::Hex(&b).to_string()
}

impl Hsm {
    /// Empty.
    pub fn new() -> Self {
        Hsm::default()
    }

    /// Imports a key directly (as PUT `keys/{name}` would); returns the key id path
    /// (`name/version`).
    pub fn insert(
        &self,
        name: &str,
        jwk: &Value,
        policy: &Value,
        key_ops: Vec<String>,
    ) -> Result<String, String> {
        let (kty, material, public) = material(jwk)?;
        let version = random_hex(16);
        let policy_data = jwt::b64url(policy.to_string().as_bytes());
        self.lock().insert(
            name.to_string(),
            StoredKey {
                version: version.clone(),
                kty,
                key_ops,
                material,
                public,
                policy: policy.clone(),
                policy_data,
                exportable: true,
            },
        );
        Ok(format!("{name}/{version}"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `/keys/...` routes.
    pub fn handle(&self, state: &State, keys: &Signers, req: &Req, fault: Option<&Fault>) -> Reply {
        if req.param("api-version").is_none() {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "api-version is missing",
            );
        }
        if let Err(e) = check_bearer(keys, req, &AUDIENCES) {
            return Reply::error(StatusCode::UNAUTHORIZED, "Unauthorized", e);
        }
        let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        match (req.method.clone(), segs.as_slice()) {
            (Method::PUT, ["keys", name]) => self.import(state, req, name),
            (Method::POST, ["keys", name, "create"]) => self.create(state, req, name),
            (Method::GET, ["keys", name]) => self.get(state, req, name, None),
            (Method::GET, ["keys", name, version]) => self.get(state, req, name, Some(version)),
            (Method::POST, ["keys", name, "release"]) => {
                self.release(state, keys, req, name, None, fault)
            }
            (Method::POST, ["keys", name, version, "release"]) => {
                self.release(state, keys, req, name, Some(version), fault)
            }
            _ => Reply::error(StatusCode::NOT_FOUND, "NotFound", "no such operation"),
        }
    }

    fn import(&self, state: &State, req: &Req, name: &str) -> Reply {
        let bad = |m: String| Reply::error(StatusCode::BAD_REQUEST, "BadParameter", m);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return bad(format!("key name {name:?} is not valid"));
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad(format!("request is not JSON: {e}")),
        };
        let Some(jwk) = body.get("key") else {
            return bad("key is missing".into());
        };
        let (policy, exportable) = match release_policy_of(&body) {
            Ok(p) => p,
            Err(e) => return bad(e),
        };
        if !exportable {
            return bad("release_policy is only allowed on exportable keys".into());
        }
        let key_ops = key_ops_of(jwk);
        let path = match self.insert(name, jwk, &policy, key_ops.clone()) {
            Ok(p) => p,
            Err(e) => return bad(e),
        };
        let _ = path;
        self.bundle(state, req, name, None)
    }

    /// The key bundle Key Vault answers create, import and get with: the public key (JWK,
    /// `kid` with the version), attributes and release policy.
    fn bundle(&self, state: &State, req: &Req, name: &str, version: Option<&str>) -> Reply {
        let keys = self.lock();
        let Some(k) = keys.get(name) else {
            return Reply::error(
                StatusCode::NOT_FOUND,
                "KeyNotFound",
                format!("A key with (name/id) {name} was not found in this key vault."),
            );
        };
        if version.is_some_and(|v| v != k.version) {
            return Reply::error(StatusCode::NOT_FOUND, "KeyNotFound", "no such key version");
        }
        let kid = format!(
            "{}/keys/{name}/{}",
            req.instance_url(&state.base_url),
            k.version
        );
        let mut key = k.public.clone();
        key["kid"] = Value::String(kid);
        key["key_ops"] = json!(k.key_ops);
        Reply::json(
            StatusCode::OK,
            &json!({
                "attributes": {"enabled": true, "exportable": k.exportable, "recoveryLevel": "Recoverable"},
                "key": key,
                "release_policy": {
                    "contentType": "application/json; charset=utf-8",
                    "data": k.policy_data,
                    "immutable": false,
                },
            }),
        )
    }

    /// GET `/keys/{name}[/{version}]`: the public key (what `az keyvault key download`
    /// turns into PEM).
    fn get(&self, state: &State, req: &Req, name: &str, version: Option<&str>) -> Reply {
        self.bundle(state, req, name, version)
    }

    /// POST `/keys/{name}/create`: a new exportable key made in the HSM (`oct-HSM` 128/192/256
    /// bits, `RSA-HSM` 2048/3072/4096, `EC-HSM` P-256/P-384) with a release policy.
    fn create(&self, state: &State, req: &Req, name: &str) -> Reply {
        let bad = |m: String| Reply::error(StatusCode::BAD_REQUEST, "BadParameter", m);
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return bad(format!("key name {name:?} is not valid"));
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad(format!("request is not JSON: {e}")),
        };
        let (policy, exportable) = match release_policy_of(&body) {
            Ok(p) => p,
            Err(e) => return bad(e),
        };
        if !exportable {
            return bad("only exportable keys with a release policy are emulated".into());
        }
        let kty = body.get("kty").and_then(Value::as_str).unwrap_or("");
        let size = body.get("key_size").and_then(Value::as_u64);
        let crv = body.get("crv").and_then(Value::as_str);
        let made = match generate(kty, size, crv) {
            Ok(m) => m,
            Err(e) => return bad(e),
        };
        let key_ops = key_ops_of(&body);
        let version = random_hex(16);
        self.lock().insert(
            name.to_string(),
            StoredKey {
                version,
                kty: made.0,
                key_ops,
                material: made.1,
                public: made.2,
                policy_data: jwt::b64url(policy.to_string().as_bytes()),
                policy,
                exportable,
            },
        );
        self.bundle(state, req, name, None)
    }

    fn release(
        &self,
        state: &State,
        keys: &Signers,
        req: &Req,
        name: &str,
        version: Option<&str>,
        fault: Option<&Fault>,
    ) -> Reply {
        let bad = |m: String| Reply::error(StatusCode::BAD_REQUEST, "BadParameter", m);
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad(format!("request is not JSON: {e}")),
        };
        let Some(target) = body.get("target").and_then(Value::as_str) else {
            return bad("target (the attestation token) is missing".into());
        };
        let enc = body
            .get("enc")
            .and_then(Value::as_str)
            .unwrap_or("CKM_RSA_AES_KEY_WRAP")
            .to_string();
        let Some(oaep) = oaep_for(&enc) else {
            return bad(format!("enc {enc:?} is not supported"));
        };
        let claims = match jwt::verify(&keys.maa, target) {
            Ok(c) => c,
            Err(e) => return bad(format!("attestation token rejected: {e}")),
        };
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        if exp < jwt::now() {
            return bad("attestation token expired".into());
        }
        let stored = self.lock();
        let Some(key) = stored.get(name) else {
            return Reply::error(
                StatusCode::NOT_FOUND,
                "KeyNotFound",
                format!("key {name} not found"),
            );
        };
        if version.is_some_and(|v| v != key.version) {
            return Reply::error(StatusCode::NOT_FOUND, "KeyNotFound", "no such key version");
        }
        if !key.exportable {
            return Reply::error(StatusCode::FORBIDDEN, "Forbidden", "key is not exportable");
        }
        let claims = Value::Object(claims);
        if let Err(why) = policy_allows(&key.policy, &claims) {
            return Reply::error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!(
                    "Target environment attestation statement does not meet key release policy: {why}"
                ),
            );
        }
        let Some(runtime_key) = claims
            .pointer("/x-ms-runtime/keys")
            .and_then(Value::as_array)
            .and_then(|ks| {
                ks.iter()
                    .find(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
            })
        else {
            return bad("the attestation token has no RSA key in x-ms-runtime".into());
        };
        let ciphertext = match wrap(runtime_key, oaep, &key.material) {
            Ok(c) => c,
            Err(e) => return bad(e),
        };
        let kid_name = if matches!(fault, Some(Fault::WrongClaims)) {
            "some-other-key"
        } else {
            name
        };
        let kid = format!(
            "{}/keys/{kid_name}/{}",
            req.instance_url(&state.base_url),
            key.version
        );
        let key_hsm = json!({
            "schema_version": "1.0",
            "header": {"kid": "TpmEphemeralEncryptionKey", "alg": "dir", "enc": enc},
            "ciphertext": jwt::b64url(&ciphertext),
        });
        let mut jwk = key.public.clone();
        jwk["kid"] = Value::String(kid.clone());
        jwk["key_ops"] = json!(key.key_ops);
        jwk["key_hsm"] = Value::String(jwt::b64url(key_hsm.to_string().as_bytes()));
        if key.kty.starts_with("oct") {
            jwk["kty"] = Value::String(key.kty.clone());
        }
        let payload = json!({
            "request": {"api-version": req.param("api-version").unwrap_or_default(), "enc": enc, "kid": kid},
            "response": {"key": {
                "attributes": {"enabled": true, "exportable": true},
                "key": jwk,
                "release_policy": {"contentType": "application/json; charset=utf-8", "data": key.policy_data},
            }},
        });
        let signer = &keys.hsm;
        let expired = matches!(fault, Some(Fault::ExpiredCert));
        let (x5c, x5t) = if expired {
            (&signer.x5c_expired, &signer.x5t_s256_expired)
        } else {
            (&signer.x5c, &signer.x5t_s256)
        };
        let header = json!({"alg": "RS256", "kid": x5t, "x5c": x5c, "x5t#S256": x5t});
        match jwt::sign(
            signer,
            &header,
            payload.to_string().as_bytes(),
            matches!(fault, Some(Fault::BadSignature)),
        ) {
            Some(jws) => Reply::json(StatusCode::OK, &json!({ "value": jws })),
            None => Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "signing failed",
            ),
        }
    }
}

/// The release policy (decoded, checked) and `attributes.exportable` of a create or import body.
fn release_policy_of(body: &Value) -> Result<(Value, bool), String> {
    let exportable = body
        .pointer("/attributes/exportable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let data = body
        .pointer("/release_policy/data")
        .and_then(Value::as_str)
        .ok_or("an exportable key needs a release_policy")?;
    let policy: Value = jwt::b64url_decode(data)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("release_policy.data is not base64 JSON")?;
    check_policy_shape(&policy).map_err(|e| format!("release policy: {e}"))?;
    Ok((policy, exportable))
}

/// `key_ops` of a JWK or create body.
fn key_ops_of(v: &Value) -> Vec<String> {
    v.get("key_ops")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A new key of `kty`: its type, what release wraps (raw bytes or PKCS#8 DER) and its public
/// JWK.
fn generate(
    kty: &str,
    size: Option<u64>,
    crv: Option<&str>,
) -> Result<(String, Zeroizing<Vec<u8>>, Value), String> {
    match kty {
        "oct" | "oct-HSM" => {
            let bits = size.unwrap_or(256);
            if ![128, 192, 256].contains(&bits) {
                return Err(format!("oct key_size {bits} (128, 192 or 256)"));
            }
            let mut k = Zeroizing::new(vec![0u8; (bits / 8) as usize]);
            aws_lc_rs::rand::fill(&mut k[..]).map_err(|_| "no randomness")?;
            Ok((kty.into(), k, json!({"kty": "oct-HSM"})))
        }
        "RSA" | "RSA-HSM" => {
            use aws_lc_rs::rsa::KeySize;
            let ks = match size.unwrap_or(2048) {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                other => return Err(format!("RSA key_size {other} (2048, 3072 or 4096)")),
            };
            let kp = aws_lc_rs::rsa::KeyPair::generate(ks).map_err(|_| "RSA generation failed")?;
            let der: Pkcs8V1Der<'_> = kp.as_der().map_err(|_| "RSA key export failed")?;
            use aws_lc_rs::signature::KeyPair as _;
            let (n, e) = rsa_public_parts(kp.public_key().as_ref())?;
            Ok((
                kty.into(),
                Zeroizing::new(der.as_ref().to_vec()),
                json!({"kty": "RSA-HSM", "n": jwt::b64url(&n), "e": jwt::b64url(&e)}),
            ))
        }
        "EC" | "EC-HSM" => {
            let (alg, crv, len) = match crv.unwrap_or("P-256") {
                "P-256" => (&ECDSA_P256_SHA256_ASN1_SIGNING, "P-256", 32),
                "P-384" => (&ECDSA_P384_SHA384_ASN1_SIGNING, "P-384", 48),
                other => return Err(format!("curve {other:?} (P-256 or P-384)")),
            };
            let kp = EcdsaKeyPair::generate(alg).map_err(|_| "EC generation failed")?;
            let der = kp.to_pkcs8v1().map_err(|_| "EC key export failed")?;
            use aws_lc_rs::signature::KeyPair as _;
            let point = kp.public_key().as_ref();
            let (x, y) = (
                point.get(1..1 + len).ok_or("bad EC point")?,
                point.get(1 + len..1 + 2 * len).ok_or("bad EC point")?,
            );
            Ok((
                kty.into(),
                Zeroizing::new(der.as_ref().to_vec()),
                json!({"kty": "EC-HSM", "crv": crv, "x": jwt::b64url(x), "y": jwt::b64url(y)}),
            ))
        }
        other => Err(format!(
            "kty {other:?} (oct-HSM, RSA-HSM or EC-HSM are emulated)"
        )),
    }
}

/// `n` and `e` of a PKCS#1 RSAPublicKey.
fn rsa_public_parts(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    use csc_core::der::{Reader, tag};
    let bad = |_| "RSA public key encoding".to_string();
    let mut r = Reader::new(der);
    let seq = r.read(tag::SEQUENCE).map_err(bad)?;
    let mut s = seq.contents();
    let n = s
        .read(tag::INTEGER)
        .and_then(|t| t.uint_be())
        .map_err(bad)?;
    let e = s
        .read(tag::INTEGER)
        .and_then(|t| t.uint_be())
        .map_err(bad)?;
    Ok((n.to_vec(), e.to_vec()))
}

fn oaep_for(enc: &str) -> Option<&'static OaepAlgorithm> {
    match enc {
        "CKM_RSA_AES_KEY_WRAP" | "RSA_AES_KEY_WRAP_1" => Some(&OAEP_SHA1_MGF1SHA1),
        "RSA_AES_KEY_WRAP_256" => Some(&OAEP_SHA256_MGF1SHA256),
        "RSA_AES_KEY_WRAP_384" => Some(&OAEP_SHA384_MGF1SHA384),
        _ => None,
    }
}

/// RSA-OAEP(runtime key, fresh AES-256 KEK) || AES-KWP(KEK, material).
pub fn wrap(
    runtime_jwk: &Value,
    oaep: &'static OaepAlgorithm,
    material: &[u8],
) -> Result<Vec<u8>, String> {
    let n = b64(runtime_jwk, "n")?;
    let e = b64(runtime_jwk, "e")?;
    let spki: PublicKeyX509Der<'_> = PublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .as_der()
    .map_err(|_| "runtime key cannot be encoded")?;
    let public = PublicEncryptingKey::from_der(spki.as_ref())
        .map_err(|e| format!("runtime key rejected: {e}"))?;
    let public =
        OaepPublicEncryptingKey::new(public).map_err(|_| "runtime key not usable for OAEP")?;
    let mut kek = Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(&mut kek[..]).map_err(|_| "no randomness")?;
    let mut out = vec![0u8; public.ciphertext_size()];
    let n_ct = public
        .encrypt(oaep, &kek[..], &mut out, None)
        .map_err(|_| "RSA-OAEP failed")?
        .len();
    out.truncate(n_ct);
    let aes = AesKek::new(&AES_256, &kek[..]).map_err(|_| "bad KEK")?;
    let mut wrapped = vec![0u8; material.len() + 16];
    let n_w = aes
        .wrap_with_padding(material, &mut wrapped)
        .map_err(|_| "AES-KWP failed")?
        .len();
    wrapped.truncate(n_w);
    out.extend_from_slice(&wrapped);
    Ok(out)
}

fn check_policy_shape(policy: &Value) -> Result<(), String> {
    let any = policy
        .get("anyOf")
        .and_then(Value::as_array)
        .ok_or("no anyOf array")?;
    for entry in any {
        entry
            .get("authority")
            .and_then(Value::as_str)
            .ok_or("anyOf entry without authority")?;
        let all = entry
            .get("allOf")
            .and_then(Value::as_array)
            .ok_or("anyOf entry without allOf array")?;
        for c in all {
            c.get("claim")
                .and_then(Value::as_str)
                .ok_or("condition without claim")?;
            c.get("equals").ok_or("condition without equals")?;
        }
    }
    Ok(())
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Evaluates a release policy against verified token claims: some `anyOf` entry whose
/// authority issued the token and all of whose conditions hold.
pub fn policy_allows(policy: &Value, claims: &Value) -> Result<(), String> {
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let any = policy
        .get("anyOf")
        .and_then(Value::as_array)
        .ok_or("policy has no anyOf")?;
    let mut reasons = Vec::new();
    for entry in any {
        let authority = entry.get("authority").and_then(Value::as_str).unwrap_or("");
        if authority.trim_end_matches('/') != iss.trim_end_matches('/') {
            reasons.push(format!("authority {authority} did not issue the token"));
            continue;
        }
        let all = entry
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let failed = all.iter().find_map(|c| {
            let claim = c.get("claim").and_then(Value::as_str).unwrap_or("");
            let want = c.get("equals").and_then(as_text);
            let got = claims.get(claim).and_then(as_text);
            (want.is_none() || got != want).then(|| {
                format!(
                    "claim {claim} is {}",
                    got.unwrap_or_else(|| "absent".into())
                )
            })
        });
        match failed {
            None => return Ok(()),
            Some(r) => reasons.push(r),
        }
    }
    Err(reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_any_of_all_of() {
        let p = json!({"version": "1.0.0", "anyOf": [
            {"authority": "https://maa/", "allOf": [
                {"claim": "x-ms-sevsnpvm-vmpl", "equals": "0"},
                {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": "false"}]},
            {"authority": "https://other", "allOf": []}]});
        let ok = json!({"iss": "https://maa", "x-ms-sevsnpvm-vmpl": 0, "x-ms-sevsnpvm-is-debuggable": false});
        assert!(policy_allows(&p, &ok).is_ok());
        let debug = json!({"iss": "https://maa", "x-ms-sevsnpvm-vmpl": 0, "x-ms-sevsnpvm-is-debuggable": true});
        assert!(
            policy_allows(&p, &debug)
                .unwrap_err()
                .contains("is-debuggable is true")
        );
        let other = json!({"iss": "https://other"});
        assert!(policy_allows(&p, &other).is_ok());
        let stranger = json!({"iss": "https://stranger"});
        assert!(policy_allows(&p, &stranger).is_err());
        assert!(check_policy_shape(&json!({"anyOf": [{"allOf": []}]})).is_err());
    }

    #[test]
    fn oct_keys_must_have_aes_sizes() {
        assert!(material(&json!({"kty": "oct-HSM", "k": jwt::b64url(&[1; 32])})).is_ok());
        assert!(material(&json!({"kty": "oct-HSM", "k": jwt::b64url(&[1; 7])})).is_err());
        assert!(material(&json!({"kty": "foo"})).is_err());
    }
}
