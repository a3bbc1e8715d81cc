//! Ownership of a mount point, and cleaning what a crashed run left behind.
//!
//! Each filesystem takes an exclusive `flock` on `<parent>/.filesystem-<i>.lock` before
//! touching anything, and holds it for the life of the process; the kernel drops it when the
//! process dies, however it dies. So:
//! - the lock is held by someone else: another live encfs serves this mount point (busy);
//! - the lock is free: whatever sits at `.filesystem-<i>` and `mount_point` is ours from a run
//!   that died (`kill -9`, OOM): the stale symlink is removed, the ext4 mount (still there, its
//!   FUSE server gone) and the dead FUSE mount recorded in the lock file are detached lazily
//!   (`umount -l`), so that the loop device under them is released once unused; a dm-crypt
//!   device between them (`csc-crypt-<i>`, over a loop device on a FUSE file the lock file
//!   recorded) is removed.
//!
//! A symlink at `mount_point` that does not point at `.filesystem-<i>`, or anything else
//! there, is never touched: it is reported as a busy mount point.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::mount::{MntFlags, umount2};

use crate::input::FilesystemPlan;
use crate::input::plan::FS_DIR_PREFIX;

/// One line of `/proc/self/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Filesystem type (`ext4`, `fuse`, ...).
    pub fstype: String,
    /// Mount source (`/dev/loop3`, `azure_filesystem`, ...).
    pub source: String,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\'
            && let Some(oct) = b
                .get(i + 1..i + 4)
                .and_then(|o| std::str::from_utf8(o).ok())
            && let Ok(v) = u8::from_str_radix(oct, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(c);
        i += 1;
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Parses mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mount_point = unescape(left.split(' ').nth(4)?);
            let mut r = right.split(' ');
            let fstype = r.next()?.to_string();
            let source = r.next().unwrap_or("").to_string();
            Some(MountEntry {
                mount_point,
                fstype,
                source,
            })
        })
        .collect()
}

