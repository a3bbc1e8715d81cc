//! The on-disk cache of the simulated platform's keys and root certificates.
//!
//! RSA-4096 key generation takes seconds, so each key is made once and kept: the directory is
//! created 0700, every file 0600. Files are created atomically (written under a temporary name,
//! then hard-linked to their final name, which fails if another process got there first), so
//! concurrent test processes agree on one set of keys. Keeping the ARK certificate too means a
//! pinned simulated ARK stays valid across runs.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

use crate::error::SimError;

/// Environment variable naming the cache directory (else `$XDG_CACHE_HOME/csc-simulate` or
/// `$HOME/.cache/csc-simulate`).
pub const CACHE_ENV_VAR: &str = "CSC_SIMULATE_CACHE";

/// Layout version of the cache: bumped whenever what is stored changes meaning.
const LAYOUT: &str = "v1";

/// Largest cache file read (keys and certificates are a few KiB).
const MAX_FILE: u64 = 64 * 1024;

/// A directory holding the simulated platform's keys.
#[derive(Debug, Clone)]
pub struct KeyCache {
    dir: PathBuf,
}

impl KeyCache {
    /// Opens (creating if needed, mode 0700) the cache under `base`.
    pub fn open(base: impl Into<PathBuf>) -> Result<KeyCache, SimError> {
        let base = base.into();
        let dir = base.join(LAYOUT);
        make_private_dir(&base)?;
        make_private_dir(&dir)?;
        Ok(KeyCache { dir })
    }

    /// Opens the cache in [`KeyCache::default_dir`].
    pub fn open_default() -> Result<KeyCache, SimError> {
        Self::open(Self::default_dir()?)
    }

    /// `$CSC_SIMULATE_CACHE`, else `$XDG_CACHE_HOME/csc-simulate`, else
    /// `$HOME/.cache/csc-simulate`.
    pub fn default_dir() -> Result<PathBuf, SimError> {
        let nonempty = |v: &str| std::env::var_os(v).filter(|s| !s.is_empty());
        if let Some(d) = nonempty(CACHE_ENV_VAR) {
            return Ok(PathBuf::from(d));
        }
        if let Some(d) = nonempty("XDG_CACHE_HOME") {
            return Ok(PathBuf::from(d).join("csc-simulate"));
        }
        match nonempty("HOME") {
            Some(h) => Ok(PathBuf::from(h).join(".cache").join("csc-simulate")),
            None => Err(SimError::NoCacheDir),
        }
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the subdirectory `name` (0700).
    pub(crate) fn subdir(&self, name: &str) -> Result<KeyCache, SimError> {
        let dir = self.dir.join(name);
        make_private_dir(&dir)?;
        Ok(KeyCache { dir })
    }

    /// The contents of `name`, created with `make` if it does not exist yet.
    pub(crate) fn get_or_create(
        &self,
        name: &str,
        make: impl FnOnce() -> Result<Vec<u8>, SimError>,
    ) -> Result<Zeroizing<Vec<u8>>, SimError> {
        let path = self.dir.join(name);
        match read_bounded(&path) {
            Ok(bytes) => return Ok(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SimError::Cache {
                    path,
                    what: "reading",
                    source,
                });
            }
        }
        let bytes = Zeroizing::new(make()?);
        let tmp = self.write_temp(name, &bytes)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(bytes),
            // Another process created it first: use theirs, so everyone agrees.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                read_bounded(&path).map_err(|source| SimError::Cache {
                    path,
                    what: "reading",
                    source,
                })
            }
            Err(source) => Err(SimError::Cache {
                path,
                what: "creating",
                source,
            }),
        }
    }

    /// Replaces `name` with `bytes` atomically (for a certificate that no longer matches its key).
    pub(crate) fn replace(&self, name: &str, bytes: &[u8]) -> Result<(), SimError> {
        let path = self.dir.join(name);
        let tmp = self.write_temp(name, bytes)?;
        fs::rename(&tmp, &path).map_err(|source| {
            let _ = fs::remove_file(&tmp);
            SimError::Cache {
                path,
                what: "replacing",
                source,
            }
        })
    }

    /// The path of `name`, for messages.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write_temp(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, SimError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".{name}.tmp.{}.{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let res = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(bytes)?;
                f.sync_all()
            });
        match res {
            Ok(()) => Ok(tmp),
            Err(source) => {
                let _ = fs::remove_file(&tmp);
                Err(SimError::Cache {
                    path: tmp,
                    what: "writing",
                    source,
                })
            }
        }
    }
}

