//! dm-crypt through device-mapper ioctls on `/dev/mapper/control`: `DM_DEV_CREATE`,
//! `DM_TABLE_LOAD` (a `crypt` target built from a validated [`Segment`] and the volume key),
//! `DM_DEV_SUSPEND` without the suspend flag (= resume, makes the table live) and
//! `DM_DEV_REMOVE`. The device node is created by us (no udev needed).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::luks2::{CIPHER, Segment, VolumeKey};

const CONTROL: &str = "/dev/mapper/control";
const DM_IOCTL_TYPE: libc::c_ulong = 0xfd;
const DM_VERSION_MAJOR: u32 = 4;
const DM_DEV_CREATE: libc::c_ulong = 3;
const DM_DEV_REMOVE: libc::c_ulong = 4;
const DM_DEV_SUSPEND: libc::c_ulong = 6;
const DM_TABLE_LOAD: libc::c_ulong = 9;
const DM_READONLY_FLAG: u32 = 1 << 0;
/// Asks the kernel to wipe its copies of the ioctl buffer (the table carries the key).
const DM_SECURE_DATA_FLAG: u32 = 1 << 15;
const NAME_LEN: usize = 128;
const UUID_LEN: usize = 129;

/// `struct dm_ioctl` (linux/dm-ioctl.h).
#[repr(C)]
#[derive(Clone, Copy)]
struct DmIoctl {
    version: [u32; 3],
    data_size: u32,
    data_start: u32,
    target_count: u32,
    open_count: i32,
    flags: u32,
    event_nr: u32,
    padding: u32,
    dev: u64,
    name: [u8; NAME_LEN],
    uuid: [u8; UUID_LEN],
    data: [u8; 7],
}
const DM_IOCTL_SIZE: usize = std::mem::size_of::<DmIoctl>();
const _: () = assert!(DM_IOCTL_SIZE == 312);

/// `struct dm_target_spec`.
#[repr(C)]
#[derive(Clone, Copy)]
struct DmTargetSpec {
    sector_start: u64,
    length: u64,
    status: i32,
    next: u32,
    target_type: [u8; 16],
}
const SPEC_SIZE: usize = std::mem::size_of::<DmTargetSpec>();
const _: () = assert!(SPEC_SIZE == 40);

const fn iowr(nr: libc::c_ulong) -> libc::c_ulong {
    (3 << 30) | ((DM_IOCTL_SIZE as libc::c_ulong) << 16) | (DM_IOCTL_TYPE << 8) | nr
}

/// The dm-crypt table line for `segment` on the device `major:minor` (the same one
/// `cryptsetup open` loads): `<cipher> <hex key> <iv offset> <dev> <offset in sectors>
/// [1 sector_size:4096]`. Zeroized on drop.
pub fn crypt_params(segment: &Segment, key: &VolumeKey, dev: (u32, u32)) -> Zeroizing<String> {
    let mut s = Zeroizing::new(String::with_capacity(256));
    s.push_str(CIPHER);
    s.push(' ');
    for b in key.expose() {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s.push_str(&format!(
        " {} {}:{} {}",
        segment.iv_tweak,
        dev.0,
        dev.1,
        segment.offset / 512
    ));
    if segment.sector_size != 512 {
        s.push_str(&format!(" 1 sector_size:{}", segment.sector_size));
    }
    s
}

/// A live dm-crypt device; removed on [`DmDevice::remove`] or drop.
#[derive(Debug)]
pub struct DmDevice {
    control: File,
    name: String,
    node: PathBuf,
    removed: bool,
}

fn header(name: &str, flags: u32, data_size: usize) -> io::Result<DmIoctl> {
    let mut h = DmIoctl {
        version: [DM_VERSION_MAJOR, 0, 0],
        data_size: data_size as u32,
        data_start: DM_IOCTL_SIZE as u32,
        target_count: 0,
        open_count: 0,
        flags,
        event_nr: 0,
        padding: 0,
        dev: 0,
        name: [0; NAME_LEN],
        uuid: [0; UUID_LEN],
        data: [0; 7],
    };
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= NAME_LEN || b.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "device-mapper name must be 1..127 bytes without '/'",
        ));
    }
    if let Some(d) = h.name.get_mut(..b.len()) {
        d.copy_from_slice(b);
    }
    Ok(h)
}

