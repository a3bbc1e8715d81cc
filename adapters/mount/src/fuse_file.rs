//! A FUSE filesystem with one file, like upstream azmount: the root directory (inode 1) holds
//! `data` (inode 2), whose bytes are a [`ByteView`]. Mounted directly by root through
//! `/dev/fuse` (no libfuse, no fusermount).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, MountOption, OpenFlags, ReplyAttr,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, SessionACL,
    WriteFlags,
};

use crate::store::StoreError;
use crate::view::ByteView;

/// Name of the single file (upstream: `data`).
pub const DATA_FILE: &str = "data";
const DATA_INO: INodeNo = INodeNo(2);
/// The file never changes size or attributes behind the kernel's back.
const TTL: Duration = Duration::from_secs(3600);
/// Largest read and write request asked of the kernel (its default limit is 1 MiB).
const MAX_IO: u32 = 1024 * 1024;
/// Largest write request: every request thread keeps a receive buffer that large.
const MAX_WRITE: u32 = 256 * 1024;
/// Background requests the kernel may queue (its default is 12).
const MAX_BACKGROUND: u16 = 64;

/// How the single-file filesystem is mounted.
#[derive(Clone, Debug)]
pub struct FuseOptions {
    /// Filesystem name shown in mount tables (upstream `azure_filesystem`).
    pub fs_name: String,
    /// Threads serving FUSE requests.
    pub threads: usize,
    /// Kernel read-ahead for the FUSE file and the loop device on it, in KiB (the kernel's
    /// default of 128 KiB makes sequential reads small round trips); 0 keeps the default.
    pub read_ahead_kib: u32,
    /// Bind the loop device with direct I/O: no second page cache of the FUSE file, and
    /// several requests in flight (measured: ~1.6x the sequential rate of buffered loop).
    /// Falls back to buffered I/O where the kernel refuses it.
    pub loop_direct_io: bool,
}

impl Default for FuseOptions {
    fn default() -> Self {
        Self {
            fs_name: "azure_filesystem".into(),
            threads: 4,
            read_ahead_kib: 1024,
            loop_direct_io: true,
        }
    }
}

#[derive(Debug)]
struct OneFileFs {
    view: Arc<dyn ByteView>,
    uid: u32,
    gid: u32,
    started: SystemTime,
}

fn errno(err: &StoreError) -> Errno {
    match err {
        StoreError::OutOfRange { .. } | StoreError::Unaligned { .. } => Errno::EINVAL,
        StoreError::ReadOnly => Errno::EROFS,
        _ => Errno::EIO,
    }
}

