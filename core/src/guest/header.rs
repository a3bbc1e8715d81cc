//! The guest message header: the 96 bytes in front of every encrypted request and response.
//!
//! Source: AMD SEV-SNP firmware ABI specification (publication 56860), section "SNP_GUEST_REQUEST",
//! table "Message Header Format". The header is sent in the clear; bytes
//! [`AAD_OFFSET`]`..`[`HEADER_SIZE`] (from ALGO to the end) are the AEAD's additional data, so
//! the PSP authenticates them together with the payload. AUTHTAG is 32 bytes wide, of which
//! AES-256-GCM uses the first [`TAG_SIZE`].

use core::fmt;

use zerocopy::little_endian::{U16, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Size of a guest message page (request or response), header included.
pub const PAGE_SIZE: usize = 4096;
/// Size of the message header.
pub const HEADER_SIZE: usize = 0x60;
/// Largest payload a message page can carry.
pub const MAX_PAYLOAD: usize = PAGE_SIZE - HEADER_SIZE;
/// Width of the AUTHTAG field.
pub const AUTHTAG_FIELD_SIZE: usize = 32;
/// Bytes of AUTHTAG that AES-256-GCM uses (its 128-bit tag).
pub const TAG_SIZE: usize = 16;
/// Offset of ALGO, where the authenticated part of the header starts.
pub const AAD_OFFSET: usize = 0x30;
/// Length of the authenticated part of the header.
pub const AAD_SIZE: usize = HEADER_SIZE - AAD_OFFSET;
/// ALGO value of AES-256-GCM, the only AEAD the ABI defines.
pub const ALGO_AES_256_GCM: u8 = 1;
/// HDR_VERSION this crate writes and accepts.
pub const HEADER_VERSION: u8 = 1;
/// MSG_VERSION of the request and response messages this crate speaks.
pub const MESSAGE_VERSION: u8 = 1;

/// The wire layout of the message header (all integers little-endian).
#[derive(Debug, Clone, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawHeader {
    /// AUTHTAG: the AEAD tag in its first [`TAG_SIZE`] bytes, the rest zero.
    pub authtag: [u8; AUTHTAG_FIELD_SIZE],
    /// MSG_SEQNO: the sequence number, also the AEAD nonce.
    pub msg_seqno: U64,
    /// Reserved.
    pub reserved1: [u8; 8],
    /// ALGO: the AEAD ([`ALGO_AES_256_GCM`]).
    pub algo: u8,
    /// HDR_VERSION.
    pub hdr_version: u8,
    /// HDR_SIZE: [`HEADER_SIZE`].
    pub hdr_size: U16,
    /// MSG_TYPE.
    pub msg_type: u8,
    /// MSG_VERSION.
    pub msg_version: u8,
    /// MSG_SIZE: bytes of payload (plaintext and ciphertext have the same length).
    pub msg_size: U16,
    /// Reserved.
    pub reserved2: [u8; 4],
    /// MSG_VMPCK: which VMPCK (0 to 3) encrypts the payload.
    pub msg_vmpck: u8,
    /// Reserved.
    pub reserved3: [u8; 35],
}

const _: () = {
    assert!(size_of::<RawHeader>() == HEADER_SIZE);
    assert!(core::mem::offset_of!(RawHeader, msg_seqno) == 0x20);
    assert!(core::mem::offset_of!(RawHeader, algo) == AAD_OFFSET);
    assert!(core::mem::offset_of!(RawHeader, hdr_size) == 0x32);
    assert!(core::mem::offset_of!(RawHeader, msg_type) == 0x34);
    assert!(core::mem::offset_of!(RawHeader, msg_size) == 0x36);
    assert!(core::mem::offset_of!(RawHeader, msg_vmpck) == 0x3C);
    assert!(MAX_PAYLOAD == 4000);
};

/// A MSG_TYPE value (AMD table "Message Type Encodings"). Responses are their request plus one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType(pub u8);

impl MessageType {
    /// MSG_KEY_REQ: a derived key.
    pub const KEY_REQ: MessageType = MessageType(3);
    /// MSG_KEY_RSP.
    pub const KEY_RSP: MessageType = MessageType(4);
    /// MSG_REPORT_REQ: an attestation report.
    pub const REPORT_REQ: MessageType = MessageType(5);
    /// MSG_REPORT_RSP.
    pub const REPORT_RSP: MessageType = MessageType(6);

    /// The response type that answers this request type (`None` for 255).
    pub const fn response(self) -> Option<MessageType> {
        match self.0.checked_add(1) {
            Some(t) => Some(MessageType(t)),
            None => None,
        }
    }

