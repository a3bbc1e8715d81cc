//! TCB_VERSION and the products that define its layout.
//!
//! A TCB_VERSION is 8 bytes, read as a little-endian u64. Its byte layout depends on the
//! processor generation:
//!
//! | byte | Milan / Genoa (Zen 3/4) | Turin (Zen 5) |
//! |------|-------------------------|---------------|
//! | 0    | BOOT_LOADER             | FMC           |
//! | 1    | TEE                     | BOOT_LOADER   |
//! | 2    | reserved                | TEE           |
//! | 3    | reserved                | SNP           |
//! | 4..6 | reserved                | reserved      |
//! | 6    | SNP                     | reserved      |
//! | 7    | MICROCODE               | MICROCODE     |

use core::fmt;

use crate::abi::cpuid;

/// An SEV-SNP capable AMD EPYC generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Product {
    /// 3rd generation EPYC (Zen 3), CPUID family 0x19 models 0x00..=0x0F.
    Milan,
    /// 4th generation EPYC (Zen 4), CPUID family 0x19 models 0x10..=0x1F and 0xA0..=0xAF.
    Genoa,
    /// 5th generation EPYC (Zen 5), CPUID family 0x1A models 0x00..=0x1F.
    Turin,
}

impl Product {
    /// Every product, in release order.
    pub const ALL: [Product; 3] = [Product::Milan, Product::Genoa, Product::Turin];

    /// The product name as AMD's KDS spells it in URLs (`Milan`, `Genoa`, `Turin`).
    pub const fn name(self) -> &'static str {
        match self {
            Product::Milan => "Milan",
            Product::Genoa => "Genoa",
            Product::Turin => "Turin",
        }
    }

    /// Parses a product name, case-insensitively; a VCEK productName like `Milan-B0` is accepted.
    pub fn from_name(name: &str) -> Option<Product> {
        let base = name.split('-').next().unwrap_or(name);
        Product::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(base))
    }

    /// Identifies the product from CPUID family and model (as in the report's CPUID bytes).
    pub fn from_cpuid(family: u8, model: u8) -> Option<Product> {
        match (family, model) {
            (cpuid::FAMILY_ZEN3_ZEN4, 0x00..=0x0F) => Some(Product::Milan),
            (cpuid::FAMILY_ZEN3_ZEN4, 0x10..=0x1F | 0xA0..=0xAF) => Some(Product::Genoa),
            (cpuid::FAMILY_ZEN5, 0x00..=0x1F) => Some(Product::Turin),
            _ => None,
        }
    }

    /// The TCB_VERSION layout this product uses.
    pub const fn tcb_layout(self) -> TcbLayout {
        match self {
            Product::Milan | Product::Genoa => TcbLayout::Zen3Zen4,
            Product::Turin => TcbLayout::Zen5,
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the bytes of a TCB_VERSION are assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcbLayout {
    /// Milan and Genoa: `[bootloader, tee, 0, 0, 0, 0, snp, microcode]`.
    Zen3Zen4,
    /// Turin: `[fmc, bootloader, tee, snp, 0, 0, 0, microcode]`.
    Zen5,
}

impl TcbLayout {
    /// The layout for a CPUID family: Zen 5 for family 0x1A, else the Milan/Genoa layout.
    pub fn for_family(family: u8) -> TcbLayout {
        if family == cpuid::FAMILY_ZEN5 {
            TcbLayout::Zen5
        } else {
            TcbLayout::Zen3Zen4
        }
    }

    /// A stable name for JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            TcbLayout::Zen3Zen4 => "milan-genoa",
            TcbLayout::Zen5 => "turin",
        }
    }
}

/// The security patch levels a TCB_VERSION holds, decoded per layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcbParts {
    /// FMC SPL: Turin only, `None` on Milan/Genoa.
    pub fmc: Option<u8>,
    /// Boot loader SPL.
    pub bootloader: u8,
    /// PSP OS (TEE) SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Microcode SPL.
    pub microcode: u8,
}

/// A raw TCB_VERSION together with the layout that gives its bytes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcbVersion {
    raw: u64,
    layout: TcbLayout,
}

impl TcbVersion {
    /// Wraps a raw TCB_VERSION (as a little-endian u64) read under `layout`.
    pub const fn new(raw: u64, layout: TcbLayout) -> Self {
        TcbVersion { raw, layout }
    }

    /// The TCB_VERSION as a u64 (the THIM `tcbm` value, printed in hex).
    pub const fn raw(self) -> u64 {
        self.raw
    }

