//! The certificate table of an extended report (AMD GHCB specification, "SNP Extended Guest
//! Request"): entries of a 16-byte GUID, a little-endian u32 offset and a u32 length, ended by
//! an all-zero entry; offsets count from the start of the table.
//!
//! A private reader for the adapters; it is meant to be replaced by the core's parser
//! (`csc_core::certtable`) when both are merged, keeping this module's public surface
//! ([`parse`], [`CertTable::entries`], [`CertKind`]) as a thin wrapper.

use std::fmt;

/// Size of one entry.
pub const ENTRY_SIZE: usize = 24;
/// Most entries accepted (hosts supply a handful).
pub const MAX_ENTRIES: usize = 64;

/// What a table entry holds, by its GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertKind {
    /// AMD Root Key (c0b406a4-a803-4952-9743-3fb6014cd0ae).
    Ark,
    /// AMD SEV Key, or ASVK (4ab7b379-bbac-4fe4-a02f-05aef327c782).
    Ask,
    /// Versioned Chip Endorsement Key (63da758d-e664-4564-adc5-f4b93be8accd).
    Vcek,
    /// Versioned Loaded Endorsement Key (a8074bc2-a25a-483e-aae6-39c045a0b8a1).
    Vlek,
    /// Certificate revocation list (92f81bc3-5811-4d3d-97ff-d19f88dc67ea).
    Crl,
    /// A GUID this crate does not know.
    Other,
}

const KNOWN: [(u128, CertKind); 5] = [
    (0xc0b406a4_a803_4952_9743_3fb6014cd0ae, CertKind::Ark),
    (0x4ab7b379_bbac_4fe4_a02f_05aef327c782, CertKind::Ask),
    (0x63da758d_e664_4564_adc5_f4b93be8accd, CertKind::Vcek),
    (0xa8074bc2_a25a_483e_aae6_39c045a0b8a1, CertKind::Vlek),
    (0x92f81bc3_5811_4d3d_97ff_d19f88dc67ea, CertKind::Crl),
];

impl CertKind {
    /// The kind of a GUID (bytes in the order of its string form).
    pub fn from_guid(guid: &[u8; 16]) -> CertKind {
        let v = u128::from_be_bytes(*guid);
        KNOWN
            .iter()
            .find(|(g, _)| *g == v)
            .map_or(CertKind::Other, |(_, k)| *k)
    }

    /// The GUID of a known kind.
    pub fn guid(self) -> Option<[u8; 16]> {
        KNOWN
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(g, _)| g.to_be_bytes())
    }

    /// A short lower-case name (`ark`, `ask`, `vcek`, `vlek`, `crl`, `other`).
    pub fn name(self) -> &'static str {
        match self {
            CertKind::Ark => "ark",
            CertKind::Ask => "ask",
            CertKind::Vcek => "vcek",
            CertKind::Vlek => "vlek",
            CertKind::Crl => "crl",
            CertKind::Other => "other",
        }
    }
}

/// A GUID in its usual text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guid(pub [u8; 16]);

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

/// Why a table could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertTableError {
    /// No all-zero entry ends the entries.
    #[error("no terminating zero entry within {len} bytes")]
    Unterminated {
        /// Bytes given.
        len: usize,
    },
    /// More entries than [`MAX_ENTRIES`].
    #[error("more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    /// An entry points outside the table or into its entry list.
    #[error(
        "entry {index} ({guid}) claims bytes {offset}..{end}, outside the certificate area {start}..{len}"
    )]
    OutOfBounds {
        /// Entry number.
        index: usize,
        /// Its GUID.
        guid: String,
        /// Claimed offset.
        offset: usize,
        /// Claimed end.
        end: usize,
        /// Where certificates may start (after the entries).
        start: usize,
        /// Bytes given.
        len: usize,
    },
}

