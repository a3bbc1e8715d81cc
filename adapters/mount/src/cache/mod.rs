//! A block cache over a [`BlockStore`], built for stores where every request costs a round
//! trip (Azure page blobs: milliseconds each) and still cheap over a local file.
//!
//! Reads:
//! - sequential streams are detected ([`stream`]) and read ahead in a window that grows
//!   while the reader keeps up, in requests of up to [`CacheConfig::max_request`] bytes,
//!   several in flight ([`CacheConfig::fetch_threads`]); blocks a stream has passed are the
//!   first evicted;
//! - other reads fetch what was asked, rounded out to 4 KiB, and leave the cache alone; the
//!   same range missed by several threads at once is fetched once ([`inflight`]);
//! - the cache holds [`CacheConfig::capacity`] bytes in blocks of [`CacheConfig::block_size`].
//!
//! Writes ([`write`]): only the 512-byte pages written are marked dirty; a block written
//! before it was ever read is not fetched (its unwritten pages are fetched only if someone
//! reads them). Write-back uploads the dirty page ranges, coalesced, each conditioned on the
//! version the previous write returned, so a foreign writer is detected, never overwritten.
//! [`BlockCache::sync`] returns once every dirty range is written and the store flushed.
//!
//! Locking: shard locks (the block map) are never held across I/O; an entry's data lock is
//! held only to copy bytes. Store requests run on the caller's thread or on the fetch pool.

pub mod inflight;
pub mod pages;
mod read;
pub mod stream;
#[cfg(test)]
mod tests;
mod write;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;

use crate::store::{BlockStore, StoreError, Version};
use inflight::InFlight;
use pages::{PAGE, PageSet};
use stream::{StreamConfig, Streams};

/// Cache geometry and concurrency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Bytes per block (upstream `-blocksize` 512 KiB); a multiple of 4 KiB.
    pub block_size: usize,
    /// Bytes of blocks kept (upstream: 32 blocks of 512 KiB, 16 MiB).
    pub capacity: usize,
    /// Most bytes read ahead of a sequential reader (0 turns read-ahead off); at most
    /// three quarters of the capacity are used.
    pub read_ahead: usize,
    /// Largest store request for read-ahead and write-back; a multiple of the block size.
    pub max_request: usize,
    /// Read-ahead requests in flight at once.
    pub fetch_threads: usize,
}

/// Upstream azmount's block size.
pub const DEFAULT_BLOCK_SIZE: usize = 512 * 1024;
/// Upstream azmount's cache: 32 blocks of 512 KiB.
pub const DEFAULT_CAPACITY: usize = 32 * DEFAULT_BLOCK_SIZE;

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            block_size: DEFAULT_BLOCK_SIZE,
            capacity: DEFAULT_CAPACITY,
            read_ahead: 4 * 1024 * 1024,
            max_request: 2 * 1024 * 1024,
            fetch_threads: 4,
        }
    }
}

/// Smallest block size accepted (upstream requires at least 4 KiB and multiples of it).
pub const MIN_BLOCK_SIZE: usize = 4096;
/// Reads that bypass the cache are rounded out to this.
pub const READ_ROUNDING: u64 = 4096;
/// Bytes a stream must cover before it counts as sequential.
const CONFIRM_BYTES: u64 = 128 * 1024;
/// Write-backs one insertion may wait for before it goes over capacity.
const MAX_FLUSHES_PER_INSERT: u32 = 4;

/// A configuration the cache cannot work with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Block size not a positive multiple of 4 KiB.
    #[error("block size {0} is not a positive multiple of 4096")]
    BlockSize(usize),
    /// Capacity below one block.
    #[error("cache capacity {capacity} is smaller than one block of {block_size} bytes")]
    Capacity {
        /// Bytes asked for.
        capacity: usize,
        /// The block size.
        block_size: usize,
    },
    /// Request size not a positive multiple of the block size.
    #[error(
        "largest request {max_request} is not a positive multiple of the block size {block_size}"
    )]
    MaxRequest {
        /// Bytes asked for.
        max_request: usize,
        /// The block size.
        block_size: usize,
    },
}

