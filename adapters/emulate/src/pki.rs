//! The emulator's own certificate authority: a root written to `ca.pem`, the TLS server
//! certificate for `localhost`, and the managed HSM's JWS signing chain (root -> issuing CA ->
//! leaf for `localhost`), plus an expired leaf for fault injection.

use aws_lc_rs::signature::RsaKeyPair;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RsaKeySize,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::EmulateError;

/// A certificate with its private key.
#[derive(Debug)]
pub struct Issued {
    /// DER.
    pub der: CertificateDer<'static>,
    /// PEM.
    pub pem: String,
    /// PKCS#8 private key, PEM.
    pub key_pem: String,
}

/// An RSA signing key with certificates for it.
#[derive(Debug)]
pub struct RsaSigner {
    /// The key, for signatures.
    pub key: RsaKeyPair,
    /// x5c of a valid certificate chain (leaf first), standard base64 DER.
    pub x5c: Vec<String>,
    /// x5c whose leaf expired in 2020.
    pub x5c_expired: Vec<String>,
    /// SHA-256 of the valid leaf, base64url (`x5t#S256`).
    pub x5t_s256: String,
    /// SHA-256 of the expired leaf, base64url.
    pub x5t_s256_expired: String,
    /// Modulus, big-endian.
    pub n: Vec<u8>,
    /// Public exponent, big-endian.
    pub e: Vec<u8>,
}

/// The CA and everything issued from it at start-up.
#[derive(Debug)]
pub struct Pki {
    root_key: KeyPair,
    root_params: CertificateParams,
    /// The root certificate, PEM (written to `ca.pem`).
    pub root_pem: String,
    /// The root, DER.
    pub root_der: CertificateDer<'static>,
    /// TLS certificate for `localhost` / `127.0.0.1`.
    pub server: Issued,
    inter_key: KeyPair,
    inter_params: CertificateParams,
    inter_der: CertificateDer<'static>,
    /// Host names besides `localhost` this emulator answers for (TLS and the HSM's JWS leaf).
    hostnames: Vec<String>,
}

/// The RSA token and JWS signers. Generating RSA keys is what makes start-up slow, so they are
/// made in the background after the server listens; requests that need them wait.
#[derive(Debug)]
pub struct Signers {
    /// The HSM's JWS signer (chain leaf -> issuing CA -> root).
    pub hsm: RsaSigner,
    /// MAA's token signer (certificate issued by the root).
    pub maa: RsaSigner,
    /// The token signer of IMDS / Entra ID.
    pub identity: RsaSigner,
}

fn err(what: &str, e: impl std::fmt::Display) -> EmulateError {
    EmulateError::Pki(format!("{what}: {e}"))
}

fn b64(der: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn x5t(der: &[u8]) -> String {
    use base64::Engine as _;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

fn leaf_params(cn: &str, names: &[&str], expired: bool) -> Result<CertificateParams, EmulateError> {
    let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .map_err(|e| err("certificate names", e))?;
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    if expired {
        p.not_before = rcgen::date_time_ymd(2019, 1, 1);
        p.not_after = rcgen::date_time_ymd(2020, 1, 1);
    } else {
        let now = time_now();
        p.not_before = now - std::time::Duration::from_secs(3600);
        p.not_after = now + std::time::Duration::from_secs(30 * 24 * 3600);
    }
    Ok(p)
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "csc-rs azure-emulator");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time_now();
    p.not_before = now - std::time::Duration::from_secs(3600);
    p.not_after = now + std::time::Duration::from_secs(365 * 24 * 3600);
    p
}

/// A new RSA-2048 key for RS256, as an rcgen key and an aws-lc-rs key.
fn rsa_key() -> Result<(KeyPair, RsaKeyPair), EmulateError> {
    let kp = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)
        .map_err(|e| err("RSA key", e))?;
    let ring = RsaKeyPair::from_pkcs8(kp.serialized_der()).map_err(|e| err("RSA key", e))?;
    Ok((kp, ring))
}

fn rsa_components(key: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
    use aws_lc_rs::signature::KeyPair as _;
    let pk = key.public_key();
    (
        pk.modulus().big_endian_without_leading_zero().to_vec(),
        pk.exponent().big_endian_without_leading_zero().to_vec(),
    )
}

impl Pki {
    /// Generates the whole PKI.
    pub fn generate() -> Result<Self, EmulateError> {
        Self::generate_for(&[])
    }

    /// Generates the whole PKI; the TLS certificate also names `hostnames` (the service host
    /// names a deployment maps to this emulator, e.g. `myhsm.managedhsm.azure.net`).
    pub fn generate_for(hostnames: &[String]) -> Result<Self, EmulateError> {
        let root_key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| err("CA key", e))?;
        let root_params = ca_params("csc-rs azure-emulator root CA");
        let root = root_params
            .self_signed(&root_key)
            .map_err(|e| err("CA certificate", e))?;
        let root_pem = root.pem();
        let root_der = root.der().clone();
        let root_issuer = Issuer::from_params(&root_params, &root_key);