/// The mounts of this process's mount namespace.
pub fn mounts() -> io::Result<Vec<MountEntry>> {
    Ok(parse_mountinfo(&std::fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

fn mounted_at(path: &Path) -> io::Result<Vec<MountEntry>> {
    Ok(mounts()?
        .into_iter()
        .filter(|m| m.mount_point == path)
        .collect())
}

/// The exclusive claim on one mount point.
#[derive(Debug)]
pub struct Lock {
    file: Flock<File>,
    path: PathBuf,
    previous: String,
}

/// Lock file of a filesystem: `<parent>/.filesystem-<i>.lock`.
pub fn lock_path(plan: &FilesystemPlan) -> PathBuf {
    plan.parent()
        .join(format!("{FS_DIR_PREFIX}{}.lock", plan.index))
}

impl Lock {
    /// Takes the lock, or says who holds it.
    pub fn acquire(plan: &FilesystemPlan) -> Result<Self, String> {
        let path = lock_path(plan);
        // A lock file removed by its previous owner between our open and our flock would
        // leave us holding a lock nobody else can see: retry until the path is the file locked.
        for _ in 0..10 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("lock file {}: {e}", path.display()))?;
            let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(f) => f,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    return Err(format!(
                        "in use by another running encfs (it holds {})",
                        path.display()
                    ));
                }
                Err((_, e)) => return Err(format!("lock {}: {e}", path.display())),
            };
            let same = match (file.metadata(), std::fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if !same {
                continue;
            }
            let mut previous = String::new();
            let _ = file.read_to_string(&mut previous);
            return Ok(Self {
                file,
                path,
                previous,
            });
        }
        Err(format!("lock file {} keeps changing", path.display()))
    }

    /// Records the FUSE directory of this run, for the cleanup after a crash.
    pub fn record(&mut self, fuse_dir: &Path) -> io::Result<()> {
        self.file.set_len(0)?;
        let line = format!("fuse {}\n", fuse_dir.display());
        use std::os::unix::fs::FileExt;
        self.file.write_all_at(line.as_bytes(), 0)?;
        self.file.flush()
    }

    /// FUSE directories a previous run recorded.
    fn previous_fuse_dirs(&self) -> Vec<PathBuf> {
        self.previous
            .lines()
            .filter_map(|l| l.strip_prefix("fuse "))
            .filter(|p| p.starts_with('/'))
            .map(PathBuf::from)
            .collect()
    }

    /// Removes the lock file (still holding the lock) and releases it.
    pub fn release(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

fn lazy_unmount(path: &Path, done: &mut Vec<String>, what: &str) -> Result<(), String> {
    for _ in 0..8 {
        match mounted_at(path) {
            Ok(m) if m.is_empty() => return Ok(()),
            Ok(m) => {
                let fstype = m.last().map(|e| e.fstype.clone()).unwrap_or_default();
                umount2(path, MntFlags::MNT_DETACH)
                    .map_err(|e| format!("lazy unmount of {} failed: {e}", path.display()))?;
                done.push(format!(
                    "detached stale {what} ({fstype}) at {}",
                    path.display()
                ));
            }
            Err(e) => return Err(format!("reading the mount table: {e}")),
        }
    }
    Err(format!("{} is still mounted", path.display()))
}

/// Clears what a dead previous run left for this filesystem; returns what was done. Needs the
/// lock (which proves the previous owner is gone).
pub fn clean(plan: &FilesystemPlan, lock: &Lock) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let link_target = format!("{FS_DIR_PREFIX}{}", plan.index);
    let mp = &plan.mount_point;
    match std::fs::symlink_metadata(mp) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("mount point {}: {e}", mp.display())),
        Ok(m) if m.file_type().is_symlink() => {
            let target = std::fs::read_link(mp).map_err(|e| e.to_string())?;
            if target != Path::new(&link_target) {
                return Err(format!(
                    "mount point {} already exists (a symlink to {}, not ours)",
                    mp.display(),
                    target.display()
                ));
            }
            std::fs::remove_file(mp).map_err(|e| format!("removing {}: {e}", mp.display()))?;
            done.push(format!("removed stale symlink {}", mp.display()));
        }
        Ok(_) => {
            return Err(format!("mount point {} already exists", mp.display()));
        }
    }
    let fs_dir = plan.fs_dir();
    lazy_unmount(&fs_dir, &mut done, "filesystem")?;
    if fs_dir.is_dir() && std::fs::remove_dir(&fs_dir).is_ok() {
        done.push(format!("removed {}", fs_dir.display()));
    }
    // A dm-crypt device of ours sits on a loop device over the dead FUSE file: remove it
    // (the ext4 on it is gone), which lets the loop device go too.
    if let Some((name, sys)) = stale_dm_device(plan.index) {
        let backing = dm_backing_files(&sys);
        let ours = backing.iter().any(|b| {
            lock.previous_fuse_dirs()
                .iter()
                .any(|d| Path::new(b).starts_with(d))
        });
        if !ours {
            return Err(format!(
                "device-mapper device {name} exists and is not over a FUSE file this mount point's previous run recorded ({}); remove it (dmsetup remove {name}) and retry",
                if backing.is_empty() {
                    "no loop device under it".to_string()
                } else {
                    backing.join(", ")
                }
            ));
        }
        csc_mount::dm::remove_stale(&name)
            .map_err(|e| format!("removing device-mapper device {name} of a previous run: {e}"))?;
        done.push(format!("removed device-mapper device {name}"));
    }
    for fuse_dir in lock.previous_fuse_dirs() {
        let is_fuse = mounted_at(&fuse_dir)
            .map(|m| m.iter().any(|e| e.fstype.starts_with("fuse")))
            .unwrap_or(false);
        if is_fuse {
            lazy_unmount(&fuse_dir, &mut done, "FUSE file")?;
        }
        if std::fs::remove_dir(&fuse_dir).is_ok()
            && let Some(private) = fuse_dir.parent()
        {
            let _ = std::fs::remove_dir(private);
        }
    }
    // A symlink left under its temporary name by a publish that was interrupted.
    let tmp_prefix = format!(".{link_target}.tmp-");
    if let Ok(rd) = std::fs::read_dir(plan.parent()) {
        for e in rd.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().starts_with(&tmp_prefix)
                && e.file_type().is_ok_and(|t| t.is_symlink())
                && std::fs::remove_file(e.path()).is_ok()
            {
                done.push(format!("removed {}", e.path().display()));
            }
        }
    }
    Ok(done)
}

