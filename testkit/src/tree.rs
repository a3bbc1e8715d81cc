//! A small directory tree of known content, for images made in tests.

use std::path::{Path, PathBuf};

/// Writes a few files under `root` (an empty text file's worth of text, then 1,000 bytes,
/// 700,000 bytes and 3,000,001 bytes of xorshift output: no two files alike, nothing that
/// compresses or deduplicates) and returns each one's path relative to `root` with its bytes.
pub fn sample_tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = |n: usize| {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect::<Vec<u8>>()
    };
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    for (name, len) in [
        ("test.txt", 0usize),
        ("small.bin", 1000),
        ("sub/medium.bin", 700_000),
        ("sub/deeper/large.bin", 3_000_001),
    ] {
        let data = if name == "test.txt" {
            b"This is a file inside the filesystem.\n".to_vec()
        } else {
            bytes(len)
        };
        std::fs::write(root.join(name), &data).unwrap();
        files.push((PathBuf::from(name), data));
    }
    files
}
