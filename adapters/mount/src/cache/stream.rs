//! Sequential-access detection and the read-ahead window.
//!
//! A few streams are tracked at once (a file copy and a metadata scan, or the kernel's
//! read-ahead arriving out of order on several FUSE threads). A read joins a stream when it
//! touches the byte range that stream has covered so far; a stream counts as sequential once
//! it has seen at least two reads covering [`StreamConfig::confirm`] bytes. So a random read
//! that happens to land next to the previous one is still a random read: it needs dozens of
//! neighbours in a row before anything is read ahead.
//!
//! A sequential stream gets a read-ahead window: when the reader has consumed half of what
//! was read ahead, the next range is requested and the window doubles, up to
//! [`StreamConfig::max_window`]. A reader that keeps up keeps the window growing; one that
//! stops costs at most one window.

use std::ops::Range;
use std::sync::Mutex;

/// Streams tracked at once.
const SLOTS: usize = 8;
/// Reads a stream needs before it counts as sequential.
const CONFIRM_READS: u32 = 2;

/// Geometry of the detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// Size of the store (read-ahead stops there).
    pub size: u64,
    /// Cache block size: the unit read ahead, and the tolerance for reads out of order.
    pub block: u64,
    /// Bytes a stream must cover before it counts as sequential.
    pub confirm: u64,
    /// Window of a newly sequential stream.
    pub initial_window: u64,
    /// Largest window (0: no read-ahead at all).
    pub max_window: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Stream {
    live: bool,
    start: u64,
    next: u64,
    reads: u32,
    window: u64,
    /// Everything before this has been requested (by read-ahead or by the reader).
    ahead: u64,
    last_use: u64,
}

impl Stream {
    fn sequential(&self, cfg: &StreamConfig) -> bool {
        self.reads >= CONFIRM_READS && self.next - self.start >= cfg.confirm
    }

    fn joins(&self, cfg: &StreamConfig, offset: u64, end: u64) -> bool {
        if !self.live {
            return false;
        }
        if self.sequential(cfg) {
            // Reads of a running stream arrive somewhat out of order (several FUSE threads,
            // the kernel's own read-ahead): accept them around the front.
            let slack = self.window.max(cfg.block);
            offset + slack >= self.next && offset <= self.next + slack
        } else {
            offset <= self.next && end >= self.start
        }
    }
}

/// What the cache should do for one read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advice {
    /// The read belongs to a sequential stream: fetch whole blocks and keep them.
    pub sequential: bool,
    /// Bytes to request ahead of the reader now.
    pub read_ahead: Option<Range<u64>>,
}

/// The streams of one cache.
#[derive(Debug)]
pub struct Streams {
    cfg: StreamConfig,
    state: Mutex<([Stream; SLOTS], u64)>,
}

impl Streams {
    /// A detector with no streams yet.
    pub fn new(cfg: StreamConfig) -> Self {
        Self {
            cfg,
            state: Mutex::new(([Stream::default(); SLOTS], 0)),
        }
    }

