//! One process for all filesystems: bring every image up, signal readiness, wait for SIGTERM,
//! tear everything down in reverse order.
//!
//! Start-up goes in phases so that a bad input fails before anything is mounted:
//! 1. claim each mount point ([`stale::Lock`]) and clear what a crashed run left there;
//! 2. open each image and read and validate its LUKS2 header (once; the validated header is
//!    what gets mounted, the host cannot swap it afterwards);
//! 3. get each key file (raw key or secure key release) and unlock a keyslot;
//! 4. mount each, in input order (dm-crypt where device-mapper exists, else the userspace
//!    AES-XTS view), each published as a symlink at its mount point.
//!
//! A failure anywhere tears down what was already mounted and returns the error. A SIGTERM
//! during start-up stops it the same way between steps.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use csc_azure::http::{HttpClient, HttpConfig};
use csc_mount::cache::CacheStats;
use csc_mount::luks2::Luks2Header;
use csc_mount::mount::{Exposure, MountRequest, Mounted};
use csc_mount::store::Counters;
use csc_mount::{BlockCache, CacheConfig, FuseOptions, VolumeKey};

use crate::args::Args;
use crate::error::{Error, Step};
use crate::input::{FilesystemPlan, KeySpec, Plan};
use crate::key::{self, KeyRelease};
use crate::stale::{self, Lock};
use crate::store::{self, Opened, StoreContext};

/// Largest read-ahead or write-back request to a blob (Put Page takes up to 4 MiB; larger
/// requests did not read faster from Azurite and double the memory a response holds).
pub const REMOTE_REQUEST: usize = 2 << 20;
/// Read-ahead requests to a blob in flight at once: the whole window of a 16 MiB cache.
pub const REMOTE_READ_AHEAD_REQUESTS: usize = 6;
/// Largest read-ahead request to a local file.
pub const LOCAL_REQUEST: usize = 1 << 20;
/// Read-ahead of a local file at most.
pub const LOCAL_READ_AHEAD: usize = 4 << 20;
/// FUSE threads serving a blob-backed file.
pub const REMOTE_FUSE_THREADS: usize = 16;

/// The device-mapper control node.
pub const DM_CONTROL: &str = "/dev/mapper/control";

/// Whether device-mapper works here: its control node exists *and* opens (a node left by a
/// tool on a kernel without device-mapper fails with ENODEV).
pub fn dm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(DM_CONTROL)
        .is_ok()
}

/// How filesystems are brought up (everything but the input).
#[derive(Debug, Clone)]
pub struct Settings {
    /// dm-crypt, userspace or decide ([`dm_usable`]).
    pub exposure: Exposure,
    /// Cache block size (upstream: 512 KiB).
    pub block_size: usize,
    /// Bytes of cache per filesystem (upstream: 32 blocks, 16 MiB).
    pub cache_size: usize,
    /// FUSE options.
    pub fuse: FuseOptions,
    /// Where private mount directories go (`$TMPDIR`).
    pub work_dir: PathBuf,
    /// HTTP settings for blob storage and Azure services.
    pub http: HttpConfig,
    /// IMDS base URL override.
    pub imds: Option<String>,
}

impl Settings {
    /// From the command line (reads `-cafile`).
    pub fn from_args(args: &Args) -> Result<Self, Error> {
        let mut http = HttpConfig::default();
        if let Some(ca) = &args.ca_file {
            http = http
                .with_ca_file(ca)
                .map_err(|e| Error::Usage(format!("-cafile: {e}")))?;
        }
        Ok(Self {
            exposure: args.exposure,
            block_size: args.block_size,
            cache_size: args.cache_size,
            fuse: FuseOptions::default(),
            work_dir: std::env::temp_dir(),
            http,
            imds: args.imds.clone(),
        })
    }

    /// The cache for a store. A blob is read ahead as far as the cache allows, in requests
    /// of up to [`REMOTE_REQUEST`], several at a time: every request is a round trip of
    /// milliseconds, and a few large ones in flight is what keeps a sequential reader busy.
    /// A local file is read ahead less and in smaller requests.
    pub fn cache_for(&self, remote: bool) -> CacheConfig {
        let bs = self.block_size;
        let request = |bytes: usize| (bytes / bs).max(1) * bs;
        if remote {
            CacheConfig {
                block_size: bs,
                capacity: self.cache_size,
                read_ahead: self.cache_size / 4 * 3,
                max_request: request(REMOTE_REQUEST),
                fetch_threads: REMOTE_READ_AHEAD_REQUESTS,
            }
        } else {
            CacheConfig {
                block_size: bs,
                capacity: self.cache_size,
                read_ahead: (self.cache_size / 2).min(LOCAL_READ_AHEAD),
                max_request: request(LOCAL_REQUEST),
                fetch_threads: 4,
            }
        }
    }

