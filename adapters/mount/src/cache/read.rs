//! The read path: each block a read touches is served from the cache, loaded whole (a
//! sequential reader, with its neighbours in one request), or fetched as just the bytes asked
//! for (anyone else); read-ahead is started before the reader waits for its own bytes.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::pages::{PAGE, pages_touched};
use super::{Entry, Fresh, Inner, READ_ROUNDING};
use crate::store::StoreError;

/// How one block's part of a read is served.
enum Part {
    /// From a block already held (ready, being loaded, or partly known).
    Held(Arc<Entry>),
    /// From a block this reader inserted and loads now.
    Load(Arc<Entry>),
    /// Not cached: the bytes are fetched directly.
    Bypass,
}

/// One block's part of a read.
struct Seg {
    index: u64,
    /// Offset in the block.
    from: usize,
    /// Bytes.
    n: usize,
    /// Offset in the caller's buffer.
    at: usize,
    part: Part,
}

impl Inner {
    /// Reads up to `buf.len()` bytes at `offset`; short only at the end of the store.
    pub(super) fn read(self: &Arc<Self>, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let len = (buf.len() as u64).min(self.size - offset) as usize;
        let advice = self.streams.observe(offset, len as u64);
        let first = offset / self.block_size;
        let last = (offset + len as u64 - 1) / self.block_size;
        let mut segs = Vec::with_capacity((last - first + 1) as usize);
        let mut at = 0usize;
        for index in first..=last {
            let (start, blen) = self.block_range(index);
            let from = (offset + at as u64 - start) as usize;
            let n = (blen - from).min(len - at);
            let part = if advice.sequential {
                match self.get(index, Fresh::Loading) {
                    (e, true) => Part::Load(e),
                    (e, false) => Part::Held(e),
                }
            } else {
                match self.lookup(index) {
                    Some(e) => Part::Held(e),
                    None => Part::Bypass,
                }
            };
            segs.push(Seg {
                index,
                from,
                n,
                at,
                part,
            });
            at += n;
        }
        if let Some(r) = advice.read_ahead {
            self.read_ahead(r);
        }
        self.load_demand(&segs);
        let Some(out) = buf.get_mut(..len) else {
            return Err(StoreError::Remote("read buffer".into()));
        };
        self.serve_bypassed(&segs, out)?;
        for seg in &segs {
            let e = match &seg.part {
                Part::Held(e) => {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                    if matches!(*super::lock(&e.state), super::State::Loading) {
                        self.stats.waited.fetch_add(1, Ordering::Relaxed);
                    }
                    e
                }
                Part::Load(e) => {
                    self.stats.misses.fetch_add(1, Ordering::Relaxed);
                    e
                }
                Part::Bypass => continue,
            };
            let dst = out
                .get_mut(seg.at..seg.at + seg.n)
                .ok_or_else(|| StoreError::Remote("read buffer".into()))?;
            if let Err(err) = self.wait(e) {
                // A failed read-ahead: ask for the bytes once more, directly.
                tracing::debug!(block = seg.index, error = %err, "block load failed; reading directly");
                self.fetch_direct(seg.index, seg.from, dst)?;
                continue;
            }
            self.copy_out(e, seg.from, dst)?;
            if advice.sequential && seg.from + seg.n == self.block_range(seg.index).1 {
                self.demote(e);
            }
        }
        Ok(len)
    }

    /// Loads the blocks this reader inserted, consecutive ones in one request.
    fn load_demand(&self, segs: &[Seg]) {
        let per_request = (self.max_request / self.block_size).max(1) as usize;
        let mut run: Vec<Arc<Entry>> = Vec::new();
        for seg in segs {
            match &seg.part {
                Part::Load(e) => {
                    run.push(e.clone());
                    if run.len() == per_request {
                        self.load_run(&std::mem::take(&mut run));
                    }
                }
                _ => {
                    self.load_run(&std::mem::take(&mut run));
                }
            }
        }
        self.load_run(&run);
    }

    /// Serves every run of consecutive bypassed blocks with one ranged read.
    fn serve_bypassed(&self, segs: &[Seg], out: &mut [u8]) -> Result<(), StoreError> {
        let mut i = 0;
        while i < segs.len() {
            if !matches!(segs.get(i).map(|s| &s.part), Some(Part::Bypass)) {
                i += 1;
                continue;
            }
            let mut j = i;
            while matches!(segs.get(j + 1).map(|s| &s.part), Some(Part::Bypass)) {
                j += 1;
            }
            let (Some(a), Some(b)) = (segs.get(i), segs.get(j)) else {
                break;
            };
            let store_from = a.index * self.block_size + a.from as u64;
            let store_to = b.index * self.block_size + (b.from + b.n) as u64;
            let dst = out
                .get_mut(a.at..b.at + b.n)
                .ok_or_else(|| StoreError::Remote("read buffer".into()))?;
            self.fetch_rounded(store_from..store_to, dst)?;
            i = j + 1;
        }
        Ok(())
    }