fn read_bounded(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::new());
    fs::File::open(path)?
        .take(MAX_FILE + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE {
        return Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("larger than {MAX_FILE} bytes"),
        ));
    }
    Ok(buf)
}

/// Creates `dir` (and parents) with mode 0700, or checks that an existing one is private enough:
/// a directory, owned by us, not writable by group or others.
fn make_private_dir(dir: &Path) -> Result<(), SimError> {
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(source) => {
            return Err(SimError::Cache {
                path: dir.to_path_buf(),
                what: "creating the directory",
                source,
            });
        }
    }
    let meta = fs::symlink_metadata(dir).map_err(|source| SimError::Cache {
        path: dir.to_path_buf(),
        what: "inspecting the directory",
        source,
    })?;
    let unsafe_because = |problem: String| SimError::UnsafeCache {
        path: dir.to_path_buf(),
        problem,
    };
    if !meta.is_dir() {
        return Err(unsafe_because("not a directory".into()));
    }
    let euid = effective_uid();
    if meta.uid() != euid {
        return Err(unsafe_because(format!(
            "owned by uid {}, not by this user (uid {euid})",
            meta.uid()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_because(format!(
            "writable by group or others (mode {:o})",
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// The effective user id, read from `/proc/self/status` so this crate needs no unsafe code.
fn effective_uid() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("csc-sim-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn creates_private_dirs_and_files_once() {
        let base = tmp("once");
        let cache = KeyCache::open(&base).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&base), 0o700);
        assert_eq!(mode(cache.dir()), 0o700);
        let a = cache.get_or_create("k", || Ok(b"first".to_vec())).unwrap();
        let b = cache
            .get_or_create("k", || panic!("must not be made twice"))
            .unwrap();
        assert_eq!(&a[..], b"first");
        assert_eq!(&b[..], b"first");
        assert_eq!(mode(&cache.path("k")), 0o600);
        cache.replace("k", b"second").unwrap();
        assert_eq!(fs::read(cache.path("k")).unwrap(), b"second");
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(cache.dir()).unwrap().collect();
        assert_eq!(names.len(), 1);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn refuses_a_directory_others_can_write() {
        let base = tmp("open");
        fs::create_dir_all(&base).unwrap();
        fs::set_permissions(&base, fs::Permissions::from_mode(0o777)).unwrap();
        let e = KeyCache::open(&base).unwrap_err();
        assert!(e.to_string().contains("writable by group or others"), "{e}");
        fs::remove_dir_all(&base).unwrap();
        let file = tmp("file");
        fs::write(&file, b"x").unwrap();
        assert!(KeyCache::open(&file).is_err());
        fs::remove_file(&file).unwrap();
    }

    #[test]
    fn oversized_or_failing_files_are_errors_not_panics() {
        let base = tmp("big");
        let cache = KeyCache::open(&base).unwrap();
        fs::write(cache.path("big"), vec![0u8; (MAX_FILE + 1) as usize]).unwrap();
        let e = cache.get_or_create("big", || Ok(vec![])).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        let e = cache
            .get_or_create("new", || Err(SimError::Crypto("test")))
            .unwrap_err();
        assert!(matches!(e, SimError::Crypto("test")));
        assert!(!cache.path("new").exists());
        fs::remove_dir_all(&base).unwrap();
    }
}
