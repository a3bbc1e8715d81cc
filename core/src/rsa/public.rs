//! RSA public-key operations with fixed-size integers and no heap: RSASSA-PSS (SHA-384,
//! MGF1-SHA-384, 48-byte salt; what AMD signs its certificates with) and RSASSA-PKCS1-v1_5
//! (SHA-256/384; web PKI chains) signature verification, RFC 8017 sections 8.1.2 and 8.2.2.
//!
//! Moduli of 2048 to 4096 bits are accepted; the arithmetic is `crypto-bigint`'s Montgomery form
//! in a fixed 4096-bit [`U4096`] on the stack, so stack use does not depend on the key.
//! Everything here is public (key, signature, message), so its variable-time API is used.

use core::fmt;

use sha2::{Digest, Sha256, Sha384};

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U4096};

use super::mgf1;
use super::uint_bytes;
use crate::cert::alg::RsaPublicKey;

/// Largest modulus accepted, in bytes.
pub const MAX_MODULUS_BYTES: usize = 512;
/// Smallest modulus accepted, in bits.
pub const MIN_MODULUS_BITS: usize = 2048;
/// Largest public exponent accepted, in bytes (65537 needs 3).
pub const MAX_EXPONENT_BYTES: usize = 8;
/// Salt length of AMD's RSASSA-PSS signatures (the SHA-384 output size).
pub const PSS_SALT_LEN: usize = 48;

const SHA384_LEN: usize = 48;

/// An RSA signature padding this module verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt.
    PssSha384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Pkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Pkcs1Sha384,
}

/// Why an RSA signature does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RsaError {
    /// The modulus is even, smaller than 2048 or larger than 4096 bits.
    ModulusSize {
        /// Bits of the modulus.
        bits: usize,
    },
    /// The exponent is even, 1, or longer than 8 bytes.
    Exponent,
    /// The signature is not as long as the modulus.
    SignatureLength {
        /// Bytes the modulus has.
        expected: usize,
        /// Bytes the signature has.
        actual: usize,
    },
    /// The signature is not a valid signature of the message under this key.
    Invalid,
}

impl fmt::Display for RsaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RsaError::ModulusSize { bits } => write!(
                f,
                "RSA modulus of {bits} bits is not an odd number of {MIN_MODULUS_BITS} to {} bits",
                MAX_MODULUS_BYTES * 8
            ),
            RsaError::Exponent => f.write_str("RSA public exponent is even, 1, or too large"),
            RsaError::SignatureLength { expected, actual } => write!(
                f,
                "RSA signature is {actual} bytes; the modulus needs exactly {expected}"
            ),
            RsaError::Invalid => f.write_str("RSA signature does not verify"),
        }
    }
}

impl core::error::Error for RsaError {}

fn bit_len(be: &[u8]) -> usize {
    match be.iter().position(|b| *b != 0) {
        None => 0,
        Some(i) => {
            let bytes = be.len().saturating_sub(i);
            let top = be.get(i).map_or(0, |b| b.leading_zeros() as usize);
            bytes.saturating_mul(8).saturating_sub(top)
        }
    }
}

/// Montgomery parameters modulo an RSA modulus of up to 4096 bits.
pub type ModulusParams = FixedMontyParams<{ U4096::LIMBS }>;

