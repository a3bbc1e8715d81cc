//! A FUSE filesystem that behaves like configfs-tsm's report directory, answering with the
//! simulated platform: so the real configfs adapter runs end to end through the kernel VFS on a
//! machine without SNP hardware. Feature `tsmfs`; mounting needs root (no libfuse is used).
//!
//! What it reproduces of `drivers/virt/coco/tsm.c` with the `sev_guest` provider: `mkdir` of a
//! report entry; `inblob` (write-only, binary, at most 64 bytes, committed when the file is
//! closed); `privlevel` (a number, at least `privlevel_floor`, at most 3); `outblob` (the signed
//! report for the committed inblob and privlevel, made once per generation); `auxblob` (the
//! certificate table); `generation` (bumped by each write); `provider`; `rmdir`.
//!
//! [`Faults`] makes it misbehave the ways a test needs: a concurrent writer (the generation
//! moves while outblob is read), a short outblob, another provider, a higher privilege floor.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use csc_core::abi::size;
use csc_core::source::{ReportRequest, Vmpl};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyOpen, ReplyWrite, Request, WriteFlags,
};

use crate::Platform;
use crate::fuse::{Mounted, attr};

/// Ways the filesystem misbehaves on purpose.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Bump the generation whenever outblob is read, as if another process wrote in between.
    pub concurrent_writer: bool,
    /// Serve only this many bytes of outblob.
    pub truncate_outblob: Option<usize>,
    /// What `provider` says (default `sev_guest`).
    pub provider: Option<String>,
    /// The VMPL the guest runs at, shown in `privlevel_floor`.
    pub privlevel_floor: u8,
}

/// Counters a test can check.
#[derive(Debug, Default)]
pub struct Stats {
    /// Entries created.
    pub mkdirs: AtomicU64,
    /// Entries removed.
    pub rmdirs: AtomicU64,
    /// Reports signed.
    pub reports: AtomicU64,
}

const ATTRS: [(&str, u16); 7] = [
    ("inblob", 0o200),
    ("outblob", 0o444),
    ("auxblob", 0o444),
    ("generation", 0o444),
    ("provider", 0o444),
    ("privlevel", 0o644),
    ("privlevel_floor", 0o444),
];
const INBLOB: usize = 0;
const OUTBLOB: usize = 1;
const AUXBLOB: usize = 2;
const GENERATION: usize = 3;
const PROVIDER: usize = 4;
const PRIVLEVEL: usize = 5;
const FLOOR: usize = 6;
/// Inode numbers: entry `n` is `n * STRIDE`, its attributes follow it.
const STRIDE: u64 = 16;
const TTL: Duration = Duration::ZERO;

#[derive(Default)]
struct Entry {
    name: String,
    inblob: Option<Vec<u8>>,
    privlevel: u8,
    generation: u64,
    cached: Option<(u64, Result<Vec<u8>, Errno>)>,
}

#[derive(Default)]
struct State {
    entries: HashMap<u64, Entry>,
    next_entry: u64,
    /// Open inblob handles: pending bytes, committed on flush or release.
    pending: HashMap<u64, (u64, Vec<u8>)>,
    next_fh: u64,
}

struct TsmFs {
    platform: Arc<Platform>,
    faults: Faults,
    state: Mutex<State>,
    stats: Arc<Stats>,
}

/// Splits an inode into (entry id, attribute index); (0, None) is the root.
fn split(ino: u64) -> (u64, Option<usize>) {
    if ino == INodeNo::ROOT.0 {
        return (0, None);
    }
    let entry = ino / STRIDE;
    match ino % STRIDE {
        0 => (entry, None),
        n => (entry, Some((n - 1) as usize)),
    }
}

impl TsmFs {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn node_attr(&self, st: &State, ino: u64) -> Option<FileAttr> {
        match split(ino) {
            (0, None) => Some(attr(ino, FileType::Directory, 0o755)),
            (e, None) => st
                .entries
                .contains_key(&e)
                .then(|| attr(ino, FileType::Directory, 0o755)),
            (e, Some(a)) => {
                let (_, perm) = ATTRS.get(a)?;
                st.entries
                    .contains_key(&e)
                    .then(|| attr(ino, FileType::RegularFile, *perm))
            }
        }
    }