    /// The layout used to decode it.
    pub const fn layout(self) -> TcbLayout {
        self.layout
    }

    /// The 8 bytes as they appear in the report.
    pub const fn bytes(self) -> [u8; 8] {
        self.raw.to_le_bytes()
    }

    /// The SPL values.
    pub const fn parts(self) -> TcbParts {
        let b = self.bytes();
        match self.layout {
            TcbLayout::Zen3Zen4 => TcbParts {
                fmc: None,
                bootloader: b[0],
                tee: b[1],
                snp: b[6],
                microcode: b[7],
            },
            TcbLayout::Zen5 => TcbParts {
                fmc: Some(b[0]),
                bootloader: b[1],
                tee: b[2],
                snp: b[3],
                microcode: b[7],
            },
        }
    }

    /// Builds a TCB_VERSION from SPL values (the `fmc` part is ignored by the Milan/Genoa layout).
    pub const fn from_parts(parts: TcbParts, layout: TcbLayout) -> Self {
        let b = match layout {
            TcbLayout::Zen3Zen4 => [
                parts.bootloader,
                parts.tee,
                0,
                0,
                0,
                0,
                parts.snp,
                parts.microcode,
            ],
            TcbLayout::Zen5 => {
                let fmc = match parts.fmc {
                    Some(v) => v,
                    None => 0,
                };
                [
                    fmc,
                    parts.bootloader,
                    parts.tee,
                    parts.snp,
                    0,
                    0,
                    0,
                    parts.microcode,
                ]
            }
        };
        TcbVersion {
            raw: u64::from_le_bytes(b),
            layout,
        }
    }

    /// Bytes that the layout reserves but that are non-zero (newer firmware may define them).
    pub const fn reserved_bits(self) -> u64 {
        let mask: u64 = match self.layout {
            TcbLayout::Zen3Zen4 => 0x0000_FFFF_FFFF_0000,
            TcbLayout::Zen5 => 0x00FF_FFFF_0000_0000,
        };
        self.raw & mask
    }

    /// True if every SPL of `self` is at least the corresponding SPL of `min`.
    pub fn meets(self, min: TcbParts) -> bool {
        let p = self.parts();
        p.bootloader >= min.bootloader
            && p.tee >= min.tee
            && p.snp >= min.snp
            && p.microcode >= min.microcode
            && p.fmc.unwrap_or(0) >= min.fmc.unwrap_or(0)
    }
}

impl fmt::Display for TcbParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc={fmc} ")?;
        }
        write!(
            f,
            "bootloader={} tee={} snp={} microcode={}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milan_layout_matches_thim_tcbm() {
        // THIM tcbm "7308000000000003": bl 3, tee 0, snp 8, ucode 0x73.
        let t = TcbVersion::new(0x7308_0000_0000_0003, TcbLayout::Zen3Zen4);
        assert_eq!(
            t.parts(),
            TcbParts {
                fmc: None,
                bootloader: 3,
                tee: 0,
                snp: 8,
                microcode: 0x73
            }
        );
        assert_eq!(TcbVersion::from_parts(t.parts(), TcbLayout::Zen3Zen4), t);
        assert_eq!(t.reserved_bits(), 0);
    }

    #[test]
    fn turin_layout() {
        let t = TcbVersion::new(0x5100_0000_0401_0101, TcbLayout::Zen5);
        assert_eq!(
            t.parts(),
            TcbParts {
                fmc: Some(1),
                bootloader: 1,
                tee: 1,
                snp: 4,
                microcode: 81
            }
        );
        assert_eq!(TcbVersion::from_parts(t.parts(), TcbLayout::Zen5), t);
    }

    #[test]
    fn product_detection() {
        assert_eq!(Product::from_cpuid(0x19, 0x01), Some(Product::Milan));
        assert_eq!(Product::from_cpuid(0x19, 0x11), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x19, 0xA0), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x1A, 0x02), Some(Product::Turin));
        assert_eq!(Product::from_cpuid(0x17, 0x31), None);
        assert_eq!(Product::from_name("Milan-B0"), Some(Product::Milan));
        assert_eq!(Product::from_name("turin"), Some(Product::Turin));
        assert_eq!(Product::from_name("Rome"), None);
    }

    #[test]
    fn meets_compares_each_part() {
        let t = TcbVersion::new(0x7308_0000_0000_0003, TcbLayout::Zen3Zen4);
        let mut min = t.parts();
        assert!(t.meets(min));
        min.snp = 9;
        assert!(!t.meets(min));
    }
}
