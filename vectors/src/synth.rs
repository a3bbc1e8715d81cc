//! A synthetic PKI in AMD's certificate profile, for what real vectors cannot show: VLEK chains
//! (no real ASVK is available), CRLs that revoke, expired certificates, and reports whose fields
//! are chosen by the test. Keys are fresh (aws-lc-rs) and live only in memory.
//!
//! Certificates follow AMD's layout: names `OU=Engineering, C=US, L=Santa Clara, ST=CA,
//! O=Advanced Micro Devices, CN=...`, RSASSA-PSS-SHA384 (salt 48) signatures, RSA for the ARK,
//! ASK and ASVK (2048 bits here, to keep key generation fast), P-384 for the VCEK/VLEK with the
//! AMD extensions under 1.3.6.1.4.1.3704.1.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};

/// DER encoding helpers.
pub mod der {
    /// A TLV with `tag` around `content`.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }
    /// SEQUENCE of the concatenated parts.
    pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }
    /// A non-negative INTEGER from big-endian magnitude bytes.
    pub fn uint(be: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_none_or(|b| *b >= 0x80) {
            v.insert(0, 0);
        }
        tlv(0x02, &v)
    }
    /// An OBJECT IDENTIFIER from its contents.
    pub fn oid(contents: &[u8]) -> Vec<u8> {
        tlv(0x06, contents)
    }
    /// BIT STRING without unused bits.
    pub fn bits(bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(bytes);
        tlv(0x03, &v)
    }
    /// OCTET STRING.
    pub fn octets(bytes: &[u8]) -> Vec<u8> {
        tlv(0x04, bytes)
    }
    /// UTCTime from `YYMMDDHHMMSSZ`.
    pub fn utc(text: &str) -> Vec<u8> {
        tlv(0x17, text.as_bytes())
    }
}

use der::*;

const OID_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_PSS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
const OID_MGF1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_EC: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
const AMD: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x9C, 0x78, 0x01];

/// The RSASSA-PSS-SHA384 AlgorithmIdentifier AMD uses.
pub fn pss_sha384_alg() -> Vec<u8> {
    let sha384 = seq(&[&oid(OID_SHA384), &[0x05, 0x00]]);
    let mgf = seq(&[&oid(OID_MGF1), &sha384]);
    let params = seq(&[
        &tlv(0xA0, &sha384),
        &tlv(0xA1, &mgf),
        &tlv(0xA2, &uint(&[48])),
    ]);
    seq(&[&oid(OID_PSS), &params])
}

/// An AMD-style distinguished name with common name `cn`.
pub fn amd_name(cn: &str) -> Vec<u8> {
    let attr = |o: &[u8], tag: u8, v: &str| tlv(0x31, &seq(&[&oid(o), &tlv(tag, v.as_bytes())]));
    seq(&[
        &attr(&[0x55, 0x04, 0x0B], 0x0C, "Engineering"),
        &attr(&[0x55, 0x04, 0x06], 0x13, "US"),
        &attr(&[0x55, 0x04, 0x07], 0x0C, "Santa Clara"),
        &attr(&[0x55, 0x04, 0x08], 0x0C, "CA"),
        &attr(&[0x55, 0x04, 0x0A], 0x0C, "Advanced Micro Devices"),
        &attr(&[0x55, 0x04, 0x03], 0x0C, cn),
    ])
}

fn amd_ext(suffix: &[u8], value: &[u8]) -> Vec<u8> {
    seq(&[&oid(&[AMD, suffix].concat()), &octets(value)])
}

/// The SPL values (and hwID or cspID) a VCEK/VLEK is issued for.
#[derive(Debug, Clone)]
pub struct Endorsement {
    /// Product name extension, e.g. `Milan-B0`.
    pub product_name: String,
    /// blSPL, teeSPL, snpSPL, ucodeSPL.
    pub bl: u8,
    /// teeSPL.
    pub tee: u8,
    /// snpSPL.
    pub snp: u8,
    /// ucodeSPL.
    pub ucode: u8,
    /// fmcSPL (Turin only).
    pub fmc: Option<u8>,
    /// hwID (VCEK); `None` for a VLEK.
    pub hwid: Option<Vec<u8>>,
    /// notBefore, notAfter (UTCTime text).
    pub validity: (String, String),
}