/// What the cache did, counted.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Block reads served from the cache (or from a fetch already under way).
    pub hits: AtomicU64,
    /// Of those, reads that had to wait for the fetch under way (read-ahead behind).
    pub waited: AtomicU64,
    /// Blocks a sequential reader had to fetch itself.
    pub misses: AtomicU64,
    /// Blocks fetched ahead of a reader.
    pub prefetched: AtomicU64,
    /// Store requests made for read-ahead.
    pub read_ahead_requests: AtomicU64,
    /// Reads served by a ranged read of just the bytes asked for.
    pub bypassed: AtomicU64,
    /// Of those, reads that shared another reader's request.
    pub shared: AtomicU64,
    /// Page ranges uploaded by write-back.
    pub written_back: AtomicU64,
    /// Most blocks held at once (above the capacity only while every block is in use).
    pub peak_blocks: AtomicU64,
}

impl CacheStats {
    /// `name=value` pairs for a log line.
    pub fn summary(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "hits={} waited={} misses={} prefetched={} read_ahead_requests={} bypassed={} shared={} written_back={} peak_blocks={}",
            g(&self.hits),
            g(&self.waited),
            g(&self.misses),
            g(&self.prefetched),
            g(&self.read_ahead_requests),
            g(&self.bypassed),
            g(&self.shared),
            g(&self.written_back),
            g(&self.peak_blocks)
        )
    }
}

enum State {
    Loading,
    Ready,
    Failed(String),
}

/// The bytes of one block and what is known about them.
struct Block {
    bytes: Vec<u8>,
    /// Pages holding the store's content or our writes; others are unknown.
    valid: PageSet,
    /// Pages written and not yet uploaded.
    dirty: PageSet,
}

struct Entry {
    index: u64,
    state: Mutex<State>,
    ready: Condvar,
    data: RwLock<Block>,
    /// Mirrors `data.dirty.any()` for scans that should not take the data lock.
    dirty: AtomicBool,
    last_use: AtomicU64,
}

