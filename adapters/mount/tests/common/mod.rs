//! Helpers shared by the integration tests: images made with the public API, and checks that
//! nothing is left mounted or attached.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use csc_mount::image;
use csc_mount::luks2::{FormatParams, Passphrase};
use zeroize::Zeroizing;

/// A directory with a few files of known content.
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

pub fn key(byte: u8) -> Passphrase {
    Passphrase::new(Zeroizing::new(vec![byte; 32]))
}

pub fn write_key(path: &Path, byte: u8) {
    std::fs::write(path, [byte; 32]).unwrap();
}

/// Makes a LUKS2 image (total `size` bytes) of `dir` and returns the plain ext4 path too.
pub fn make_image(dir: &Path, work: &Path, pass: &Passphrase, size: u64) -> (PathBuf, PathBuf) {
    let params = FormatParams::default();
    let plain = work.join("plain.ext4");
    let img = work.join("image.luks");
    image::make_ext4(dir, &plain, size - params.data_offset).unwrap();
    image::encrypt_image(&plain, &img, pass, &params, |_, _| {}).unwrap();
    (img, plain)
}

/// Mount table lines that mention `needle`.
pub fn mounts_with(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// Loop devices whose backing file lies under `dir`.
pub fn loops_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let needle = dir.to_string_lossy().to_string();
    if let Ok(rd) = std::fs::read_dir("/sys/block") {
        for e in rd.flatten() {
            let f = e.path().join("loop/backing_file");
            if let Ok(s) = std::fs::read_to_string(&f)
                && s.contains(&needle)
            {
                out.push(format!("{}: {}", e.file_name().to_string_lossy(), s.trim()));
            }
        }
    }
    out
}

/// Asserts nothing is mounted or loop-attached under `dir`.
pub fn assert_clean(dir: &Path) {
    assert_eq!(mounts_with(dir), Vec::<String>::new(), "mounts left behind");
    assert_eq!(
        loops_under(dir),
        Vec::<String>::new(),
        "loop devices left behind"
    );
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .expect("command runs (is the package installed?)");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The volume key `cryptsetup luksDump --dump-volume-key` prints, as bytes.
pub fn cryptsetup_volume_key(img: &Path, key_file: &Path) -> Vec<u8> {
    let out = run(Command::new("cryptsetup")
        .arg("luksDump")
        .arg(img)
        .arg("--dump-volume-key")
        .arg("--batch-mode")
        .arg("--key-file")
        .arg(key_file));
    let mut hex = String::new();
    let mut on = false;
    for line in out.lines() {
        if line.starts_with("MK dump:") {
            on = true;
            hex.push_str(line.trim_start_matches("MK dump:"));
        } else if on && line.starts_with(['\t', ' ']) {
            hex.push_str(line);
        } else if on {
            break;
        }
    }
    let hex: String = hex.chars().filter(char::is_ascii_hexdigit).collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
