//! The AEAD of guest messages: AES-256-GCM (RustCrypto `aes-gcm`) keyed with a VMPCK.
//!
//! [`Vmpck`] implements [`MessageAead`]. The nonce is the message's sequence number ([`super::header::nonce_for`]), the additional
//! data is the authenticated part of the header, the tag goes into AUTHTAG. A nonce must never
//! be used twice with one key: [`super::seqno`] and [`super::channel`] see to that.

use core::fmt;

use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::header::{RawHeader, TAG_SIZE};

/// Size of a VM platform communication key.
pub const VMPCK_SIZE: usize = 32;

/// Which of the four VMPCKs: VMPCK n belongs to VMPL n, and the PSP takes a message under it as
/// coming from that VMPL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VmpckId(u8);

impl VmpckId {
    /// The highest id.
    pub const MAX: u8 = 3;

    /// VMPCK `id`, or `None` above [`VmpckId::MAX`].
    pub const fn new(id: u8) -> Option<VmpckId> {
        if id <= Self::MAX {
            Some(VmpckId(id))
        } else {
            None
        }
    }

    /// The id as a number (the MSG_VMPCK field).
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for VmpckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VMPCK{}", self.0)
    }
}

/// A VM platform communication key: wiped on drop, never printed.
pub struct Vmpck([u8; VMPCK_SIZE]);

impl Vmpck {
    /// Wraps key bytes (the caller wipes its own copy).
    pub const fn new(bytes: [u8; VMPCK_SIZE]) -> Vmpck {
        Vmpck(bytes)
    }

    /// True when every byte is zero: the key was wiped (by the kernel, a paravisor, or this
    /// crate after a failure) or never provisioned, and must not be used.
    pub fn is_wiped(&self) -> bool {
        self.0.iter().fold(0u8, |acc, b| acc | b) == 0
    }

    /// The key bytes (for tests; nothing outside this module needs them).
    #[cfg(test)]
    pub(crate) fn as_bytes(&self) -> &[u8; VMPCK_SIZE] {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }

    /// Wipes the key.
    pub fn wipe(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for Vmpck {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl ZeroizeOnDrop for Vmpck {}

impl fmt::Debug for Vmpck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vmpck(redacted)")
    }
}

/// The AEAD refused the input: the tag does not match (the message was altered, or made with
/// another key or sequence number), or the payload is longer than AES-GCM allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AeadError;

impl fmt::Display for AeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AES-256-GCM authentication failed")
    }
}

/// What seals and opens guest messages. [`Vmpck`] (AES-256-GCM with RustCrypto's `aes-gcm`) is
/// the implementation; the trait lets the message and channel logic be exercised, and its
/// freedom from panics be link-checked, apart from the cipher.
pub trait MessageAead {
    /// Encrypts `payload` in place under `header` (its MSG_SEQNO is the nonce, its
    /// authenticated part the additional data) and writes the tag into AUTHTAG.
    fn seal(&self, header: &mut RawHeader, payload: &mut [u8]) -> Result<(), AeadError>;

    /// Checks the tag of a message whose header and ciphertext are in `header` and `payload`,
    /// and decrypts `payload` in place. On failure `payload` is left as it was.
    fn open(&self, header: &RawHeader, payload: &mut [u8]) -> Result<(), AeadError>;

    /// True when the key must not be used (wiped, or never provisioned).
    fn is_wiped(&self) -> bool;

    /// Wipes the key for good.
    fn wipe(&mut self);
}

impl MessageAead for Vmpck {
    fn seal(&self, header: &mut RawHeader, payload: &mut [u8]) -> Result<(), AeadError> {
        let nonce = Nonce::from(header.nonce());
        let tag = self
            .cipher()
            .encrypt_inout_detached(&nonce, header.aad(), payload.into())
            .map_err(|_| AeadError)?;
        header.authtag.fill(0);
        if let Some(dst) = header.authtag.get_mut(..TAG_SIZE) {
            dst.copy_from_slice(tag.as_slice());
        }
        Ok(())
    }

    fn open(&self, header: &RawHeader, payload: &mut [u8]) -> Result<(), AeadError> {
        let nonce = Nonce::from(header.nonce());
        let tag = Tag::from(header.tag());
        self.cipher()
            .decrypt_inout_detached(&nonce, header.aad(), payload.into(), &tag)
            .map_err(|_| AeadError)
    }

    fn is_wiped(&self) -> bool {
        Vmpck::is_wiped(self)
    }

    fn wipe(&mut self) {
        Vmpck::wipe(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::header::MessageType;

    fn seal(key: &Vmpck, h: &mut RawHeader, p: &mut [u8]) -> Result<(), AeadError> {
        MessageAead::seal(key, h, p)
    }
    fn open(key: &Vmpck, h: &RawHeader, p: &mut [u8]) -> Result<(), AeadError> {
        MessageAead::open(key, h, p)
    }

    #[test]
    fn seal_then_open_round_trips_and_any_change_is_refused() {
        let key = Vmpck::new([7; 32]);
        let mut h = RawHeader::request(MessageType::KEY_REQ, 1, 0, 32);
        let mut p = [0x55u8; 32];
        seal(&key, &mut h, &mut p).unwrap();
        assert_ne!(p, [0x55; 32]);
        assert!(h.authtag[16..].iter().all(|b| *b == 0));
        let sealed = p;
        let mut q = p;
        open(&key, &h, &mut q).unwrap();
        assert_eq!(q, [0x55; 32]);
        // A flipped payload bit, another sequence number, a changed authenticated header
        // byte, a flipped tag bit or another key: all refused, payload untouched.
        let mut bad = sealed;
        bad[3] ^= 1;
        assert_eq!(open(&key, &h, &mut bad), Err(AeadError));
        let mut h2 = h.clone();
        h2.msg_seqno.set(3);
        let mut q = sealed;
        assert_eq!(open(&key, &h2, &mut q), Err(AeadError));
        assert_eq!(q, sealed);
        let mut h3 = h.clone();
        h3.msg_type = 4;
        assert_eq!(open(&key, &h3, &mut sealed.clone()), Err(AeadError));
        let mut h4 = h.clone();
        h4.authtag[0] ^= 0x80;
        assert_eq!(open(&key, &h4, &mut sealed.clone()), Err(AeadError));
        assert_eq!(
            open(&Vmpck::new([8; 32]), &h, &mut sealed.clone()),
            Err(AeadError)
        );
        // The unauthenticated reserved bytes before ALGO are not covered (as on hardware).
        let mut h5 = h.clone();
        h5.reserved1[0] = 9;
        assert!(open(&key, &h5, &mut sealed.clone()).is_ok());
    }

    #[test]
    fn keys_are_redacted_and_wiped() {
        let mut k = Vmpck::new([1; 32]);
        assert_eq!(std::format!("{k:?}"), "Vmpck(redacted)");
        assert!(!k.is_wiped());
        k.wipe();
        assert!(k.is_wiped());
        assert_eq!(VmpckId::new(4), None);
        assert_eq!(std::format!("{}", VmpckId::new(3).unwrap()), "VMPCK3");
    }
}
