//! Certificates in AMD's profile: ARK and ASK (RSA-4096, RSASSA-PSS SHA-384) and the VCEK
//! (P-384 with AMD's SPL and hwID extensions), compared field by field with AMD's own
//! certificates in `vectors/data` (see the tests of this crate).
//!
//! What differs from AMD's, on purpose: the OU is [`SIMULATED_OU`] instead of `Engineering`, and
//! the CRL distribution points name a host under `.invalid`, so that no name or URL of a
//! simulated certificate can be mistaken for, or resolve to, AMD's.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::RSA_PSS_SHA384;
use csc_core::Product;
use csc_core::report::{TcbLayout, TcbParts, TcbVersion};

use ::der::asn1::ObjectIdentifier;

use crate::der;
use crate::error::SimError;

/// The organisational unit of every simulated certificate name (AMD's is `Engineering`).
pub const SIMULATED_OU: &str = "Simulated";

/// Object identifiers used in the certificates.
pub mod oid {
    use der::asn1::ObjectIdentifier;

    /// rsaEncryption.
    pub const RSA_ENCRYPTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    /// RSASSA-PSS.
    pub const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
    /// MGF1.
    pub const MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
    /// SHA-384.
    pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
    /// id-ecPublicKey.
    pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    /// secp384r1.
    pub const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    /// Name attributes.
    pub const OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
    /// countryName.
    pub const C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    /// localityName.
    pub const L: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
    /// stateOrProvinceName.
    pub const ST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
    /// organizationName.
    pub const O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
    /// commonName.
    pub const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    /// Subject key identifier.
    pub const SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
    /// Key usage.
    pub const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
    /// Basic constraints.
    pub const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
    /// CRL distribution points.
    pub const CRL_DP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
    /// Authority key identifier.
    pub const AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
    /// AMD's arc for VCEK extensions: 1.3.6.1.4.1.3704.1.
    pub const AMD_VCEK: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1");
}

/// AMD VCEK extensions, under [`oid::AMD_VCEK`].
pub mod amd_ext {
    use der::asn1::ObjectIdentifier;

    /// structVersion.
    pub const STRUCT_VERSION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.1");
    /// productName.
    pub const PRODUCT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.2");
    /// blSPL.
    pub const BL_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
    /// teeSPL.
    pub const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
    /// snpSPL.
    pub const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
    /// Reserved SPLs 4..7 (always 0; Milan and Genoa certificates carry 4..7, Turin 5..7).
    pub const SPL_4: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.4");
    /// spl_5.
    pub const SPL_5: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.5");
    /// spl_6.
    pub const SPL_6: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.6");
    /// spl_7.
    pub const SPL_7: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.7");
    /// ucodeSPL.
    pub const UCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
    /// fmcSPL (Turin).
    pub const FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
    /// hwID.
    pub const HW_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");
}

/// Serial numbers in AMD's scheme: the product number in the third byte.
fn serial(product: Product, which: u8) -> u64 {
    let p: u64 = match product {
        Product::Milan => 1,
        Product::Genoa => 2,
        Product::Turin => 3,
    };
    (p << 16) | u64::from(which)
}

/// VCEK productName as AMD writes it.
pub fn product_name(product: Product) -> &'static str {
    match product {
        Product::Milan => "Milan-B0",
        Product::Genoa => "Genoa",
        Product::Turin => "Turin",
    }
}

/// A distinguished name of AMD's shape: OU, C, L, ST, O, CN, one attribute per RDN.
pub fn name(cn: &str) -> Result<Vec<u8>, SimError> {
    let rdn = |oid: &ObjectIdentifier, value: Vec<u8>| -> der::Result<Vec<u8>> {
        der::set(&[&der::seq(&[&der::oid(oid)?, &value])?])
    };
    Ok(der::seq(&[
        &rdn(&oid::OU, der::utf8(SIMULATED_OU)?)?,
        &rdn(&oid::C, der::printable("US")?)?,
        &rdn(&oid::L, der::utf8("Santa Clara")?)?,
        &rdn(&oid::ST, der::utf8("CA")?)?,
        &rdn(&oid::O, der::utf8("Advanced Micro Devices")?)?,
        &rdn(&oid::CN, der::utf8(cn)?)?,
    ])?)
}

/// Subject CN of the ARK, ASK and VCEK for a product.
pub fn ark_cn(product: Product) -> String {
    format!("ARK-{}", product.name())
}
/// Subject CN of the ASK.
pub fn ask_cn(product: Product) -> String {
    format!("SEV-{}", product.name())
}
/// Subject CN of every VCEK.
pub const VCEK_CN: &str = "SEV-VCEK";

/// RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48; ARK and ASK also spell out the default
/// trailer field 1 (as AMD's do), VCEKs from today's KDS leave it out.
pub fn pss_sha384(with_trailer: bool) -> Result<Vec<u8>, SimError> {
    let sha384 = der::seq(&[&der::oid(&oid::SHA384)?, &der::null()?])?;
    let mgf1 = der::seq(&[&der::oid(&oid::MGF1)?, &sha384])?;
    let mut params = vec![
        der::explicit(0, &sha384)?,
        der::explicit(1, &mgf1)?,
        der::explicit(2, &der::uint_u64(48)?)?,
    ];
    if with_trailer {
        params.push(der::explicit(3, &der::uint_u64(1)?)?);
    }
    let params: Vec<&[u8]> = params.iter().map(Vec::as_slice).collect();
    Ok(der::seq(&[
        &der::oid(&oid::RSASSA_PSS)?,
        &der::seq(&params)?,
    ])?)
}