impl Entry {
    fn read(&self) -> RwLockReadGuard<'_, Block> {
        self.data.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Block> {
        self.data.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// How a block enters the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// To be fetched by whoever inserted it.
    Loading,
    /// About to be written: nothing known yet, nothing fetched.
    Unknown,
}

struct Shard {
    map: HashMap<u64, Arc<Entry>>,
}

type Job = Box<dyn FnOnce() + Send>;

struct Inner {
    store: Arc<dyn BlockStore>,
    block_size: u64,
    size: u64,
    max_request: u64,
    shard_cap: usize,
    shards: Box<[Mutex<Shard>]>,
    clock: AtomicU64,
    streams: Streams,
    inflight: InFlight,
    /// Serialises write-back and holds the version the next conditional write expects.
    write_back: Mutex<Option<Version>>,
    /// Set after a conditional write found a foreign change: every later write fails.
    poisoned: Mutex<Option<String>>,
    jobs: Mutex<Option<Sender<Job>>>,
    /// Block buffers of evicted blocks, reused for new ones (no allocator churn: a
    /// sequential read would otherwise allocate and free a block per block read).
    spare: Mutex<Vec<Vec<u8>>>,
    /// Spare buffers kept at most.
    spare_max: usize,
    /// Blocks held now.
    held: AtomicU64,
    stats: CacheStats,
}

/// A block cache; cheap to clone (shared state).
#[derive(Clone)]
pub struct BlockCache {
    inner: Arc<Inner>,
}

impl fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockCache")
            .field("store", &self.inner.store)
            .field("block_size", &self.inner.block_size)
            .field("size", &self.inner.size)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the protected
    // data are plain values that stay consistent, so carry on.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BlockCache {
    /// Builds a cache over `store`.
    pub fn new(store: Arc<dyn BlockStore>, config: &CacheConfig) -> Result<Self, ConfigError> {
        let bs = config.block_size;
        if bs == 0 || !bs.is_multiple_of(MIN_BLOCK_SIZE) {
            return Err(ConfigError::BlockSize(bs));
        }
        if config.capacity < bs {
            return Err(ConfigError::Capacity {
                capacity: config.capacity,
                block_size: bs,
            });
        }
        if config.max_request == 0 || !config.max_request.is_multiple_of(bs) {
            return Err(ConfigError::MaxRequest {
                max_request: config.max_request,
                block_size: bs,
            });
        }
        let blocks = config.capacity / bs;
        // Shards of about eight blocks: enough for a read-ahead window spread over them.
        let nshards = (blocks / 8).clamp(1, 16);
        let shard_cap = blocks.div_ceil(nshards);
        let shards = (0..nshards)
            .map(|_| {
                Mutex::new(Shard {
                    map: HashMap::with_capacity(shard_cap + 1),
                })
            })
            .collect();
        // Read-ahead may fill three quarters of the cache: the rest holds what readers are
        // using and what writers have not uploaded.
        let max_window =
            (config.read_ahead.min(config.capacity / 4 * 3) as u64) / bs as u64 * bs as u64;
        let size = store.size();
        let streams = Streams::new(StreamConfig {
            size,
            block: bs as u64,
            confirm: CONFIRM_BYTES,
            initial_window: (2 * bs as u64).min(max_window),
            max_window,
        });
        let version = store.version();
        let (tx, rx) = channel::<Job>();
        let inner = Arc::new(Inner {
            size,
            store,
            block_size: bs as u64,
            max_request: config.max_request as u64,
            shard_cap,
            shards,
            clock: AtomicU64::new(1),
            streams,
            inflight: InFlight::default(),
            write_back: Mutex::new(version),
            poisoned: Mutex::new(None),
            jobs: Mutex::new(Some(tx)),
            spare: Mutex::new(Vec::new()),
            spare_max: blocks / 2 + config.fetch_threads.max(1),
            held: AtomicU64::new(0),
            stats: CacheStats::default(),
        });
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..config.fetch_threads.max(1) {
            let rx: Arc<Mutex<Receiver<Job>>> = rx.clone();
            // Workers end when the sender is dropped (cache dropped); a spawn failure only
            // means fewer parallel fetches, and loads fall back to the caller's thread.
            let _ = thread::Builder::new()
                .name(format!("csc-fetch-{i}"))
                .spawn(move || {
                    loop {
                        let job = lock(&rx).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
        }
        Ok(Self { inner })
    }

    /// Size of the underlying store.
    pub fn size(&self) -> u64 {
        self.inner.size
    }

    /// Whether the store takes writes.
    pub fn writable(&self) -> bool {
        self.inner.store.writable()
    }

    /// Hit, miss, read-ahead and write-back counts.
    pub fn stats(&self) -> &CacheStats {
        &self.inner.stats
    }

    /// Number of blocks holding writes not yet uploaded.
    pub fn dirty_blocks(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| {
                lock(s)
                    .map
                    .values()
                    .filter(|e| e.dirty.load(Ordering::Acquire))
                    .count()
            })
            .sum()
    }

    /// Number of blocks held.
    pub fn blocks_held(&self) -> usize {
        self.inner.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns how many (short only at end of store).
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        self.inner.read(offset, buf)
    }

    /// Writes `data` at `offset` into the cache (clipped at end of store); durable after
    /// [`BlockCache::sync`].
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<usize, StoreError> {
        self.inner.write(offset, data)
    }

    /// Uploads every dirty page range (conditionally) and flushes the store.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.inner.sync()
    }
}

/// What can make room in a full shard.
enum Victim {
    /// A clean, unused block: dropped.
    Clean(u64),
    /// Only blocks with unsaved writes: write back first.
    Dirty,
    /// Everything is in use.
    None,
}

impl Inner {
    fn shard(&self, index: u64) -> &Mutex<Shard> {
        let n = self.shards.len() as u64;
        // n >= 1 by construction, and the remainder is < n.
        &self.shards[(index % n) as usize]
    }

