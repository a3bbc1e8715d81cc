//! Writing the extended-report certificate table a host hands to the guest (AMD GHCB
//! specification, "SNP Extended Guest Request"): entries of a 16-byte GUID, a little-endian u32
//! offset and a u32 length, ended by an all-zero entry, followed by the certificates. Offsets
//! count from the start of the table.

/// One entry: GUID, offset, length.
pub const ENTRY_SIZE: usize = 24;

/// GUID of the VCEK entry (63da758d-e664-4564-adc5-f4b93be8accd), in its string's byte order.
pub const VCEK_GUID: [u8; 16] = guid(0x63da758d_e664_4564_adc5_f4b93be8accd);
/// GUID of the ASK entry (4ab7b379-bbac-4fe4-a02f-05aef327c782).
pub const ASK_GUID: [u8; 16] = guid(0x4ab7b379_bbac_4fe4_a02f_05aef327c782);
/// GUID of the ARK entry (c0b406a4-a803-4952-9743-3fb6014cd0ae).
pub const ARK_GUID: [u8; 16] = guid(0xc0b406a4_a803_4952_9743_3fb6014cd0ae);

const fn guid(v: u128) -> [u8; 16] {
    v.to_be_bytes()
}

/// The table for `certs` (GUID, DER) in order.
pub fn build(certs: &[([u8; 16], &[u8])]) -> Vec<u8> {
    let header = (certs.len() + 1) * ENTRY_SIZE;
    let mut out = Vec::with_capacity(header + certs.iter().map(|(_, d)| d.len()).sum::<usize>());
    let mut offset = header;
    for (g, der) in certs {
        out.extend_from_slice(g);
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        out.extend_from_slice(&(der.len() as u32).to_le_bytes());
        offset += der.len();
    }
    out.extend_from_slice(&[0; ENTRY_SIZE]);
    for (_, der) in certs {
        out.extend_from_slice(der);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(VCEK_GUID[..4], [0x63, 0xda, 0x75, 0x8d]);
        assert_eq!(ARK_GUID[15], 0xae);
        let t = build(&[(VCEK_GUID, b"abc"), (ARK_GUID, b"de")]);
        assert_eq!(t.len(), 3 * ENTRY_SIZE + 5);
        assert_eq!(&t[16..20], &72u32.to_le_bytes());
        assert_eq!(&t[20..24], &3u32.to_le_bytes());
        assert_eq!(&t[24 + 16..24 + 20], &75u32.to_le_bytes());
        assert!(t[48..72].iter().all(|b| *b == 0));
        assert_eq!(&t[72..], b"abcde");
    }
}
