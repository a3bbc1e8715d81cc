//! Thin wrappers over the system calls the mount pipeline needs. Each unsafe block passes only
//! NUL-terminated strings built here and plain integers.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `mount(source, target, fstype, flags, data)`.
pub(crate) fn mount(
    source: &Path,
    target: &Path,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> io::Result<()> {
    let (s, t) = (cstr(source)?, cstr(target)?);
    let f = CString::new(fstype).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let d = CString::new(data).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), flags, d.as_ptr().cast()) };
    check(rc)
}

/// `umount2(target, flags)`.
pub(crate) fn umount(target: &Path, flags: libc::c_int) -> io::Result<()> {
    let t = cstr(target)?;
    // SAFETY: valid NUL-terminated path.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::umount2(t.as_ptr(), flags) };
    check(rc)
}

/// `syncfs` on the filesystem containing `path`.
pub(crate) fn syncfs(path: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(path)?;
    // SAFETY: a descriptor we own for the duration of the call.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    check(rc)
}

/// `renameat2(from, to, RENAME_NOREPLACE)`: fails with `EEXIST` if `to` exists.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let (f, t) = (cstr(from)?, cstr(to)?);
    // SAFETY: valid NUL-terminated paths relative to the current directory descriptor. The
    // raw system call is used because musl's libc has no renameat2 wrapper.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `mknod(path, S_IFBLK | 0600, dev)`.
pub(crate) fn mknod_block(path: &Path, major: u32, minor: u32) -> io::Result<()> {
    let p = cstr(path)?;
    let dev = libc::makedev(major, minor);
    // SAFETY: valid NUL-terminated path; mode and dev are plain integers.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::mknod(p.as_ptr(), libc::S_IFBLK | 0o600, dev) };
    check(rc)
}

/// Whether `path` is a mount point (its device differs from its parent's, or it is a mount
/// root listed in /proc/self/mountinfo).
pub(crate) fn is_mount_point(path: &Path) -> bool {
    let Ok(canon) = path.canonicalize() else {
        return false;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = canon.as_os_str().as_bytes();
    info.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .is_some_and(|m| unescape(m).as_slice() == want)
    })
}

/// Undoes mountinfo's octal escapes (`\040` for space).
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\'
            && let Some(oct) = b.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(oct).unwrap_or("x"), 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}
