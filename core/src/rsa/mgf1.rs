//! MGF1 (RFC 8017, appendix B.2.1), the mask generation function of PSS and OAEP.

use sha2::Digest;

/// XORs MGF1(`seed`) over `out`, using hash `D` for both the counter blocks and the mask.
pub fn xor_mask<D: Digest>(seed: &[u8], out: &mut [u8]) {
    let mut counter: u32 = 0;
    for chunk in out.chunks_mut(<D as Digest>::output_size()) {
        let mut h = D::new();
        h.update(seed);
        h.update(counter.to_be_bytes());
        let block = h.finalize();
        for (o, m) in chunk.iter_mut().zip(block.iter()) {
            *o ^= *m;
        }
        counter = counter.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_sha1() {
        // MGF1-SHA1("foo", 3) = 1ac907 (from RFC 8017 test material, widely reproduced).
        let mut out = [0u8; 3];
        xor_mask::<sha1::Sha1>(b"foo", &mut out);
        assert_eq!(out, [0x1a, 0xc9, 0x07]);
        let mut out = [0u8; 5];
        xor_mask::<sha1::Sha1>(b"bar", &mut out);
        assert_eq!(out, [0xbc, 0x0c, 0x65, 0x5e, 0x01]);
        let mut out = [0u8; 50];
        xor_mask::<sha2::Sha256>(b"bar", &mut out);
        assert_eq!(out[..4], [0x38, 0x25, 0x76, 0xa7]);
    }
}
