//! Loop devices: find a free one (`LOOP_CTL_GET_FREE`), bind a file (`LOOP_CONFIGURE`, or
//! `LOOP_SET_FD` + `LOOP_SET_STATUS64` on kernels before 5.8), detach (`LOOP_CLR_FD`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const LOOP_SET_FD: libc::Ioctl = 0x4C00;
const LOOP_CLR_FD: libc::Ioctl = 0x4C01;
const LOOP_SET_STATUS64: libc::Ioctl = 0x4C04;
const LOOP_CONFIGURE: libc::Ioctl = 0x4C0A;
const LOOP_CTL_GET_FREE: libc::Ioctl = 0x4C82;
const LOOP_MAJOR: u32 = 7;
/// `BLKRASET`: block device read-ahead, in 512-byte sectors.
const BLKRASET: libc::Ioctl = 0x1262;

/// `LO_FLAGS_READ_ONLY`
const LO_FLAGS_READ_ONLY: u32 = 1;
/// `LO_FLAGS_AUTOCLEAR`: the kernel detaches when the last user closes the device, so a
/// crashed process leaves no bound loop device once its mount is gone.
const LO_FLAGS_AUTOCLEAR: u32 = 4;
/// `LO_FLAGS_DIRECT_IO`
const LO_FLAGS_DIRECT_IO: u32 = 16;

/// `struct loop_info64` (linux/loop.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; 64],
    lo_crypt_name: [u8; 64],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}
const _: () = assert!(std::mem::size_of::<LoopInfo64>() == 232);

/// `struct loop_config` (linux/loop.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}
const _: () = assert!(std::mem::size_of::<LoopConfig>() == 304);

/// A bound loop device; detached on [`LoopDevice::detach`] or drop.
#[derive(Debug)]
pub struct LoopDevice {
    dev: Option<File>,
    path: PathBuf,
    number: u32,
}

fn ioctl_int(f: &File, req: libc::Ioctl, arg: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: the request takes an integer argument (or none); no memory is passed.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), req, arg) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn open_node(number: u32, writable: bool) -> io::Result<(File, PathBuf)> {
    let path = PathBuf::from(format!("/dev/loop{number}"));
    if !path.exists() {
        // No udev (minimal VMs, containers): create the node ourselves.
        match crate::sys::mknod_block(&path, LOOP_MAJOR, number) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    let f = OpenOptions::new().read(true).write(writable).open(&path)?;
    Ok((f, path))
}

impl LoopDevice {
    /// Binds `file` to a free loop device, read-only unless `writable`.
    pub fn attach(file: &Path, writable: bool, direct_io: bool) -> io::Result<Self> {
        let backing = OpenOptions::new().read(true).write(writable).open(file)?;
        let control = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/loop-control")?;
        let mut flags = LO_FLAGS_AUTOCLEAR;
        if !writable {
            flags |= LO_FLAGS_READ_ONLY;
        }
        if direct_io {
            flags |= LO_FLAGS_DIRECT_IO;
        }
        let mut name = [0u8; 64];
        let bytes = file.as_os_str().as_encoded_bytes();
        let n = bytes.len().min(63);
        if let (Some(d), Some(s)) = (name.get_mut(..n), bytes.get(..n)) {
            d.copy_from_slice(s);
        }
        // Another process may take the device between GET_FREE and CONFIGURE: retry.
        let mut last = io::Error::from(io::ErrorKind::ResourceBusy);
        for _ in 0..16 {
            let number = ioctl_int(&control, LOOP_CTL_GET_FREE, 0)? as u32;
            let (dev, path) = open_node(number, writable)?;
            let info = LoopInfo64 {
                lo_device: 0,
                lo_inode: 0,
                lo_rdevice: 0,
                lo_offset: 0,
                lo_sizelimit: 0,
                lo_number: 0,
                lo_encrypt_type: 0,
                lo_encrypt_key_size: 0,
                lo_flags: flags,
                lo_file_name: name,
                lo_crypt_name: [0; 64],
                lo_encrypt_key: [0; 32],
                lo_init: [0; 2],
            };
            let config = LoopConfig {
                fd: backing.as_raw_fd() as u32,
                block_size: 0,
                info,
                reserved: [0; 8],
            };
            // SAFETY: LOOP_CONFIGURE reads one `struct loop_config`, which `config` is
            // (layout checked by the size assertions above); it lives across the call.
            #[allow(unsafe_code)]
            let rc = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CONFIGURE, &config) };
            if rc == 0 {
                return Ok(Self {
                    dev: Some(dev),
                    path,
                    number,
                });
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EBUSY) => last = err,
                Some(libc::EINVAL) | Some(libc::ENOTTY) => {
                    // Kernel before 5.8: the two-step interface.
                    ioctl_int(&dev, LOOP_SET_FD, backing.as_raw_fd() as libc::c_ulong)?;
                    // SAFETY: LOOP_SET_STATUS64 reads one `struct loop_info64`.
                    #[allow(unsafe_code)]
                    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_SET_STATUS64, &info) };
                    if rc != 0 {
                        let e = io::Error::last_os_error();
                        let _ = ioctl_int(&dev, LOOP_CLR_FD, 0);
                        return Err(e);
                    }
                    return Ok(Self {
                        dev: Some(dev),
                        path,
                        number,
                    });
                }
                _ => return Err(err),
            }
        }
        Err(last)
    }

    /// Sets the device's read-ahead (best effort; the kernel default is 128 KiB).
    pub fn set_read_ahead(&self, kib: u32) {
        if let Some(dev) = &self.dev
            && let Err(e) = ioctl_int(dev, BLKRASET, libc::c_ulong::from(kib) * 2)
        {
            tracing::debug!(error = %e, "could not set loop read-ahead");
        }
    }

    /// `/dev/loopN`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Device numbers (major, minor).
    pub fn dev(&self) -> (u32, u32) {
        (LOOP_MAJOR, self.number)
    }

    /// Detaches the file.
    pub fn detach(mut self) -> io::Result<()> {
        self.clear()?;
        wait_released(&self.path);
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        let Some(dev) = self.dev.take() else {
            return Ok(());
        };
        // EBUSY can follow an unmount for a moment while the kernel drops its references.
        let mut tries = 0;
        loop {
            match ioctl_int(&dev, LOOP_CLR_FD, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// After LOOP_CLR_FD the kernel lets go of the backing file when the device's last opener
/// has closed it, which can be a moment after our close returns; until then whatever serves
/// that file (the FUSE file of a userspace mount) is busy and cannot be unmounted. Waits up to
/// 5 s for sysfs to show the device without a backing file.
fn wait_released(dev: &Path) {
    let Some(name) = dev.file_name() else {
        return;
    };
    let backing = Path::new("/sys/block").join(name).join("loop/backing_file");
    for _ in 0..250 {
        if !backing.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    tracing::warn!(device = %dev.display(), "loop device still holds its backing file after 5 s");
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if let Err(e) = self.clear() {
            tracing::error!(device = %self.path.display(), error = %e, "loop detach failed");
        }
    }
}