    /// FUSE settings for a store: a blob gets enough request threads for 16 random reads
    /// in flight (each waits a round trip).
    pub fn fuse_for(&self, remote: bool) -> FuseOptions {
        FuseOptions {
            threads: if remote {
                REMOTE_FUSE_THREADS
            } else {
                self.fuse.threads
            },
            ..self.fuse.clone()
        }
    }

    fn resolve_exposure(&self) -> Result<Exposure, String> {
        match self.exposure {
            Exposure::Auto if dm_usable() => Ok(Exposure::DmCrypt),
            Exposure::Auto => Ok(Exposure::Userspace),
            Exposure::DmCrypt if !dm_usable() => Err(format!(
                "-exposure dm-crypt: device-mapper is not available ({DM_CONTROL} does not open)"
            )),
            e => Ok(e),
        }
    }
}

/// One mounted filesystem.
#[derive(Debug)]
pub struct MountedFs {
    /// Position in `azure_filesystems`.
    pub index: usize,
    /// The published symlink.
    pub mount_point: PathBuf,
    /// `PageBlob`, `BlockBlob` or `file`.
    pub kind: String,
    /// Requests that reached the store.
    pub counters: Arc<Counters>,
    mounted: Option<Mounted>,
    lock: Option<Lock>,
}

impl MountedFs {
    /// The csc-mount handle (exposure, cache statistics, FUSE file).
    pub fn mounted(&self) -> Option<&Mounted> {
        self.mounted.as_ref()
    }

    fn teardown(&mut self) -> Result<(), String> {
        // A handle on the cache outlives the teardown so that its counters include the last
        // write-back (which the teardown has done by the time it returns).
        let cache = self.mounted.as_ref().map(|m| m.cache().clone());
        let result = match self.mounted.take() {
            Some(m) => m.teardown().map_err(|e| e.to_string()),
            None => Ok(()),
        };
        log_requests(self.index, &self.counters, cache.as_ref(), "at teardown");
        drop(cache);
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
        result
    }
}

/// Logs (info) what reached a filesystem's store and what its cache did.
fn log_requests(index: usize, store: &Counters, cache: Option<&BlockCache>, when: &str) {
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let stats = cache.map(BlockCache::stats);
    let cached = |f: fn(&CacheStats) -> &AtomicU64| stats.map_or(0, |s| get(f(s)));
    tracing::info!(
        index,
        reads = get(&store.reads),
        read_bytes = get(&store.read_bytes),
        writes = get(&store.writes),
        written_bytes = get(&store.written_bytes),
        cache_hits = cached(|s| &s.hits),
        cache_waits = cached(|s| &s.waited),
        cache_misses = cached(|s| &s.misses),
        prefetched = cached(|s| &s.prefetched),
        read_ahead_requests = cached(|s| &s.read_ahead_requests),
        bypassed = cached(|s| &s.bypassed),
        shared = cached(|s| &s.shared),
        uploads = cached(|s| &s.written_back),
        peak_blocks = cached(|s| &s.peak_blocks),
        "source requests {when}"
    );
}

/// Every filesystem of the input, mounted. Dropping it tears everything down; prefer
/// [`Sidecar::shutdown`], which reports failures.
#[derive(Debug)]
pub struct Sidecar {
    filesystems: Vec<MountedFs>,
    // Dropped after the filesystems: their write-back needs the runtime.
    runtime: Option<tokio::runtime::Runtime>,
}

/// A filesystem between the steps of start-up.
struct Pending<'p> {
    plan: &'p FilesystemPlan,
    lock: Option<Lock>,
    opened: Option<Opened>,
    header: Option<Luks2Header>,
    key: Option<VolumeKey>,
}

