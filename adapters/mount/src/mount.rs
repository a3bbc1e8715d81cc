//! The whole pipeline for one image: cache, plaintext exposure (dm-crypt or userspace), loop
//! device, ext4 mount and the atomic publish of the mount point, and its teardown in reverse.
//!
//! Layout, as upstream: the filesystem is mounted on `<parent>/.filesystem-<name>` and
//! `mount_point` becomes a relative symlink to it. **Readiness**: the symlink appears only
//! after everything below it is mounted (it is created under a temporary name and renamed into
//! place with `RENAME_NOREPLACE`), so its existence means ready; [`mount`] also logs
//! `filesystem ready` with the mount point at info level.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::{BlockCache, CacheConfig};
use crate::dm::DmDevice;
use crate::error::Error;
use crate::fuse_file::{FuseFile, FuseOptions};
use crate::loopdev::LoopDevice;
use crate::luks2::{Luks2Header, VolumeKey};
use crate::store::BlockStore;
use crate::sys;
use crate::view::{ByteView, CryptView};

/// How the plaintext reaches the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// dm-crypt over a loop device on the FUSE file of the ciphertext.
    DmCrypt,
    /// A FUSE file of the plaintext, decrypted in userspace.
    Userspace,
    /// dm-crypt when `/dev/mapper/control` exists, userspace otherwise.
    Auto,
}

/// Everything needed to mount one unlocked image.
#[derive(Debug)]
pub struct MountRequest {
    /// The ciphertext store.
    pub store: Arc<dyn BlockStore>,
    /// The header validated when the image was opened (never re-read).
    pub header: Luks2Header,
    /// The unlocked volume key.
    pub key: VolumeKey,
    /// Where the filesystem is published (a symlink; its parent must exist).
    pub mount_point: PathBuf,
    /// A short name for devices and directories (upstream uses the index: `0`, `1`, ...).
    pub name: String,
    /// Mount ext4 read-write (the store must be writable).
    pub read_write: bool,
    /// Block cache geometry.
    pub cache: CacheConfig,
    /// dm-crypt or userspace.
    pub exposure: Exposure,
    /// Directory for private mount points and device nodes (a fresh one is made inside).
    pub work_dir: PathBuf,
    /// FUSE options.
    pub fuse: FuseOptions,
}

/// A mounted, published image. [`Mounted::teardown`] (or drop) unpublishes, unmounts, detaches,
/// removes the dm device, stops FUSE and writes back, in that order.
#[derive(Debug)]
pub struct Mounted {
    mount_point: PathBuf,
    link_target: PathBuf,
    fs_dir: PathBuf,
    mounted: bool,
    loop_dev: Option<LoopDevice>,
    dm: Option<DmDevice>,
    fuse: Option<FuseFile>,
    private: PathBuf,
    exposure: Exposure,
    cache: BlockCache,
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "name {name:?} must be 1..64 characters of [A-Za-z0-9_-]"
        )))
    }
}

/// Checks the mount point before anything is set up: parent exists, path does not.
pub fn check_mount_point(mount_point: &Path) -> Result<PathBuf, Error> {
    let parent = match mount_point.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => return Err(Error::NoParent(mount_point.to_path_buf())),
    };
    if !parent.is_dir() {
        return Err(Error::NoParent(mount_point.to_path_buf()));
    }
    if std::fs::symlink_metadata(mount_point).is_ok() {
        return Err(Error::MountPointExists(mount_point.to_path_buf()));
    }
    Ok(parent)
}

