//! The cache over local files, with request counters: what each kind of access costs in
//! source requests and bytes, what write-back uploads, and (property test) that any mix of
//! reads, writes and syncs reads back like a plain byte array and saves the same bytes.

use super::*;
use crate::store::{Counters, Counting, LocalFile};
use std::io::Write;
use std::sync::atomic::AtomicBool;

const K: usize = 1024;

fn file_with(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&data).unwrap();
    f.flush().unwrap();
    (f, data)
}

fn cfg(block_size: usize, blocks: usize, read_ahead_blocks: usize) -> CacheConfig {
    CacheConfig {
        block_size,
        capacity: blocks * block_size,
        read_ahead: read_ahead_blocks * block_size,
        max_request: 4 * block_size,
        fetch_threads: 3,
    }
}

fn counted(f: &tempfile::NamedTempFile, rw: bool) -> (Arc<Counting<LocalFile>>, Arc<Counters>) {
    let src = Arc::new(Counting::new(LocalFile::open(f.path(), rw).unwrap()));
    let c = src.counters();
    (src, c)
}

fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

#[test]
fn rejects_bad_geometry() {
    let (f, _) = file_with(4096);
    let src: Arc<dyn BlockStore> = Arc::new(LocalFile::open(f.path(), false).unwrap());
    assert_eq!(
        BlockCache::new(src.clone(), &cfg(1000, 4, 0)).unwrap_err(),
        ConfigError::BlockSize(1000)
    );
    assert!(matches!(
        BlockCache::new(src.clone(), &cfg(4096, 0, 0)).unwrap_err(),
        ConfigError::Capacity { .. }
    ));
    let bad = CacheConfig {
        max_request: 6000,
        ..cfg(4096, 4, 0)
    };
    assert!(matches!(
        BlockCache::new(src, &bad).unwrap_err(),
        ConfigError::MaxRequest { .. }
    ));
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
        (0, 5 * 4096 + 100),
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
fn a_sequential_reader_is_read_ahead_in_large_requests() {
    let (f, data) = file_with(8 << 20);
    let (src, c) = counted(&f, false);
    let cache = BlockCache::new(src, &cfg(64 * K, 32, 16)).unwrap();
    let mut buf = vec![0u8; 64 * K];
    for i in 0..128usize {
        cache.read((i * 64 * K) as u64, &mut buf).unwrap();
        assert_eq!(&buf[..], &data[i * 64 * K..(i + 1) * 64 * K], "chunk {i}");
    }
    let requests = get(&c.reads);
    // 8 MiB in requests of up to 256 KiB: about 32, plus the first reads before the stream
    // is recognised.
    assert!(requests <= 40, "{requests} requests");
    assert!(get(&cache.stats().prefetched) >= 100);
    assert!(get(&cache.stats().read_ahead_requests) >= 25);
    // Everything read was needed (read-ahead stops at the end of the store).
    assert!(get(&c.read_bytes) <= (8 << 20) + 64 * K as u64);
    assert!(cache.blocks_held() <= 33);
}

#[test]
fn blocks_held_are_not_fetched_again() {
    let (f, _) = file_with(4 << 20);
    let (src, c) = counted(&f, false);
    let cache = BlockCache::new(src, &cfg(64 * K, 32, 4)).unwrap();
    let mut buf = vec![0u8; 64 * K];
    for i in 0..8u64 {
        cache.read(i * 64 * K as u64, &mut buf).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let before = get(&c.reads);
    // Back over what was just read, and a small read inside it.
    for i in 4..8u64 {
        cache.read(i * 64 * K as u64, &mut buf).unwrap();
    }
    cache
        .read(5 * 64 * K as u64 + 100, &mut buf[..100])
        .unwrap();
    assert_eq!(get(&c.reads), before);
    assert!(get(&cache.stats().hits) >= 5);
}

#[test]
fn random_reads_fetch_only_their_pages() {
    let (f, data) = file_with(16 << 20);
    let (src, c) = counted(&f, false);
    let cache = BlockCache::new(src, &cfg(512 * K, 32, 16)).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let pages = (16 << 20) / 4096u64;
    for _ in 0..500 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let off = (seed % pages) * 4096;
        cache.read(off, &mut buf).unwrap();
        assert_eq!(&buf[..], &data[off as usize..off as usize + 4096]);
    }
    assert_eq!(get(&c.reads), 500);
    assert_eq!(get(&c.read_bytes), 500 * 4096);
    assert_eq!(cache.blocks_held(), 0);
    assert_eq!(get(&cache.stats().bypassed), 500);
}

#[test]
fn neighbouring_and_unaligned_small_reads() {
    let (f, data) = file_with(4 << 20);
    let (src, c) = counted(&f, false);
    let cache = BlockCache::new(src, &cfg(512 * K, 32, 16)).unwrap();
    let mut buf = vec![0u8; 4096];
    // Side by side: two reads of 4 KiB, not a sequential stream.
    cache.read(1 << 20, &mut buf).unwrap();
    cache.read((1 << 20) + 4096, &mut buf).unwrap();
    assert_eq!(get(&c.read_bytes), 8192);
    // 100 bytes inside a page: the page is fetched, not the block.
    let mut small = [0u8; 100];
    cache.read(3 * 4096 + 1000, &mut small).unwrap();
    assert_eq!(&small[..], &data[3 * 4096 + 1000..3 * 4096 + 1100]);
    assert_eq!(get(&c.read_bytes), 3 * 4096);
    // Across a page boundary: both pages, in one request.
    cache.read(2 * 4096 - 50, &mut small).unwrap();
    assert_eq!(&small[..], &data[2 * 4096 - 50..2 * 4096 + 50]);
    assert_eq!((get(&c.reads), get(&c.read_bytes)), (4, 5 * 4096));
}

#[test]
fn writes_fetch_nothing_and_upload_only_their_pages() {
    let (f, mut data) = file_with(4 << 20);
    let (src, c) = counted(&f, true);
    let cache = BlockCache::new(src, &cfg(512 * K, 32, 16)).unwrap();
    // An aligned 4 KiB write to a block never read: nothing fetched.
    cache.write(8192, &[7u8; 4096]).unwrap();
    assert_eq!(get(&c.reads), 0);
    data[8192..12288].fill(7);
    cache.sync().unwrap();
    assert_eq!((get(&c.writes), get(&c.written_bytes)), (1, 4096));
    assert_eq!(std::fs::read(f.path()).unwrap(), data);
    // A clean cache uploads nothing more.
    cache.sync().unwrap();
    assert_eq!(get(&c.writes), 1);
    // 10 bytes inside a page: that 512-byte page is read, and uploaded.
    cache.write(600 * K as u64 + 10, b"0123456789").unwrap();
    data[600 * K + 10..600 * K + 20].copy_from_slice(b"0123456789");
    assert_eq!(get(&c.read_bytes), 512);
    cache.sync().unwrap();
    assert_eq!((get(&c.writes), get(&c.written_bytes)), (2, 4096 + 512));
    assert_eq!(std::fs::read(f.path()).unwrap(), data);
    // What was written reads back without a request; the rest of the block is fetched.
    let mut buf = vec![0u8; 4096];
    cache.read(8192, &mut buf).unwrap();
    assert_eq!(&buf[..], &data[8192..12288]);
    assert_eq!(get(&c.reads), 1);
    cache.read(4096, &mut buf[..100]).unwrap();
    assert_eq!(&buf[..100], &data[4096..4196]);
}

#[test]
fn dirty_pages_are_coalesced_into_few_uploads() {
    let (f, mut data) = file_with(4 << 20);
    let (src, c) = counted(&f, true);
    let cache = BlockCache::new(src, &cfg(512 * K, 32, 16)).unwrap();
    let put = |off: usize, len: usize, byte: u8, data: &mut Vec<u8>| {
        cache.write(off as u64, &vec![byte; len]).unwrap();
        data[off..off + len].fill(byte);
    };
    // Contiguous across a block boundary: one upload.
    put(512 * K - 4096, 8192, 1, &mut data);
    // Two ranges of one block with unknown bytes between: two uploads.
    put(1024 * K, 4096, 2, &mut data);
    put(1024 * K + 8192, 4096, 3, &mut data);
    cache.sync().unwrap();
    assert_eq!(get(&c.writes), 3);
    assert_eq!(get(&c.written_bytes), 16384);
    // Once the block is known, a small gap is uploaded rather than split.
    let mut buf = vec![0u8; 512 * K];
    cache.read(1024 * K as u64, &mut buf).unwrap();
    put(1024 * K, 4096, 4, &mut data);
    put(1024 * K + 8192, 4096, 5, &mut data);
    cache.sync().unwrap();
    assert_eq!(get(&c.writes), 4);
    assert_eq!(get(&c.written_bytes), 16384 + 12288);
    // A long run is split at the largest request (4 blocks here).
    put(0, 3 << 20, 6, &mut data);
    cache.sync().unwrap();
    assert_eq!(get(&c.writes), 4 + 2);
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
    // At most two blocks are held; the others were written back to make room.
    assert!(cache.dirty_blocks() <= 2);
    assert!(cache.blocks_held() <= 2);
    assert_eq!(get(&cache.stats().peak_blocks), 2);
    drop(cache); // the rest on drop
    assert_eq!(std::fs::read(f.path()).unwrap(), data);
}

#[test]
fn many_writers_wait_for_write_back_instead_of_growing_the_cache() {
    let (f, _) = file_with(8 << 20);
    let src = Arc::new(LocalFile::open(f.path(), true).unwrap());
    let cache = BlockCache::new(src, &cfg(64 * K, 8, 4)).unwrap();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let cache = cache.clone();
            s.spawn(move || {
                for i in 0..16u64 {
                    let off = (t * 16 + i) * 64 * K as u64 + 100;
                    cache.write(off, &[t as u8; 50_000]).unwrap();
                }
            });
        }
    });
    cache.sync().unwrap();
    // Eight blocks, plus at most one per writer while every block is in use.
    let peak = get(&cache.stats().peak_blocks);
    assert!(peak <= 16, "peak {peak} blocks");
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
    assert!(matches!(err, StoreError::ConditionFailed { .. }), "{err}");
    let after = std::fs::read(f.path()).unwrap();
    assert_ne!(&after[..4], b"ours", "our write did not go over theirs");
    assert_eq!(&after[5 * 4096..5 * 4096 + 6], b"theirs");
    assert!(
        cache.write(4096, b"more").is_err(),
        "writes stop after a conflict"
    );
}