/// Runs one dm ioctl with `buf` (a `DmIoctl` followed by payload); returns the reply header.
fn dm_ioctl(control: &File, nr: libc::c_ulong, buf: &mut [u8]) -> io::Result<DmIoctl> {
    if buf.len() < DM_IOCTL_SIZE {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: `buf` is at least one `struct dm_ioctl` long and its `data_size` field (set by
    // the caller) never exceeds `buf.len()`; the kernel reads and writes within that length.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::ioctl(
            control.as_raw_fd(),
            iowr(nr) as libc::Ioctl,
            buf.as_mut_ptr(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `buf` holds at least DM_IOCTL_SIZE bytes; read_unaligned copes with alignment
    // and DmIoctl is plain old data (any bit pattern is valid).
    #[allow(unsafe_code)]
    let reply = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast::<DmIoctl>()) };
    Ok(reply)
}

fn to_bytes(h: &DmIoctl, buf: &mut [u8]) {
    // SAFETY: DmIoctl is repr(C) plain old data without padding bytes (all fields are
    // naturally aligned, size asserted), so viewing it as bytes is sound.
    #[allow(unsafe_code)]
    let bytes =
        unsafe { std::slice::from_raw_parts((h as *const DmIoctl).cast::<u8>(), DM_IOCTL_SIZE) };
    if let Some(d) = buf.get_mut(..DM_IOCTL_SIZE) {
        d.copy_from_slice(bytes);
    }
}

fn simple(control: &File, nr: libc::c_ulong, name: &str, flags: u32) -> io::Result<DmIoctl> {
    let mut buf = vec![0u8; 16 * 1024];
    let h = header(name, flags, buf.len())?;
    to_bytes(&h, &mut buf);
    dm_ioctl(control, nr, &mut buf)
}

impl DmDevice {
    /// Creates `name` as a crypt device over `backing` (major, minor) with the segment's
    /// cipher, key, IV offset, data offset and sector size, then activates it. The node is
    /// made at `node_dir/<name>`.
    pub fn create_crypt(
        name: &str,
        segment: &Segment,
        data_size: u64,
        key: &VolumeKey,
        backing: (u32, u32),
        read_only: bool,
        node_dir: &Path,
    ) -> io::Result<Self> {
        let control = OpenOptions::new().read(true).write(true).open(CONTROL)?;
        let ro = if read_only { DM_READONLY_FLAG } else { 0 };
        let created = simple(&control, DM_DEV_CREATE, name, ro)?;
        let mut dev = Self {
            control,
            name: name.to_owned(),
            node: node_dir.join(name),
            removed: false,
        };
        // From here on, dropping `dev` removes the half-made device.
        let params = crypt_params(segment, key, backing);
        let spec_len = (SPEC_SIZE + params.len() + 1).div_ceil(8) * 8;
        let total = DM_IOCTL_SIZE + spec_len;
        let mut buf = Zeroizing::new(vec![0u8; total.max(16 * 1024)]);
        let mut h = header(name, ro | DM_SECURE_DATA_FLAG, buf.len())?;
        h.target_count = 1;
        to_bytes(&h, &mut buf);
        let mut target_type = [0u8; 16];
        target_type[..5].copy_from_slice(b"crypt");
        let spec = DmTargetSpec {
            sector_start: 0,
            length: data_size / 512,
            status: 0,
            next: spec_len as u32,
            target_type,
        };
        // SAFETY: DmTargetSpec is repr(C) plain old data without padding (size asserted).
        #[allow(unsafe_code)]
        let spec_bytes = unsafe {
            std::slice::from_raw_parts((&spec as *const DmTargetSpec).cast::<u8>(), SPEC_SIZE)
        };
        let at = DM_IOCTL_SIZE;
        if let Some(d) = buf.get_mut(at..at + SPEC_SIZE) {
            d.copy_from_slice(spec_bytes);
        }
        let p = at + SPEC_SIZE;
        if let Some(d) = buf.get_mut(p..p + params.len()) {
            d.copy_from_slice(params.as_bytes());
        }
        dm_ioctl(&dev.control, DM_TABLE_LOAD, &mut buf)?;
        let resumed = simple(&dev.control, DM_DEV_SUSPEND, name, 0)?;
        let devno = if resumed.dev != 0 {
            resumed.dev
        } else {
            created.dev
        };
        let (major, minor) = (
            libc::major(devno as libc::dev_t),
            libc::minor(devno as libc::dev_t),
        );
        match crate::sys::mknod_block(&dev.node, major, minor) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&dev.node)?;
                crate::sys::mknod_block(&dev.node, major, minor)?;
            }
            Err(e) => return Err(e),
        }
        dev.removed = false;
        Ok(dev)
    }

    /// The block device node to mount.
    pub fn node(&self) -> &Path {
        &self.node
    }

    /// The device-mapper name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Removes the device (retrying while the kernel still holds it briefly).
    pub fn remove(mut self) -> io::Result<()> {
        self.do_remove()
    }

    fn do_remove(&mut self) -> io::Result<()> {
        if self.removed {
            return Ok(());
        }
        let _ = std::fs::remove_file(&self.node);
        let mut tries = 0;
        loop {
            match simple(&self.control, DM_DEV_REMOVE, &self.name, 0) {
                Ok(_) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
        self.removed = true;
        Ok(())
    }
}

impl Drop for DmDevice {
    fn drop(&mut self) {
        if let Err(e) = self.do_remove() {
            tracing::error!(name = %self.name, error = %e, "device-mapper remove failed");
        }
    }
}

/// Removes device `name`, left behind by a process that died (the caller has made sure it
/// was ours and that its owner is gone). A device that does not exist is not an error.
pub fn remove_stale(name: &str) -> io::Result<()> {
    let control = OpenOptions::new().read(true).write(true).open(CONTROL)?;
    let mut dev = DmDevice {
        control,
        name: name.to_owned(),
        node: PathBuf::new(),
        removed: false,
    };
    dev.do_remove()
}

/// Whether this kernel offers device-mapper.
pub fn available() -> bool {
    Path::new(CONTROL).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_cryptsetup_format() {
        let seg = Segment {
            offset: 16 * 1024 * 1024,
            size: None,
            iv_tweak: 0,
            sector_size: 4096,
        };
        let key = VolumeKey::new(Zeroizing::new((0..64u8).collect()));
        let p = crypt_params(&seg, &key, (7, 3));
        let hex: String = (0..64u8).map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            p.as_str(),
            format!("aes-xts-plain64 {hex} 0 7:3 32768 1 sector_size:4096")
        );
        let seg512 = Segment {
            sector_size: 512,
            iv_tweak: 5,
            ..seg
        };
        assert!(crypt_params(&seg512, &key, (7, 3)).ends_with(" 5 7:3 32768"));
    }

    #[test]
    fn ioctl_numbers() {
        assert_eq!(iowr(DM_DEV_CREATE), 0xc138_fd03);
        assert_eq!(iowr(DM_TABLE_LOAD), 0xc138_fd09);
    }
}
