//! A FUSE file that behaves like `/dev/sev-guest`, backed by the simulated PSP: so the real
//! ioctl code of `csc-sev` runs end to end through the kernel on a machine without SNP
//! hardware. Feature `sevguestfs`; mounting needs root (no libfuse is used), and so does
//! reaching into the caller's memory.
//!
//! The kernel hands a FUSE server the `snp_guest_request_ioctl` argument itself (its size is
//! encoded in the request number); the request and response buffers it points to are read
//! and written in the calling process through `/proc/PID/mem`, as the driver's
//! `copy_from_user`/`copy_to_user` do. In between, this file plays the driver: it keeps a
//! [`GuestChannel`] on the VMPCK of the guest's VMPL (the driver's default `vmpck_id`) and
//! passes the request payload through it to the PSP, so every ioctl is a real sealed guest
//! message. What it reproduces of `drivers/virt/coco/sev-guest`:
//! - `SNP_GET_REPORT` (96-byte `snp_report_req` in, 4000-byte `snp_report_resp` out) and
//!   `SNP_GET_DERIVED_KEY` (32 bytes in, 64 out): the decrypted response payload is copied
//!   out, so a refusal by the PSP is a successful ioctl whose STATUS field says why;
//! - `msg_version` 0 or a null buffer: EINVAL; any other request number: ENOTTY;
//! - a failed guest request: EIO with EXIT_INFO_2 written back, and the VMPCK wiped, after
//!   which every request gets ENOTTY (the driver's "VMPCK is disabled").
//!
//! [`MountedSevGuest::fail_next_request`] makes the host fail the next guest request.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use csc_core::guest::key::{KEY_REQ_SIZE, KEY_RSP_KEY_OFFSET, KEY_RSP_SIZE};
use csc_core::guest::report::{REPORT_REQ_SIZE, REPORT_RSP_REPORT_OFFSET};
use csc_core::guest::{
    ExitInfo2, FirmwareStatus, GuestChannel, GuestError, GuestTransport, KeyRequest,
    REPORT_RESPONSE_BUFFER, ReportMessage, ResponseError, SecretsPage, VmpckId,
};
use fuser::{
    Errno, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, IoctlFlags,
    OpenFlags, ReplyAttr, ReplyDirectory, ReplyEntry, ReplyIoctl, ReplyOpen, Request,
};
use zeroize::Zeroizing;

use crate::fuse::{Mounted, attr};
use crate::psp::SimulatedPsp;

/// The file's name in the mount.
pub const DEVICE_NAME: &str = "sev-guest";

/// The kernel ABI as this emulator reads it, stated independently of `csc-sev`'s (so a test
/// that drives one with the other checks both): `_IOWR('S', n, 32-byte snp_guest_request_ioctl)`.
pub mod abi {
    /// `SNP_GET_REPORT`.
    pub const SNP_GET_REPORT: u32 = 0xC020_5300;
    /// `SNP_GET_DERIVED_KEY`.
    pub const SNP_GET_DERIVED_KEY: u32 = 0xC020_5301;
    /// `SNP_GET_EXT_REPORT` (not emulated: ENOTTY).
    pub const SNP_GET_EXT_REPORT: u32 = 0xC020_5302;
    /// Size of `snp_guest_request_ioctl`: msg_version (u8, 7 bytes padding), req_data (u64),
    /// resp_data (u64), exitinfo2 (u64).
    pub const IOCTL_ARG_SIZE: usize = 32;
    /// Size of `snp_report_resp`.
    pub const REPORT_RESP_SIZE: usize = 4000;
    /// Size of `snp_derived_key_resp`.
    pub const DERIVED_KEY_RESP_SIZE: usize = 64;
}

const ROOT: u64 = 1;
const DEVICE: u64 = 2;
const TTL: Duration = Duration::ZERO;

/// Counters a test can check.
#[derive(Debug, Default)]
pub struct Stats {
    /// Ioctls received.
    pub ioctls: AtomicU64,
    /// Guest messages the PSP answered.
    pub guest_requests: AtomicU64,
}

/// The transport the emulated driver uses: the PSP, or a host failure when asked for one.
struct Host<'a> {
    psp: &'a SimulatedPsp,
    fail: &'a AtomicBool,
    stats: &'a Stats,
}

