//! AMD's VCEK/VLEK certificate extensions (AMD "Versioned Chip Endorsement Key (VCEK)
//! Certificate and KDS Interface Specification", publication 57230, table "VCEK Certificate
//! Extensions"): OIDs under 1.3.6.1.4.1.3704.1.
//!
//! | OID suffix | meaning | value |
//! |---|---|---|
//! | .1 | structVersion | INTEGER |
//! | .2 | productName (e.g. `Milan-B0`) | IA5String |
//! | .3.1 / .3.2 / .3.3 | blSPL / teeSPL / snpSPL | INTEGER 0..=255 |
//! | .3.4 ..= .3.7 | reserved SPLs | INTEGER 0..=255 |
//! | .3.8 | ucodeSPL | INTEGER 0..=255 |
//! | .3.9 | fmcSPL (Turin) | INTEGER 0..=255 |
//! | .4 | hwID: CHIP_ID (64 bytes; Turin: its first 8) | raw bytes, VCEK only |
//! | .5 | cspID (VLEK only) | IA5String |

use super::{CertError, Certificate};
use crate::der::{Reader, tag};
use crate::report::{Product, TcbLayout, TcbParts, TcbVersion};

/// The OIDs, as DER contents.
pub mod oid {
    /// Prefix 1.3.6.1.4.1.3704.1 shared by every AMD KDS extension.
    pub const PREFIX: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0x9C, 0x78, 0x01];
    /// Suffix of structVersion.
    pub const STRUCT_VERSION: &[u8] = &[0x01];
    /// Suffix of productName.
    pub const PRODUCT_NAME: &[u8] = &[0x02];
    /// First byte of the SPL suffixes (`3.n`).
    pub const SPL: u8 = 0x03;
    /// Suffix of hwID.
    pub const HWID: &[u8] = &[0x04];
    /// Suffix of cspID.
    pub const CSP_ID: &[u8] = &[0x05];
}

/// Size of a Milan/Genoa hwID (the whole CHIP_ID).
pub const HWID_SIZE: usize = crate::abi::size::CHIP_ID;
/// Size of a Turin hwID.
pub const HWID_SIZE_TURIN: usize = crate::abi::size::TURIN_HWID;

/// The AMD extensions of a VCEK or VLEK certificate; absent ones are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AmdExtensions<'a> {
    /// structVersion.
    pub struct_version: Option<u64>,
    /// productName, e.g. `Milan-B0`, `Genoa`, `Turin`.
    pub product_name: Option<&'a str>,
    /// blSPL.
    pub bl_spl: Option<u8>,
    /// teeSPL.
    pub tee_spl: Option<u8>,
    /// snpSPL.
    pub snp_spl: Option<u8>,
    /// The reserved SPLs 4..=7.
    pub reserved_spl: [Option<u8>; 4],
    /// ucodeSPL.
    pub ucode_spl: Option<u8>,
    /// fmcSPL (Turin).
    pub fmc_spl: Option<u8>,
    /// hwID (VCEK).
    pub hwid: Option<&'a [u8]>,
    /// cspID (VLEK).
    pub csp_id: Option<&'a str>,
}

fn ia5(value: &[u8]) -> Option<&str> {
    let mut r = Reader::new(value);
    let s = r.read(tag::IA5_STRING).ok()?;
    r.finish().ok()?;
    core::str::from_utf8(s.value).ok().filter(|s| s.is_ascii())
}

fn small_uint(value: &[u8]) -> Option<u64> {
    let mut r = Reader::new(value);
    let v = r.read(tag::INTEGER).ok()?.u64().ok()?;
    r.finish().ok()?;
    Some(v)
}

/// hwID: AMD's KDS stores the raw bytes without an OCTET STRING header; a wrapped form is
/// accepted too in case that changes. Either way 8 or 64 bytes.
fn hwid(value: &[u8]) -> Option<&[u8]> {
    let ok = |b: &[u8]| matches!(b.len(), HWID_SIZE | HWID_SIZE_TURIN);
    if ok(value) {
        return Some(value);
    }
    let mut r = Reader::new(value);
    let inner = r.read(tag::OCTET_STRING).ok()?.value;
    r.finish().ok()?;
    ok(inner).then_some(inner)
}