    /// Records a read of `len` bytes at `offset` and says how to serve it.
    pub fn observe(&self, offset: u64, len: u64) -> Advice {
        let cfg = &self.cfg;
        let end = offset.saturating_add(len);
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (slots, clock) = &mut *guard;
        *clock += 1;
        let tick = *clock;
        let found = slots.iter().position(|s| s.joins(cfg, offset, end));
        let Some(i) = found else {
            // A new stream replaces the least recently used one.
            let victim = slots
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| (s.live, s.last_use))
                .map_or(0, |(i, _)| i);
            if let Some(s) = slots.get_mut(victim) {
                *s = Stream {
                    live: true,
                    start: offset,
                    next: end,
                    reads: 1,
                    window: cfg.initial_window.min(cfg.max_window),
                    ahead: end,
                    last_use: tick,
                };
            }
            return Advice::default();
        };
        let Some(s) = slots.get_mut(i) else {
            return Advice::default();
        };
        let was_sequential = s.sequential(cfg);
        if !was_sequential {
            s.start = s.start.min(offset);
        }
        s.next = s.next.max(end);
        s.reads = s.reads.saturating_add(1);
        s.last_use = tick;
        if !s.sequential(cfg) {
            return Advice::default();
        }
        let from = s.ahead.max(s.next);
        let target = s.next.saturating_add(s.window).min(cfg.size);
        let worth = target > from && (target - from >= s.window / 2 || target == cfg.size);
        let read_ahead = if cfg.max_window > 0 && worth {
            s.ahead = target;
            s.window = s.window.saturating_mul(2).min(cfg.max_window);
            Some(from..target)
        } else {
            None
        };
        Advice {
            sequential: true,
            read_ahead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u64 = 1024;
    const M: u64 = 1024 * 1024;

    fn streams(max_window: u64) -> Streams {
        Streams::new(StreamConfig {
            size: 1024 * M,
            block: 512 * K,
            confirm: 128 * K,
            initial_window: M,
            max_window,
        })
    }

    #[test]
    fn a_sequential_reader_gets_a_growing_window() {
        let s = streams(8 * M);
        assert_eq!(s.observe(0, M), Advice::default());
        let a = s.observe(M, M);
        assert!(a.sequential);
        assert_eq!(a.read_ahead, Some(2 * M..3 * M));
        assert_eq!(s.observe(2 * M, M).read_ahead, Some(3 * M..5 * M));
        assert_eq!(s.observe(3 * M, M).read_ahead, Some(5 * M..8 * M));
        assert_eq!(s.observe(4 * M, M).read_ahead, Some(8 * M..13 * M));
        // Capped at 8 MiB ahead: the next range starts when half of it is consumed.
        assert_eq!(s.observe(5 * M, M).read_ahead, None);
        assert_eq!(s.observe(6 * M, M).read_ahead, None);
        assert_eq!(s.observe(7 * M, M).read_ahead, None);
        assert_eq!(s.observe(8 * M, M).read_ahead, Some(13 * M..17 * M));
    }

    #[test]
    fn neighbouring_random_reads_are_not_sequential() {
        let s = streams(8 * M);
        // Two 4 KiB reads side by side are still far from the 128 KiB a stream needs.
        assert!(!s.observe(100 * M, 4 * K).sequential);
        assert!(!s.observe(100 * M + 4 * K, 4 * K).sequential);
        assert!(!s.observe(7 * M, 4 * K).sequential);
        assert!(!s.observe(100 * M - 4 * K, 4 * K).sequential);
    }

    #[test]
    fn small_sequential_reads_confirm_after_enough_bytes() {
        let s = streams(8 * M);
        let mut first = None;
        for i in 0..64u64 {
            if s.observe(i * 4 * K, 4 * K).sequential {
                first.get_or_insert(i);
            }
        }
        assert_eq!(first, Some(31), "sequential once 128 KiB are covered");
    }

    #[test]
    fn out_of_order_reads_join_their_stream() {
        let s = streams(8 * M);
        // Kernel read-ahead served by several threads: 128 KiB pieces in shuffled order.
        let order = [1u64, 0, 3, 2, 5, 4, 7, 6, 9, 8];
        let advice: Vec<Advice> = order
            .iter()
            .map(|i| s.observe(i * 128 * K, 128 * K))
            .collect();
        assert!(!advice[0].sequential);
        assert!(advice[1].sequential, "{advice:?}");
        assert!(advice[2..].iter().all(|a| a.sequential), "{advice:?}");
    }

    #[test]
    fn two_streams_at_once_and_no_read_ahead_when_off() {
        let s = streams(8 * M);
        for i in 0..4u64 {
            s.observe(i * M, M);
            s.observe(500 * M + i * M, M);
        }
        assert!(s.observe(4 * M, M).sequential);
        assert!(s.observe(504 * M, M).sequential);
        let off = streams(0);
        off.observe(0, M);
        let a = off.observe(M, M);
        assert!(a.sequential);
        assert_eq!(a.read_ahead, None);
    }

    #[test]
    fn read_ahead_stops_at_the_end() {
        let s = Streams::new(StreamConfig {
            size: 3 * M,
            block: 512 * K,
            confirm: 128 * K,
            initial_window: M,
            max_window: 8 * M,
        });
        s.observe(0, M);
        assert_eq!(s.observe(M, M).read_ahead, Some(2 * M..3 * M));
        assert_eq!(s.observe(2 * M, M).read_ahead, None);
    }
}