/// Checks the key and computes `signature^e mod n` into `out` as `k = len(n)` big-endian bytes,
/// with `params` if they are the modulus's (else computed here). Returns the modulus length in
/// bits and the filled part of `out`.
fn public_op<'o>(
    key: &RsaPublicKey<'_>,
    params: Option<&ModulusParams>,
    signature: &[u8],
    out: &'o mut [u8; MAX_MODULUS_BYTES],
) -> Result<(usize, &'o mut [u8]), RsaError> {
    let n_bytes = key.modulus;
    let bits = bit_len(n_bytes);
    let odd = n_bytes.last().is_some_and(|b| b & 1 == 1);
    if !(MIN_MODULUS_BITS..=MAX_MODULUS_BYTES * 8).contains(&bits) || !odd {
        return Err(RsaError::ModulusSize { bits });
    }
    let k = bits.div_ceil(8);
    // The modulus bytes may carry leading zeros; the signature is exactly k bytes (RFC 8017).
    let n_bytes = n_bytes
        .get(n_bytes.len().saturating_sub(k)..)
        .unwrap_or(n_bytes);
    if signature.len() != k {
        return Err(RsaError::SignatureLength {
            expected: k,
            actual: signature.len(),
        });
    }
    let e = key.exponent;
    let e_bits = bit_len(e);
    let e_odd = e.last().is_some_and(|b| b & 1 == 1);
    if !(2..=MAX_EXPONENT_BYTES * 8).contains(&e_bits) || !e_odd {
        return Err(RsaError::Exponent);
    }
    let e_value = e
        .iter()
        .skip_while(|b| **b == 0)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let em = out.get_mut(..k).ok_or(RsaError::Invalid)?;
    exponentiate(n_bytes, params, signature, e_value, em)?;
    Ok((bits, em))
}

/// `signature^e mod n` into `em`. The frames are split so that the deepest path (computing
/// the Montgomery parameters) has only the modulus and the parameters' slot below it.
#[inline(never)]
fn exponentiate(
    n_bytes: &[u8],
    params: Option<&ModulusParams>,
    signature: &[u8],
    e: u64,
    em: &mut [u8],
) -> Result<(), RsaError> {
    let n = uint_bytes::from_be::<{ U4096::LIMBS }>(n_bytes).ok_or(RsaError::Invalid)?;
    let n = Odd::new(n).into_option().ok_or(RsaError::Invalid)?;
    match params.filter(|p| p.modulus() == &n) {
        Some(params) => pow_into(params, signature, e, em),
        None => pow_into(&monty_params(&n), signature, e, em),
    }
}

/// The Montgomery parameters of a public modulus, in a frame of their own: computing R^2 mod n
/// (crypto-bigint squares R mod n into 8192 bits, then reduces) is the deepest use of stack in
/// verification.
#[inline(never)]
fn monty_params(n: &Odd<U4096>) -> ModulusParams {
    FixedMontyParams::new_vartime(*n)
}

/// `signature^e` modulo the parameters' modulus into `em` (RSAVP1).
#[inline(never)]
fn pow_into(
    params: &ModulusParams,
    signature: &[u8],
    e: u64,
    em: &mut [u8],
) -> Result<(), RsaError> {
    let x = uint_bytes::from_be::<{ U4096::LIMBS }>(signature).ok_or(RsaError::Invalid)?;
    // The signature representative must be below the modulus.
    if &x >= params.modulus().as_ref() {
        return Err(RsaError::Invalid);
    }
    let y = pow_by_public_exponent(&FixedMontyForm::new(&x, params), e).retrieve();
    uint_bytes::write_be(&y, em);
    Ok(())
}

/// `base^e` by left-to-right square-and-multiply over the bits of a public exponent. It
/// branches on the exponent's bits only, so it is constant-time in the base (the blinding and
/// fault check of the private key use it with secret bases). For an exponent of a few bits it
/// needs no window table: crypto-bigint's `pow_vartime` and `pow_bounded_exp` build sixteen
/// powers first (14 multiplications before the first bit; for 65537, 17 are needed in all),
/// and at 4096 bits the table alone is 8 KB of stack.
pub(crate) fn pow_by_public_exponent<const L: usize>(
    base: &FixedMontyForm<L>,
    e: u64,
) -> FixedMontyForm<L> {
    let mut acc = *base;
    let top = u64::BITS.saturating_sub(e.leading_zeros());
    for bit in (0..top.saturating_sub(1)).rev() {
        acc = acc.square();
        if (e >> bit) & 1 == 1 {
            acc = acc.mul(base);
        }
    }
    acc
}