impl<'a> AmdExtensions<'a> {
    /// Reads the AMD extensions of `cert`; other extensions are ignored.
    pub fn from_cert(cert: &Certificate<'a>) -> Result<Self, CertError> {
        let mut out = AmdExtensions::default();
        for ext in cert.extensions() {
            let Some(suffix) = ext.oid.strip_prefix(oid::PREFIX) else {
                continue;
            };
            let offset = ext.offset;
            let bad = |field: &'static str| CertError::AmdExtension { field, offset };
            let spl = |field: &'static str| {
                small_uint(ext.value)
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or(bad(field))
                    .map(Some)
            };
            match suffix {
                oid::STRUCT_VERSION => {
                    out.struct_version = Some(small_uint(ext.value).ok_or(bad("structVersion"))?)
                }
                oid::PRODUCT_NAME => {
                    out.product_name = Some(ia5(ext.value).ok_or(bad("productName"))?)
                }
                oid::HWID => out.hwid = Some(hwid(ext.value).ok_or(bad("hwID"))?),
                oid::CSP_ID => out.csp_id = Some(ia5(ext.value).ok_or(bad("cspID"))?),
                [oid::SPL, n] => match n {
                    1 => out.bl_spl = spl("blSPL")?,
                    2 => out.tee_spl = spl("teeSPL")?,
                    3 => out.snp_spl = spl("snpSPL")?,
                    4..=7 => {
                        let i = usize::from(n.saturating_sub(4));
                        if let Some(slot) = out.reserved_spl.get_mut(i) {
                            *slot = spl("reserved SPL")?;
                        }
                    }
                    8 => out.ucode_spl = spl("ucodeSPL")?,
                    9 => out.fmc_spl = spl("fmcSPL")?,
                    _ => {}
                },
                _ => {}
            }
        }
        Ok(out)
    }

    /// The product named by productName (`Milan-B0` is Milan).
    pub fn product(&self) -> Option<Product> {
        self.product_name.and_then(Product::from_name)
    }

    /// The SPL values as TCB parts (absent values are 0; fmc is `Some` for Turin's layout).
    pub fn tcb_parts(&self, layout: TcbLayout) -> TcbParts {
        TcbParts {
            fmc: match layout {
                TcbLayout::Zen3Zen4 => None,
                TcbLayout::Zen5 => Some(self.fmc_spl.unwrap_or(0)),
            },
            bootloader: self.bl_spl.unwrap_or(0),
            tee: self.tee_spl.unwrap_or(0),
            snp: self.snp_spl.unwrap_or(0),
            microcode: self.ucode_spl.unwrap_or(0),
        }
    }

    /// The TCB_VERSION the certificate was issued for, laid out like the report's REPORTED_TCB.
    /// The reserved SPLs fill the layout's reserved bytes in order (Milan/Genoa bytes 2..=5;
    /// Turin bytes 4..=6 from SPLs 5..=7), so a certificate for a TCB with reserved bits set
    /// does not compare equal to a report without them.
    pub fn tcb(&self, layout: TcbLayout) -> TcbVersion {
        let p = self.tcb_parts(layout);
        let [r4, r5, r6, r7] = self.reserved_spl.map(|v| v.unwrap_or(0));
        let bytes = match layout {
            TcbLayout::Zen3Zen4 => [p.bootloader, p.tee, r4, r5, r6, r7, p.snp, p.microcode],
            TcbLayout::Zen5 => [
                p.fmc.unwrap_or(0),
                p.bootloader,
                p.tee,
                p.snp,
                r5,
                r6,
                r7,
                p.microcode,
            ],
        };
        TcbVersion::new(u64::from_le_bytes(bytes), layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_forms() {
        assert_eq!(small_uint(&[0x02, 0x02, 0x00, 0xDB]), Some(0xDB));
        assert_eq!(small_uint(&[0x02, 0x01, 0x05, 0x00]), None);
        assert_eq!(
            ia5(&[0x16, 0x05, b'T', b'u', b'r', b'i', b'n']),
            Some("Turin")
        );
        assert_eq!(ia5(&[0x0C, 0x01, b'T']), None);
        assert_eq!(hwid(&[7u8; 8]), Some(&[7u8; 8][..]));
        let mut wrapped = [0u8; 66];
        wrapped[0] = 0x04;
        wrapped[1] = 64;
        assert_eq!(hwid(&wrapped).map(<[u8]>::len), Some(64));
        assert_eq!(hwid(&[1, 2, 3]), None);
    }

    #[test]
    fn tcb_layouts() {
        let e = AmdExtensions {
            fmc_spl: Some(1),
            bl_spl: Some(1),
            tee_spl: Some(1),
            snp_spl: Some(4),
            ucode_spl: Some(81),
            ..AmdExtensions::default()
        };
        assert_eq!(e.tcb(TcbLayout::Zen5).raw(), 0x5100_0000_0401_0101);
        let m = AmdExtensions {
            bl_spl: Some(3),
            snp_spl: Some(8),
            ucode_spl: Some(115),
            ..AmdExtensions::default()
        };
        assert_eq!(m.tcb(TcbLayout::Zen3Zen4).raw(), 0x7308_0000_0000_0003);
    }
}