fn extension(oid: &ObjectIdentifier, critical: bool, value: &[u8]) -> der::Result<Vec<u8>> {
    if critical {
        der::seq(&[&der::oid(oid)?, &der::bool_true()?, &der::octets(value)?])
    } else {
        der::seq(&[&der::oid(oid)?, &der::octets(value)?])
    }
}

/// The last second UTCTime can express; AMD's certificates all use UTCTime, so validity stops
/// there rather than switch to GeneralizedTime.
const UTC_TIME_END: u64 = 2_524_607_999;

/// The validity of a certificate: `not_before` and `years` later (AMD's roots are valid 25
/// years, VCEKs 7), at most until the end of 2049.
fn validity(not_before: u64, years: u64) -> der::Result<Vec<u8>> {
    let not_after = (not_before + years * 365 * 86_400 + (years / 4) * 86_400).min(UTC_TIME_END);
    der::seq(&[&der::time(not_before)?, &der::time(not_after)?])
}

/// SubjectPublicKeyInfo of an RSA public key (PKCS#1 RSAPublicKey inside).
pub fn rsa_spki(key: &RsaKeyPair) -> Result<Vec<u8>, SimError> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair;
    let der = key
        .public_key()
        .as_der()
        .map_err(|_| SimError::Crypto("encoding an RSA public key"))?;
    Ok(der.as_ref().to_vec())
}

/// SubjectPublicKeyInfo of a P-384 public key given as an uncompressed SEC1 point.
pub fn ec_spki(point: &[u8]) -> Result<Vec<u8>, SimError> {
    Ok(der::seq(&[
        &der::seq(&[&der::oid(&oid::EC_PUBLIC_KEY)?, &der::oid(&oid::SECP384R1)?])?,
        &der::bits(point)?,
    ])?)
}

/// The subject key identifier of a public key: SHA-1 of the subjectPublicKey bits (RFC 5280
/// section 4.2.1.2, method 1).
pub fn key_id(spki: &[u8]) -> Result<Vec<u8>, SimError> {
    let bits = spki_bits(spki).ok_or(SimError::Crypto("reading a public key we encoded"))?;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, bits);
    Ok(d.as_ref().to_vec())
}

/// The subjectPublicKey BIT STRING contents (after the unused-bits byte) of an SPKI.
fn spki_bits(spki: &[u8]) -> Option<&[u8]> {
    use csc_core::der::{read_single, tag};
    let mut r = read_single(spki, tag::SEQUENCE).ok()?.contents();
    r.read(tag::SEQUENCE).ok()?;
    r.read(tag::BIT_STRING).ok()?.bit_string_bytes().ok()
}

fn sign_cert(tbs: Vec<u8>, alg: &[u8], signer: &RsaKeyPair) -> Result<Vec<u8>, SimError> {
    let mut sig = vec![0u8; signer.public_modulus_len()];
    signer
        .sign(&RSA_PSS_SHA384, &SystemRandom::new(), &tbs, &mut sig)
        .map_err(|_| SimError::Crypto("RSA-PSS signing a certificate"))?;
    Ok(der::seq(&[&tbs, alg, &der::bits(&sig)?])?)
}

/// The self-signed ARK for `product`.
pub fn mint_ark(product: Product, ark: &RsaKeyPair, now: u64) -> Result<Vec<u8>, SimError> {
    let spki = rsa_spki(ark)?;
    let alg = pss_sha384(true)?;
    let subject = name(&ark_cn(product))?;
    let exts = der::seq(&[
        &extension(&oid::KEY_USAGE, true, &[0x03, 0x02, 0x01, 0x06])?,
        &extension(&oid::SKI, false, &der::octets(&key_id(&spki)?)?)?,
        &extension(
            &oid::BASIC_CONSTRAINTS,
            true,
            &der::seq(&[&der::bool_true()?])?,
        )?,
        &extension(&oid::CRL_DP, false, &crl_dp(product)?)?,
    ])?;
    let tbs = der::seq(&[
        &der::explicit(0, &der::uint_u64(2)?)?,
        &der::uint_u64(serial(product, 0))?,
        &alg,
        &subject,
        &validity(now, 25)?,
        &subject,
        &spki,
        &der::explicit(3, &exts)?,
    ])?;
    sign_cert(tbs, &alg, ark)
}

