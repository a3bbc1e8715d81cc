//! A shared budget of bytes: request bodies reserve what they hold before they hold it, and
//! give it back when dropped, so that the memory taken by bodies in flight has a fixed bound
//! however many clients send at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The budget. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct ByteBudget {
    total: usize,
    used: AtomicUsize,
}

impl ByteBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> Arc<Self> {
        Arc::new(ByteBudget {
            total,
            used: AtomicUsize::new(0),
        })
    }

    /// The whole budget.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|u| *u <= self.total)
            })
            .is_ok()
    }

    /// Reserves `n` bytes, or `None` if the budget does not have them.
    pub fn reserve(self: &Arc<Self>, n: usize) -> Option<Reservation> {
        self.take(n).then(|| Reservation {
            budget: self.clone(),
            bytes: n,
        })
    }
}

/// Bytes held from a [`ByteBudget`]; returned when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<ByteBudget>,
    bytes: usize,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Holds `more` bytes in addition; false (and nothing changed) if the budget lacks them.
    pub fn grow(&mut self, more: usize) -> bool {
        if self.budget.take(more) {
            self.bytes = self.bytes.saturating_add(more);
            true
        } else {
            false
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_exceed_the_total_and_come_back() {
        let b = ByteBudget::new(100);
        let mut r1 = b.reserve(60).unwrap();
        assert!(b.reserve(41).is_none());
        let r2 = b.reserve(40).unwrap();
        assert!(!r1.grow(1));
        assert_eq!(b.used(), 100);
        drop(r2);
        assert!(r1.grow(30));
        assert_eq!((r1.bytes(), b.used()), (90, 90));
        drop(r1);
        assert_eq!(b.used(), 0);
        assert!(b.reserve(usize::MAX).is_none());
        assert_eq!(b.used(), 0);
    }
}
