//! Byte stores a block cache reads from and writes to: the [`BlockStore`] trait, a local-file
//! implementation and a counting wrapper.
//!
//! # Threading model
//! Every method is blocking and takes `&self`; implementations are `Send + Sync` and are called
//! concurrently from FUSE worker threads and from the cache's fetch threads, never from inside an
//! async runtime. A remote implementation (Azure page blobs) keeps a runtime handle and calls
//! `Handle::block_on` in these methods; because the callers are plain OS threads this cannot
//! stall a runtime worker.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// An opaque version tag of the whole store (an HTTP ETag for blobs).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Version(pub String);

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What can go wrong talking to a block store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The operating system refused an operation.
    #[error("{op} failed: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A conditional write found the store changed by someone else.
    #[error(
        "the store was modified by another writer (expected version {expected}, found {found})"
    )]
    ConditionFailed {
        /// The version this writer last saw.
        expected: Version,
        /// The version the store has now.
        found: Version,
    },
    /// A read or write outside the store.
    #[error("range {offset}+{len} is outside the store of {size} bytes")]
    OutOfRange {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// Size of the store.
        size: u64,
    },
    /// A write not aligned to the store's write alignment.
    #[error("write {offset}+{len} is not aligned to {alignment} bytes")]
    Unaligned {
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// Required alignment.
        alignment: u64,
    },
    /// A write to a store opened read-only.
    #[error("the store is read-only")]
    ReadOnly,
    /// Another process holds the store for writing.
    #[error("{path} is already opened for writing by another process")]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// A remote service failed (message from the remote adapter).
    #[error("remote store: {0}")]
    Remote(String),
}

/// A remote or local byte store that a block cache sits on.
pub trait BlockStore: Send + Sync + fmt::Debug {
    /// Size in bytes (fixed for the life of a mount).
    fn size(&self) -> u64;
    /// The version this handle last saw (after open or after its own last write).
    fn version(&self) -> Option<Version>;
    /// Writes must start and end on multiples of this (512 for page blobs).
    fn write_alignment(&self) -> u64 {
        512
    }
    /// Whether writes are allowed.
    fn writable(&self) -> bool;
    /// Reads exactly `buf.len()` bytes at `offset` (one ranged request for remote stores).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError>;
    /// Reads consecutive bytes at `offset` into `bufs`, one after the other, as one request
    /// (the cache loads several blocks at once this way). The default reads into a
    /// temporary buffer and copies.
    fn read_vectored_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> Result<(), StoreError> {
        match bufs {
            [] => Ok(()),
            [one] => self.read_at(offset, one),
            _ => {
                let total = bufs.iter().map(|b| b.len()).sum();
                let mut tmp = vec![0u8; total];
                self.read_at(offset, &mut tmp)?;
                scatter(&tmp, bufs);
                Ok(())
            }
        }
    }
    /// Writes `data` at an aligned `offset`. With `if_match`, fails with
    /// [`StoreError::ConditionFailed`] unless the store is still at that version. Returns the
    /// store's version after the write.
    fn write_at(
        &self,
        offset: u64,
        data: &[u8],
        if_match: Option<&Version>,
    ) -> Result<Option<Version>, StoreError>;
    /// Makes every completed write durable.
    fn flush(&self) -> Result<(), StoreError>;
}

/// Copies `src` into `bufs`, one after the other (as far as both go).
pub fn scatter(src: &[u8], bufs: &mut [&mut [u8]]) {
    let mut at = 0usize;
    for b in bufs.iter_mut() {
        let n = b.len().min(src.len().saturating_sub(at));
        if let (Some(dst), Some(s)) = (b.get_mut(..n), src.get(at..at + n)) {
            dst.copy_from_slice(s);
        }
        at += n;
    }
}

/// Checks that `offset..offset+len` lies within `size`.
pub(crate) fn check_range(offset: u64, len: u64, size: u64) -> Result<(), StoreError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(StoreError::OutOfRange { offset, len, size }),
    }
}

/// A local file (or a block device) as a block store. In read-write mode the file is locked (`flock`) so that a
/// second writer fails at open, and its version is derived from (inode, size, mtime) so that a
/// change by any other process is detected by the conditional write.
#[derive(Debug)]
pub struct LocalFile {
    file: File,
    path: PathBuf,
    size: u64,
    writable: bool,
    version: std::sync::Mutex<Version>,
}

fn file_version(file: &File) -> Result<Version, StoreError> {
    let m = file
        .metadata()
        .map_err(|source| StoreError::Io { op: "stat", source })?;
    Ok(Version(format!(
        "{:x}-{:x}-{:x}.{:x}",
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    )))
}