/// One certificate of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The GUID.
    pub guid: Guid,
    /// What the GUID says it is.
    pub kind: CertKind,
    /// The certificate bytes (DER for certificates, DER for the CRL).
    pub data: &'a [u8],
}

/// A checked certificate table.
#[derive(Debug, Clone)]
pub struct CertTable<'a> {
    bytes: &'a [u8],
    count: usize,
    extent: usize,
}

fn entry_at(bytes: &[u8], i: usize) -> Option<([u8; 16], usize, usize)> {
    let e = bytes.get(i.checked_mul(ENTRY_SIZE)?..)?.get(..ENTRY_SIZE)?;
    let guid: [u8; 16] = e.get(..16)?.try_into().ok()?;
    let offset = u32::from_le_bytes(e.get(16..20)?.try_into().ok()?);
    let len = u32::from_le_bytes(e.get(20..24)?.try_into().ok()?);
    Some((guid, offset as usize, len as usize))
}

/// Reads a table. An empty input, or one whose first entry is zero, is a table with no
/// certificates (the host supplied none).
pub fn parse(bytes: &[u8]) -> Result<CertTable<'_>, CertTableError> {
    let mut count = 0;
    loop {
        let Some((guid, offset, len)) = entry_at(bytes, count) else {
            if count == 0 && bytes.iter().all(|b| *b == 0) {
                // Nothing, or zeros shorter than one entry: no certificates.
                return Ok(CertTable {
                    bytes,
                    count: 0,
                    extent: 0,
                });
            }
            return Err(CertTableError::Unterminated { len: bytes.len() });
        };
        if guid == [0; 16] && offset == 0 && len == 0 {
            break;
        }
        count += 1;
        if count > MAX_ENTRIES {
            return Err(CertTableError::TooManyEntries);
        }
    }
    let start = (count + 1) * ENTRY_SIZE;
    let mut extent = if count == 0 { 0 } else { start };
    for index in 0..count {
        let Some((guid, offset, len)) = entry_at(bytes, index) else {
            return Err(CertTableError::Unterminated { len: bytes.len() });
        };
        let end = offset.saturating_add(len);
        if offset < start || end > bytes.len() {
            return Err(CertTableError::OutOfBounds {
                index,
                guid: Guid(guid).to_string(),
                offset,
                end,
                start,
                len: bytes.len(),
            });
        }
        extent = extent.max(end);
    }
    Ok(CertTable {
        bytes,
        count,
        extent,
    })
}

