//! The write path and write-back.
//!
//! A write marks the 512-byte pages it touches dirty; a page it covers only in part is read
//! from the store first if its content is not known. Nothing else is fetched: a block
//! written before it was read holds only what was written.
//!
//! Write-back plans the dirty pages of the blocks to save as runs: consecutive dirty pages
//! (also across blocks) form one run, runs of one block less than [`MERGE_GAP`] apart are
//! merged when the pages between are known (uploading a few clean bytes is cheaper than a
//! round trip), and no run exceeds the largest request. Each run is copied out and its pages
//! marked clean under the block's lock, then uploaded with the version the previous upload
//! returned as its condition; a failure marks the pages dirty again, and a failed condition
//! (someone else wrote the store) stops every later write.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::pages::{PAGE, pages_covered, pages_touched};
use super::{Entry, Fresh, Inner, lock};
use crate::store::StoreError;

/// Clean bytes between two dirty runs of a block that are uploaded rather than split.
pub const MERGE_GAP: usize = 64 * 1024;

/// One upload: bytes of the store starting at `start`, taken from blocks.
struct Run {
    start: u64,
    len: usize,
    parts: Vec<(Arc<Entry>, Range<usize>)>,
}

impl Run {
    fn end(&self) -> u64 {
        self.start + self.len as u64
    }
}

impl Inner {
    fn check_poisoned(&self) -> Result<(), StoreError> {
        match &*lock(&self.poisoned) {
            Some(msg) => Err(StoreError::Remote(format!(
                "writes stopped after a conflict: {msg}"
            ))),
            None => Ok(()),
        }
    }

    /// Writes `data` at `offset` into the cache (clipped at the end of the store).
    pub(super) fn write(self: &Arc<Self>, offset: u64, data: &[u8]) -> Result<usize, StoreError> {
        if !self.store.writable() {
            return Err(StoreError::ReadOnly);
        }
        self.check_poisoned()?;
        if offset >= self.size || data.is_empty() {
            return Ok(0);
        }
        let len = (data.len() as u64).min(self.size - offset) as usize;
        let first = offset / self.block_size;
        let last = (offset + len as u64 - 1) / self.block_size;
        let mut done = 0usize;
        for index in first..=last {
            let (start, blen) = self.block_range(index);
            let from = (offset + done as u64 - start) as usize;
            let n = (blen - from).min(len - done);
            let src = data
                .get(done..done + n)
                .ok_or_else(|| StoreError::Remote("write range".into()))?;
            self.write_block(index, from, src, blen)?;
            done += n;
        }
        Ok(done)
    }

    fn write_block(
        &self,
        index: u64,
        from: usize,
        src: &[u8],
        blen: usize,
    ) -> Result<(), StoreError> {
        let (mut e, _) = self.get(index, Fresh::Unknown);
        if self.wait(&e).is_err() {
            // Its read-ahead failed (and it left the cache): start afresh.
            e = self.get(index, Fresh::Unknown).0;
            self.wait(&e)?;
        }
        let range = from..from + src.len();
        let touched = pages_touched(range.clone());
        let covered = pages_covered(range.clone());
        // Pages written only in part keep their other bytes: know them first. A last page
        // cut short by the end of the store is wholly written.
        let mut partial = Vec::new();
        if touched.start < covered.start {
            partial.push(touched.start);
        }
        if range.end % PAGE != 0 && range.end < blen && covered.end < touched.end {
            partial.push(touched.end - 1);
        }
        for p in partial {
            self.fill(&e, p..p + 1)?;
        }
        let mut d = e.write();
        let dst = d
            .bytes
            .get_mut(range)
            .ok_or_else(|| StoreError::Remote("cache block shorter than expected".into()))?;
        dst.copy_from_slice(src);
        d.valid.insert(touched.clone());
        d.dirty.insert(touched);
        e.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Uploads every dirty page range and flushes the store.
    pub(super) fn sync(&self) -> Result<(), StoreError> {
        self.flush_dirty()?;
        if self.store.writable() {
            self.store.flush()?;
        }
        Ok(())
    }

    /// Uploads the dirty pages of every block.
    pub(super) fn flush_dirty(&self) -> Result<(), StoreError> {
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
        if dirty.is_empty() {
            return Ok(());
        }
        dirty.sort_by_key(|e| e.index);
        self.write_back(dirty)
    }

    /// The uploads that save the dirty pages of `entries` (sorted by index).
    fn plan(&self, entries: &[Arc<Entry>]) -> Vec<Run> {
        let max = self.max_request as usize;
        let mut runs: Vec<Run> = Vec::new();
        for e in entries {
            let d = e.read();
            let (start, blen) = self.block_range(e.index);
            for pages in d.dirty.runs() {
                let r = pages.start * PAGE..(pages.end * PAGE).min(blen);
                if r.is_empty() {
                    continue;
                }
                let at = start + r.start as u64;
                if let Some(run) = runs.last_mut() {
                    if run.end() == at && run.len + r.len() <= max {
                        run.len += r.len();
                        match run.parts.last_mut() {
                            Some((pe, pr)) if Arc::ptr_eq(pe, e) => pr.end = r.end,
                            _ => run.parts.push((e.clone(), r)),
                        }
                        continue;
                    }
                    if let Some((pe, pr)) = run.parts.last_mut()
                        && Arc::ptr_eq(pe, e)
                        && r.start - pr.end <= MERGE_GAP
                        && run.len + (r.end - pr.end) <= max
                        && d.valid.contains_all(pr.end / PAGE..r.start / PAGE)
                    {
                        run.len += r.end - pr.end;
                        pr.end = r.end;
                        continue;
                    }
                }
                runs.push(Run {
                    start: at,
                    len: r.len(),
                    parts: vec![(e.clone(), r)],
                });
            }
        }
        runs
    }

    /// Uploads the dirty pages of `entries` (sorted by index), run by run, each conditioned
    /// on the version the previous upload returned. A block is held only until the run that
    /// saves its last dirty pages is uploaded.
    pub(super) fn write_back(&self, entries: Vec<Arc<Entry>>) -> Result<(), StoreError> {
        let mut version = lock(&self.write_back);
        self.check_poisoned()?;
        let runs = self.plan(&entries);
        drop(entries);
        for run in runs {
            let mut bytes = Vec::with_capacity(run.len);
            for (e, r) in &run.parts {
                let mut d = e.write();
                let src = d.bytes.get(r.clone()).ok_or_else(|| {
                    StoreError::Remote("cache block shorter than expected".into())
                })?;
                bytes.extend_from_slice(src);
                d.dirty.remove(pages_touched(r.clone()));
                e.dirty.store(d.dirty.any(), Ordering::Release);
            }
            match self.store.write_at(run.start, &bytes, version.as_ref()) {
                Ok(v) => {
                    if v.is_some() {
                        *version = v;
                    }
                    self.stats.written_back.fetch_add(1, Ordering::Relaxed);
                }
                Err(err) => {
                    for (e, r) in &run.parts {
                        e.write().dirty.insert(pages_touched(r.clone()));
                        e.dirty.store(true, Ordering::Release);
                    }
                    if let StoreError::ConditionFailed { .. } = err {
                        *lock(&self.poisoned) = Some(err.to_string());
                    }
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}