/// The ASK for `product`, signed by the ARK.
pub fn mint_ask(
    product: Product,
    ask: &RsaKeyPair,
    ark: &RsaKeyPair,
    now: u64,
) -> Result<Vec<u8>, SimError> {
    let spki = rsa_spki(ask)?;
    let ark_id = key_id(&rsa_spki(ark)?)?;
    let alg = pss_sha384(true)?;
    // AuthorityKeyIdentifier { keyIdentifier [0] IMPLICIT OCTET STRING }
    let aki = der::seq(&[&der::implicit(0, &ark_id)?])?;
    let bc = der::seq(&[&der::bool_true()?, &der::uint_u64(0)?])?;
    let exts = der::seq(&[
        &extension(&oid::SKI, false, &der::octets(&key_id(&spki)?)?)?,
        &extension(&oid::AKI, false, &aki)?,
        &extension(&oid::BASIC_CONSTRAINTS, true, &bc)?,
        &extension(&oid::KEY_USAGE, true, &[0x03, 0x02, 0x01, 0x04])?,
        &extension(&oid::CRL_DP, false, &crl_dp(product)?)?,
    ])?;
    let tbs = der::seq(&[
        &der::explicit(0, &der::uint_u64(2)?)?,
        &der::uint_u64(serial(
            product,
            if product == Product::Genoa { 2 } else { 1 },
        ))?,
        &alg,
        &name(&ark_cn(product))?,
        &validity(now, 25)?,
        &name(&ask_cn(product))?,
        &spki,
        &der::explicit(3, &exts)?,
    ])?;
    sign_cert(tbs, &alg, ark)
}

/// The VCEK certificate for a chip at a TCB, signed by the ASK.
///
/// `point` is the VCEK public key (uncompressed SEC1), `hw_id` the chip's hwID (64 bytes on
/// Milan and Genoa, 8 on Turin), `tcb` the reported TCB the key belongs to.
pub fn mint_vcek(
    product: Product,
    point: &[u8],
    hw_id: &[u8],
    tcb: TcbParts,
    ask: &RsaKeyPair,
    now: u64,
) -> Result<Vec<u8>, SimError> {
    let alg = pss_sha384(false)?;
    let int_ext = |ext: &ObjectIdentifier, v: u8| -> der::Result<Vec<u8>> {
        extension(ext, false, &der::uint_u64(v.into())?)
    };
    let mut exts = Vec::new();
    let turin = product.tcb_layout() == TcbLayout::Zen5;
    exts.push(int_ext(&amd_ext::STRUCT_VERSION, u8::from(turin))?);
    exts.push(extension(
        &amd_ext::PRODUCT_NAME,
        false,
        &der::ia5(product_name(product))?,
    )?);
    if turin {
        // Turin's order: fmc, bl, tee, snp, spl 5..7, ucode.
        exts.push(int_ext(&amd_ext::FMC_SPL, tcb.fmc.unwrap_or(0))?);
        exts.push(int_ext(&amd_ext::BL_SPL, tcb.bootloader)?);
        exts.push(int_ext(&amd_ext::TEE_SPL, tcb.tee)?);
        exts.push(int_ext(&amd_ext::SNP_SPL, tcb.snp)?);
        for spl in [&amd_ext::SPL_5, &amd_ext::SPL_6, &amd_ext::SPL_7] {
            exts.push(int_ext(spl, 0)?);
        }
    } else {
        // Milan and Genoa: bl, tee, spl 4..7, snp, ucode.
        exts.push(int_ext(&amd_ext::BL_SPL, tcb.bootloader)?);
        exts.push(int_ext(&amd_ext::TEE_SPL, tcb.tee)?);
        for spl in [
            &amd_ext::SPL_4,
            &amd_ext::SPL_5,
            &amd_ext::SPL_6,
            &amd_ext::SPL_7,
        ] {
            exts.push(int_ext(spl, 0)?);
        }
        exts.push(int_ext(&amd_ext::SNP_SPL, tcb.snp)?);
    }
    exts.push(int_ext(&amd_ext::UCODE_SPL, tcb.microcode)?);
    exts.push(extension(&amd_ext::HW_ID, false, hw_id)?);
    let exts: Vec<&[u8]> = exts.iter().map(Vec::as_slice).collect();
    let tbs = der::seq(&[
        &der::explicit(0, &der::uint_u64(2)?)?,
        &der::uint_u64(0)?,
        &alg,
        &name(&ask_cn(product))?,
        &validity(now, 7)?,
        &name(VCEK_CN)?,
        &ec_spki(point)?,
        &der::explicit(3, &der::seq(&exts)?)?,
    ])?;
    sign_cert(tbs, &alg, ask)
}

fn crl_dp(product: Product) -> der::Result<Vec<u8>> {
    let uri = format!(
        "https://kds.simulated.invalid/vcek/v1/{}/crl",
        product.name()
    );
    // CRLDistributionPoints ::= SEQUENCE OF DistributionPoint { [0] fullName [0] GeneralNames
    // { uniformResourceIdentifier [6] } }
    let general_name = der::implicit(6, uri.as_bytes())?;
    let full_name = der::explicit(0, &general_name)?;
    let dp_name = der::explicit(0, &full_name)?;
    der::seq(&[&der::seq(&[&dp_name])?])
}

/// The TCB_VERSION of `tcb` in `product`'s layout.
pub fn tcb_version(product: Product, tcb: TcbParts) -> TcbVersion {
    TcbVersion::from_parts(tcb, product.tcb_layout())
}
