//! Key files the tools write (importkey's `keyfile.bin` and `private_key.pem`, `snp-report
//! derive-key -out`): readable by their owner only, whatever existed before.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::exit::Failure;

/// Writes a secret file: created with mode 0600 (and narrowed to 0600 before the secret goes in
/// if it existed, as an existing file keeps its mode on open), truncated, synced.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::usage(format!("cannot write {}: {e}", path.display()));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_0600_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keyfile.bin");
        std::fs::write(&p, vec![9u8; 100]).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret_file(&p, &[1, 2, 3]).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), vec![1, 2, 3]);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
