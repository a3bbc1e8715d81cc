//! The certificate table of an extended guest request (GHCB specification, "SNP Extended Guest
//! Request"; also what the kernel's SNP_GET_EXT_REPORT and configfs-tsm `auxblob` return).
//!
//! The table starts with entries of 24 bytes: a 16-byte GUID (in its RFC 4122 byte order, as
//! Linux, go-sev-guest and virtee write it), a little-endian u32 offset and a u32 length, both
//! relative to the start of the table. An all-zero entry ends the list; the certificates follow.
//!
//! [`parse`] checks every entry and gives an iterator of [`Entry`]; [`encode_into`] builds a
//! table (for simulated platforms and tests).

use core::fmt;

/// Size of one table entry.
pub const ENTRY_SIZE: usize = 24;
/// Most entries accepted (hosts write three to five); bounds the work on hostile input.
pub const MAX_ENTRIES: usize = 64;
const GUID_SIZE: usize = 16;

/// A GUID in RFC 4122 byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid(pub [u8; GUID_SIZE]);

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c.wrapping_sub(b'0')),
        b'a'..=b'f' => Some(c.wrapping_sub(b'a').wrapping_add(10)),
        b'A'..=b'F' => Some(c.wrapping_sub(b'A').wrapping_add(10)),
        _ => None,
    }
}

