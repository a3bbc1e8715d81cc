//! Fetches of byte ranges that bypass the block cache (random reads), shared: when several
//! threads miss the same range at once, one request goes to the store and every caller gets
//! its bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crate::store::{BlockStore, StoreError};

type Outcome = Result<Arc<[u8]>, String>;

#[derive(Debug, Default)]
struct Pending {
    outcome: Mutex<Option<Outcome>>,
    done: Condvar,
}

/// The ranges being fetched now.
#[derive(Debug, Default)]
pub struct InFlight {
    ranges: Mutex<HashMap<(u64, u64), Arc<Pending>>>,
    /// Callers waiting for another's request now.
    waiting: AtomicUsize,
}

/// How a fetch went for one caller.
#[derive(Debug)]
pub struct Fetched {
    /// The bytes of the range.
    pub bytes: Arc<[u8]>,
    /// Whether another caller's request brought them.
    pub shared: bool,
}

impl InFlight {
    /// Callers waiting for another caller's request.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Reads `len` bytes at `offset` from `store`, or waits for the same read already under
    /// way.
    pub fn fetch(
        &self,
        store: &dyn BlockStore,
        offset: u64,
        len: usize,
    ) -> Result<Fetched, StoreError> {
        let key = (offset, len as u64);
        let (pending, leader) = {
            let mut map = self.ranges.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&key) {
                Some(p) => (p.clone(), false),
                None => {
                    let p = Arc::new(Pending::default());
                    map.insert(key, p.clone());
                    (p, true)
                }
            }
        };
        if leader {
            let mut buf = vec![0u8; len];
            let outcome = store
                .read_at(offset, &mut buf)
                .map(|()| Arc::<[u8]>::from(buf))
                .map_err(|e| e.to_string());
            // Later callers start a request of their own (the store may have changed).
            self.ranges
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            *pending.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome.clone());
            pending.done.notify_all();
            return match outcome {
                Ok(bytes) => Ok(Fetched {
                    bytes,
                    shared: false,
                }),
                Err(msg) => Err(StoreError::Remote(msg)),
            };
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut outcome = pending.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(o) = &*outcome {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return match o {
                    Ok(bytes) => Ok(Fetched {
                        bytes: bytes.clone(),
                        shared: true,
                    }),
                    Err(msg) => Err(StoreError::Remote(msg.clone())),
                };
            }
            outcome = pending
                .done
                .wait(outcome)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Version;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// A store of `i as u8` at byte `i` whose reads wait until `open` is set; counts
    /// requests.
    #[derive(Debug, Default)]
    struct Gated {
        requests: AtomicU64,
        open: std::sync::atomic::AtomicBool,
    }

    impl BlockStore for Gated {
        fn size(&self) -> u64 {
            1 << 20
        }
        fn version(&self) -> Option<Version> {
            None
        }
        fn writable(&self) -> bool {
            false
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
            self.requests.fetch_add(1, Ordering::SeqCst);
            while !self.open.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
            }
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (offset as usize + i) as u8;
            }
            Ok(())
        }
        fn write_at(
            &self,
            _: u64,
            _: &[u8],
            _: Option<&Version>,
        ) -> Result<Option<Version>, StoreError> {
            Err(StoreError::ReadOnly)
        }
        fn flush(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[test]
    fn concurrent_misses_of_one_range_share_a_request() {
        let store = Gated::default();
        let inflight = InFlight::default();
        let shared: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        let f = inflight.fetch(&store, 4096, 4096).unwrap();
                        assert_eq!(f.bytes[0], 0);
                        assert_eq!(f.bytes[1], 1);
                        f.shared
                    })
                })
                .collect();
            // One request under way, five callers waiting for it: then let it finish.
            while inflight.waiting() < 5 {
                std::thread::sleep(Duration::from_millis(1));
            }
            store.open.store(true, Ordering::SeqCst);
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(store.requests.load(Ordering::SeqCst), 1);
        assert_eq!(shared.iter().filter(|s| !**s).count(), 1);
        // Once done, the next miss asks again.
        inflight.fetch(&store, 4096, 4096).unwrap();
        assert_eq!(store.requests.load(Ordering::SeqCst), 2);
    }
}