    /// The contents of a readable attribute.
    fn contents(&self, st: &mut State, entry_id: u64, a: usize) -> Result<Vec<u8>, Errno> {
        let provider = self.faults.provider.as_deref().unwrap_or("sev_guest");
        let e = st.entries.get_mut(&entry_id).ok_or(Errno::ENOENT)?;
        match a {
            GENERATION => Ok(format!("{}\n", e.generation).into_bytes()),
            PROVIDER => Ok(format!("{provider}\n").into_bytes()),
            PRIVLEVEL => Ok(format!("{}\n", e.privlevel).into_bytes()),
            FLOOR => Ok(format!("{}\n", self.faults.privlevel_floor).into_bytes()),
            OUTBLOB | AUXBLOB => {
                let fresh = matches!(&e.cached, Some((g, _)) if *g == e.generation);
                if !fresh {
                    let made = self.make_report(e);
                    e.cached = Some((e.generation, made));
                }
                let report = match &e.cached {
                    Some((_, Ok(r))) => r.clone(),
                    Some((_, Err(errno))) => return Err(*errno),
                    None => return Err(Errno::EIO),
                };
                if a == AUXBLOB {
                    return Ok(self.platform.cert_table().to_vec());
                }
                let mut report = report;
                if let Some(n) = self.faults.truncate_outblob {
                    report.truncate(n);
                }
                Ok(report)
            }
            _ => Err(Errno::EACCES),
        }
    }

    fn make_report(&self, e: &Entry) -> Result<Vec<u8>, Errno> {
        let inblob = e.inblob.as_ref().ok_or(Errno::EINVAL)?;
        let mut report_data = [0u8; size::REPORT_DATA];
        report_data
            .get_mut(..inblob.len())
            .ok_or(Errno::EINVAL)?
            .copy_from_slice(inblob);
        let vmpl = Vmpl::new(e.privlevel.into()).ok_or(Errno::EINVAL)?;
        let report = self
            .platform
            .report(&ReportRequest::new(report_data, vmpl))
            .map_err(|_| Errno::EIO)?;
        self.stats.reports.fetch_add(1, Ordering::Relaxed);
        Ok(report.to_vec())
    }

    fn commit(&self, st: &mut State, fh: u64) {
        if let Some((entry_id, bytes)) = st.pending.remove(&fh)
            && let Some(e) = st.entries.get_mut(&entry_id)
        {
            e.inblob = Some(bytes);
            e.generation += 1;
        }
    }
}