/// A local file whose next write fails once when `fail` is set.
#[derive(Debug)]
struct FlakyWrites {
    inner: LocalFile,
    fail: AtomicBool,
}

impl BlockStore for FlakyWrites {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn version(&self) -> Option<Version> {
        self.inner.version()
    }
    fn writable(&self) -> bool {
        true
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(
        &self,
        offset: u64,
        data: &[u8],
        if_match: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        if self.fail.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Remote("service unavailable".into()));
        }
        self.inner.write_at(offset, data, if_match)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
}

#[test]
fn a_failed_upload_keeps_its_pages_dirty() {
    let (f, mut data) = file_with(64 * K);
    let src = Arc::new(FlakyWrites {
        inner: LocalFile::open(f.path(), true).unwrap(),
        fail: AtomicBool::new(true),
    });
    let cache = BlockCache::new(src, &cfg(4096, 8, 0)).unwrap();
    cache.write(4096, &[9u8; 1024]).unwrap();
    data[4096..5120].fill(9);
    assert!(cache.sync().is_err());
    assert_eq!(cache.dirty_blocks(), 1);
    cache.sync().unwrap();
    assert_eq!(cache.dirty_blocks(), 0);
    assert_eq!(std::fs::read(f.path()).unwrap(), data);
}

#[test]
fn read_only_cache_refuses_writes() {
    let (f, _) = file_with(4096);
    let src = Arc::new(LocalFile::open(f.path(), false).unwrap());
    let cache = BlockCache::new(src, &cfg(4096, 1, 0)).unwrap();
    assert!(matches!(cache.write(0, b"x"), Err(StoreError::ReadOnly)));
}