/// Sets up and publishes one image. On any error everything done so far is undone.
pub fn mount(req: MountRequest) -> Result<Mounted, Error> {
    check_name(&req.name)?;
    let parent = check_mount_point(&req.mount_point)?;
    if req.read_write && !req.store.writable() {
        return Err(Error::Invalid(
            "read-write mount of a read-only source".into(),
        ));
    }
    let exposure = match req.exposure {
        Exposure::Auto if crate::dm::available() => Exposure::DmCrypt,
        Exposure::Auto => Exposure::Userspace,
        e => e,
    };
    if exposure == Exposure::DmCrypt && !crate::dm::available() {
        return Err(Error::NoDeviceMapper(
            "/dev/mapper/control is missing".into(),
        ));
    }
    let link_name = format!(".filesystem-{}", req.name);
    let fs_dir = parent.join(&link_name);
    if sys::is_mount_point(&fs_dir) {
        return Err(Error::Busy(fs_dir));
    }
    let private = req.work_dir.join(format!(
        "csc-mount-{}-{}-{:x}",
        req.name,
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(private.join("fuse"))
            .map_err(|e| Error::io("mkdir", private.join("fuse"), e))?;
    }
    let cache = BlockCache::new(req.store.clone(), &req.cache)?;
    let mut m = Mounted {
        mount_point: req.mount_point.clone(),
        link_target: PathBuf::from(&link_name),
        fs_dir,
        mounted: false,
        loop_dev: None,
        dm: None,
        fuse: None,
        private,
        exposure,
        cache: cache.clone(),
    };
    // Any early return drops `m`, whose Drop undoes what was done.
    m.build(&req, cache)?;
    tracing::info!(mount_point = %req.mount_point.display(), ?exposure, "filesystem ready");
    Ok(m)
}

impl Mounted {
    fn build(&mut self, req: &MountRequest, cache: BlockCache) -> Result<(), Error> {
        let fuse_dir = self.private.join("fuse");
        let rw = req.read_write;
        let segment = &req.header.segment;
        let device: PathBuf = match self.exposure {
            Exposure::Userspace | Exposure::Auto => {
                let xts = req.key.xts().map_err(|e| Error::Invalid(e.to_string()))?;
                let view: Arc<dyn ByteView> = Arc::new(CryptView::new(cache, segment, xts)?);
                let fuse = FuseFile::mount(view, &fuse_dir, &req.fuse)
                    .map_err(|e| Error::io("mount FUSE", &fuse_dir, e))?;
                let file = fuse.file();
                self.fuse = Some(fuse);
                let lo = attach_loop(&file, rw, req.fuse.loop_direct_io)?;
                if req.fuse.read_ahead_kib > 0 {
                    lo.set_read_ahead(req.fuse.read_ahead_kib);
                }
                let node = lo.path().to_path_buf();
                self.loop_dev = Some(lo);
                node
            }
            Exposure::DmCrypt => {
                let view: Arc<dyn ByteView> = Arc::new(cache);
                let fuse = FuseFile::mount(view, &fuse_dir, &req.fuse)
                    .map_err(|e| Error::io("mount FUSE", &fuse_dir, e))?;
                let file = fuse.file();
                self.fuse = Some(fuse);
                let lo = attach_loop(&file, rw, req.fuse.loop_direct_io)?;
                let backing = lo.dev();
                self.loop_dev = Some(lo);
                let dm = DmDevice::create_crypt(
                    &format!("csc-crypt-{}", req.name),
                    segment,
                    req.header.data_size,
                    &req.key,
                    backing,
                    !rw,
                    &self.private,
                )
                .map_err(|e| Error::io("create dm-crypt device", &self.private, e))?;
                let node = dm.node().to_path_buf();
                self.dm = Some(dm);
                node
            }
        };
        {
            use std::os::unix::fs::DirBuilderExt;
            match std::fs::DirBuilder::new().mode(0o755).create(&self.fs_dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io("mkdir", &self.fs_dir, e)),
            }
        }
        let (flags, data) = if rw {
            (0, "")
        } else {
            (libc::MS_RDONLY, "noload")
        };
        sys::mount(&device, &self.fs_dir, "ext4", flags, data)
            .map_err(|e| Error::io("mount ext4 on", &self.fs_dir, e))?;
        self.mounted = true;
        self.publish()
    }

    fn publish(&self) -> Result<(), Error> {
        let parent = self
            .mount_point
            .parent()
            .ok_or_else(|| Error::NoParent(self.mount_point.clone()))?;
        let tmp = parent.join(format!(
            ".{}.tmp-{}",
            self.link_target.display(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&self.link_target, &tmp)
            .map_err(|e| Error::io("symlink", &tmp, e))?;
        if let Err(e) = sys::rename_noreplace(&tmp, &self.mount_point) {
            let _ = std::fs::remove_file(&tmp);
            return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::MountPointExists(self.mount_point.clone())
            } else {
                Error::io("rename symlink to", &self.mount_point, e)
            });
        }
        Ok(())
    }

    /// The published path.
    pub fn mount_point(&self) -> &Path {
        &self.mount_point
    }

    /// The directory the filesystem is mounted on.
    pub fn fs_dir(&self) -> &Path {
        &self.fs_dir
    }

    /// Which path exposes the plaintext.
    pub fn exposure(&self) -> Exposure {
        self.exposure
    }

    /// The block cache (statistics).
    pub fn cache(&self) -> &BlockCache {
        &self.cache
    }

    /// The FUSE file (ciphertext for dm-crypt, plaintext for userspace).
    pub fn fuse_file(&self) -> Option<PathBuf> {
        self.fuse.as_ref().map(FuseFile::file)
    }

    /// Undoes everything in reverse order; reports the first failure but carries on.
    pub fn teardown(mut self) -> Result<(), Error> {
        self.undo()
    }

    fn undo(&mut self) -> Result<(), Error> {
        let mut first: Option<Error> = None;
        let mut keep = |r: Result<(), Error>| {
            if let Err(e) = r {
                tracing::error!(error = %e, "teardown step failed");
                first.get_or_insert(e);
            }
        };
        // Unpublish only our own symlink.
        if std::fs::read_link(&self.mount_point).ok().as_deref() == Some(self.link_target.as_path())
        {
            keep(
                std::fs::remove_file(&self.mount_point)
                    .map_err(|e| Error::io("remove symlink", &self.mount_point, e)),
            );
        }
        if self.mounted {
            let _ = sys::syncfs(&self.fs_dir);
            keep(unmount_retry(&self.fs_dir));
            self.mounted = false;
            let _ = std::fs::remove_dir(&self.fs_dir);
        } else if !sys::is_mount_point(&self.fs_dir) {
            let _ = std::fs::remove_dir(&self.fs_dir);
        }
        if let Some(dm) = self.dm.take() {
            keep(
                dm.remove()
                    .map_err(|e| Error::io("remove dm device", &self.private, e)),
            );
        }
        if let Some(lo) = self.loop_dev.take() {
            let path = lo.path().to_path_buf();
            keep(
                lo.detach()
                    .map_err(|e| Error::io("detach loop device", path, e)),
            );
        }
        if let Some(fuse) = self.fuse.take() {
            keep(fuse.unmount());
        }
        keep(self.cache.sync().map_err(Error::from));
        let _ = std::fs::remove_dir(self.private.join("fuse"));
        let _ = std::fs::remove_dir(&self.private);
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Binds a loop device, with direct I/O when asked and possible.
fn attach_loop(file: &Path, rw: bool, direct_io: bool) -> Result<LoopDevice, Error> {
    if direct_io {
        match LoopDevice::attach(file, rw, true) {
            Ok(lo) => return Ok(lo),
            Err(e) => tracing::info!(error = %e, "loop direct I/O refused; using buffered I/O"),
        }
    }
    LoopDevice::attach(file, rw, false).map_err(|e| Error::io("attach loop device to", file, e))
}

/// Unmounts, retrying while busy for up to 5 s, then detaches lazily.
fn unmount_retry(dir: &Path) -> Result<(), Error> {
    for _ in 0..100 {
        match sys::umount(dir, 0) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(()),
            Err(e) => return Err(Error::io("unmount", dir, e)),
        }
    }
    tracing::warn!(dir = %dir.display(), "filesystem still busy; detaching lazily");
    sys::umount(dir, libc::MNT_DETACH).map_err(|e| Error::io("lazy unmount", dir, e))
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = self.undo();
    }
}