impl Filesystem for TsmFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let st = self.lock();
        let name = name.to_string_lossy();
        let found = match split(parent.0) {
            (0, None) => st
                .entries
                .iter()
                .find(|(_, e)| e.name == name)
                .map(|(id, _)| id * STRIDE),
            (e, None) if st.entries.contains_key(&e) => ATTRS
                .iter()
                .position(|(n, _)| *n == name)
                .map(|i| e * STRIDE + 1 + i as u64),
            _ => None,
        };
        match found.and_then(|ino| self.node_attr(&st, ino)) {
            Some(a) => reply.entry(&TTL, &a, Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let st = self.lock();
        match self.node_attr(&st, ino.0) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        if parent != INodeNo::ROOT {
            return reply.error(Errno::EPERM);
        }
        let mut st = self.lock();
        let name = name.to_string_lossy().into_owned();
        if st.entries.values().any(|e| e.name == name) {
            return reply.error(Errno::EEXIST);
        }
        st.next_entry += 1;
        let id = st.next_entry;
        st.entries.insert(
            id,
            Entry {
                name,
                privlevel: self.faults.privlevel_floor,
                ..Entry::default()
            },
        );
        self.stats.mkdirs.fetch_add(1, Ordering::Relaxed);
        reply.entry(
            &TTL,
            &attr(id * STRIDE, FileType::Directory, 0o755),
            Generation(0),
        );
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut st = self.lock();
        let name = name.to_string_lossy();
        let id = st
            .entries
            .iter()
            .find(|(_, e)| e.name == name)
            .map(|(id, _)| *id);
        match (parent == INodeNo::ROOT, id) {
            (true, Some(id)) => {
                st.entries.remove(&id);
                st.pending.retain(|_, (e, _)| *e != id);
                self.stats.rmdirs.fetch_add(1, Ordering::Relaxed);
                reply.ok();
            }
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut st = self.lock();
        let (entry, Some(a)) = split(ino.0) else {
            return reply.error(Errno::EISDIR);
        };
        let Some((_, perm)) = ATTRS.get(a) else {
            return reply.error(Errno::ENOENT);
        };
        if !st.entries.contains_key(&entry) {
            return reply.error(Errno::ENOENT);
        }
        let wants_write = flags.acc_mode() != OpenAccMode::O_RDONLY;
        let wants_read = flags.acc_mode() != OpenAccMode::O_WRONLY;
        if (wants_write && perm & 0o200 == 0) || (wants_read && perm & 0o400 == 0) {
            return reply.error(Errno::EACCES);
        }
        st.next_fh += 1;
        let fh = st.next_fh;
        if a == INBLOB {
            st.pending.insert(fh, (entry, Vec::new()));
        }
        // Direct I/O: sizes are unknown until read, as on configfs.
        reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO);
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
        let mut st = self.lock();
        let (entry, Some(a)) = split(ino.0) else {
            return reply.error(Errno::EISDIR);
        };
        match self.contents(&mut st, entry, a) {
            Ok(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = start.saturating_add(size as usize).min(bytes.len());
                if a == OUTBLOB
                    && offset == 0
                    && self.faults.concurrent_writer
                    && let Some(e) = st.entries.get_mut(&entry)
                {
                    e.generation += 1;
                }
                reply.data(bytes.get(start..end).unwrap_or(&[]));
            }
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut st = self.lock();
        let (entry, Some(a)) = split(ino.0) else {
            return reply.error(Errno::EISDIR);
        };
        let written = u32::try_from(data.len()).unwrap_or(u32::MAX);
        match a {
            INBLOB => {
                let Some((_, buf)) = st.pending.get_mut(&fh.0) else {
                    return reply.error(Errno::EBADF);
                };
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let end = start.saturating_add(data.len());
                if end > size::REPORT_DATA {
                    return reply.error(Errno::EFBIG);
                }
                if buf.len() < end {
                    buf.resize(end, 0);
                }
                if let Some(dst) = buf.get_mut(start..end) {
                    dst.copy_from_slice(data);
                }
                reply.written(written);
            }
            PRIVLEVEL => {
                let text = String::from_utf8_lossy(data);
                let floor = self.faults.privlevel_floor;
                match text.trim().parse::<u8>() {
                    Ok(v) if v >= floor && u32::from(v) <= u32::from(Vmpl::MAX) => {
                        if let Some(e) = st.entries.get_mut(&entry) {
                            e.privlevel = v;
                            e.generation += 1;
                        }
                        reply.written(written);
                    }
                    _ => reply.error(Errno::EINVAL),
                }
            }
            _ => reply.error(Errno::EACCES),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let mut st = self.lock();
        self.commit(&mut st, fh.0);
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = self.lock();
        self.commit(&mut st, fh.0);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let st = self.lock();
        let mut list: Vec<(u64, FileType, String)> = vec![(ino.0, FileType::Directory, ".".into())];
        list.push((INodeNo::ROOT.0, FileType::Directory, "..".into()));
        match split(ino.0) {
            (0, None) => {
                let mut ids: Vec<_> = st.entries.keys().copied().collect();
                ids.sort_unstable();
                for id in ids {
                    if let Some(e) = st.entries.get(&id) {
                        list.push((id * STRIDE, FileType::Directory, e.name.clone()));
                    }
                }
            }
            (e, None) if st.entries.contains_key(&e) => {
                for (i, (name, _)) in ATTRS.iter().enumerate() {
                    list.push((
                        e * STRIDE + 1 + i as u64,
                        FileType::RegularFile,
                        (*name).into(),
                    ));
                }
            }
            _ => return reply.error(Errno::ENOTDIR),
        }
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (ino, kind, name)) in list.into_iter().enumerate().skip(skip) {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

/// A mounted fake configfs-tsm report directory; unmounted when dropped, even while a test is
/// unwinding from a failed assertion.
pub struct MountedTsm {
    mount: Mounted,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for MountedTsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountedTsm")
            .field("mountpoint", &self.mount.path())
            .finish_non_exhaustive()
    }
}

impl MountedTsm {
    /// Mounts the filesystem at `mountpoint` (an existing empty directory), serving reports
    /// from `platform`.
    pub fn mount(platform: Arc<Platform>, mountpoint: &Path, faults: Faults) -> io::Result<Self> {
        let stats = Arc::new(Stats::default());
        let fs = TsmFs {
            platform,
            faults,
            state: Mutex::new(State::default()),
            stats: Arc::clone(&stats),
        };
        Ok(MountedTsm {
            mount: Mounted::spawn(fs, mountpoint, "csc-tsmfs")?,
            stats,
        })
    }

    /// Where it is mounted: use this as configfs-tsm's report directory.
    pub fn path(&self) -> &Path {
        self.mount.path()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Unmounts and waits for the server thread.
    pub fn unmount(mut self) -> io::Result<()> {
        self.mount.unmount()
    }
}
