//! Making encrypted images without root or device-mapper (what upstream's generatefs does with
//! `cryptsetup luksFormat` + `mkfs.ext4` on `/dev/mapper`), and opening them.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

use crate::error::Error;
use crate::luks2::{FormatParams, Luks2Header, Passphrase, VolumeKey, format_metadata};
use crate::store::BlockStore;

/// Chunk the encryptor reads and writes at a time.
const CHUNK: usize = 1024 * 1024;

/// Builds an ext4 filesystem image of `size` bytes at `out` holding a copy of `dir`
/// (`mkfs.ext4 -d`, 4 KiB blocks, files owned by root).
pub fn make_ext4(dir: &Path, out: &Path, size: u64) -> Result<(), Error> {
    if !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    if size < 1024 * 1024 || !size.is_multiple_of(4096) {
        return Err(Error::Invalid(format!(
            "filesystem size {size} must be at least 1 MiB and a multiple of 4096"
        )));
    }
    let f = File::create(out).map_err(|e| Error::io("create", out, e))?;
    f.set_len(size).map_err(|e| Error::io("truncate", out, e))?;
    drop(f);
    let output = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-b", "4096", "-E", "root_owner=0:0", "-d"])
        .arg(dir)
        .arg(out)
        .output()
        .map_err(|e| Error::Command {
            command: "mkfs.ext4".into(),
            detail: format!("cannot run it ({e}); install e2fsprogs"),
        })?;
    if !output.status.success() {
        return Err(Error::Command {
            command: "mkfs.ext4".into(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Encrypts the plaintext image `plain` into a new LUKS2 image `out` (header, one PBKDF2
/// keyslot opened by `pass`, random 512-bit volume key, the data from `params.data_offset`).
/// `progress(done, total)` is called after every chunk.
pub fn encrypt_image(
    plain: &Path,
    out: &Path,
    pass: &Passphrase,
    params: &FormatParams,
    mut progress: impl FnMut(u64, u64),
) -> Result<(), Error> {
    let mut input = File::open(plain).map_err(|e| Error::io("open", plain, e))?;
    let total = input
        .metadata()
        .map_err(|e| Error::io("stat", plain, e))?
        .len();
    let ss = u64::from(params.sector_size);
    if total == 0 || total % ss != 0 {
        return Err(Error::Invalid(format!(
            "plaintext size {total} is not a positive multiple of the sector size {ss}"
        )));
    }
    let key = VolumeKey::random(crate::luks2::KEY_SIZE)?;
    let xts = key.xts().map_err(|e| Error::Invalid(e.to_string()))?;
    let meta = format_metadata(&key, pass, params)?;
    let mut output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .map_err(|e| Error::io("create", out, e))?;
    output
        .write_all(&meta)
        .map_err(|e| Error::io("write", out, e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(CHUNK as u64) as usize;
        let chunk = buf.get_mut(..n).unwrap_or(&mut []);
        input
            .read_exact(chunk)
            .map_err(|e| Error::io("read", plain, e))?;
        xts.encrypt_sectors(chunk, ss as usize, done / 512);
        output
            .write_all(chunk)
            .map_err(|e| Error::io("write", out, e))?;
        done += n as u64;
        progress(done, total);
    }
    output.sync_all().map_err(|e| Error::io("fsync", out, e))?;
    Ok(())
}

/// A validated header and the volume key it opened to.
pub type Opened = (Luks2Header, VolumeKey);

/// Reads and validates the header of `store` and unlocks it with `pass`.
pub fn open(store: &dyn BlockStore, pass: &Passphrase) -> Result<Opened, Error> {
    let header = Luks2Header::read(store)?;
    let key = header.unlock(store, pass)?;
    Ok((header, key))
}

/// Writes the decrypted data of an unlocked image to `out` (for checks such as `e2fsck`).
pub fn decrypt_to(
    store: &dyn BlockStore,
    header: &Luks2Header,
    key: &VolumeKey,
    out: &Path,
) -> Result<(), Error> {
    let xts = key.xts().map_err(|e| Error::Invalid(e.to_string()))?;
    let seg = &header.segment;
    let f = File::create(out).map_err(|e| Error::io("create", out, e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    while done < header.data_size {
        let n = (header.data_size - done).min(CHUNK as u64) as usize;
        let chunk = buf.get_mut(..n).unwrap_or(&mut []);
        store.read_at(seg.offset + done, chunk)?;
        xts.decrypt_sectors(
            chunk,
            seg.sector_size as usize,
            seg.iv_tweak.wrapping_add(done / 512),
        );
        f.write_all_at(chunk, done)
            .map_err(|e| Error::io("write", out, e))?;
        done += n as u64;
    }
    Ok(())
}
