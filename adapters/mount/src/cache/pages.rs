//! A set of pages of one cache block, as a bitmap: which 512-byte pages hold known content
//! (`valid`) and which hold writes not yet uploaded (`dirty`).

use std::ops::Range;

/// Bytes per page: the write unit of page blobs and of every block device.
pub const PAGE: usize = 512;

/// A set of page numbers `0..len`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageSet {
    words: Box<[u64]>,
    len: usize,
}

impl PageSet {
    /// No page of `len`.
    pub fn empty(len: usize) -> Self {
        Self {
            words: vec![0u64; len.div_ceil(64)].into_boxed_slice(),
            len,
        }
    }

    /// Every page of `len`.
    pub fn full(len: usize) -> Self {
        let mut s = Self::empty(len);
        s.insert(0..len);
        s
    }

    /// Number of pages the set can hold.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set can hold no page at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clip(&self, r: Range<usize>) -> Range<usize> {
        r.start.min(self.len)..r.end.min(self.len)
    }

    fn update(&mut self, r: Range<usize>, set: bool) {
        let r = self.clip(r);
        let mut p = r.start;
        while p < r.end {
            let (w, bit) = (p / 64, p % 64);
            let n = (64 - bit).min(r.end - p);
            let mask = if n == 64 {
                u64::MAX
            } else {
                ((1u64 << n) - 1) << bit
            };
            if let Some(word) = self.words.get_mut(w) {
                if set {
                    *word |= mask;
                } else {
                    *word &= !mask;
                }
            }
            p += n;
        }
    }

    /// Adds pages `r` (clipped to the set's length).
    pub fn insert(&mut self, r: Range<usize>) {
        self.update(r, true);
    }

    /// Removes pages `r`.
    pub fn remove(&mut self, r: Range<usize>) {
        self.update(r, false);
    }

    /// Removes every page.
    pub fn clear(&mut self) {
        self.words.fill(0);
    }

    /// Whether page `p` is in the set.
    pub fn contains(&self, p: usize) -> bool {
        p < self.len
            && self
                .words
                .get(p / 64)
                .is_some_and(|w| w & (1u64 << (p % 64)) != 0)
    }

    /// Whether every page of `r` is in the set (true for an empty range).
    pub fn contains_all(&self, r: Range<usize>) -> bool {
        r.end <= self.len && self.next_absent(r.start, r.end) == r.end
    }

    /// Whether the set holds any page.
    pub fn any(&self) -> bool {
        self.words.iter().any(|w| *w != 0)
    }

    /// Whether the set holds every page.
    pub fn all(&self) -> bool {
        self.contains_all(0..self.len)
    }

    /// The first page at or after `from`, before `end`, that is in the set (or `end`).
    fn next_present(&self, from: usize, end: usize) -> usize {
        (from..end).find(|&p| self.contains(p)).unwrap_or(end)
    }

    /// The first page at or after `from`, before `end`, that is not in the set (or `end`).
    fn next_absent(&self, from: usize, end: usize) -> usize {
        let mut p = from;
        while p < end {
            let w = self.words.get(p / 64).copied().unwrap_or(0);
            if p.is_multiple_of(64) && w == u64::MAX {
                p += 64;
                continue;
            }
            if w & (1u64 << (p % 64)) == 0 {
                return p;
            }
            p += 1;
        }
        end
    }

    /// The maximal runs of consecutive pages in the set, in order.
    pub fn runs(&self) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut p = 0;
        while p < self.len {
            let w = self.words.get(p / 64).copied().unwrap_or(0);
            if p.is_multiple_of(64) && w == 0 {
                p += 64;
                continue;
            }
            let start = self.next_present(p, self.len);
            if start >= self.len {
                break;
            }
            let end = self.next_absent(start, self.len);
            out.push(start..end);
            p = end;
        }
        out
    }

    /// The maximal runs of consecutive pages of `r` that are not in the set.
    pub fn gaps(&self, r: Range<usize>) -> Vec<Range<usize>> {
        let r = self.clip(r);
        let mut out = Vec::new();
        let mut p = r.start;
        while p < r.end {
            let start = self.next_absent(p, r.end);
            if start >= r.end {
                break;
            }
            let end = self.next_present(start, r.end);
            out.push(start..end);
            p = end;
        }
        out
    }
}

/// Pages touched by bytes `r`: from the page holding the first byte to the one holding the
/// last.
pub fn pages_touched(r: Range<usize>) -> Range<usize> {
    if r.is_empty() {
        return r.start / PAGE..r.start / PAGE;
    }
    r.start / PAGE..r.end.div_ceil(PAGE)
}

/// Pages wholly covered by bytes `r`.
pub fn pages_covered(r: Range<usize>) -> Range<usize> {
    let start = r.start.div_ceil(PAGE);
    let end = r.end / PAGE;
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn runs_and_gaps() {
        let mut s = PageSet::empty(200);
        assert!(!s.any());
        s.insert(3..5);
        s.insert(60..130);
        s.insert(199..400);
        assert_eq!(s.runs(), vec![3..5, 60..130, 199..200]);
        assert_eq!(s.gaps(0..200), vec![0..3, 5..60, 130..199]);
        assert_eq!(s.gaps(61..129), Vec::<Range<usize>>::new());
        assert!(s.contains_all(64..128));
        assert!(!s.contains_all(4..6));
        s.remove(64..128);
        assert_eq!(s.runs(), vec![3..5, 60..64, 128..130, 199..200]);
        assert!(!s.all());
        assert!(PageSet::full(1024).all());
        assert_eq!(PageSet::full(1024).runs(), vec![0..1024]);
        s.clear();
        assert!(s.runs().is_empty());
    }

    #[test]
    fn byte_ranges_to_pages() {
        assert_eq!(pages_touched(0..1), 0..1);
        assert_eq!(pages_touched(511..513), 0..2);
        assert_eq!(pages_touched(1024..2048), 2..4);
        assert_eq!(pages_covered(1..1024), 1..2);
        assert_eq!(pages_covered(1..511), 1..1);
        assert_eq!(pages_covered(0..4096), 0..8);
    }

    proptest! {
        /// Inserted and removed ranges leave exactly the pages a plain bool array would, and
        /// runs and gaps partition the set.
        #[test]
        fn matches_a_bool_array(ops in proptest::collection::vec((any::<bool>(), 0usize..300, 0usize..300), 0..20)) {
            let len = 257;
            let mut s = PageSet::empty(len);
            let mut model = vec![false; len];
            for (add, a, b) in ops {
                let r = a.min(b)..a.max(b);
                if add { s.insert(r.clone()) } else { s.remove(r.clone()) }
                if let Some(m) = model.get_mut(r.start.min(len)..r.end.min(len)) {
                    m.fill(add);
                }
            }
            for (p, want) in model.iter().enumerate() {
                prop_assert_eq!(s.contains(p), *want);
            }
            let mut covered = vec![false; len];
            for r in s.runs() {
                prop_assert!(!r.is_empty());
                for p in r { covered[p] = true; }
            }
            for r in s.gaps(0..len) {
                for p in r { prop_assert!(!covered[p]); covered[p] = true; }
            }
            prop_assert!(covered.iter().all(|c| *c));
        }
    }
}