impl OneFileFs {
    fn attr(&self, ino: INodeNo) -> Option<FileAttr> {
        let (kind, perm, size, nlink) = match ino {
            INodeNo::ROOT => (FileType::Directory, 0o700, 0, 2),
            DATA_INO => (
                FileType::RegularFile,
                if self.view.writable() { 0o600 } else { 0o400 },
                self.view.size(),
                1,
            ),
            _ => return None,
        };
        Some(FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind,
            perm,
            nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }
}

impl Filesystem for OneFileFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Larger requests mean fewer round trips; the kernel clamps to what it supports.
        // Writes stay smaller: each request thread's receive buffer grows to the largest.
        let _ = config.set_max_readahead(MAX_IO);
        let _ = config.set_max_write(MAX_WRITE);
        // Lets a loop device in direct-I/O mode keep several reads in flight.
        let _ = config.add_capabilities(InitFlags::FUSE_ASYNC_DIO);
        // Requests the kernel queues before it makes writers wait: enough for every request
        // thread to have one (a remote store keeps many reads in flight).
        let _ = config.set_max_background(MAX_BACKGROUND);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match (parent, self.attr(DATA_INO)) {
            (INodeNo::ROOT, Some(attr)) if name == DATA_FILE => {
                reply.entry(&TTL, &attr, Generation(0))
            }
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.attr(ino) {
            Some(attr) => reply.attr(&TTL, &attr),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if ino != DATA_INO {
            return reply.error(Errno::EISDIR);
        }
        let wants_write = (flags.0 & libc::O_ACCMODE) != libc::O_RDONLY;
        if wants_write && !self.view.writable() {
            return reply.error(Errno::EROFS);
        }
        // Keep the kernel's page cache across opens: the file cannot change behind the
        // kernel's back (a blob store conditions every read and write on the ETag it holds,
        // so a foreign change is an error, never new bytes under old cached ones).
        reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE);
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        if ino != DATA_INO {
            return reply.error(Errno::EISDIR);
        }
        let want = u64::from(size).min(self.view.size().saturating_sub(offset)) as usize;
        // One buffer per FUSE thread, reused: no allocation or zeroing per request.
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with_borrow_mut(|buf| {
            if buf.len() < want {
                buf.resize(want, 0);
            }
            let Some(dst) = buf.get_mut(..want) else {
                return reply.error(Errno::EIO);
            };
            match self.view.read(offset, dst) {
                Ok(n) => reply.data(dst.get(..n).unwrap_or(&[])),
                Err(err) => {
                    tracing::error!(offset, size, error = %err, "read failed");
                    reply.error(errno(&err))
                }
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        if ino != DATA_INO {
            return reply.error(Errno::EISDIR);
        }
        match self.view.write(offset, data) {
            Ok(n) => reply.written(n as u32),
            Err(err) => {
                tracing::error!(offset, len = data.len(), error = %err, "write failed");
                reply.error(errno(&err))
            }
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.view.sync() {
            Ok(()) => reply.ok(),
            Err(err) => {
                tracing::error!(error = %err, "fsync failed");
                reply.error(Errno::EIO)
            }
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        if ino != INodeNo::ROOT {
            return reply.error(Errno::ENOTDIR);
        }
        let entries = [
            (INodeNo::ROOT, FileType::Directory, "."),
            (INodeNo::ROOT, FileType::Directory, ".."),
            (DATA_INO, FileType::RegularFile, DATA_FILE),
        ];
        for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(ino, (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn destroy(&mut self) {
        if let Err(err) = self.view.sync() {
            tracing::error!(error = %err, "write-back at unmount failed");
        }
    }
}

/// Raises the read-ahead of the FUSE connection's backing device (FUSE's INIT can only lower
/// the kernel's 128 KiB); best effort, since only root may write it.
fn set_bdi_read_ahead(dir: &Path, kib: u32) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    let dev = meta.dev();
    let path = format!(
        "/sys/class/bdi/{}:{}/read_ahead_kb",
        libc::major(dev),
        libc::minor(dev)
    );
    if let Err(e) = std::fs::write(&path, kib.to_string()) {
        tracing::debug!(path, error = %e, "could not raise FUSE read-ahead");
    }
}

/// A mounted single-file filesystem; unmounts (and writes back) on [`FuseFile::unmount`] or drop.
#[derive(Debug)]
pub struct FuseFile {
    session: Option<BackgroundSession>,
    dir: PathBuf,
    view: Arc<dyn ByteView>,
}

impl FuseFile {
    /// Mounts `view` as `<dir>/data`. `dir` must exist.
    pub fn mount(
        view: Arc<dyn ByteView>,
        dir: &Path,
        options: &FuseOptions,
    ) -> std::io::Result<Self> {
        let fs = OneFileFs {
            view: view.clone(),
            // SAFETY: getuid/getgid cannot fail and touch no memory.
            #[allow(unsafe_code)]
            uid: unsafe { libc::getuid() },
            // SAFETY: as above.
            #[allow(unsafe_code)]
            gid: unsafe { libc::getgid() },
            started: SystemTime::now(),
        };
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName(options.fs_name.clone()),
            MountOption::Subtype("azurefs".into()),
            MountOption::NoDev,
            MountOption::NoSuid,
            MountOption::NoExec,
            if view.writable() {
                MountOption::RW
            } else {
                MountOption::RO
            },
        ];
        config.acl = SessionACL::Owner;
        config.n_threads = Some(options.threads.max(1));
        config.clone_fd = true;
        let session = fuser::spawn_mount(fs, dir, &config)?;
        if options.read_ahead_kib > 0 {
            set_bdi_read_ahead(dir, options.read_ahead_kib);
        }
        Ok(Self {
            session: Some(session),
            dir: dir.to_path_buf(),
            view,
        })
    }

    /// Path of the served file.
    pub fn file(&self) -> PathBuf {
        self.dir.join(DATA_FILE)
    }

    /// The mount directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmounts, waits for the request threads, and writes back.
    pub fn unmount(mut self) -> Result<(), crate::Error> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), crate::Error> {
        if let Some(session) = self.session.take() {
            session
                .umount_and_join()
                .map_err(|source| crate::Error::Io {
                    op: "unmount FUSE",
                    path: self.dir.clone(),
                    source,
                })?;
        }
        self.view.sync()?;
        Ok(())
    }
}

impl Drop for FuseFile {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            tracing::error!(error = %err, "FUSE teardown failed");
        }
    }
}