impl LocalFile {
    /// Opens `path` read-only or read-write.
    pub fn open(path: &Path, writable: bool) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|source| StoreError::Io { op: "open", source })?;
        if writable {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor we own; no memory is passed.
            #[allow(unsafe_code)]
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc != 0 {
                return Err(StoreError::Locked {
                    path: path.to_path_buf(),
                });
            }
        }
        let meta = file
            .metadata()
            .map_err(|source| StoreError::Io { op: "stat", source })?;
        let size = if meta.file_type().is_block_device() {
            // A block device (a disk holding the image) has no length in its metadata.
            use std::io::Seek;
            (&file)
                .seek(std::io::SeekFrom::End(0))
                .map_err(|source| StoreError::Io { op: "seek", source })?
        } else {
            meta.len()
        };
        let version = file_version(&file)?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            size,
            writable,
            version: std::sync::Mutex::new(version),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl BlockStore for LocalFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn version(&self) -> Option<Version> {
        self.version.lock().ok().map(|v| v.clone())
    }

    fn writable(&self) -> bool {
        self.writable
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        check_range(offset, buf.len() as u64, self.size)?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|source| StoreError::Io { op: "read", source })
    }

    fn read_vectored_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> Result<(), StoreError> {
        let mut at = offset;
        for b in bufs.iter_mut() {
            self.read_at(at, b)?;
            at += b.len() as u64;
        }
        Ok(())
    }

    fn write_at(
        &self,
        offset: u64,
        data: &[u8],
        if_match: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        if !self.writable {
            return Err(StoreError::ReadOnly);
        }
        let len = data.len() as u64;
        check_range(offset, len, self.size)?;
        let align = self.write_alignment();
        if !offset.is_multiple_of(align)
            || (!len.is_multiple_of(align) && offset + len != self.size)
        {
            return Err(StoreError::Unaligned {
                offset,
                len,
                alignment: align,
            });
        }
        // Versions are compared and advanced under one lock so that our own writes never look
        // like someone else's.
        let mut current = self
            .version
            .lock()
            .map_err(|_| StoreError::Remote("version lock poisoned".into()))?;
        if let Some(expected) = if_match {
            let found = file_version(&self.file)?;
            if &found != expected {
                return Err(StoreError::ConditionFailed {
                    expected: expected.clone(),
                    found,
                });
            }
        }
        self.file
            .write_all_at(data, offset)
            .map_err(|source| StoreError::Io {
                op: "write",
                source,
            })?;
        *current = file_version(&self.file)?;
        Ok(Some(current.clone()))
    }

    fn flush(&self) -> Result<(), StoreError> {
        if !self.writable {
            return Ok(());
        }
        self.file.sync_data().map_err(|source| StoreError::Io {
            op: "fsync",
            source,
        })
    }
}

/// Request counters of a [`Counting`] store.
#[derive(Debug, Default)]
pub struct Counters {
    /// Ranged read requests sent to the store.
    pub reads: AtomicU64,
    /// Bytes read from the store.
    pub read_bytes: AtomicU64,
    /// Write requests sent to the store.
    pub writes: AtomicU64,
    /// Bytes written to the store.
    pub written_bytes: AtomicU64,
}

impl Counters {
    /// Read requests per MiB of `served` bytes (what the caller read through the cache).
    pub fn reads_per_mib(&self, served: u64) -> f64 {
        if served == 0 {
            return 0.0;
        }
        self.reads.load(Ordering::Relaxed) as f64 / (served as f64 / (1024.0 * 1024.0))
    }
}

/// Wraps a store and counts the requests that reach it (remote range requests per MiB read is
/// the figure the benchmark reports).
#[derive(Debug)]
pub struct Counting<S> {
    inner: S,
    counters: Arc<Counters>,
}

impl<S: BlockStore> Counting<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            counters: Arc::new(Counters::default()),
        }
    }

    /// A shared handle to the counters.
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }
}

impl<S: BlockStore> BlockStore for Counting<S> {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn version(&self) -> Option<Version> {
        self.inner.version()
    }
    fn write_alignment(&self) -> u64 {
        self.inner.write_alignment()
    }
    fn writable(&self) -> bool {
        self.inner.writable()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        self.counters
            .read_bytes
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.inner.read_at(offset, buf)
    }
    fn read_vectored_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> Result<(), StoreError> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        self.counters.reads.fetch_add(1, Ordering::Relaxed);
        self.counters
            .read_bytes
            .fetch_add(total as u64, Ordering::Relaxed);
        self.inner.read_vectored_at(offset, bufs)
    }
    fn write_at(
        &self,
        offset: u64,
        data: &[u8],
        if_match: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        self.counters.writes.fetch_add(1, Ordering::Relaxed);
        self.counters
            .written_bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.inner.write_at(offset, data, if_match)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
}

impl<S: BlockStore + ?Sized> BlockStore for Arc<S> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn version(&self) -> Option<Version> {
        (**self).version()
    }
    fn write_alignment(&self) -> u64 {
        (**self).write_alignment()
    }
    fn writable(&self) -> bool {
        (**self).writable()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        (**self).read_at(offset, buf)
    }
    fn read_vectored_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> Result<(), StoreError> {
        (**self).read_vectored_at(offset, bufs)
    }
    fn write_at(
        &self,
        offset: u64,
        data: &[u8],
        if_match: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        (**self).write_at(offset, data, if_match)
    }
    fn flush(&self) -> Result<(), StoreError> {
        (**self).flush()
    }
}