#[test]
fn parallel_readers_and_writers_see_consistent_data() {
    let (f, data) = file_with(256 * 4096);
    let src = Arc::new(LocalFile::open(f.path(), true).unwrap());
    let cache = BlockCache::new(src, &cfg(8192, 8, 2)).unwrap();
    let data = Arc::new(data);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let cache = cache.clone();
            let data = data.clone();
            s.spawn(move || {
                let mut buf = vec![0u8; 6000];
                for i in 0..200u64 {
                    // Readers stay in the first half; writers own pages of the second half.
                    let off = (i * 7919 + t * 104_729) % (data.len() as u64 / 2 - 6000);
                    cache.read(off, &mut buf).unwrap();
                    assert_eq!(&buf[..], &data[off as usize..off as usize + 6000]);
                }
            });
        }
        for t in 0..2u64 {
            let cache = cache.clone();
            s.spawn(move || {
                for i in 0..100u64 {
                    let page = 128 + (i * 13 + t * 7) % 64 * 2 + t;
                    cache.write(page * 4096 + 17, &[t as u8 + 1; 3000]).unwrap();
                    let mut back = [0u8; 3000];
                    cache.read(page * 4096 + 17, &mut back).unwrap();
                    assert!(back.iter().all(|b| *b == t as u8 + 1));
                }
            });
        }
    });
    cache.sync().unwrap();
}

mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Read(u64, usize),
        Write(u64, usize, u8),
        Sync,
    }

    fn op(len: u64) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..len, 1usize..40_000).prop_map(|(o, n)| Op::Read(o, n)),
            4 => (0..len, 1usize..20_000, any::<u8>()).prop_map(|(o, n, b)| Op::Write(o, n, b)),
            1 => Just(Op::Sync),
        ]
    }

    const LEN: u64 = 300_000;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Reads see exactly what a byte array would; after a final sync the file holds it.
        #[test]
        fn behaves_like_a_byte_array(
            ops in proptest::collection::vec(op(LEN), 1..60),
            blocks in 1usize..6,
            read_ahead in 0usize..4,
        ) {
            let (f, mut model) = file_with(LEN as usize);
            let src = Arc::new(LocalFile::open(f.path(), true).unwrap());
            let cache = BlockCache::new(src, &CacheConfig {
                block_size: 16 * K,
                capacity: blocks * 16 * K,
                read_ahead: read_ahead * 16 * K,
                max_request: 32 * K,
                fetch_threads: 2,
            }).unwrap();
            for op in ops {
                match op {
                    Op::Read(o, n) => {
                        let mut buf = vec![0u8; n];
                        let got = cache.read(o, &mut buf).unwrap();
                        let end = (o as usize + n).min(model.len());
                        prop_assert_eq!(got, end - o as usize);
                        prop_assert_eq!(&buf[..got], &model[o as usize..end]);
                    }
                    Op::Write(o, n, b) => {
                        let got = cache.write(o, &vec![b; n]).unwrap();
                        let end = (o as usize + n).min(model.len());
                        prop_assert_eq!(got, end - o as usize);
                        model[o as usize..end].fill(b);
                    }
                    Op::Sync => cache.sync().unwrap(),
                }
            }
            cache.sync().unwrap();
            prop_assert_eq!(cache.dirty_blocks(), 0);
            drop(cache);
            prop_assert!(std::fs::read(f.path()).unwrap() == model);
        }
    }
}
