//! The secrets page: the VMPCKs the PSP placed in guest memory at launch, and the guest-owned
//! area where the GHCB specification keeps each VMPCK's last sequence number.
//!
//! Sources: AMD SEV-SNP firmware ABI specification, table "Secrets Page Format" (VERSION 2 and
//! later share the layout read here); GHCB specification, table "Secrets Page Guest OS Area"
//! (message sequence numbers, bits 31..0 since version 2, bits 63..32 since 2.01 when the area's
//! version is 1 or more). Firmware that hands the page on to a kernel stores the counter back
//! with [`store_last_seqno`], so the kernel does not reuse its nonces.

use core::fmt;

use super::channel::GuestChannel;
use super::crypto::{VMPCK_SIZE, Vmpck, VmpckId};

/// Size of the secrets page.
pub const SECRETS_PAGE_SIZE: usize = 4096;
/// Lowest secrets page VERSION with this layout.
pub const MIN_VERSION: u32 = 2;

/// Field offsets.
pub mod offset {
    /// VERSION (u32).
    pub const VERSION: usize = 0x00;
    /// IMI_EN (u32, bit 0).
    pub const IMI_EN: usize = 0x04;
    /// FMS: CPUID family, model and stepping (u32).
    pub const FMS: usize = 0x08;
    /// VMPCK0; VMPCK1 to 3 follow, 32 bytes each.
    pub const VMPCK0: usize = 0x20;
    /// Guest OS area: the low halves of the four sequence numbers (u32 each).
    pub const SEQNO_LOW: usize = 0xA0;
    /// Guest OS area: the high halves of the four sequence numbers (u32 each, GHCB 2.01+).
    pub const SEQNO_HIGH: usize = 0xB8;
    /// Guest OS area: its version (u16; 1 = GHCB 2.01 layout with the high halves).
    pub const OS_AREA_VERSION: usize = 0xDE;
}

/// Why a secrets page cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretsError {
    /// The page is not [`SECRETS_PAGE_SIZE`] bytes.
    Length {
        /// Bytes given.
        actual: usize,
    },
    /// VERSION is older than this layout.
    Version {
        /// The VERSION field.
        actual: u32,
    },
    /// The VMPCK is all zeros: wiped after a failure, or withheld from this VMPL.
    VmpckWiped {
        /// Which key.
        id: VmpckId,
    },
}

impl fmt::Display for SecretsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretsError::Length { actual } => write!(
                f,
                "a secrets page is {SECRETS_PAGE_SIZE} bytes, got {actual}"
            ),
            SecretsError::Version { actual } => write!(
                f,
                "secrets page VERSION {actual} is older than {MIN_VERSION}, the first with VMPCKs at this layout"
            ),
            SecretsError::VmpckWiped { id } => write!(
                f,
                "{id} in the secrets page is all zeros: wiped after a failed request, or withheld from this VMPL"
            ),
        }
    }
}

impl core::error::Error for SecretsError {}

/// A borrowed secrets page.
#[derive(Clone, Copy)]
pub struct SecretsPage<'a> {
    bytes: &'a [u8; SECRETS_PAGE_SIZE],
}

impl fmt::Debug for SecretsPage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsPage")
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at.saturating_add(4))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_le_bytes)
}

