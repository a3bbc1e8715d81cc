//! MSG_KEY_REQ and MSG_KEY_RSP: a key derived by the PSP from a root key and fields of this
//! guest, so that only a guest with the same selected fields (measurement, policy, ...) on the
//! same chip obtains it again. Usable to seal data locally without any remote service.
//!
//! Source: AMD SEV-SNP firmware ABI specification, tables "MSG_KEY_REQ Message Structure",
//! "GUEST_FIELD_SELECT" and "MSG_KEY_RSP Message Structure"; the Linux `snp_derived_key_req`
//! passes the same 32 bytes through.

use core::fmt;

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::{RequestError, ResponseError};
use super::header::MessageType;
use super::status::check_response_status;
use crate::source::Vmpl;

/// Size of MSG_KEY_REQ.
pub const KEY_REQ_SIZE: usize = 0x20;
/// Size of MSG_KEY_RSP.
pub const KEY_RSP_SIZE: usize = 0x40;
/// Offset of DERIVED_KEY in MSG_KEY_RSP.
pub const KEY_RSP_KEY_OFFSET: usize = 0x20;
/// Size of a derived key.
pub const DERIVED_KEY_SIZE: usize = 32;

/// ROOT_KEY_SELECT (bit 0 of the first word).
const ROOT_KEY_SELECT_BIT: u32 = 1;
/// KEY_SEL occupies bits 2:1 of the first word.
const KEY_SEL_SHIFT: u32 = 1;
/// Mask of KEY_SEL after shifting.
const KEY_SEL_MASK: u32 = 0b11;

/// The wire layout of MSG_KEY_REQ.
#[derive(Debug, Clone, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawKeyRequest {
    /// ROOT_KEY_SELECT in bit 0, KEY_SEL in bits 2:1, the rest reserved.
    pub key_select: U32,
    /// Reserved.
    pub reserved: [u8; 4],
    /// GUEST_FIELD_SELECT.
    pub guest_field_select: U64,
    /// VMPL to mix in.
    pub vmpl: U32,
    /// GUEST_SVN to mix in.
    pub guest_svn: U32,
    /// TCB_VERSION to mix in.
    pub tcb_version: U64,
}

const _: () = assert!(size_of::<RawKeyRequest>() == KEY_REQ_SIZE);

/// The root a key is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RootKey {
    /// The chip's VCEK secret (the key changes with the chip and, if selected, the TCB).
    #[default]
    Vcek,
    /// The VM root key, which a migration agent carries from host to host.
    Vmrk,
}

/// Which endorsement key signs a report, or roots a derived key (KEY_SEL, ABI 1.55+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeySelect {
    /// The VLEK if the host loaded one, the VCEK otherwise (what older firmware always does).
    #[default]
    Default,
    /// The VCEK.
    Vcek,
    /// The VLEK; refused with INVALID_KEY when the host loaded none.
    Vlek,
}

impl KeySelect {
    /// The two-bit field value.
    pub const fn bits(self) -> u32 {
        match self {
            KeySelect::Default => 0,
            KeySelect::Vcek => 1,
            KeySelect::Vlek => 2,
        }
    }

    /// The selection a field value names (3 is reserved).
    pub const fn from_bits(bits: u32) -> Option<KeySelect> {
        match bits {
            0 => Some(KeySelect::Default),
            1 => Some(KeySelect::Vcek),
            2 => Some(KeySelect::Vlek),
            _ => None,
        }
    }

