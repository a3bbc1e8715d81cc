//! What the simulated devices served through FUSE share: attributes of their fixed nodes, and
//! a mount that runs its server on a background thread and is taken down when dropped.

use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use fuser::{BackgroundSession, Config, FileAttr, FileType, Filesystem, INodeNo, MountOption};

/// Attributes of a node owned by root, with no size and the epoch as every time.
pub(crate) fn attr(ino: u64, kind: FileType, perm: u16) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind,
        perm,
        nlink: if kind == FileType::Directory { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

/// A filesystem mounted at a directory, served on a background thread until unmounted.
pub(crate) struct Mounted {
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
}

impl Mounted {
    /// Mounts `fs` at `mountpoint` (an existing empty directory) as filesystem `name`,
    /// without exec, setuid or device files.
    pub(crate) fn spawn<F: Filesystem + Send + 'static>(
        fs: F,
        mountpoint: &Path,
        name: &str,
    ) -> io::Result<Self> {
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName(name.into()),
            MountOption::Subtype(name.into()),
            MountOption::NoExec,
            MountOption::NoSuid,
            MountOption::NoDev,
        ];
        let session = fuser::spawn_mount(fs, mountpoint, &config)?;
        Ok(Mounted {
            session: Some(session),
            mountpoint: mountpoint.to_path_buf(),
        })
    }

    /// Where it is mounted.
    pub(crate) fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// Unmounts and waits for the server thread. Busy (a file still open) or already gone, it
    /// is detached lazily, so nothing stays mounted after a test.
    pub(crate) fn unmount(&mut self) -> io::Result<()> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        session.umount_and_join().inspect_err(|_| {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.mountpoint)
                .output();
        })
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = self.unmount();
    }
}