        let server_key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| err("server key", e))?;
        let mut names = vec!["localhost", "127.0.0.1"];
        names.extend(hostnames.iter().map(String::as_str));
        let server_cert = leaf_params("localhost", &names, false)?
            .signed_by(&server_key, &root_issuer)
            .map_err(|e| err("server certificate", e))?;
        let server = Issued {
            der: server_cert.der().clone(),
            pem: server_cert.pem(),
            key_pem: server_key.serialize_pem(),
        };

        // HSM: root -> issuing CA -> leaf, as a vault's chain looks.
        let inter_key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| err("HSM CA key", e))?;
        let inter_params = ca_params("csc-rs azure-emulator HSM issuing CA");
        let inter = inter_params
            .signed_by(&inter_key, &root_issuer)
            .map_err(|e| err("HSM CA certificate", e))?;
        let inter_der = inter.der().clone();
        Ok(Pki {
            root_key,
            root_params,
            root_pem,
            root_der,
            server,
            inter_key,
            inter_params,
            inter_der,
            hostnames: hostnames.to_vec(),
        })
    }

    /// Generates the three RSA signers (in parallel) and their certificates.
    pub fn generate_signers(&self) -> Result<Signers, EmulateError> {
        let (hsm_key, maa_key, identity_key) = std::thread::scope(|s| {
            let a = s.spawn(rsa_key);
            let b = s.spawn(rsa_key);
            let c = rsa_key();
            let join = |h: std::thread::ScopedJoinHandle<'_, _>| {
                h.join()
                    .unwrap_or_else(|_| Err(err("RSA key", "key generation thread failed")))
            };
            (join(a), join(b), c)
        });
        let root_issuer = Issuer::from_params(&self.root_params, &self.root_key);
        let inter_issuer = Issuer::from_params(&self.inter_params, &self.inter_key);
        let (hsm_kp, hsm_ring) = hsm_key?;
        let mut names = vec!["localhost"];
        names.extend(self.hostnames.iter().map(String::as_str));
        let hsm_leaf = leaf_params("localhost", &names, false)?
            .signed_by(&hsm_kp, &inter_issuer)
            .map_err(|e| err("HSM leaf", e))?;
        let hsm_expired = leaf_params("localhost", &names, true)?
            .signed_by(&hsm_kp, &inter_issuer)
            .map_err(|e| err("HSM expired leaf", e))?;
        let (n, e) = rsa_components(&hsm_ring);
        let (inter, root) = (b64(&self.inter_der), b64(&self.root_der));
        let hsm = RsaSigner {
            x5c: vec![b64(hsm_leaf.der()), inter.clone(), root.clone()],
            x5c_expired: vec![b64(hsm_expired.der()), inter, root],
            x5t_s256: x5t(hsm_leaf.der()),
            x5t_s256_expired: x5t(hsm_expired.der()),
            key: hsm_ring,
            n,
            e,
        };
        let maa = Self::token_signer("csc-rs azure-emulator MAA signing", maa_key?, &root_issuer)?;
        let identity = Self::token_signer(
            "csc-rs azure-emulator token signing",
            identity_key?,
            &root_issuer,
        )?;
        Ok(Signers { hsm, maa, identity })
    }

    fn token_signer(
        cn: &str,
        (kp, ring): (KeyPair, RsaKeyPair),
        issuer: &Issuer<'_, &KeyPair>,
    ) -> Result<RsaSigner, EmulateError> {
        let mut p = leaf_params(cn, &[], false)?;
        p.extended_key_usages = vec![];
        let cert = p.signed_by(&kp, issuer).map_err(|e| err(cn, e))?;
        let mut expired = leaf_params(cn, &[], true)?;
        expired.extended_key_usages = vec![];
        let expired = expired.signed_by(&kp, issuer).map_err(|e| err(cn, e))?;
        let (n, e) = rsa_components(&ring);
        Ok(RsaSigner {
            x5c: vec![b64(cert.der())],
            x5c_expired: vec![b64(expired.der())],
            x5t_s256: x5t(cert.der()),
            x5t_s256_expired: x5t(expired.der()),
            key: ring,
            n,
            e,
        })
    }

    /// Issues a TLS server certificate for `names` from the root (e.g. for Azurite); returns
    /// the certificate and its key.
    pub fn issue_server_cert(&self, names: &[&str]) -> Result<Issued, EmulateError> {
        let issuer = Issuer::from_params(&self.root_params, &self.root_key);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| err("key", e))?;
        let cert = leaf_params(names.first().copied().unwrap_or("localhost"), names, false)?
            .signed_by(&key, &issuer)
            .map_err(|e| err("server certificate", e))?;
        Ok(Issued {
            der: cert.der().clone(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The TLS server configuration (certificate chain and key).
    pub fn tls_config(&self) -> Result<rustls::ServerConfig, EmulateError> {
        let key_der = rustls_pemfile::private_key(&mut self.server.key_pem.as_bytes())
            .map_err(|e| err("server key", e))?
            .ok_or_else(|| err("server key", "missing"))?;
        let key: PrivateKeyDer<'static> = match key_der {
            PrivateKeyDer::Pkcs8(k) => {
                PrivatePkcs8KeyDer::from(k.secret_pkcs8_der().to_vec()).into()
            }
            other => other,
        };
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err("TLS", e))?
            .with_no_client_auth()
            .with_single_cert(vec![self.server.der.clone(), self.root_der.clone()], key)
            .map_err(|e| err("TLS", e))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(cfg)
    }
}