fn fail(plan: &FilesystemPlan, step: Step, detail: impl ToString) -> Error {
    Error::Filesystem {
        index: plan.index,
        mount_point: plan.mount_point.clone(),
        step,
        detail: detail.to_string(),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("encfs-io")
        .enable_all()
        .build()
        .map_err(|e| Error::Setup {
            what: "async runtime",
            detail: e.to_string(),
        })
}

impl Sidecar {
    /// Brings up every filesystem of `plan`. `stop` is polled between steps and returns the
    /// number of a termination signal that arrived.
    pub fn start(
        plan: &Plan,
        settings: &Settings,
        releaser: &dyn KeyRelease,
        stop: &dyn Fn() -> Option<i32>,
    ) -> Result<Self, Error> {
        let rt = runtime()?;
        let http = {
            let _inside = rt.enter();
            HttpClient::new(settings.http.clone()).map_err(|e| Error::Setup {
                what: "HTTP client",
                detail: e.to_string(),
            })?
        };
        let ctx = StoreContext::new(
            rt.handle().clone(),
            http,
            &plan.azure_info.identity,
            settings.imds.as_deref(),
        );
        let mut me = Sidecar {
            filesystems: Vec::new(),
            runtime: Some(rt),
        };
        let mut pending: Vec<Pending<'_>> = plan
            .filesystems
            .iter()
            .map(|p| Pending {
                plan: p,
                lock: None,
                opened: None,
                header: None,
                key: None,
            })
            .collect();
        let result = me.bring_up(&mut pending, settings, &ctx, releaser, stop);
        // Locks of filesystems that never got mounted.
        for p in pending {
            if let Some(lock) = p.lock {
                lock.release();
            }
        }
        match result {
            Ok(()) => Ok(me),
            Err(e) => {
                if let Err(t) = me.teardown_all() {
                    tracing::error!(error = %t, "teardown after a failed start");
                }
                Err(e)
            }
        }
    }

    fn bring_up(
        &mut self,
        pending: &mut [Pending<'_>],
        settings: &Settings,
        ctx: &StoreContext,
        releaser: &dyn KeyRelease,
        stop: &dyn Fn() -> Option<i32>,
    ) -> Result<(), Error> {
        let check = || stop().map_or(Ok(()), |s| Err(Error::Interrupted(s)));
        let exposure = settings.resolve_exposure().map_err(Error::Usage)?;
        for p in pending.iter_mut() {
            check()?;
            let plan = p.plan;
            stale::check_parent(plan).map_err(|e| fail(plan, Step::Prepare, e))?;
            let lock = Lock::acquire(plan).map_err(|e| fail(plan, Step::Prepare, e))?;
            p.lock = Some(lock);
            let done = p
                .lock
                .as_ref()
                .map(|l| stale::clean(plan, l))
                .transpose()
                .map_err(|e| fail(plan, Step::Prepare, e))?
                .unwrap_or_default();
            for d in done {
                tracing::warn!(index = plan.index, "previous run: {d}");
            }
        }
        for p in pending.iter_mut() {
            check()?;
            let plan = p.plan;
            let opened = store::open(&plan.source, plan.read_write, ctx)
                .map_err(|e| fail(plan, Step::Open, e))?;
            tracing::info!(
                index = plan.index,
                kind = %opened.kind,
                size = opened.store.size(),
                "opened {}",
                plan.source
            );
            let header = Luks2Header::read(opened.store.as_ref())
                .map_err(|e| fail(plan, Step::Header, e))?;
            tracing::info!(
                index = plan.index,
                uuid = %header.uuid,
                keyslots = header.keyslots.len(),
                data_bytes = header.data_size,
                sector_size = header.segment.sector_size,
                "LUKS2 header valid"
            );
            p.opened = Some(opened);
            p.header = Some(header);
        }
        let handle = ctx.rt.clone();
        for p in pending.iter_mut() {
            check()?;
            let plan = p.plan;
            let key_file =
                key::key_file(&plan.key, releaser, &handle).map_err(|source| Error::Key {
                    index: plan.index,
                    mount_point: plan.mount_point.clone(),
                    source,
                })?;
            let (Some(opened), Some(header)) = (&p.opened, &p.header) else {
                return Err(fail(plan, Step::Unlock, "image not opened"));
            };
            let volume_key = header
                .unlock(opened.store.as_ref(), &key_file.passphrase())
                .map_err(|e| fail(plan, Step::Unlock, e))?;
            tracing::info!(
                index = plan.index,
                key = match plan.key {
                    KeySpec::Raw(_) => "raw_key",
                    KeySpec::Release { .. } => "released",
                },
                "unlocked"
            );
            p.key = Some(volume_key);
        }
        for p in pending.iter_mut() {
            check()?;
            let plan = p.plan;
            let (Some(opened), Some(header), Some(key)) =
                (p.opened.take(), p.header.take(), p.key.take())
            else {
                return Err(fail(plan, Step::Mount, "image not unlocked"));
            };
            let remote = opened.kind != "file";
            let mounted = csc_mount::mount(MountRequest {
                store: opened.store,
                header,
                key,
                mount_point: plan.mount_point.clone(),
                name: plan.name(),
                read_write: plan.read_write,
                cache: settings.cache_for(remote),
                exposure,
                work_dir: settings.work_dir.clone(),
                fuse: settings.fuse_for(remote),
            })
            .map_err(|e| fail(plan, Step::Mount, e))?;
            let mut lock = p.lock.take();
            if let (Some(l), Some(file)) = (lock.as_mut(), mounted.fuse_file())
                && let Some(dir) = file.parent()
                && let Err(e) = l.record(dir)
            {
                tracing::warn!(index = plan.index, error = %e, "cannot record the FUSE directory for crash cleanup");
            }
            tracing::info!(
                index = plan.index,
                mount_point = %plan.mount_point.display(),
                exposure = ?mounted.exposure(),
                read_write = plan.read_write,
                "published"
            );
            log_requests(
                plan.index,
                &opened.counters,
                Some(mounted.cache()),
                "to mount",
            );
            self.filesystems.push(MountedFs {
                index: plan.index,
                mount_point: plan.mount_point.clone(),
                kind: opened.kind,
                counters: opened.counters,
                mounted: Some(mounted),
                lock,
            });
        }
        Ok(())
    }

    /// The mounted filesystems, in input order.
    pub fn filesystems(&self) -> &[MountedFs] {
        &self.filesystems
    }

    fn teardown_all(&mut self) -> Result<(), Error> {
        let mut failures = Vec::new();
        while let Some(mut fs) = self.filesystems.pop() {
            if let Err(e) = fs.teardown() {
                tracing::error!(index = fs.index, error = %e, "teardown failed");
                failures.push(format!("azure_filesystems[{}]: {e}", fs.index));
            }
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Teardown(failures.join("; ")))
        }
    }

    /// Unpublishes, unmounts, detaches and writes back every filesystem, last one first.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.teardown_all()
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.teardown_all();
    }
}

