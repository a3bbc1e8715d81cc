//! An LRU block cache over a [`BlockSource`]: sharded (no global lock on the read path),
//! parallel range fetches on a small thread pool, read-ahead for sequential reads, requests that
//! span blocks, and in read-write mode dirty tracking with conditional write-back.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread;

use crate::source::{BlockSource, SourceError, Version};

/// Cache geometry and concurrency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Bytes per block (upstream `-blocksize` 512 KiB); a multiple of 4 KiB.
    pub block_size: usize,
    /// Blocks kept (upstream `-numblocks` 32).
    pub blocks: usize,
    /// Blocks fetched ahead of a sequential reader (0 turns read-ahead off).
    pub read_ahead: usize,
    /// Threads that fetch blocks in parallel.
    pub fetch_threads: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            block_size: 512 * 1024,
            blocks: 32,
            read_ahead: 4,
            fetch_threads: 4,
        }
    }
}

/// Smallest block size accepted (upstream requires at least 4 KiB and multiples of it).
pub const MIN_BLOCK_SIZE: usize = 4096;

/// A configuration the cache cannot work with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// Block size not a positive multiple of 4 KiB.
    #[error("block size {0} is not a positive multiple of 4096")]
    BlockSize(usize),
    /// Zero blocks.
    #[error("the cache needs at least one block")]
    NoBlocks,
}

/// Hit and miss counts of a cache.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Blocks found in the cache.
    pub hits: AtomicU64,
    /// Blocks fetched on demand.
    pub misses: AtomicU64,
    /// Blocks fetched ahead of a reader.
    pub prefetched: AtomicU64,
    /// Small random reads served by a ranged read of just the bytes asked for.
    pub bypassed: AtomicU64,
    /// Dirty blocks written to the source.
    pub written_back: AtomicU64,
}

enum State {
    Loading,
    Ready,
    Failed(String),
}

struct Entry {
    index: u64,
    state: Mutex<State>,
    ready: Condvar,
    data: RwLock<Vec<u8>>,
    dirty: AtomicBool,
    last_use: AtomicU64,
}

struct Shard {
    map: HashMap<u64, Arc<Entry>>,
}

type Job = Box<dyn FnOnce() + Send>;