impl GuestTransport for Host<'_> {
    type Error = ExitInfo2;
    fn exchange(&mut self, request: &[u8], response: &mut [u8]) -> Result<(), ExitInfo2> {
        if self.fail.swap(false, Ordering::SeqCst) {
            // The host's answer to a throttled request it gave up on: BUSY.
            return Err(ExitInfo2(u64::from(ExitInfo2::VMM_BUSY) << 32));
        }
        self.psp.guest_request(request, response)?;
        self.stats.guest_requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

struct SevGuestFs {
    psp: Arc<SimulatedPsp>,
    channel: Mutex<GuestChannel>,
    fail_next: Arc<AtomicBool>,
    stats: Arc<Stats>,
}

/// The caller's memory, as the driver's `copy_from_user`/`copy_to_user` see it.
struct CallerMemory(std::fs::File);

impl CallerMemory {
    fn open(pid: u32) -> Result<Self, Errno> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/proc/{pid}/mem"))
            .map(CallerMemory)
            .map_err(|_| Errno::EFAULT)
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.0.read_exact_at(buf, addr).map_err(|_| Errno::EFAULT)
    }
    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), Errno> {
        self.0.write_all_at(buf, addr).map_err(|_| Errno::EFAULT)
    }
}

/// What the ioctl returns: 0 or a negative errno, with EXIT_INFO_2.
struct Outcome {
    result: i32,
    exitinfo2: u64,
}

impl Outcome {
    const OK: Outcome = Outcome {
        result: 0,
        exitinfo2: 0,
    };
}

impl SevGuestFs {
    fn channel(&self) -> std::sync::MutexGuard<'_, GuestChannel> {
        self.channel.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the driver does with a guest message that did not yield a response payload.
    fn failed(e: &GuestError<ExitInfo2>) -> Outcome {
        let errno = |e: i32| Outcome {
            result: -e,
            exitinfo2: 0,
        };
        match e {
            GuestError::Disabled => errno(libc::ENOTTY),
            GuestError::Transport(x) => Outcome {
                result: -libc::EIO,
                exitinfo2: x.0,
            },
            GuestError::Sequence(_) => errno(libc::EIO),
            _ => errno(libc::EBADMSG),
        }
    }

    fn derived_key(
        &self,
        mem: &CallerMemory,
        req_addr: u64,
        resp_addr: u64,
    ) -> Result<Outcome, Errno> {
        let mut req = [0u8; KEY_REQ_SIZE];
        mem.read(req_addr, &mut req)?;
        let mut resp = Zeroizing::new([0u8; abi::DERIVED_KEY_RESP_SIZE]);
        let mut host = self.host();
        let status = match KeyRequest::decode(&req) {
            // The driver passes the bytes on; the PSP refuses what it cannot read.
            Err(_) => FirmwareStatus::INVALID_PARAM,
            Ok(request) => match self.channel().derive_key(&mut host, &request) {
                Ok(key) => {
                    resp[KEY_RSP_KEY_OFFSET..KEY_RSP_SIZE].copy_from_slice(key.as_bytes());
                    FirmwareStatus::SUCCESS
                }
                Err(GuestError::Response(ResponseError::Status { status, .. })) => status,
                Err(e) => return Ok(Self::failed(&e)),
            },
        };
        resp[..4].copy_from_slice(&status.0.to_le_bytes());
        mem.write(resp_addr, &resp[..])?;
        Ok(Outcome::OK)
    }

    fn report(&self, mem: &CallerMemory, req_addr: u64, resp_addr: u64) -> Result<Outcome, Errno> {
        let mut req = [0u8; REPORT_REQ_SIZE];
        mem.read(req_addr, &mut req)?;
        let mut resp = vec![0u8; abi::REPORT_RESP_SIZE];
        let mut host = self.host();
        let status = match ReportMessage::decode(&req) {
            Err(_) => FirmwareStatus::INVALID_PARAM,
            Ok(message) => {
                let mut buf = [0u8; REPORT_RESPONSE_BUFFER];
                match self.channel().report(&mut host, &message, &mut buf) {
                    Ok(report) => {
                        let bytes = report.as_bytes();
                        resp[4..8].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
                        resp[REPORT_RSP_REPORT_OFFSET..REPORT_RSP_REPORT_OFFSET + bytes.len()]
                            .copy_from_slice(bytes);
                        FirmwareStatus::SUCCESS
                    }
                    Err(GuestError::Response(ResponseError::Status { status, .. })) => status,
                    Err(e) => return Ok(Self::failed(&e)),
                }
            }
        };
        resp[..4].copy_from_slice(&status.0.to_le_bytes());
        mem.write(resp_addr, &resp)?;
        Ok(Outcome::OK)
    }

    fn host(&self) -> Host<'_> {
        Host {
            psp: &self.psp,
            fail: &self.fail_next,
            stats: &self.stats,
        }
    }
}