impl Guid {
    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`; `None` if malformed.
    pub fn parse(text: &str) -> Option<Guid> {
        let t = text.as_bytes();
        if t.len() != 36 || [8, 13, 18, 23].iter().any(|&i| t.get(i) != Some(&b'-')) {
            return None;
        }
        let mut digits = t.iter().filter(|b| **b != b'-');
        let mut out = [0u8; GUID_SIZE];
        for o in out.iter_mut() {
            let hi = hex_val(*digits.next()?)?;
            let lo = hex_val(*digits.next()?)?;
            *o = (hi << 4) | lo;
        }
        digits.next().is_none().then_some(Guid(out))
    }

    /// The all-zero GUID that ends the table.
    pub const NIL: Guid = Guid([0; GUID_SIZE]);
    /// The VCEK certificate, 63da758d-e664-4564-adc5-f4b93be8accd.
    pub const VCEK: Guid = Guid([
        0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac,
        0xcd,
    ]);
    /// The VLEK certificate, a8074bc2-a25a-483e-aae6-39c045a0b8a1.
    pub const VLEK: Guid = Guid([
        0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8,
        0xa1,
    ]);
    /// The ASK certificate (also used for the ASVK), 4ab7b379-bbac-4fe4-a02f-05aef327c782.
    pub const ASK: Guid = Guid([
        0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7,
        0x82,
    ]);
    /// The ARK certificate, c0b406a4-a803-4952-9743-3fb6014cd0ae.
    pub const ARK: Guid = Guid([
        0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0,
        0xae,
    ]);
    /// The CRL, 92f81bc3-5811-4d3d-97ff-d19f88dc67ea (the GUID virtee/sev uses; the GHCB
    /// specification defines none).
    pub const CRL: Guid = Guid([
        0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67,
        0xea,
    ]);
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// What an entry holds, by its GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// VCEK certificate.
    Vcek,
    /// VLEK certificate.
    Vlek,
    /// ASK (or ASVK) certificate.
    Ask,
    /// ARK certificate.
    Ark,
    /// CRL.
    Crl,
    /// Another GUID (host-defined data).
    Other(Guid),
}

impl Kind {
    /// The kind of `guid`.
    pub fn of(guid: Guid) -> Kind {
        match guid {
            g if g == Guid::VCEK => Kind::Vcek,
            g if g == Guid::VLEK => Kind::Vlek,
            g if g == Guid::ASK => Kind::Ask,
            g if g == Guid::ARK => Kind::Ark,
            g if g == Guid::CRL => Kind::Crl,
            g => Kind::Other(g),
        }
    }
    /// A short lower-case name (`vcek`, `vlek`, `ask`, `ark`, `crl`, `other`), e.g. for file
    /// names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Vcek => "vcek",
            Kind::Vlek => "vlek",
            Kind::Ask => "ask",
            Kind::Ark => "ark",
            Kind::Crl => "crl",
            Kind::Other(_) => "other",
        }
    }
    /// The GUID of this kind.
    pub fn guid(self) -> Guid {
        match self {
            Kind::Vcek => Guid::VCEK,
            Kind::Vlek => Guid::VLEK,
            Kind::Ask => Guid::ASK,
            Kind::Ark => Guid::ARK,
            Kind::Crl => Guid::CRL,
            Kind::Other(g) => g,
        }
    }
}

/// Why a certificate table could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertTableError {
    /// The entry list has no all-zero terminator within the input.
    NoTerminator,
    /// An entry's data lies outside the table or inside the entry list.
    EntryOutOfRange {
        /// Index of the entry.
        index: usize,
        /// Its offset.
        offset: u32,
        /// Its length.
        length: u32,
    },
    /// Two entries with the same GUID.
    DuplicateGuid {
        /// Index of the second one.
        index: usize,
    },
    /// More entries than any host writes ([`MAX_ENTRIES`]).
    TooManyEntries,
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

impl fmt::Display for CertTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CertTableError::NoTerminator => {
                f.write_str("certificate table has no all-zero terminating entry")
            }
            CertTableError::EntryOutOfRange {
                index,
                offset,
                length,
            } => write!(
                f,
                "certificate table entry {index} (offset {offset}, length {length}) lies outside the certificate data"
            ),
            CertTableError::DuplicateGuid { index } => {
                write!(f, "certificate table entry {index} repeats an earlier GUID")
            }
            CertTableError::TooManyEntries => {
                write!(f, "certificate table has more than {MAX_ENTRIES} entries")
            }
            CertTableError::BufferTooSmall { needed } => {
                write!(f, "certificate table needs {needed} bytes")
            }
        }
    }
}

impl core::error::Error for CertTableError {}

/// One entry: its GUID, kind, and the bytes it points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The GUID.
    pub guid: Guid,
    /// What the GUID says it is.
    pub kind: Kind,
    /// The certificate (DER) or CRL.
    pub data: &'a [u8],
}

fn read_entry(table: &[u8], index: usize) -> Option<(Guid, u32, u32)> {
    let start = index.checked_mul(ENTRY_SIZE)?;
    let raw: &[u8; ENTRY_SIZE] = table
        .get(start..start.checked_add(ENTRY_SIZE)?)?
        .try_into()
        .ok()?;
    let (guid, rest) = raw.split_first_chunk::<GUID_SIZE>()?;
    let (offset, length) = rest.split_first_chunk::<4>()?;
    let length: &[u8; 4] = length.try_into().ok()?;
    Some((
        Guid(*guid),
        u32::from_le_bytes(*offset),
        u32::from_le_bytes(*length),
    ))
}

fn is_terminator(e: &(Guid, u32, u32)) -> bool {
    e.0 == Guid::NIL && e.1 == 0 && e.2 == 0
}

/// A checked certificate table: iterate it for its entries.
#[derive(Debug, Clone, Copy)]
pub struct CertTable<'a> {
    table: &'a [u8],
    count: usize,
}

/// Reads a certificate table. An empty input is an empty table (hosts without certificates
/// return no data); otherwise the terminator must be present and every entry must point after
/// the entry list and inside the input. GUIDs must be unique.
pub fn parse(table: &[u8]) -> Result<CertTable<'_>, CertTableError> {
    if table.is_empty() {
        return Ok(CertTable { table, count: 0 });
    }
    let mut count = 0usize;
    loop {
        let e = read_entry(table, count).ok_or(CertTableError::NoTerminator)?;
        if is_terminator(&e) {
            break;
        }
        count = count.saturating_add(1);
        if count > MAX_ENTRIES {
            return Err(CertTableError::TooManyEntries);
        }
    }
    let header = count.saturating_add(1).saturating_mul(ENTRY_SIZE);
    for index in 0..count {
        let Some((guid, offset, length)) = read_entry(table, index) else {
            return Err(CertTableError::NoTerminator);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
        if start < header || end > table.len() {
            return Err(CertTableError::EntryOutOfRange {
                index,
                offset,
                length,
            });
        }
        let repeated = (0..index).any(|j| read_entry(table, j).is_some_and(|e| e.0 == guid));
        if repeated {
            return Err(CertTableError::DuplicateGuid { index });
        }
    }
    Ok(CertTable { table, count })
}

impl<'a> CertTable<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }
    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The entries in table order.
    pub fn iter(&self) -> impl Iterator<Item = Entry<'a>> + 'a {
        let table = self.table;
        (0..self.count).filter_map(move |i| {
            let (guid, offset, length) = read_entry(table, i)?;
            let start = usize::try_from(offset).ok()?;
            let end = start.checked_add(usize::try_from(length).ok()?)?;
            Some(Entry {
                guid,
                kind: Kind::of(guid),
                data: table.get(start..end)?,
            })
        })
    }
    /// Bytes of the input the table uses: the entry list and every entry's data (an answer
    /// buffer is usually larger than its table).
    pub fn extent(&self) -> usize {
        if self.count == 0 {
            return 0;
        }
        let header = self.count.saturating_add(1).saturating_mul(ENTRY_SIZE);
        (0..self.count)
            .filter_map(|i| read_entry(self.table, i))
            .map(|(_, o, l)| {
                usize::try_from(o)
                    .unwrap_or(usize::MAX)
                    .saturating_add(usize::try_from(l).unwrap_or(usize::MAX))
            })
            .fold(header, usize::max)
    }
    /// The data of the entry of `kind`, if present.
    pub fn get(&self, kind: Kind) -> Option<&'a [u8]> {
        self.iter().find(|e| e.kind == kind).map(|e| e.data)
    }
}

/// Writes a table of `entries` (GUID and data) into `out`; returns the bytes written.
pub fn encode_into(entries: &[(Guid, &[u8])], out: &mut [u8]) -> Result<usize, CertTableError> {
    let header = entries.len().saturating_add(1).saturating_mul(ENTRY_SIZE);
    let needed = entries
        .iter()
        .fold(header, |acc, (_, d)| acc.saturating_add(d.len()));
    let too_small = CertTableError::BufferTooSmall { needed };
    let out = out.get_mut(..needed).ok_or(too_small)?;
    out.fill(0);
    let mut data_at = header;
    for (i, (guid, data)) in entries.iter().enumerate() {
        let offset = u32::try_from(data_at).map_err(|_| too_small)?;
        let length = u32::try_from(data.len()).map_err(|_| too_small)?;
        let e = i.saturating_mul(ENTRY_SIZE);
        let slot = out
            .get_mut(e..e.saturating_add(ENTRY_SIZE))
            .ok_or(too_small)?;
        let (g, rest) = slot.split_at_mut(GUID_SIZE);
        g.copy_from_slice(&guid.0);
        let (o, l) = rest.split_at_mut(4);
        o.copy_from_slice(&offset.to_le_bytes());
        l.copy_from_slice(&length.to_le_bytes());
        let end = data_at.saturating_add(data.len());
        out.get_mut(data_at..end)
            .ok_or(too_small)?
            .copy_from_slice(data);
        data_at = end;
    }
    Ok(needed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn extent_and_entry_bound() {
        let mut buf = [0u8; 256];
        let n = encode_into(&[(Guid::VCEK, b"abc"), (Guid::ARK, b"de")], &mut buf).unwrap();
        // An answer buffer is larger than its table: extent says how much is the table.
        let t = parse(&buf).unwrap();
        assert_eq!(t.extent(), n);
        assert_eq!(parse(&[]).unwrap().extent(), 0);
        assert_eq!(Kind::Vcek.name(), "vcek");
        // 65 entries (all pointing at one byte after the list) are refused.
        let entries = MAX_ENTRIES + 1;
        let header = (entries + 1) * ENTRY_SIZE;
        let mut big = std::vec![0u8; header + 1];
        for i in 0..entries {
            let e = &mut big[i * ENTRY_SIZE..(i + 1) * ENTRY_SIZE];
            e[0] = (i as u8).wrapping_add(1);
            e[16..20].copy_from_slice(&(header as u32).to_le_bytes());
            e[20..24].copy_from_slice(&1u32.to_le_bytes());
        }
        assert_eq!(parse(&big).unwrap_err(), CertTableError::TooManyEntries);
    }

    #[test]
    fn guids() {
        for (g, text) in [
            (Guid::VCEK, "63da758d-e664-4564-adc5-f4b93be8accd"),
            (Guid::VLEK, "a8074bc2-a25a-483e-aae6-39c045a0b8a1"),
            (Guid::ASK, "4ab7b379-bbac-4fe4-a02f-05aef327c782"),
            (Guid::ARK, "c0b406a4-a803-4952-9743-3fb6014cd0ae"),
            (Guid::CRL, "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"),
        ] {
            assert_eq!(Guid::parse(text), Some(g));
            assert_eq!(g.to_string(), text);
        }
        assert_eq!(Guid::VCEK.0[0], 0x63);
        assert_ne!(Guid::ARK, Guid::NIL);
        assert_eq!(Guid::parse("63da758d-e664-4564-adc5-f4b93be8acc"), None);
        assert_eq!(Guid::parse("63da758d+e664-4564-adc5-f4b93be8accd"), None);
        assert_eq!(Guid::parse("63da758d-e664-4564-adc5-f4b93be8accg"), None);
        assert_eq!(Kind::of(Guid::ASK), Kind::Ask);
        assert_eq!(Kind::Crl.guid(), Guid::CRL);
    }

    #[test]
    fn round_trip_and_lookup() {
        let mut buf = [0u8; 256];
        let n = encode_into(
            &[
                (Guid::VCEK, b"vcek"),
                (Guid::ASK, b"ask!"),
                (Guid::ARK, b""),
            ],
            &mut buf,
        )
        .unwrap();
        assert_eq!(n, 4 * ENTRY_SIZE + 8);
        let t = parse(&buf[..n]).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(Kind::Vcek), Some(&b"vcek"[..]));
        assert_eq!(t.get(Kind::Ask), Some(&b"ask!"[..]));
        assert_eq!(t.get(Kind::Ark), Some(&b""[..]));
        assert_eq!(t.get(Kind::Vlek), None);
        // Trailing padding after the data is allowed (the kernel hands out whole pages).
        assert_eq!(parse(&buf).unwrap().len(), 3);
        assert!(parse(&[]).unwrap().is_empty());
        assert!(matches!(
            encode_into(&[(Guid::VCEK, b"vcek")], &mut buf[..40]),
            Err(CertTableError::BufferTooSmall { needed: 52 })
        ));
    }

    #[test]
    fn rejects_bad_tables() {
        let mut buf = [0u8; 256];
        let n = encode_into(&[(Guid::VCEK, b"vcek"), (Guid::ASK, b"ask!")], &mut buf).unwrap();
        // No terminator: the first entry's GUID repeated over the whole input.
        assert!(matches!(
            parse(&buf[..ENTRY_SIZE]),
            Err(CertTableError::NoTerminator)
        ));
        // Data past the end.
        assert!(matches!(
            parse(&buf[..n - 1]),
            Err(CertTableError::EntryOutOfRange { index: 1, .. })
        ));
        // Offset pointing into the entry list.
        let mut bad = buf;
        bad[16] = 4;
        assert!(matches!(
            parse(&bad[..n]),
            Err(CertTableError::EntryOutOfRange { index: 0, .. })
        ));
        // Same GUID twice.
        let n = encode_into(&[(Guid::VCEK, b"a"), (Guid::VCEK, b"b")], &mut buf).unwrap();
        assert!(matches!(
            parse(&buf[..n]),
            Err(CertTableError::DuplicateGuid { index: 1 })
        ));
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(t) = parse(&bytes) {
                for e in t.iter() {
                    prop_assert!(e.data.len() <= bytes.len());
                }
                prop_assert_eq!(t.iter().count(), t.len());
            }
        }
    }
}