impl<'a> SecretsPage<'a> {
    /// Reads a secrets page.
    pub fn parse(bytes: &'a [u8]) -> Result<SecretsPage<'a>, SecretsError> {
        let bytes =
            <&[u8; SECRETS_PAGE_SIZE]>::try_from(bytes).map_err(|_| SecretsError::Length {
                actual: bytes.len(),
            })?;
        let page = SecretsPage { bytes };
        if page.version() < MIN_VERSION {
            return Err(SecretsError::Version {
                actual: page.version(),
            });
        }
        Ok(page)
    }

    /// VERSION.
    pub fn version(&self) -> u32 {
        u32_at(self.bytes, offset::VERSION)
    }

    /// FMS: CPUID Fn0000_0001_EAX of the launch.
    pub fn fms(&self) -> u32 {
        u32_at(self.bytes, offset::FMS)
    }

    /// A copy of VMPCK `id` (all zeros when wiped).
    pub fn vmpck(&self, id: VmpckId) -> Vmpck {
        let at = offset::VMPCK0.saturating_add(usize::from(id.get()).saturating_mul(VMPCK_SIZE));
        let mut key = [0u8; VMPCK_SIZE];
        if let Some(src) = self.bytes.get(at..at.saturating_add(VMPCK_SIZE)) {
            key.copy_from_slice(src);
        }
        Vmpck::new(key)
    }

    /// The last sequence number used with VMPCK `id`, from the guest OS area.
    pub fn last_seqno(&self, id: VmpckId) -> u64 {
        let i = usize::from(id.get()).saturating_mul(4);
        let low = u32_at(self.bytes, offset::SEQNO_LOW.saturating_add(i));
        let os_version = self
            .bytes
            .get(offset::OS_AREA_VERSION..offset::OS_AREA_VERSION.saturating_add(2))
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map_or(0, u16::from_le_bytes);
        let high = if os_version >= 1 {
            u32_at(self.bytes, offset::SEQNO_HIGH.saturating_add(i))
        } else {
            0
        };
        (u64::from(high) << 32) | u64::from(low)
    }

    /// A channel under VMPCK `id`, continuing from the stored sequence number.
    pub fn channel(&self, id: VmpckId) -> Result<GuestChannel, SecretsError> {
        let key = self.vmpck(id);
        if key.is_wiped() {
            return Err(SecretsError::VmpckWiped { id });
        }
        Ok(GuestChannel::new(key, id, self.last_seqno(id)))
    }
}

/// Stores `last` as the last sequence number of VMPCK `id` in the guest OS area (both halves,
/// and OS area version 1 so a reader takes the high half).
pub fn store_last_seqno(page: &mut [u8; SECRETS_PAGE_SIZE], id: VmpckId, last: u64) {
    let i = usize::from(id.get()).saturating_mul(4);
    let mut put = |at: usize, v: &[u8]| {
        if let Some(dst) = page.get_mut(at..at.saturating_add(v.len())) {
            dst.copy_from_slice(v);
        }
    };
    put(
        offset::SEQNO_LOW.saturating_add(i),
        &(last as u32).to_le_bytes(),
    );
    put(
        offset::SEQNO_HIGH.saturating_add(i),
        &((last >> 32) as u32).to_le_bytes(),
    );
    put(offset::OS_AREA_VERSION, &1u16.to_le_bytes());
}

/// Wipes VMPCK `id` in the page, as a guest must once the key is disabled (or before handing
/// the page to less privileged software that must not have it).
pub fn wipe_vmpck(page: &mut [u8; SECRETS_PAGE_SIZE], id: VmpckId) {
    let at = offset::VMPCK0.saturating_add(usize::from(id.get()).saturating_mul(VMPCK_SIZE));
    if let Some(k) = page.get_mut(at..at.saturating_add(VMPCK_SIZE)) {
        zeroize::Zeroize::zeroize(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn page() -> [u8; SECRETS_PAGE_SIZE] {
        let mut p = [0u8; SECRETS_PAGE_SIZE];
        p[0] = 3;
        for k in 0..4u8 {
            let at = 0x20 + usize::from(k) * 32;
            p[at..at + 32].fill(k + 1);
        }
        p
    }

    #[test]
    fn keys_and_counters() {
        let mut p = page();
        let id = |n| VmpckId::new(n).unwrap();
        {
            let s = SecretsPage::parse(&p).unwrap();
            assert_eq!(s.version(), 3);
            assert_eq!(s.vmpck(id(2)).as_bytes(), &[3; 32]);
            assert_eq!(s.last_seqno(id(2)), 0);
        }
        store_last_seqno(&mut p, id(2), 0x1_0000_0005);
        assert_eq!(&p[0xA8..0xAC], &[5, 0, 0, 0]);
        assert_eq!(&p[0xC0..0xC4], &[1, 0, 0, 0]);
        let s = SecretsPage::parse(&p).unwrap();
        assert_eq!(s.last_seqno(id(2)), 0x1_0000_0005);
        assert_eq!(s.last_seqno(id(1)), 0);
        assert_eq!(s.channel(id(2)).unwrap().last_seqno(), 0x1_0000_0005);
        // Without the OS area version, only the low half counts (GHCB 2.0 layout).
        let mut old = p;
        old[0xDE] = 0;
        assert_eq!(SecretsPage::parse(&old).unwrap().last_seqno(id(2)), 5);
        wipe_vmpck(&mut p, id(0));
        let e = SecretsPage::parse(&p).unwrap().channel(id(0)).unwrap_err();
        assert!(
            e.to_string()
                .contains("VMPCK0 in the secrets page is all zeros"),
            "{e}"
        );
    }

    #[test]
    fn bad_pages() {
        assert_eq!(
            SecretsPage::parse(&[0; 100]).unwrap_err(),
            SecretsError::Length { actual: 100 }
        );
        let mut p = page();
        p[0] = 1;
        assert_eq!(
            SecretsPage::parse(&p).unwrap_err(),
            SecretsError::Version { actual: 1 }
        );
        assert!(!std::format!("{:?}", SecretsPage::parse(&page()).unwrap()).contains("1, 1"));
    }
}