struct Inner {
    source: Arc<dyn BlockSource>,
    block_size: u64,
    size: u64,
    shard_cap: usize,
    read_ahead: u64,
    shards: Box<[Mutex<Shard>]>,
    clock: AtomicU64,
    next_sequential: AtomicU64,
    /// Serialises write-back and holds the version the next conditional write expects.
    write_back: Mutex<Option<Version>>,
    /// Set after a conditional write found a foreign change: every later write fails.
    poisoned: Mutex<Option<String>>,
    jobs: Mutex<Option<Sender<Job>>>,
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
            .field("source", &self.inner.source)
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
    /// Builds a cache over `source`.
    pub fn new(source: Arc<dyn BlockSource>, config: &CacheConfig) -> Result<Self, ConfigError> {
        if config.block_size == 0 || !config.block_size.is_multiple_of(MIN_BLOCK_SIZE) {
            return Err(ConfigError::BlockSize(config.block_size));
        }
        if config.blocks == 0 {
            return Err(ConfigError::NoBlocks);
        }
        let nshards = config.blocks.clamp(1, 16);
        let shard_cap = config.blocks.div_ceil(nshards);
        let shards = (0..nshards)
            .map(|_| {
                Mutex::new(Shard {
                    map: HashMap::with_capacity(shard_cap + 1),
                })
            })
            .collect();
        let version = source.version();
        let (tx, rx) = channel::<Job>();
        let inner = Arc::new(Inner {
            size: source.size(),
            source,
            block_size: config.block_size as u64,
            shard_cap,
            read_ahead: config.read_ahead as u64,
            shards,
            clock: AtomicU64::new(0),
            next_sequential: AtomicU64::new(u64::MAX),
            write_back: Mutex::new(version),
            poisoned: Mutex::new(None),
            jobs: Mutex::new(Some(tx)),
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
        self.inner.source.writable()
    }

    /// Hit, miss and write-back counts.
    pub fn stats(&self) -> &CacheStats {
        &self.inner.stats
    }

    /// Number of dirty blocks held.
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

    /// Reads up to `buf.len()` bytes at `offset`; returns how many (short only at end of store).
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<usize, SourceError> {
        self.inner.read(offset, buf)
    }

    /// Writes `data` at `offset` into the cache (clipped at end of store); durable after
    /// [`BlockCache::sync`].
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<usize, SourceError> {
        self.inner.write(offset, data)
    }

    /// Writes every dirty block back (conditionally) and flushes the source.
    pub fn sync(&self) -> Result<(), SourceError> {
        self.inner.sync()
    }
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

    /// Finds or inserts the entry for `index`; `true` when the caller must load it.
    fn get(&self, index: u64) -> (Arc<Entry>, bool) {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut shard = lock(self.shard(index));
        if let Some(e) = shard.map.get(&index) {
            e.last_use.store(tick, Ordering::Relaxed);
            return (e.clone(), false);
        }
        while shard.map.len() >= self.shard_cap {
            if !self.evict_one(&mut shard) {
                break; // everything is in use: run over capacity for a moment
            }
        }
        let e = Arc::new(Entry {
            index,
            state: Mutex::new(State::Loading),
            ready: Condvar::new(),
            data: RwLock::new(Vec::new()),
            dirty: AtomicBool::new(false),
            last_use: AtomicU64::new(tick),
        });
        shard.map.insert(index, e.clone());
        (e, true)
    }

    /// Drops the least recently used entry nobody holds; dirty ones are written back first.
    fn evict_one(&self, shard: &mut Shard) -> bool {
        let victim = shard
            .map
            .values()
            .filter(|e| Arc::strong_count(e) == 1 && matches!(*lock(&e.state), State::Ready))
            .min_by_key(|e| e.last_use.load(Ordering::Relaxed))
            .map(|e| e.index);
        let Some(index) = victim else { return false };
        if let Some(e) = shard.map.get(&index)
            && e.dirty.load(Ordering::Acquire)
            && let Err(err) = self.write_back(e)
        {
            tracing::error!(block = index, error = %err, "write-back on eviction failed; block kept");
            return false;
        }
        shard.map.remove(&index);
        true
    }

    fn load(&self, e: &Arc<Entry>) {
        let (start, len) = self.block_range(e.index);
        let mut buf = vec![0u8; self.block_size as usize];
        let result = buf
            .get_mut(..len)
            .ok_or_else(|| SourceError::Remote("block range".into()))
            .and_then(|b| self.source.read_at(start, b));
        match result {
            Ok(()) => {
                *e.data.write().unwrap_or_else(|p| p.into_inner()) = buf;
                *lock(&e.state) = State::Ready;
            }
            Err(err) => {
                *lock(&e.state) = State::Failed(err.to_string());
                let mut shard = lock(self.shard(e.index));
                if shard.map.get(&e.index).is_some_and(|x| Arc::ptr_eq(x, e)) {
                    shard.map.remove(&e.index);
                }
            }
        }
        e.ready.notify_all();
    }

    fn wait(&self, e: &Entry) -> Result<(), SourceError> {
        let mut st = lock(&e.state);
        loop {
            match &*st {
                State::Ready => return Ok(()),
                State::Failed(msg) => return Err(SourceError::Remote(msg.clone())),
                State::Loading => st = e.ready.wait(st).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// Loads `e` on a fetch thread, or here when the pool is gone.
    fn spawn_load(self: &Arc<Self>, e: Arc<Entry>) {
        let me = self.clone();
        let job: Job = Box::new(move || me.load(&e));
        let sent = lock(&self.jobs).as_ref().map(|tx| tx.send(job));
        if let Some(Err(returned)) = sent {
            (returned.0)();
        }
    }

    fn read(self: &Arc<Self>, offset: u64, buf: &mut [u8]) -> Result<usize, SourceError> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let len = (buf.len() as u64).min(self.size - offset);
        let first = offset / self.block_size;
        let last = (offset + len - 1) / self.block_size;
        let sequential = self.note_position(first, last);
        // A small read away from the current stream whose block is not cached: fetch just
        // those bytes instead of a whole block (a 4 KiB random read must not cost 512 KiB).
        if !sequential && first == last && len * 8 <= self.block_size && !self.contains(first) {
            self.stats.bypassed.fetch_add(1, Ordering::Relaxed);
            let dst = buf
                .get_mut(..len as usize)
                .ok_or_else(|| SourceError::Remote("read range".into()))?;
            self.source.read_at(offset, dst)?;
            return Ok(len as usize);
        }
        let mut entries = Vec::with_capacity((last - first + 1) as usize);
        let mut inline = None;
        for index in first..=last {
            let (e, need) = self.get(index);
            if need {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                // The first missing block is fetched here; the others in parallel.
                if inline.is_none() {
                    inline = Some(e.clone());
                } else {
                    self.spawn_load(e.clone());
                }
            } else {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
            }
            entries.push(e);
        }
        if sequential {
            self.read_ahead(last);
        }
        if let Some(e) = inline {
            self.load(&e);
        }
        let mut done = 0usize;
        for e in &entries {
            self.wait(e)?;
            let (start, blen) = self.block_range(e.index);
            let from = (offset + done as u64 - start) as usize;
            let n = (blen - from).min(len as usize - done);
            let data = e.data.read().unwrap_or_else(|p| p.into_inner());
            let (Some(dst), Some(src)) = (buf.get_mut(done..done + n), data.get(from..from + n))
            else {
                return Err(SourceError::Remote(
                    "cache block shorter than expected".into(),
                ));
            };
            dst.copy_from_slice(src);
            done += n;
        }
        Ok(done)
    }

    /// Records where a read ended; true when it continues the previous one (or re-reads its
    /// last block).
    fn note_position(&self, first: u64, last: u64) -> bool {
        let prev = self.next_sequential.swap(last + 1, Ordering::Relaxed);
        prev == first || prev == first + 1
    }

    fn contains(&self, index: u64) -> bool {
        lock(self.shard(index)).map.contains_key(&index)
    }

    fn read_ahead(self: &Arc<Self>, last: u64) {
        if self.read_ahead == 0 {
            return;
        }
        let blocks = self.size.div_ceil(self.block_size);
        for index in last + 1..(last + 1 + self.read_ahead).min(blocks) {
            let (e, need) = self.get(index);
            if need {
                self.stats.prefetched.fetch_add(1, Ordering::Relaxed);
                self.spawn_load(e);
            }
        }
    }

    fn check_poisoned(&self) -> Result<(), SourceError> {
        match &*lock(&self.poisoned) {
            Some(msg) => Err(SourceError::Remote(format!(
                "writes stopped after a conflict: {msg}"
            ))),
            None => Ok(()),
        }
    }

    fn write(self: &Arc<Self>, offset: u64, data: &[u8]) -> Result<usize, SourceError> {
        if !self.source.writable() {
            return Err(SourceError::ReadOnly);
        }
        self.check_poisoned()?;
        if offset >= self.size || data.is_empty() {
            return Ok(0);
        }
        let len = (data.len() as u64).min(self.size - offset);
        let first = offset / self.block_size;
        let last = (offset + len - 1) / self.block_size;
        let mut done = 0usize;
        for index in first..=last {
            let (start, blen) = self.block_range(index);
            let from = (offset + done as u64 - start) as usize;
            let n = (blen - from).min(len as usize - done);
            let src = data
                .get(done..done + n)
                .ok_or_else(|| SourceError::Remote("write range".into()))?;
            let (e, need) = self.get(index);
            if need {
                if from == 0 && n == blen {
                    // The whole block is overwritten: no need to fetch it.
                    let mut buf = vec![0u8; self.block_size as usize];
                    if let Some(dst) = buf.get_mut(..n) {
                        dst.copy_from_slice(src);
                    }
                    let mut d = e.data.write().unwrap_or_else(|p| p.into_inner());
                    *d = buf;
                    e.dirty.store(true, Ordering::Release);
                    drop(d);
                    *lock(&e.state) = State::Ready;
                    e.ready.notify_all();
                    done += n;
                    continue;
                }
                self.load(&e);
            }
            self.wait(&e)?;
            let mut d = e.data.write().unwrap_or_else(|p| p.into_inner());
            let dst = d
                .get_mut(from..from + n)
                .ok_or_else(|| SourceError::Remote("cache block shorter than expected".into()))?;
            dst.copy_from_slice(src);
            e.dirty.store(true, Ordering::Release);
            done += n;
        }
        Ok(done)
    }

    fn write_back(&self, e: &Entry) -> Result<(), SourceError> {
        let mut version = lock(&self.write_back);
        self.check_poisoned()?;
        let data = e.data.read().unwrap_or_else(|p| p.into_inner());
        if !e.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let (start, len) = self.block_range(e.index);
        let bytes = data
            .get(..len)
            .ok_or_else(|| SourceError::Remote("cache block shorter than expected".into()))?;
        match self.source.write_at(start, bytes, version.as_ref()) {
            Ok(v) => {
                if v.is_some() {
                    *version = v;
                }
                self.stats.written_back.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(err) => {
                e.dirty.store(true, Ordering::Release);
                if let SourceError::ConditionFailed { .. } = err {
                    *lock(&self.poisoned) = Some(err.to_string());
                }
                Err(err)
            }
        }
    }

    fn sync(&self) -> Result<(), SourceError> {
        let mut dirty: Vec<Arc<Entry>> = Vec::new();
        for s in self.shards.iter() {
            dirty.extend(
                lock(s)
                    .map
                    .values()
                    .filter(|e| e.dirty.load(Ordering::Acquire))
                    .cloned(),
            );
        }
        dirty.sort_by_key(|e| e.index);
        let mut first_err = None;
        for e in &dirty {
            if let Err(err) = self.write_back(e) {
                first_err.get_or_insert(err);
            }
        }
        if let Some(err) = first_err {
            return Err(err);
        }
        if self.source.writable() {
            self.source.flush()?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Counting, LocalFile};
    use std::io::Write;

    fn file_with(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        f.flush().unwrap();
        (f, data)
    }

    fn cfg(block_size: usize, blocks: usize, read_ahead: usize) -> CacheConfig {
        CacheConfig {
            block_size,
            blocks,
            read_ahead,
            fetch_threads: 3,
        }
    }

    #[test]
    fn rejects_bad_geometry() {
        let (f, _) = file_with(4096);
        let src: Arc<dyn BlockSource> = Arc::new(LocalFile::open(f.path(), false).unwrap());
        assert_eq!(
            BlockCache::new(src.clone(), &cfg(1000, 4, 0)).unwrap_err(),
            ConfigError::BlockSize(1000)
        );
        assert_eq!(
            BlockCache::new(src, &cfg(4096, 0, 0)).unwrap_err(),
            ConfigError::NoBlocks
        );
    }

    #[test]
    fn reads_spanning_blocks_and_the_tail() {
        let (f, data) = file_with(5 * 4096 + 100);
        let src = Arc::new(LocalFile::open(f.path(), false).unwrap());
        let cache = BlockCache::new(src, &cfg(4096, 2, 0)).unwrap();
        for (off, len) in [
            (0u64, 10usize),
            (4000, 9000),
            (100, 5 * 4096),
            (5 * 4096 + 50, 200),
        ] {
            let mut buf = vec![0u8; len];
            let n = cache.read(off, &mut buf).unwrap();
            let end = (off as usize + len).min(data.len());
            assert_eq!(n, end - off as usize);
            assert_eq!(&buf[..n], &data[off as usize..end]);
        }
        let mut buf = [0u8; 4];
        assert_eq!(cache.read(data.len() as u64, &mut buf).unwrap(), 0);
    }

    #[test]
    fn hits_do_not_refetch() {
        let (f, data) = file_with(64 * 4096);
        let src = Arc::new(Counting::new(LocalFile::open(f.path(), false).unwrap()));
        let counters = src.counters();
        let cache = BlockCache::new(src, &cfg(4096, 16, 0)).unwrap();
        let mut buf = vec![0u8; 4096];
        for _ in 0..3 {
            for i in 0..8u64 {
                cache.read(i * 4096, &mut buf).unwrap();
                assert_eq!(
                    &buf[..],
                    &data[(i * 4096) as usize..((i + 1) * 4096) as usize]
                );
            }
        }
        assert_eq!(counters.reads.load(Ordering::Relaxed), 8);
        assert_eq!(cache.stats().hits.load(Ordering::Relaxed), 16);
    }

    #[test]
    fn sequential_reads_are_prefetched() {
        let (f, _) = file_with(64 * 4096);
        let src = Arc::new(Counting::new(LocalFile::open(f.path(), false).unwrap()));
        let cache = BlockCache::new(src, &cfg(4096, 16, 4)).unwrap();
        let mut buf = vec![0u8; 4096];
        cache.read(0, &mut buf).unwrap();
        cache.read(4096, &mut buf).unwrap();
        assert_eq!(cache.stats().prefetched.load(Ordering::Relaxed), 4);
        std::thread::sleep(std::time::Duration::from_millis(100));
        let misses = cache.stats().misses.load(Ordering::Relaxed);
        for i in 2..6u64 {
            cache.read(i * 4096, &mut buf).unwrap();
        }
        assert_eq!(
            cache.stats().misses.load(Ordering::Relaxed),
            misses,
            "blocks 2..6 were prefetched"
        );
        // Random access does not trigger read-ahead.
        let before = cache.stats().prefetched.load(Ordering::Relaxed);
        cache.read(40 * 4096, &mut buf).unwrap();
        cache.read(20 * 4096, &mut buf).unwrap();
        assert_eq!(cache.stats().prefetched.load(Ordering::Relaxed), before);
    }

    #[test]
    fn small_random_misses_fetch_only_their_bytes() {
        let (f, data) = file_with(64 * 65536);
        let src = Arc::new(Counting::new(LocalFile::open(f.path(), true).unwrap()));
        let counters = src.counters();
        let cache = BlockCache::new(src, &cfg(65536, 4, 2)).unwrap();
        // A dirty block is served from the cache, never bypassed to the stale source.
        cache.write(10 * 65536 + 4096, b"dirty!").unwrap();
        let mut buf = vec![0u8; 4096];
        for (i, off) in [
            40u64 * 65536 + 8192,
            3 * 65536,
            10 * 65536 + 4096,
            60 * 65536,
        ]
        .into_iter()
        .enumerate()
        {
            cache.read(off, &mut buf).unwrap();
            if i == 2 {
                assert_eq!(&buf[..6], b"dirty!");
            } else {
                assert_eq!(&buf[..], &data[off as usize..off as usize + 4096]);
            }
        }
        assert_eq!(cache.stats().bypassed.load(Ordering::Relaxed), 3);
        // One full block for the write, then 4 KiB for each bypassed read.
        assert_eq!(
            counters.read_bytes.load(Ordering::Relaxed),
            65536 + 3 * 4096
        );
    }

    #[test]
    fn a_second_writer_is_refused_at_open() {
        let (f, _) = file_with(4096);
        let _first = LocalFile::open(f.path(), true).unwrap();
        let err = LocalFile::open(f.path(), true).unwrap_err();
        assert!(matches!(err, SourceError::Locked { .. }), "{err}");
    }

    #[test]
    fn only_dirty_blocks_are_written_back() {
        let (f, mut data) = file_with(16 * 4096);
        let src = Arc::new(Counting::new(LocalFile::open(f.path(), true).unwrap()));
        let counters = src.counters();
        let cache = BlockCache::new(src, &cfg(4096, 4, 0)).unwrap();
        let mut buf = vec![0u8; 16 * 4096];
        cache.read(0, &mut buf).unwrap(); // everything clean, evicted repeatedly
        assert_eq!(counters.writes.load(Ordering::Relaxed), 0);
        cache.write(4096 + 10, b"hello").unwrap();
        cache.write(9 * 4096, &[7u8; 4096]).unwrap(); // whole block: not fetched
        data[4096 + 10..4096 + 15].copy_from_slice(b"hello");
        data[9 * 4096..10 * 4096].fill(7);
        assert_eq!(cache.dirty_blocks(), 2);
        cache.sync().unwrap();
        assert_eq!(counters.writes.load(Ordering::Relaxed), 2);
        assert_eq!(cache.dirty_blocks(), 0);
        cache.sync().unwrap();
        assert_eq!(
            counters.writes.load(Ordering::Relaxed),
            2,
            "clean blocks not re-sent"
        );
        assert_eq!(std::fs::read(f.path()).unwrap(), data);
    }

    #[test]
    fn eviction_writes_dirty_blocks_back() {
        let (f, mut data) = file_with(16 * 4096);
        let src = Arc::new(LocalFile::open(f.path(), true).unwrap());
        let cache = BlockCache::new(src, &cfg(4096, 2, 0)).unwrap();
        for i in 0..16u64 {
            cache.write(i * 4096 + 1, &[i as u8]).unwrap();
            data[(i * 4096 + 1) as usize] = i as u8;
        }
        // At most two blocks are held; the others were written back on eviction.
        assert!(cache.dirty_blocks() <= 2);
        drop(cache); // the rest on drop
        assert_eq!(std::fs::read(f.path()).unwrap(), data);
    }

    #[test]
    fn a_concurrent_writer_is_detected_not_overwritten() {
        let (f, _) = file_with(8 * 4096);
        let src = Arc::new(LocalFile::open(f.path(), true).unwrap());
        let cache = BlockCache::new(src, &cfg(4096, 4, 0)).unwrap();
        cache.write(0, b"ours").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Someone else changes the file behind the cache's back.
        {
            use std::os::unix::fs::FileExt;
            let other = std::fs::OpenOptions::new()
                .write(true)
                .open(f.path())
                .unwrap();
            other.write_all_at(b"theirs", 5 * 4096).unwrap();
        }
        let err = cache.sync().unwrap_err();
        assert!(matches!(err, SourceError::ConditionFailed { .. }), "{err}");
        let after = std::fs::read(f.path()).unwrap();
        assert_ne!(
            &after[..4],
            b"ours",
            "our block was not written over theirs"
        );
        assert_eq!(&after[5 * 4096..5 * 4096 + 6], b"theirs");
        assert!(
            cache.write(4096, b"more").is_err(),
            "writes stop after a conflict"
        );
    }

    #[test]
    fn read_only_cache_refuses_writes() {
        let (f, _) = file_with(4096);
        let src = Arc::new(LocalFile::open(f.path(), false).unwrap());
        let cache = BlockCache::new(src, &cfg(4096, 1, 0)).unwrap();
        assert!(matches!(cache.write(0, b"x"), Err(SourceError::ReadOnly)));
    }

    #[test]
    fn parallel_readers_see_consistent_data() {
        let (f, data) = file_with(256 * 4096);
        let src = Arc::new(LocalFile::open(f.path(), false).unwrap());
        let cache = BlockCache::new(src, &cfg(8192, 8, 2)).unwrap();
        let data = Arc::new(data);
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let cache = cache.clone();
                let data = data.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 6000];
                    for i in 0..200u64 {
                        let off = (i * 7919 + t * 104_729) % (data.len() as u64 - 6000);
                        cache.read(off, &mut buf).unwrap();
                        assert_eq!(&buf[..], &data[off as usize..off as usize + 6000]);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}