impl Endorsement {
    /// The TCB of the Oak Genoa report (`oak/genoa_oc_report.bin`, REPORTED_TCB
    /// 0x541900000000000a: bl 10, tee 0, snp 25, ucode 84), for chip `hwid` (a VCEK) or none
    /// (a VLEK), valid from `validity.0` to `validity.1` (UTCTime text).
    pub fn genoa(hwid: Option<&[u8]>, validity: (&str, &str)) -> Endorsement {
        Endorsement {
            product_name: "Genoa".into(),
            bl: 10,
            tee: 0,
            snp: 25,
            ucode: 84,
            fmc: None,
            hwid: hwid.map(<[u8]>::to_vec),
            validity: (validity.0.into(), validity.1.into()),
        }
    }
}

/// An RSA issuer: its key and certificate.
pub struct Issuer {
    key: RsaKeyPair,
    /// The certificate, DER.
    pub der: Vec<u8>,
    cn: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issuer({})", self.cn)
    }
}

fn rsa_spki(key: &RsaKeyPair) -> Vec<u8> {
    seq(&[
        &seq(&[&oid(OID_RSA), &[0x05, 0x00]]),
        &bits(key.public_key().as_ref()),
    ])
}

impl Issuer {
    /// Signs `tbs` with RSASSA-PSS-SHA384.
    pub fn sign(&self, tbs: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PSS_SHA384,
                &SystemRandom::new(),
                tbs,
                &mut sig,
            )
            .expect("RSA-PSS signing");
        sig
    }

    /// A certificate issued by this key: `SEQUENCE { tbs, alg, BIT STRING sig }`.
    #[allow(clippy::too_many_arguments)]
    pub fn issue(
        &self,
        serial: &[u8],
        subject_cn: &str,
        validity: (&str, &str),
        spki: &[u8],
        extensions: &[Vec<u8>],
    ) -> Vec<u8> {
        let alg = pss_sha384_alg();
        let mut parts: Vec<Vec<u8>> = vec![
            tlv(0xA0, &uint(&[2])),
            uint(serial),
            alg.clone(),
            amd_name(&self.cn),
            seq(&[&utc(validity.0), &utc(validity.1)]),
            amd_name(subject_cn),
            spki.to_vec(),
        ];
        if !extensions.is_empty() {
            parts.push(tlv(0xA3, &seq(&[&extensions.concat()])));
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let tbs = seq(&refs);
        let sig = self.sign(&tbs);
        seq(&[&tbs, &alg, &bits(&sig)])
    }

    /// A CRL issued by this key, revoking `serials` (INTEGER magnitudes).
    pub fn crl(&self, serials: &[&[u8]]) -> Vec<u8> {
        let alg = pss_sha384_alg();
        let entries: Vec<Vec<u8>> = serials
            .iter()
            .map(|s| seq(&[&uint(s), &utc("240101000000Z")]))
            .collect();
        let entry_refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let mut parts: Vec<Vec<u8>> = vec![
            uint(&[1]),
            alg.clone(),
            amd_name(&self.cn),
            utc("240101000000Z"),
            utc("491231000000Z"),
        ];
        if !entries.is_empty() {
            parts.push(seq(&entry_refs));
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        let tbs = seq(&refs);
        let sig = self.sign(&tbs);
        seq(&[&tbs, &alg, &bits(&sig)])
    }
}

/// A synthetic AMD PKI for one product: ARK, ASK and ASVK.
#[derive(Debug)]
pub struct Pki {
    /// The product name as in common names (`Milan`, `Genoa`, `Turin`).
    pub product: String,
    /// The root (self-signed).
    pub ark: Issuer,
    /// The VCEK issuer.
    pub ask: Issuer,
    /// The VLEK issuer.
    pub asvk: Issuer,
}

/// A VCEK or VLEK with its P-384 key.
pub struct Endorser {
    key: EcdsaKeyPair,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

impl std::fmt::Debug for Endorser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Endorser")
    }
}