    /// The name used on command lines (`default`, `vcek`, `vlek`).
    pub const fn name(self) -> &'static str {
        match self {
            KeySelect::Default => "default",
            KeySelect::Vcek => "vcek",
            KeySelect::Vlek => "vlek",
        }
    }

    /// The selection named `name`.
    pub fn from_name(name: &str) -> Option<KeySelect> {
        [KeySelect::Default, KeySelect::Vcek, KeySelect::Vlek]
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

/// GUEST_FIELD_SELECT: the fields of this guest mixed into a derived key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GuestFields(u64);

impl GuestFields {
    /// None: the key depends on the root key and the VMPL only.
    pub const NONE: GuestFields = GuestFields(0);
    /// The guest POLICY.
    pub const POLICY: GuestFields = GuestFields(1 << 0);
    /// IMAGE_ID.
    pub const IMAGE_ID: GuestFields = GuestFields(1 << 1);
    /// FAMILY_ID.
    pub const FAMILY_ID: GuestFields = GuestFields(1 << 2);
    /// The launch MEASUREMENT.
    pub const MEASUREMENT: GuestFields = GuestFields(1 << 3);
    /// The request's GUEST_SVN.
    pub const GUEST_SVN: GuestFields = GuestFields(1 << 4);
    /// The request's TCB_VERSION.
    pub const TCB_VERSION: GuestFields = GuestFields(1 << 5);
    /// Every field this crate knows.
    pub const ALL: GuestFields = GuestFields(0x3F);

    /// Each field with its command-line name, in bit order.
    pub const NAMED: [(&'static str, GuestFields); 6] = [
        ("policy", Self::POLICY),
        ("image_id", Self::IMAGE_ID),
        ("family_id", Self::FAMILY_ID),
        ("measurement", Self::MEASUREMENT),
        ("guest_svn", Self::GUEST_SVN),
        ("tcb_version", Self::TCB_VERSION),
    ];

    /// The raw field value.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The fields of a raw value, or `None` if it has bits this crate does not know.
    pub const fn from_bits(bits: u64) -> Option<GuestFields> {
        if bits & !Self::ALL.0 == 0 {
            Some(GuestFields(bits))
        } else {
            None
        }
    }

    /// Both sets.
    #[must_use]
    pub const fn union(self, other: GuestFields) -> GuestFields {
        GuestFields(self.0 | other.0)
    }

    /// True if every field of `other` is selected.
    pub const fn contains(self, other: GuestFields) -> bool {
        self.0 & other.0 == other.0
    }

    /// Reads a comma-separated list of names ([`GuestFields::NAMED`]; case and `-` for `_` do
    /// not matter; empty items are skipped). Returns the first unknown name on error.
    pub fn parse_list(list: &str) -> Result<GuestFields, &str> {
        let mut out = GuestFields::NONE;
        for item in list
            .as_bytes()
            .split(|b| *b == b',')
            .map(<[u8]>::trim_ascii)
        {
            if item.is_empty() {
                continue;
            }
            let found = Self::NAMED.iter().find(|(name, _)| {
                name.len() == item.len()
                    && name
                        .bytes()
                        .zip(item.iter())
                        .all(|(n, i)| n == i.to_ascii_lowercase() || (n == b'_' && *i == b'-'))
            });
            match found {
                Some((_, f)) => out = out.union(*f),
                // A piece of a str cut at ASCII bytes is itself valid UTF-8.
                None => return Err(core::str::from_utf8(item).unwrap_or("?")),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for GuestFields {
    /// The selected names, comma-separated (`none` for none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, field) in Self::NAMED {
            if self.contains(field) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// A derived-key request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyRequest {
    /// The root key.
    pub root_key: RootKey,
    /// Which endorsement key's secret roots it (ABI 1.55+; `Default` elsewhere).
    pub key_select: KeySelect,
    /// The guest fields mixed in.
    pub fields: GuestFields,
    /// The VMPL mixed in; not more privileged than the VMPCK's VMPL.
    pub vmpl: Vmpl,
    /// The GUEST_SVN mixed in (if selected); at most the guest's SVN.
    pub guest_svn: u32,
    /// The TCB_VERSION mixed in (if selected); at most the committed TCB.
    pub tcb_version: u64,
}

impl KeyRequest {
    /// The 32 bytes of MSG_KEY_REQ.
    pub fn encode(&self) -> [u8; KEY_REQ_SIZE] {
        let root = match self.root_key {
            RootKey::Vcek => 0,
            RootKey::Vmrk => ROOT_KEY_SELECT_BIT,
        };
        let raw = RawKeyRequest {
            key_select: U32::new(root | (self.key_select.bits() << KEY_SEL_SHIFT)),
            reserved: [0; 4],
            guest_field_select: U64::new(self.fields.bits()),
            vmpl: U32::new(self.vmpl.get().into()),
            guest_svn: U32::new(self.guest_svn),
            tcb_version: U64::new(self.tcb_version),
        };
        let mut out = [0u8; KEY_REQ_SIZE];
        out.copy_from_slice(raw.as_bytes());
        out
    }

    /// Reads MSG_KEY_REQ, refusing reserved bits and out-of-range values.
    pub fn decode(bytes: &[u8]) -> Result<KeyRequest, RequestError> {
        let raw = RawKeyRequest::read_from_bytes(bytes).map_err(|_| RequestError::Length {
            message: MessageType::KEY_REQ,
            expected: KEY_REQ_SIZE,
            actual: bytes.len(),
        })?;
        let field = |field, value| RequestError::Field { field, value };
        let sel = raw.key_select.get();
        let known = ROOT_KEY_SELECT_BIT | (KEY_SEL_MASK << KEY_SEL_SHIFT);
        if sel & !known != 0 {
            return Err(field("ROOT_KEY_SELECT/KEY_SEL reserved bits", sel.into()));
        }
        let key_select = KeySelect::from_bits((sel >> KEY_SEL_SHIFT) & KEY_SEL_MASK).ok_or(
            field("KEY_SEL", ((sel >> KEY_SEL_SHIFT) & KEY_SEL_MASK).into()),
        )?;
        if raw.reserved != [0; 4] {
            return Err(field(
                "reserved bytes 4..8",
                u32::from_le_bytes(raw.reserved).into(),
            ));
        }
        let fields = GuestFields::from_bits(raw.guest_field_select.get())
            .ok_or(field("GUEST_FIELD_SELECT", raw.guest_field_select.get()))?;
        let vmpl = Vmpl::new(raw.vmpl.get()).ok_or(field("VMPL", raw.vmpl.get().into()))?;
        Ok(KeyRequest {
            root_key: if sel & ROOT_KEY_SELECT_BIT != 0 {
                RootKey::Vmrk
            } else {
                RootKey::Vcek
            },
            key_select,
            fields,
            vmpl,
            guest_svn: raw.guest_svn.get(),
            tcb_version: raw.tcb_version.get(),
        })
    }
}

/// A key the PSP derived: wiped on drop, never printed.
pub struct DerivedKey([u8; DERIVED_KEY_SIZE]);

impl DerivedKey {
    /// Wraps key bytes.
    pub const fn new(bytes: [u8; DERIVED_KEY_SIZE]) -> DerivedKey {
        DerivedKey(bytes)
    }

    /// The key.
    pub fn as_bytes(&self) -> &[u8; DERIVED_KEY_SIZE] {
        &self.0
    }
}

impl Drop for DerivedKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for DerivedKey {}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKey(redacted)")
    }
}

/// Reads a decrypted MSG_KEY_RSP: STATUS must be 0, then DERIVED_KEY is taken.
pub fn parse_key_response(plain: &[u8]) -> Result<DerivedKey, ResponseError> {
    let short = |expected| ResponseError::PayloadLength {
        message: MessageType::KEY_RSP,
        expected,
        actual: plain.len(),
    };
    check_response_status(plain, MessageType::KEY_RSP)?;
    let key = plain
        .get(KEY_RSP_KEY_OFFSET..KEY_RSP_SIZE)
        .and_then(|k| <[u8; DERIVED_KEY_SIZE]>::try_from(k).ok())
        .ok_or(short(KEY_RSP_SIZE))?;
    Ok(DerivedKey::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn request_bytes_are_the_abi() {
        let r = KeyRequest {
            root_key: RootKey::Vmrk,
            key_select: KeySelect::Vlek,
            fields: GuestFields::MEASUREMENT.union(GuestFields::POLICY),
            vmpl: Vmpl::new(2).unwrap(),
            guest_svn: 0x0A0B_0C0D,
            tcb_version: 0x1122_3344_5566_7788,
        };
        let b = r.encode();
        assert_eq!(&b[0..4], &[0b101, 0, 0, 0], "ROOT_KEY_SELECT=1, KEY_SEL=2");
        assert_eq!(&b[4..8], &[0; 4]);
        assert_eq!(&b[8..16], &[0b1001, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[16..20], &[2, 0, 0, 0]);
        assert_eq!(&b[20..24], &[0x0D, 0x0C, 0x0B, 0x0A]);
        assert_eq!(
            &b[24..32],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(KeyRequest::decode(&b), Ok(r));
    }

    #[test]
    fn bad_requests_name_the_field() {
        let good = KeyRequest::default().encode();
        let set = |at: usize, v: u8| {
            let mut b = good;
            b[at] = v;
            KeyRequest::decode(&b).unwrap_err().to_string()
        };
        assert!(set(0, 0b110).contains("KEY_SEL = 0x3"));
        assert!(set(0, 0b1000).contains("reserved bits"));
        assert!(set(5, 1).contains("reserved bytes"));
        assert!(set(8, 0x40).contains("GUEST_FIELD_SELECT = 0x40"));
        assert!(set(16, 4).contains("VMPL = 0x4"));
        assert!(
            KeyRequest::decode(&good[..31])
                .unwrap_err()
                .to_string()
                .contains("MSG_KEY_REQ is 32 bytes, got 31")
        );
    }

    #[test]
    fn field_lists() {
        let f = GuestFields::parse_list("measurement, Policy,tcb-version,").unwrap();
        assert_eq!(f.bits(), 0b10_1001);
        assert_eq!(f.to_string(), "policy,measurement,tcb_version");
        assert_eq!(GuestFields::parse_list("").unwrap(), GuestFields::NONE);
        assert_eq!(GuestFields::NONE.to_string(), "none");
        assert_eq!(GuestFields::parse_list("policy,chip_id"), Err("chip_id"));
        assert_eq!(KeySelect::from_name("VLEK"), Some(KeySelect::Vlek));
        assert_eq!(KeySelect::from_name("vmrk"), None);
    }

    #[test]
    fn responses() {
        let mut rsp = [0u8; KEY_RSP_SIZE];
        rsp[0x20..].copy_from_slice(&[9; 32]);
        assert_eq!(parse_key_response(&rsp).unwrap().as_bytes(), &[9; 32]);
        rsp[0] = 0x16;
        let e = parse_key_response(&rsp).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the PSP refused the request: MSG_KEY_RSP STATUS 0x16 INVALID_PARAM"
        );
        assert!(matches!(
            parse_key_response(&[0; 40]),
            Err(ResponseError::PayloadLength {
                expected: 64,
                actual: 40,
                ..
            })
        ));
        assert!(matches!(
            parse_key_response(&[0; 3]),
            Err(ResponseError::PayloadLength { expected: 4, .. })
        ));
        assert_eq!(
            std::format!("{:?}", DerivedKey::new([1; 32])),
            "DerivedKey(redacted)"
        );
    }

    proptest! {
        #[test]
        fn any_response_bytes_give_a_key_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            match parse_key_response(&bytes) {
                Ok(k) => prop_assert_eq!(&k.as_bytes()[..], &bytes[0x20..0x40]),
                Err(_) => prop_assert!(bytes.len() < KEY_RSP_SIZE || bytes[..4] != [0; 4]),
            }
        }

        #[test]
        fn decode_accepts_exactly_what_encode_makes(bytes in proptest::array::uniform32(any::<u8>())) {
            if let Ok(r) = KeyRequest::decode(&bytes) {
                prop_assert_eq!(r.encode(), bytes);
            }
        }
    }
}
