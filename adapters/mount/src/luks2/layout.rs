//! The LUKS2 binary header (on-disk format specification, section 2: `struct luks2_hdr_disk`),
//! big-endian, 4096 bytes, followed by the JSON area up to `hdr_size`.

/// Size of the binary header.
pub const BINARY_SIZE: usize = 4096;
/// Magic of the primary header.
pub const MAGIC_PRIMARY: [u8; 6] = *b"LUKS\xba\xbe";
/// Magic of the secondary header.
pub const MAGIC_SECONDARY: [u8; 6] = *b"SKUL\xba\xbe";
/// Header format version.
pub const VERSION: u16 = 2;
/// Allowed `hdr_size` values (binary header + JSON area): 16 KiB .. 4 MiB, powers of two.
pub const HDR_SIZES: [u64; 9] = [
    0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
];

/// Field offsets and lengths.
pub mod field {
    /// `magic[6]`
    pub const MAGIC: (usize, usize) = (0, 6);
    /// `version` u16
    pub const VERSION: (usize, usize) = (6, 2);
    /// `hdr_size` u64
    pub const HDR_SIZE: (usize, usize) = (8, 8);
    /// `seqid` u64
    pub const SEQID: (usize, usize) = (16, 8);
    /// `label[48]`
    pub const LABEL: (usize, usize) = (24, 48);
    /// `checksum_alg[32]`
    pub const CSUM_ALG: (usize, usize) = (72, 32);
    /// `salt[64]`
    pub const SALT: (usize, usize) = (104, 64);
    /// `uuid[40]`
    pub const UUID: (usize, usize) = (168, 40);
    /// `subsystem[48]`
    pub const SUBSYSTEM: (usize, usize) = (208, 48);
    /// `hdr_offset` u64
    pub const HDR_OFFSET: (usize, usize) = (256, 8);
    /// `csum[64]`
    pub const CSUM: (usize, usize) = (448, 64);
}

/// The bytes of `f` in `hdr` (the header is always at least [`BINARY_SIZE`] long here).
pub(crate) fn get(hdr: &[u8], f: (usize, usize)) -> &[u8] {
    hdr.get(f.0..f.0 + f.1).unwrap_or(&[])
}

pub(crate) fn get_mut(hdr: &mut [u8], f: (usize, usize)) -> &mut [u8] {
    hdr.get_mut(f.0..f.0 + f.1).unwrap_or(&mut [])
}

/// The `N` bytes of `f` (zeros if the field is not `N` bytes long, which the layout rules out).
fn bytes<const N: usize>(hdr: &[u8], f: (usize, usize)) -> [u8; N] {
    get(hdr, f).try_into().unwrap_or([0; N])
}

pub(crate) fn be_u64(hdr: &[u8], f: (usize, usize)) -> u64 {
    u64::from_be_bytes(bytes(hdr, f))
}

pub(crate) fn be_u16(hdr: &[u8], f: (usize, usize)) -> u16 {
    u16::from_be_bytes(bytes(hdr, f))
}

/// A NUL-terminated string field; `None` if it has no NUL or is not UTF-8.
pub(crate) fn c_str(hdr: &[u8], f: (usize, usize)) -> Option<&str> {
    let s = get(hdr, f);
    let end = s.iter().position(|b| *b == 0)?;
    if s.get(end..)?.iter().any(|b| *b != 0) {
        return None;
    }
    std::str::from_utf8(s.get(..end)?).ok()
}