    /// AMD's name for the type, if it is one of the ABI's.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "MSG_CPUID_REQ",
            2 => "MSG_CPUID_RSP",
            3 => "MSG_KEY_REQ",
            4 => "MSG_KEY_RSP",
            5 => "MSG_REPORT_REQ",
            6 => "MSG_REPORT_RSP",
            7 => "MSG_EXPORT_REQ",
            8 => "MSG_EXPORT_RSP",
            9 => "MSG_IMPORT_REQ",
            10 => "MSG_IMPORT_RSP",
            11 => "MSG_ABSORB_REQ",
            12 => "MSG_ABSORB_RSP",
            13 => "MSG_VMRK_REQ",
            14 => "MSG_VMRK_RSP",
            15 => "MSG_ABSORB_NOMA_REQ",
            16 => "MSG_ABSORB_NOMA_RSP",
            17 => "MSG_TSC_INFO_REQ",
            18 => "MSG_TSC_INFO_RSP",
            _ => return None,
        })
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "message type {}", self.0),
        }
    }
}

impl RawHeader {
    /// A request header: everything but AUTHTAG, which sealing fills in.
    pub fn request(msg_type: MessageType, seqno: u64, vmpck: u8, msg_size: u16) -> RawHeader {
        RawHeader {
            authtag: [0; AUTHTAG_FIELD_SIZE],
            msg_seqno: U64::new(seqno),
            reserved1: [0; 8],
            algo: ALGO_AES_256_GCM,
            hdr_version: HEADER_VERSION,
            hdr_size: U16::new(HEADER_SIZE as u16),
            msg_type: msg_type.0,
            msg_version: MESSAGE_VERSION,
            msg_size: U16::new(msg_size),
            reserved2: [0; 4],
            msg_vmpck: vmpck,
            reserved3: [0; 35],
        }
    }

    /// The 12-byte AES-GCM nonce: MSG_SEQNO little-endian, then four zero bytes.
    pub fn nonce(&self) -> [u8; 12] {
        nonce_for(self.msg_seqno.get())
    }

    /// The authenticated part of the header (ALGO to the end).
    pub fn aad(&self) -> &[u8] {
        self.as_bytes().get(AAD_OFFSET..).unwrap_or(&[])
    }

    /// The AEAD tag (the first [`TAG_SIZE`] bytes of AUTHTAG).
    pub fn tag(&self) -> [u8; TAG_SIZE] {
        let mut t = [0u8; TAG_SIZE];
        if let Some(src) = self.authtag.get(..TAG_SIZE) {
            t.copy_from_slice(src);
        }
        t
    }
}

/// The AES-GCM nonce of sequence number `seqno`.
pub const fn nonce_for(seqno: u64) -> [u8; 12] {
    let s = seqno.to_le_bytes();
    [s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], 0, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_header_bytes_are_the_abi() {
        let h = RawHeader::request(MessageType::REPORT_REQ, 0x0102_0304_0506_0708, 2, 96);
        let b = h.as_bytes();
        assert_eq!(b.len(), 96);
        assert!(
            b[..0x20].iter().all(|x| *x == 0),
            "AUTHTAG empty until sealed"
        );
        assert_eq!(&b[0x20..0x28], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(b[0x30], 1, "ALGO AES-256-GCM");
        assert_eq!(b[0x31], 1, "HDR_VERSION");
        assert_eq!(&b[0x32..0x34], &[0x60, 0], "HDR_SIZE");
        assert_eq!(b[0x34], 5, "MSG_TYPE");
        assert_eq!(b[0x35], 1, "MSG_VERSION");
        assert_eq!(&b[0x36..0x38], &[96, 0], "MSG_SIZE");
        assert_eq!(b[0x3C], 2, "MSG_VMPCK");
        assert!(b[0x3D..].iter().all(|x| *x == 0));
        assert_eq!(h.aad(), &b[0x30..]);
        assert_eq!(h.nonce(), [8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn message_types() {
        assert_eq!(
            MessageType::REPORT_REQ.response(),
            Some(MessageType::REPORT_RSP)
        );
        assert_eq!(MessageType::KEY_REQ.response(), Some(MessageType::KEY_RSP));
        assert_eq!(MessageType(255).response(), None);
        assert_eq!(std::format!("{}", MessageType::KEY_RSP), "MSG_KEY_RSP");
        assert_eq!(std::format!("{}", MessageType(99)), "message type 99");
    }
}