/// A leftover dm-crypt device of this filesystem (csc-mount names them `csc-crypt-<name>`):
/// its name and its `/sys/block` directory.
fn stale_dm_device(index: usize) -> Option<(String, PathBuf)> {
    let want = format!("csc-crypt-{index}");
    let rd = std::fs::read_dir("/sys/block").ok()?;
    rd.flatten().find_map(|e| {
        let name = std::fs::read_to_string(e.path().join("dm/name")).ok()?;
        (name.trim() == want).then(|| (want.clone(), e.path()))
    })
}

/// The files behind the loop devices a device-mapper device sits on.
fn dm_backing_files(sys: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(sys.join("slaves")) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            std::fs::read_to_string(
                Path::new("/sys/block")
                    .join(e.file_name())
                    .join("loop/backing_file"),
            )
            .ok()
        })
        .map(|s| s.trim().to_string())
        .collect()
}

/// Checks the parent directory before anything else.
pub fn check_parent(plan: &FilesystemPlan) -> Result<(), String> {
    let parent = plan.parent();
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(format!("{} is not a directory", parent.display())),
        Err(e) => Err(format!(
            "parent directory {} of the mount point: {e}",
            parent.display()
        )),
    }
}

/// Writes `contents` to `path` atomically (temporary file + rename).
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_parse_with_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext4 /dev/loop3 rw,errors=continue\n\
                    37 35 0:40 / /tmp/x/fuse rw,nosuid - fuse azure_filesystem rw,user_id=0\n\
                    garbage line\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, Path::new("/mnt/with space"));
        assert_eq!(
            (m[0].fstype.as_str(), m[0].source.as_str()),
            ("ext4", "/dev/loop3")
        );
        assert_eq!(m[1].fstype, "fuse");
        assert_eq!(m[1].source, "azure_filesystem");
    }

    fn plan(dir: &Path, index: usize) -> FilesystemPlan {
        FilesystemPlan {
            index,
            mount_point: dir.join("fs"),
            source: crate::input::SourceSpec::Local("/nonexistent".into()),
            read_write: false,
            key: crate::input::KeySpec::Raw(crate::input::SecretBytes::new(vec![1])),
        }
    }

    #[test]
    fn lock_is_exclusive_and_released() {
        let t = tempfile::tempdir().unwrap();
        let p = plan(t.path(), 0);
        let a = Lock::acquire(&p).unwrap();
        let e = Lock::acquire(&p).unwrap_err();
        assert!(e.contains("in use by another running encfs"), "{e}");
        a.release();
        assert!(!lock_path(&p).exists());
        let b = Lock::acquire(&p).unwrap();
        drop(b);
        // Dropped without release (a crash): the file stays, the lock does not.
        let mut c = Lock::acquire(&p).unwrap();
        c.record(Path::new("/tmp/csc-mount-0-1-2/fuse")).unwrap();
        drop(c);
        let d = Lock::acquire(&p).unwrap();
        assert_eq!(
            d.previous_fuse_dirs(),
            [PathBuf::from("/tmp/csc-mount-0-1-2/fuse")]
        );
    }

    #[test]
    fn stale_links_are_cleaned_and_foreign_ones_refused() {
        let t = tempfile::tempdir().unwrap();
        let p = plan(t.path(), 2);
        let lock = Lock::acquire(&p).unwrap();
        std::os::unix::fs::symlink(".filesystem-2", t.path().join("fs")).unwrap();
        std::fs::create_dir(t.path().join(".filesystem-2")).unwrap();
        std::os::unix::fs::symlink(".filesystem-2", t.path().join("..filesystem-2.tmp-77"))
            .unwrap();
        let done = clean(&p, &lock).unwrap();
        assert_eq!(done.len(), 3, "{done:?}");
        assert!(std::fs::symlink_metadata(t.path().join("fs")).is_err());
        assert!(!t.path().join(".filesystem-2").exists());
        std::os::unix::fs::symlink("elsewhere", t.path().join("fs")).unwrap();
        let e = clean(&p, &lock).unwrap_err();
        assert!(e.contains("not ours"), "{e}");
        std::fs::remove_file(t.path().join("fs")).unwrap();
        std::fs::create_dir(t.path().join("fs")).unwrap();
        let e = clean(&p, &lock).unwrap_err();
        assert!(e.ends_with("already exists"), "{e}");
    }
}