impl<'a> CertTable<'a> {
    /// The certificates, in table order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'a>> + '_ {
        (0..self.count).filter_map(|i| {
            let (guid, offset, len) = entry_at(self.bytes, i)?;
            Some(Entry {
                guid: Guid(guid),
                kind: CertKind::from_guid(&guid),
                data: self.bytes.get(offset..offset.checked_add(len)?)?,
            })
        })
    }

    /// The first entry of `kind`.
    pub fn get(&self, kind: CertKind) -> Option<&'a [u8]> {
        self.entries().find(|e| e.kind == kind).map(|e| e.data)
    }

    /// Number of certificates.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the host supplied no certificates.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the input the table uses (entries and certificates); 0 for an empty table. The
    /// kernel hands back whole pages, so the rest is padding.
    pub fn extent(&self) -> usize {
        self.extent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[([u8; 16], &[u8])]) -> Vec<u8> {
        let start = (entries.len() + 1) * ENTRY_SIZE;
        let mut out = Vec::new();
        let mut off = start;
        for (g, d) in entries {
            out.extend_from_slice(g);
            out.extend_from_slice(&(off as u32).to_le_bytes());
            out.extend_from_slice(&(d.len() as u32).to_le_bytes());
            off += d.len();
        }
        out.extend_from_slice(&[0; ENTRY_SIZE]);
        for (_, d) in entries {
            out.extend_from_slice(d);
        }
        out
    }

    #[test]
    fn reads_known_guids() {
        let vcek = CertKind::Vcek.guid().unwrap();
        let mut t = table(&[
            (vcek, b"vcek"),
            ([9; 16], b"x"),
            (CertKind::Crl.guid().unwrap(), b"crl"),
        ]);
        let used = t.len();
        t.resize(4096, 0); // page padding
        let p = parse(&t).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p.extent(), used);
        assert_eq!(p.get(CertKind::Vcek), Some(&b"vcek"[..]));
        assert_eq!(p.get(CertKind::Crl), Some(&b"crl"[..]));
        assert_eq!(p.get(CertKind::Ark), None);
        let kinds: Vec<_> = p.entries().map(|e| e.kind).collect();
        assert_eq!(kinds, [CertKind::Vcek, CertKind::Other, CertKind::Crl]);
        assert_eq!(
            Guid(vcek).to_string(),
            "63da758d-e664-4564-adc5-f4b93be8accd"
        );
        assert_eq!(
            CertKind::from_guid(&CertKind::Ark.guid().unwrap()),
            CertKind::Ark
        );
    }

    #[test]
    fn empty_tables() {
        for t in [&[][..], &[0u8; 10][..], &[0u8; 4096][..]] {
            let p = parse(t).unwrap();
            assert!(p.is_empty());
            assert_eq!(p.extent(), 0);
        }
    }

    #[test]
    fn hostile_tables_are_errors() {
        let vcek = CertKind::Vcek.guid().unwrap();
        let good = table(&[(vcek, b"abcd")]);
        // Length past the end.
        let mut t = good.clone();
        t[20..24].copy_from_slice(&100u32.to_le_bytes());
        assert!(matches!(parse(&t), Err(CertTableError::OutOfBounds { .. })));
        // Offset into the entry list.
        let mut t = good.clone();
        t[16..20].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(parse(&t), Err(CertTableError::OutOfBounds { .. })));
        // Offset + length overflowing.
        let mut t = good.clone();
        t[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        t[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&t).is_err());
        // No terminator.
        assert!(matches!(
            parse(&good[..30]),
            Err(CertTableError::Unterminated { .. })
        ));
        // Too many entries.
        let many: Vec<u8> = std::iter::repeat_n([1u8; ENTRY_SIZE], MAX_ENTRIES + 2)
            .flatten()
            .collect();
        assert_eq!(parse(&many).unwrap_err(), CertTableError::TooManyEntries);
        // Every truncation of a good table is an error or a table, never a panic.
        for n in 0..good.len() {
            let _ = parse(&good[..n]);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..600)) {
            if let Ok(t) = parse(&bytes) {
                proptest::prop_assert!(t.extent() <= bytes.len());
                for e in t.entries() {
                    proptest::prop_assert!(e.data.len() <= bytes.len());
                }
                proptest::prop_assert_eq!(t.entries().count(), t.len());
            }
        }

        #[test]
        fn built_tables_round_trip(
            certs in proptest::collection::vec(
                (proptest::arbitrary::any::<[u8; 16]>(), proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..100)),
                0..6,
            ),
            padding in 0usize..100,
        ) {
            // Entries with an all-zero GUID, offset and length would end the table early.
            let certs: Vec<_> = certs.into_iter().map(|(mut g, d)| { g[0] |= 1; (g, d) }).collect();
            let refs: Vec<([u8; 16], &[u8])> = certs.iter().map(|(g, d)| (*g, d.as_slice())).collect();
            let mut bytes = table(&refs);
            let used = if certs.is_empty() { 0 } else { bytes.len() };
            bytes.resize(bytes.len() + padding, 0);
            let t = parse(&bytes).unwrap();
            proptest::prop_assert_eq!(t.len(), certs.len());
            proptest::prop_assert_eq!(t.extent(), used);
            for (e, (g, d)) in t.entries().zip(&certs) {
                proptest::prop_assert_eq!(e.guid.0, *g);
                proptest::prop_assert_eq!(e.data, d.as_slice());
            }
        }
    }
}