impl Filesystem for SevGuestFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        if parent.0 == ROOT && name == DEVICE_NAME {
            reply.entry(
                &TTL,
                &attr(DEVICE, FileType::RegularFile, 0o600),
                Generation(0),
            );
        } else {
            reply.error(Errno::ENOENT);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match ino.0 {
            ROOT => reply.attr(&TTL, &attr(ROOT, FileType::Directory, 0o755)),
            DEVICE => reply.attr(&TTL, &attr(DEVICE, FileType::RegularFile, 0o600)),
            _ => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match ino.0 {
            DEVICE => reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO),
            _ => reply.error(Errno::EISDIR),
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
        if ino.0 != ROOT {
            return reply.error(Errno::ENOTDIR);
        }
        let list = [
            (ROOT, FileType::Directory, "."),
            (ROOT, FileType::Directory, ".."),
            (DEVICE, FileType::RegularFile, DEVICE_NAME),
        ];
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (ino, kind, name)) in list.into_iter().enumerate().skip(skip) {
            if reply.add(INodeNo(ino), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn ioctl(
        &self,
        req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        cmd: u32,
        in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        self.stats.ioctls.fetch_add(1, Ordering::Relaxed);
        if ino.0 != DEVICE || !matches!(cmd, abi::SNP_GET_REPORT | abi::SNP_GET_DERIVED_KEY) {
            return reply.error(Errno::ENOTTY);
        }
        let Ok(mut arg) = <[u8; abi::IOCTL_ARG_SIZE]>::try_from(in_data) else {
            return reply.error(Errno::EINVAL);
        };
        let word = |at: usize| u64::from_le_bytes(arg[at..at + 8].try_into().unwrap_or([0; 8]));
        let (msg_version, req_addr, resp_addr) = (arg[0], word(8), word(16));
        if msg_version == 0 || req_addr == 0 || resp_addr == 0 {
            return reply.error(Errno::EINVAL);
        }
        let mem = match CallerMemory::open(req.pid()) {
            Ok(m) => m,
            Err(e) => return reply.error(e),
        };
        let outcome = if cmd == abi::SNP_GET_DERIVED_KEY {
            self.derived_key(&mem, req_addr, resp_addr)
        } else {
            self.report(&mem, req_addr, resp_addr)
        };
        match outcome {
            Ok(o) => {
                arg[24..32].copy_from_slice(&o.exitinfo2.to_le_bytes());
                reply.ioctl(o.result, &arg);
            }
            Err(e) => reply.error(e),
        }
    }
}

/// A mounted fake `/dev/sev-guest`; unmounted when dropped.
pub struct MountedSevGuest {
    mount: Mounted,
    fail_next: Arc<AtomicBool>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for MountedSevGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountedSevGuest")
            .field("mountpoint", &self.mount.path())
            .finish_non_exhaustive()
    }
}

impl MountedSevGuest {
    /// Mounts the device at `mountpoint` (an existing empty directory), answering through
    /// `psp` on the VMPCK of the platform's guest VMPL.
    pub fn mount(psp: Arc<SimulatedPsp>, mountpoint: &Path) -> io::Result<Self> {
        let vmpl = psp.platform().config().guest_vmpl.get();
        let id = VmpckId::new(vmpl).ok_or_else(|| io::Error::other("VMPL above 3"))?;
        // The driver's counter starts where the PSP's is (the kernel keeps it in the secrets
        // page); a withheld VMPCK gives a channel that refuses everything.
        let page = psp.secrets_page();
        let key = SecretsPage::parse(&page[..])
            .map_err(io::Error::other)?
            .vmpck(id);
        let channel = GuestChannel::new(key, id, psp.last_seqno(id));
        let stats = Arc::new(Stats::default());
        let fail_next = Arc::new(AtomicBool::new(false));
        let fs = SevGuestFs {
            psp,
            channel: Mutex::new(channel),
            fail_next: Arc::clone(&fail_next),
            stats: Arc::clone(&stats),
        };
        Ok(MountedSevGuest {
            mount: Mounted::spawn(fs, mountpoint, "csc-sevguestfs")?,
            fail_next,
            stats,
        })
    }

    /// The device path: pass it where `/dev/sev-guest` would go.
    pub fn device(&self) -> PathBuf {
        self.mount.path().join(DEVICE_NAME)
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Makes the host fail the next guest request (the driver then wipes its VMPCK).
    pub fn fail_next_request(&self) {
        self.fail_next.store(true, Ordering::SeqCst);
    }

    /// Unmounts and waits for the server thread.
    pub fn unmount(mut self) -> io::Result<()> {
        self.mount.unmount()
    }
}