    fn block_range(&self, index: u64) -> (u64, usize) {
        let start = index * self.block_size;
        let len = self.block_size.min(self.size.saturating_sub(start));
        (start, len as usize)
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The entry for `index`, if held.
    fn lookup(&self, index: u64) -> Option<Arc<Entry>> {
        let shard = lock(self.shard(index));
        let e = shard.map.get(&index)?;
        e.last_use.store(self.tick(), Ordering::Relaxed);
        Some(e.clone())
    }

    /// Finds or inserts the entry for `index`; `true` when it was inserted (as `fresh`). A
    /// full shard makes room by dropping its least recently used clean block, or by writing
    /// back dirty blocks (the writer waits: dirty data never grows the cache); only when
    /// every block is in use does the shard run over capacity for a moment.
    fn get(&self, index: u64, fresh: Fresh) -> (Arc<Entry>, bool) {
        match self.insert(index, fresh, false) {
            Some(got) => got,
            // Unreachable: only read-ahead insertions give up.
            None => self.get(index, fresh),
        }
    }

    /// Inserts a block for read-ahead if there is room without writing anything back or
    /// going over capacity; `None` otherwise (and when the block is already held).
    fn get_ahead(&self, index: u64) -> Option<Arc<Entry>> {
        match self.insert(index, Fresh::Loading, true) {
            Some((e, true)) => Some(e),
            _ => None,
        }
    }

    fn insert(&self, index: u64, fresh: Fresh, ahead: bool) -> Option<(Arc<Entry>, bool)> {
        let mut flushes = 0;
        loop {
            let mut shard = lock(self.shard(index));
            if let Some(e) = shard.map.get(&index) {
                e.last_use.store(self.tick(), Ordering::Relaxed);
                return Some((e.clone(), false));
            }
            let mut must_flush = false;
            while shard.map.len() >= self.shard_cap {
                match self.victim(&shard) {
                    Victim::Clean(i) => {
                        if let Some(e) = shard.map.remove(&i) {
                            self.held.fetch_sub(1, Ordering::Relaxed);
                            self.recycle(e);
                        }
                    }
                    Victim::Dirty | Victim::None if ahead => return None,
                    Victim::Dirty if flushes < MAX_FLUSHES_PER_INSERT => {
                        must_flush = true;
                        break;
                    }
                    // Everything in use, or dirtied again as fast as it is written back:
                    // run over capacity for a moment.
                    Victim::Dirty | Victim::None => break,
                }
            }
            if must_flush {
                drop(shard);
                flushes += 1;
                if let Err(err) = self.flush_dirty() {
                    tracing::error!(error = %err, "write-back to make room failed; blocks kept");
                    flushes = MAX_FLUSHES_PER_INSERT;
                }
                continue;
            }
            let (_, len) = self.block_range(index);
            let pages = len.div_ceil(PAGE);
            let (state, bytes) = match fresh {
                Fresh::Loading => (State::Loading, Vec::new()),
                Fresh::Unknown => (State::Ready, self.buffer(len)),
            };
            let e = Arc::new(Entry {
                index,
                state: Mutex::new(state),
                ready: Condvar::new(),
                data: RwLock::new(Block {
                    bytes,
                    valid: PageSet::empty(pages),
                    dirty: PageSet::empty(pages),
                }),
                dirty: AtomicBool::new(false),
                last_use: AtomicU64::new(self.tick()),
            });
            shard.map.insert(index, e.clone());
            let held = self.held.fetch_add(1, Ordering::Relaxed) + 1;
            self.stats.peak_blocks.fetch_max(held, Ordering::Relaxed);
            return Some((e, true));
        }
    }

    /// The least recently used clean block nobody holds; else whether some block is dirty
    /// (held or not: a write-back under way holds the blocks it saves, and an insertion
    /// should wait for it rather than grow the cache).
    fn victim(&self, shard: &Shard) -> Victim {
        let dirty_seen = shard.map.values().any(|e| e.dirty.load(Ordering::Acquire));
        let clean = shard
            .map
            .values()
            .filter(|e| Arc::strong_count(e) == 1 && !e.dirty.load(Ordering::Acquire))
            .filter(|e| matches!(*lock(&e.state), State::Ready))
            .min_by_key(|e| e.last_use.load(Ordering::Relaxed))
            .map(|e| e.index);
        match (clean, dirty_seen) {
            (Some(i), _) => Victim::Clean(i),
            (None, true) => Victim::Dirty,
            (None, false) => Victim::None,
        }
    }

    /// A zeroed buffer of `len` bytes, reusing an evicted block's when there is one.
    fn buffer(&self, len: usize) -> Vec<u8> {
        match lock(&self.spare).pop() {
            Some(mut b) => {
                b.clear();
                b.resize(len, 0);
                b
            }
            None => vec![0u8; len],
        }
    }

    /// Keeps the buffer of a block that left the cache for the next one.
    fn recycle(&self, e: Arc<Entry>) {
        let Ok(entry) = Arc::try_unwrap(e) else {
            return;
        };
        let block = entry.data.into_inner().unwrap_or_else(|p| p.into_inner());
        let mut spare = lock(&self.spare);
        if spare.len() < self.spare_max && block.bytes.capacity() >= self.block_size as usize {
            spare.push(block.bytes);
        }
    }

    /// Marks a block as passed by a sequential reader: the first to go.
    fn demote(&self, e: &Entry) {
        e.last_use.store(0, Ordering::Relaxed);
    }

    /// Fetches consecutive blocks `run` (inserted as loading) with one store request.
    fn load_run(&self, run: &[Arc<Entry>]) {
        let Some(first) = run.first() else { return };
        let (start, _) = self.block_range(first.index);
        let mut bufs: Vec<Vec<u8>> = run
            .iter()
            .map(|e| self.buffer(self.block_range(e.index).1))
            .collect();
        let result = {
            let mut slices: Vec<&mut [u8]> = bufs.iter_mut().map(Vec::as_mut_slice).collect();
            self.store.read_vectored_at(start, &mut slices)
        };
        for (e, bytes) in run.iter().zip(bufs) {
            match &result {
                Ok(()) => {
                    let pages = bytes.len().div_ceil(PAGE);
                    *e.write() = Block {
                        bytes,
                        valid: PageSet::full(pages),
                        dirty: PageSet::empty(pages),
                    };
                    *lock(&e.state) = State::Ready;
                }
                Err(err) => {
                    *lock(&e.state) = State::Failed(err.to_string());
                    let mut shard = lock(self.shard(e.index));
                    if shard.map.get(&e.index).is_some_and(|x| Arc::ptr_eq(x, e)) {
                        shard.map.remove(&e.index);
                        self.held.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
            e.ready.notify_all();
        }
    }

    /// Waits until `e` is loaded.
    fn wait(&self, e: &Entry) -> Result<(), StoreError> {
        let mut st = lock(&e.state);
        loop {
            match &*st {
                State::Ready => return Ok(()),
                State::Failed(msg) => return Err(StoreError::Remote(msg.clone())),
                State::Loading => st = e.ready.wait(st).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// Runs `job` on the fetch pool, or here when the pool is gone.
    fn spawn(&self, job: Job) {
        let job = match lock(&self.jobs).as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(returned) => returned.0,
            },
            None => job,
        };
        job();
    }

    /// Loads `run` on the fetch pool.
    fn spawn_load(self: &Arc<Self>, run: Vec<Arc<Entry>>) {
        if run.is_empty() {
            return;
        }
        self.stats
            .read_ahead_requests
            .fetch_add(1, Ordering::Relaxed);
        let me = self.clone();
        self.spawn(Box::new(move || me.load_run(&run)));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(err) = self.sync() {
            tracing::error!(error = %err, "write-back when closing the cache failed");
        }
    }
}

impl Drop for BlockCache {
    fn drop(&mut self) {
        // The last user handle going away stops the fetch threads (their jobs hold the state
        // alive only while they run), so that the state's Drop runs the final write-back.
        if Arc::strong_count(&self.inner) == 1 {
            lock(&self.inner.jobs).take();
        }
    }
}