/// Writes the ready file, logging (not failing) when it cannot.
fn set_ready(path: Option<&Path>, contents: &[u8]) {
    if let Some(p) = path
        && let Err(e) = stale::write_atomically(p, contents)
    {
        tracing::warn!(path = %p.display(), error = %e, "cannot write the ready file");
    }
}

/// The whole sidecar: parse, bring up, mark ready, wait for a termination signal, tear down.
/// `signals` must have been blocked before any thread was started.
pub fn run(args: Args, signals: csc_mount::signals::TermSignals) -> Result<(), Error> {
    let ready = args.ready_file.as_deref();
    if let Some(p) = ready {
        let _ = std::fs::remove_file(p);
    }
    let result = run_inner(&args, signals);
    if let Err(e) = &result
        && !matches!(e, Error::Interrupted(_))
    {
        set_ready(ready, b"0\n");
    }
    result
}

fn run_inner(args: &Args, signals: csc_mount::signals::TermSignals) -> Result<(), Error> {
    let plan = crate::input::parse(&args.base64)?;
    for w in &plan.warnings {
        tracing::warn!("EncfsSideCarArgs: {w}");
    }
    tracing::info!("{} filesystems to mount:", plan.filesystems.len());
    for fs in &plan.filesystems {
        tracing::info!(
            "  {} -> {} (read-write: {})",
            fs.mount_point.display(),
            fs.source,
            fs.read_write
        );
    }
    let settings = Settings::from_args(args)?;
    let releaser = key::SecureKeyRelease::new(key::with_trusted_ark(
        key::release_config(
            &plan.azure_info,
            settings.http.clone(),
            settings.imds.as_deref(),
        ),
        args.trust_ark.as_deref(),
    )?);
    let ready = args.ready_file.as_deref();
    let (tx, rx) = std::sync::mpsc::channel::<i32>();
    let caught = Arc::new(std::sync::atomic::AtomicI32::new(0));
    {
        let caught = caught.clone();
        std::thread::Builder::new()
            .name("encfs-signals".into())
            .spawn(move || {
                while let Ok(sig) = signals.wait() {
                    caught.store(sig, Ordering::SeqCst);
                    if tx.send(sig).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Error::Setup {
                what: "signal thread",
                detail: e.to_string(),
            })?;
    }
    let stop = || Some(caught.load(Ordering::SeqCst)).filter(|s| *s != 0);
    let sidecar = match Sidecar::start(&plan, &settings, &releaser, &stop) {
        Ok(s) => s,
        Err(e @ Error::Interrupted(_)) => {
            tracing::warn!("{e}; everything mounted so far was torn down");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    set_ready(ready, b"1\n");
    tracing::info!(
        count = sidecar.filesystems().len(),
        "all filesystems mounted and published; ready"
    );
    let sig = rx.recv().unwrap_or(SIGTERM);
    tracing::info!(signal = sig, "terminating: unmounting and writing back");
    if let Some(p) = ready {
        let _ = std::fs::remove_file(p);
    }
    let result = sidecar.shutdown();
    if result.is_ok() {
        tracing::info!("every filesystem unmounted and written back");
    }
    result
}

/// SIGTERM's number on Linux.
const SIGTERM: i32 = 15;
