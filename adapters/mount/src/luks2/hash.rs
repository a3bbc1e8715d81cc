//! Hash functions LUKS2 names in its JSON, and the PBKDF2 / AF primitives built on them.

use hmac::EagerHash;
use sha2::Digest as _;

/// A hash named in a LUKS2 header (the ones cryptsetup uses for PBKDF2 and AF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// `sha1`
    Sha1,
    /// `sha256` (cryptsetup's default)
    Sha256,
    /// `sha384`
    Sha384,
    /// `sha512`
    Sha512,
}

impl Hash {
    /// Parses the JSON name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "sha1" => Self::Sha1,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            _ => return None,
        })
    }

    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// PBKDF2-HMAC with this hash.
    pub fn pbkdf2(self, password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
        fn run<D: EagerHash>(p: &[u8], s: &[u8], r: u32, o: &mut [u8]) {
            pbkdf2::pbkdf2_hmac::<D>(p, s, r, o);
        }
        match self {
            Self::Sha1 => run::<sha1::Sha1>(password, salt, rounds, out),
            Self::Sha256 => run::<sha2::Sha256>(password, salt, rounds, out),
            Self::Sha384 => run::<sha2::Sha384>(password, salt, rounds, out),
            Self::Sha512 => run::<sha2::Sha512>(password, salt, rounds, out),
        }
    }

    /// `H(be32(iv) || data)`, truncated into `out` (at most the hash length).
    fn hash_iv(self, iv: u32, data: &[u8], out: &mut [u8]) {
        fn run<D: sha2::Digest>(iv: u32, data: &[u8], out: &mut [u8]) {
            let mut h = D::new();
            h.update(iv.to_be_bytes());
            h.update(data);
            let d = h.finalize();
            let n = out.len().min(d.len());
            if let (Some(o), Some(d)) = (out.get_mut(..n), d.get(..n)) {
                o.copy_from_slice(d);
            }
        }
        match self {
            Self::Sha1 => run::<sha1::Sha1>(iv, data, out),
            Self::Sha256 => run::<sha2::Sha256>(iv, data, out),
            Self::Sha384 => run::<sha2::Sha384>(iv, data, out),
            Self::Sha512 => run::<sha2::Sha512>(iv, data, out),
        }
    }

    /// The LUKS1 anti-forensic diffusion of one stripe, in place.
    pub(crate) fn diffuse(self, buf: &mut [u8]) {
        let ds = self.output_len();
        let mut tmp = [0u8; 64];
        for (i, chunk) in buf.chunks_mut(ds).enumerate() {
            let t = &mut tmp[..chunk.len()];
            self.hash_iv(i as u32, chunk, t);
            chunk.copy_from_slice(t);
        }
    }
}

/// LUKS1 AF merge: `stripes` stripes of `key.len()` bytes in `split` become the key.
pub(crate) fn af_merge(hash: Hash, split: &[u8], stripes: usize, key: &mut [u8]) {
    let bs = key.len();
    key.fill(0);
    for (i, stripe) in split.chunks_exact(bs).take(stripes).enumerate() {
        for (k, s) in key.iter_mut().zip(stripe) {
            *k ^= s;
        }
        if i + 1 < stripes {
            hash.diffuse(key);
        }
    }
}

/// LUKS1 AF split of `key` into `stripes` stripes (random except the last) written to `out`.
pub(crate) fn af_split(
    hash: Hash,
    key: &[u8],
    stripes: usize,
    out: &mut [u8],
) -> Result<(), getrandom::Error> {
    let bs = key.len();
    let mut acc = zeroize::Zeroizing::new(vec![0u8; bs]);
    let mut chunks = out.chunks_exact_mut(bs).take(stripes);
    for _ in 0..stripes.saturating_sub(1) {
        let Some(stripe) = chunks.next() else { break };
        getrandom::fill(stripe)?;
        for (a, s) in acc.iter_mut().zip(stripe.iter()) {
            *a ^= s;
        }
        hash.diffuse(&mut acc);
    }
    if let Some(last) = chunks.next() {
        for ((l, a), k) in last.iter_mut().zip(acc.iter()).zip(key) {
            *l = a ^ k;
        }
    }
    Ok(())
}

/// Constant-time equality of two byte strings of equal length.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SHA-256 of `data` (header checksums).
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn af_round_trip_all_hashes() {
        for hash in [Hash::Sha1, Hash::Sha256, Hash::Sha384, Hash::Sha512] {
            let key: Vec<u8> = (0..64u8).collect();
            let mut split = vec![0u8; 64 * 40];
            af_split(hash, &key, 40, &mut split).unwrap();
            let mut back = vec![0u8; 64];
            af_merge(hash, &split, 40, &mut back);
            assert_eq!(back, key, "{hash:?}");
        }
    }

    #[test]
    fn pbkdf2_sha256_rfc7914_vector() {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64).
        let mut out = [0u8; 64];
        Hash::Sha256.pbkdf2(b"passwd", b"salt", 1, &mut out);
        assert_eq!(out[..8], [0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]);
    }
}