/// EMSA-PSS-VERIFY (RFC 8017 section 9.1.2) for SHA-384 / MGF1-SHA-384 / salt 48.
fn pss_sha384_check(em: &mut [u8], mod_bits: usize, m_hash: &[u8]) -> Option<()> {
    let em_bits = mod_bits.checked_sub(1)?;
    let em_len = em_bits.div_ceil(8);
    // When modBits - 1 is a multiple of 8 the encoded message is one byte shorter than k.
    let (lead, em) = em.split_at_mut_checked(em.len().checked_sub(em_len)?)?;
    if lead.iter().any(|b| *b != 0) {
        return None;
    }
    let db_len = em_len.checked_sub(SHA384_LEN)?.checked_sub(1)?;
    if em_len < SHA384_LEN.checked_add(PSS_SALT_LEN)?.checked_add(2)? {
        return None;
    }
    let (db, rest) = em.split_at_mut_checked(db_len)?;
    let (h, trailer) = rest.split_at_checked(SHA384_LEN)?;
    if trailer != [0xBC] {
        return None;
    }
    let unused_bits = em_len.checked_mul(8)?.checked_sub(em_bits)?;
    let top_mask = 0xFFu8.checked_shr(u32::try_from(unused_bits).ok()?)?;
    let first = db.first_mut()?;
    if *first & !top_mask != 0 {
        return None;
    }
    mgf1::xor_mask::<Sha384>(h, db);
    let first = db.first_mut()?;
    *first &= top_mask;
    let ps_len = db_len.checked_sub(PSS_SALT_LEN)?.checked_sub(1)?;
    let (ps, rest) = db.split_at_checked(ps_len)?;
    let (one, salt) = rest.split_first()?;
    if ps.iter().any(|b| *b != 0) || *one != 0x01 {
        return None;
    }
    let mut hasher = Sha384::new();
    hasher.update([0u8; 8]);
    hasher.update(m_hash);
    hasher.update(salt);
    (hasher.finalize().as_slice() == h).then_some(())
}

/// DigestInfo prefixes (RFC 8017 section 9.2, note 1).
const SHA256_PREFIX: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_PREFIX: &[u8] = &[
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];

/// EMSA-PKCS1-v1_5 comparison: `00 01 FF..FF 00 DigestInfo`, at least 8 bytes of FF.
fn pkcs1_check(em: &[u8], prefix: &[u8], digest: &[u8]) -> Option<()> {
    let t_len = prefix.len().checked_add(digest.len())?;
    let ps_len = em.len().checked_sub(t_len)?.checked_sub(3)?;
    if ps_len < 8 {
        return None;
    }
    let (head, t) = em.split_at_checked(em.len().checked_sub(t_len)?)?;
    let (p, d) = t.split_at_checked(prefix.len())?;
    let head_ok = head.first() == Some(&0)
        && head.get(1) == Some(&1)
        && head.last() == Some(&0)
        && head
            .get(2..head.len().saturating_sub(1))?
            .iter()
            .all(|b| *b == 0xFF);
    (head_ok && p == prefix && d == digest).then_some(())
}

/// Verifies `signature` over `message` with `key` and `padding`.
pub fn verify(
    key: &RsaPublicKey<'_>,
    padding: Padding,
    message: &[u8],
    signature: &[u8],
) -> Result<(), RsaError> {
    verify_with_params(key, None, padding, message, signature)
}

/// [`verify`] with the Montgomery parameters of the key's modulus computed beforehand (for a
/// built-in key, at compile time: see [`crate::verify::roots`]), which saves computing R^2 mod
/// n for each signature. Parameters of another modulus are ignored.
pub fn verify_with_params(
    key: &RsaPublicKey<'_>,
    params: Option<&ModulusParams>,
    padding: Padding,
    message: &[u8],
    signature: &[u8],
) -> Result<(), RsaError> {
    let mut buf = [0u8; MAX_MODULUS_BYTES];
    let (bits, em) = public_op(key, params, signature, &mut buf)?;
    let ok = match padding {
        Padding::PssSha384 => pss_sha384_check(em, bits, &Sha384::digest(message)),
        Padding::Pkcs1Sha256 => pkcs1_check(em, SHA256_PREFIX, &Sha256::digest(message)),
        Padding::Pkcs1Sha384 => pkcs1_check(em, SHA384_PREFIX, &Sha384::digest(message)),
    };
    ok.ok_or(RsaError::Invalid)
}

#[cfg(test)]
mod tests;