const VALID: (&str, &str) = ("200101000000Z", "491231000000Z");

fn intermediate(ark: &Issuer, serial: &[u8], cn: &str) -> Issuer {
    let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    let der = ark.issue(serial, cn, VALID, &rsa_spki(&key), &[]);
    Issuer {
        key,
        der,
        cn: cn.to_string(),
    }
}

impl Pki {
    /// A fresh PKI for `product` (`Milan`, `Genoa` or `Turin`).
    pub fn new(product: &str) -> Pki {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let mut ark = Issuer {
            der: Vec::new(),
            cn: format!("ARK-{product}"),
            key,
        };
        ark.der = ark.issue(&[1, 0, 0], &ark.cn.clone(), VALID, &rsa_spki(&ark.key), &[]);
        let ask = intermediate(&ark, &[1, 0, 1], &format!("SEV-{product}"));
        let asvk = intermediate(&ark, &[1, 0, 2], &format!("SEV-VLEK-{product}"));
        Pki {
            product: product.to_string(),
            ark,
            ask,
            asvk,
        }
    }

    /// A VCEK (under the ASK) or VLEK (under the ASVK, when `e.hwid` is `None`).
    pub fn endorser(&self, e: &Endorsement) -> Endorser {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, &rng)
            .expect("P-384 key generation");
        let key =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref())
                .expect("P-384 key");
        let spki = seq(&[
            &seq(&[&oid(OID_EC), &oid(OID_P384)]),
            &bits(key.public_key().as_ref()),
        ]);
        let mut ext = vec![
            amd_ext(&[0x01], &uint(&[1])),
            amd_ext(&[0x02], &tlv(0x16, e.product_name.as_bytes())),
            amd_ext(&[0x03, 0x01], &uint(&[e.bl])),
            amd_ext(&[0x03, 0x02], &uint(&[e.tee])),
            amd_ext(&[0x03, 0x03], &uint(&[e.snp])),
            amd_ext(&[0x03, 0x08], &uint(&[e.ucode])),
        ];
        if let Some(fmc) = e.fmc {
            ext.push(amd_ext(&[0x03, 0x09], &uint(&[fmc])));
        }
        let (issuer, cn) = match &e.hwid {
            Some(h) => {
                ext.push(amd_ext(&[0x04], h));
                (&self.ask, "SEV-VCEK")
            }
            None => {
                ext.push(amd_ext(&[0x05], &tlv(0x16, b"SyntheticCSP")));
                (&self.asvk, "SEV-VLEK")
            }
        };
        let validity = (e.validity.0.as_str(), e.validity.1.as_str());
        let der = issuer.issue(&[0], cn, validity, &spki, &ext);
        Endorser { key, der }
    }
}

impl Endorser {
    /// Signs a 1184-byte report in place: ECDSA P-384/SHA-384 over bytes 0..0x2A0, r and s
    /// written little-endian into the 72-byte fields of the signature.
    pub fn sign_report(&self, report: &mut [u8]) {
        let sig = self
            .key
            .sign(&SystemRandom::new(), &report[..0x2A0])
            .expect("ECDSA signing");
        let (r, s) = sig.as_ref().split_at(48);
        report[0x2A0..0x2A0 + 144].fill(0);
        for (i, b) in r.iter().rev().enumerate() {
            report[0x2A0 + i] = *b;
        }
        for (i, b) in s.iter().rev().enumerate() {
            report[0x2A0 + 72 + i] = *b;
        }
    }
}