    /// Reads `range` of the store into `dst`, asking the store for it rounded out to
    /// [`READ_ROUNDING`] (shared with concurrent readers of the same range).
    fn fetch_rounded(&self, range: Range<u64>, dst: &mut [u8]) -> Result<(), StoreError> {
        let lo = range.start / READ_ROUNDING * READ_ROUNDING;
        let hi = range.end.div_ceil(READ_ROUNDING) * READ_ROUNDING;
        let hi = hi.min(self.size);
        self.stats.bypassed.fetch_add(1, Ordering::Relaxed);
        let fetched = self
            .inflight
            .fetch(self.store.as_ref(), lo, (hi - lo) as usize)?;
        if fetched.shared {
            self.stats.shared.fetch_add(1, Ordering::Relaxed);
        }
        let skip = (range.start - lo) as usize;
        let src = fetched
            .bytes
            .get(skip..skip + dst.len())
            .ok_or_else(|| StoreError::Remote("short ranged read".into()))?;
        dst.copy_from_slice(src);
        Ok(())
    }

    /// Reads part of block `index` straight from the store, overlaid with whatever the
    /// cache knows newer (writes not yet uploaded).
    fn fetch_direct(&self, index: u64, from: usize, dst: &mut [u8]) -> Result<(), StoreError> {
        let start = index * self.block_size + from as u64;
        self.fetch_rounded(start..start + dst.len() as u64, dst)?;
        if let Some(e) = self.lookup(index)
            && self.wait(&e).is_ok()
        {
            let d = e.read();
            for p in d.valid.runs() {
                let lo = (p.start * PAGE).max(from);
                let hi = (p.end * PAGE).min(from + dst.len()).min(d.bytes.len());
                if lo < hi
                    && let (Some(o), Some(i)) =
                        (dst.get_mut(lo - from..hi - from), d.bytes.get(lo..hi))
                {
                    o.copy_from_slice(i);
                }
            }
        }
        Ok(())
    }

    /// Copies bytes `from..from + dst.len()` of loaded block `e`, fetching the pages of it
    /// nobody has read or written yet.
    fn copy_out(&self, e: &Entry, from: usize, dst: &mut [u8]) -> Result<(), StoreError> {
        let range = from..from + dst.len();
        {
            let d = e.read();
            if d.valid.contains_all(pages_touched(range.clone())) {
                let src = d.bytes.get(range).ok_or_else(|| {
                    StoreError::Remote("cache block shorter than expected".into())
                })?;
                dst.copy_from_slice(src);
                return Ok(());
            }
        }
        self.fill(e, pages_touched(range.clone()))?;
        let d = e.read();
        let src = d
            .bytes
            .get(range)
            .ok_or_else(|| StoreError::Remote("cache block shorter than expected".into()))?;
        dst.copy_from_slice(src);
        Ok(())
    }

    /// Makes pages `pages` of `e` known: fetches the span of the unknown ones in one request
    /// and fills those still unknown (a concurrent write may have filled some meanwhile).
    pub(super) fn fill(&self, e: &Entry, pages: Range<usize>) -> Result<(), StoreError> {
        let gaps = e.read().valid.gaps(pages);
        let (Some(first), Some(last)) = (gaps.first(), gaps.last()) else {
            return Ok(());
        };
        let (start, blen) = self.block_range(e.index);
        let lo = first.start * PAGE;
        let hi = (last.end * PAGE).min(blen);
        if lo >= hi {
            return Ok(());
        }
        let mut fetched = vec![0u8; hi - lo];
        self.store.read_at(start + lo as u64, &mut fetched)?;
        let mut d = e.write();
        let still = d.valid.gaps(first.start..last.end);
        for gap in still {
            let a = gap.start * PAGE;
            let b = (gap.end * PAGE).min(blen);
            if let (Some(dst), Some(src)) = (d.bytes.get_mut(a..b), fetched.get(a - lo..b - lo)) {
                dst.copy_from_slice(src);
            }
            d.valid.insert(gap);
        }
        Ok(())
    }

    /// Starts loading the blocks of `range` not held yet, in requests of at most
    /// `max_request` bytes on the fetch pool.
    fn read_ahead(self: &Arc<Self>, range: Range<u64>) {
        let blocks = self.size.div_ceil(self.block_size);
        let first = range.start / self.block_size;
        let end = range.end.div_ceil(self.block_size).min(blocks);
        let per_request = (self.max_request / self.block_size).max(1) as usize;
        let mut run: Vec<Arc<Entry>> = Vec::new();
        for index in first..end {
            match self.get_ahead(index) {
                Some(e) => {
                    self.stats.prefetched.fetch_add(1, Ordering::Relaxed);
                    run.push(e);
                    if run.len() == per_request {
                        self.spawn_load(std::mem::take(&mut run));
                    }
                }
                // Held already, or no room: the reader fetches it when it gets there.
                None => self.spawn_load(std::mem::take(&mut run)),
            }
        }
        self.spawn_load(run);
    }
}
