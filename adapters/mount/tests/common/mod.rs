//! Helpers shared by the integration tests: images made with the public API (the sample tree
//! and the checks that nothing is left mounted or attached come from csc-testkit).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use csc_mount::image;
use csc_mount::luks2::{FormatParams, Passphrase};
use zeroize::Zeroizing;

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
