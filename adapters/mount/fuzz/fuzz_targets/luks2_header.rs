//! Fuzzes the LUKS2 header parser: both binary copies, the JSON area and every bound check.
//! The input is the start of an image; the image size is the input length, or, when the input
//! ends with `SIZE` and 8 more bytes, those bytes (big-endian) so larger images are covered too.

#![no_main]

use csc_mount::luks2::Luks2Header;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (region, size) = match data.len().checked_sub(12) {
        Some(at) if &data[at..at + 4] == b"SIZE" => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&data[at + 4..]);
            (&data[..at], u64::from_be_bytes(b))
        }
        _ => (data, data.len() as u64),
    };
    if let Ok(h) = Luks2Header::parse(region, size) {
        // A header that passed must describe a segment inside the image.
        assert!(h.segment.offset + h.data_size <= size);
        assert!(h.keyslots.iter().all(|k| k.area_offset + k.area_size <= h.segment.offset));
    }
});
