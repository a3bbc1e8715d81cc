//! Message sequence numbers.
//!
//! The PSP keeps one counter per VMPCK. A request must carry the counter plus one and its
//! response carries the request's number plus one; both numbers are then spent, and the next
//! request uses the response's number plus one. Each number is also an AES-GCM nonce, so none may
//! ever be used twice under one key, and zero is never valid. The counter is 64 bits wide;
//! when the next pair would not fit, the key is exhausted ([`SequenceError`]) and must not be
//! used again.
//!
//! The counter survives a hand-over (firmware to kernel, kernel to kernel) only if the previous
//! owner stored it: the GHCB specification reserves room for it in the secrets page
//! ([`super::secrets`]).

use core::fmt;

/// The counter of one VMPCK as the guest sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceNumbers {
    /// The last number used by either side (0 before the first message).
    last: u64,
}

/// A request cannot be numbered: the counter has reached its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceError {
    /// The last number used.
    pub last: u64,
}

impl fmt::Display for SequenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the message sequence number would wrap around after {}: this VMPCK must not be used again",
            self.last
        )
    }
}

impl SequenceNumbers {
    /// A counter whose last used number is `last` (0 for a fresh key).
    pub const fn new(last: u64) -> Self {
        SequenceNumbers { last }
    }

    /// The last number used; store it where the next owner of the key will find it.
    pub const fn last(self) -> u64 {
        self.last
    }

    /// The number of the next request, if a request and its response still fit.
    pub const fn next_request(self) -> Result<u64, SequenceError> {
        // The request takes last + 1 and the response last + 2: both must fit in 64 bits.
        match self.last.checked_add(2) {
            Some(_) => Ok(self.last.wrapping_add(1)),
            None => Err(SequenceError { last: self.last }),
        }
    }

    /// The response number that answers `request`.
    pub const fn response_to(request: u64) -> Option<u64> {
        request.checked_add(1)
    }

    /// Spends `request` and its response. Called as soon as a sealed request has left the
    /// guest, whatever happens next: a number that may have reached the PSP is never reused.
    pub fn spend(&mut self, request: u64) {
        self.last = self.last.max(request.saturating_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbering_starts_at_one_and_moves_in_pairs() {
        let mut s = SequenceNumbers::new(0);
        assert_eq!(s.next_request(), Ok(1));
        s.spend(1);
        assert_eq!(s.last(), 2);
        assert_eq!(s.next_request(), Ok(3));
        assert_eq!(SequenceNumbers::response_to(3), Some(4));
    }

    #[test]
    fn wrap_around_is_refused() {
        assert_eq!(
            SequenceNumbers::new(u64::MAX - 2).next_request(),
            Ok(u64::MAX - 1)
        );
        for last in [u64::MAX - 1, u64::MAX] {
            assert_eq!(
                SequenceNumbers::new(last).next_request(),
                Err(SequenceError { last })
            );
        }
        assert_eq!(SequenceNumbers::response_to(u64::MAX), None);
        let mut s = SequenceNumbers::new(u64::MAX - 2);
        s.spend(u64::MAX - 1);
        assert_eq!(s.last(), u64::MAX);
        assert!(s.next_request().is_err());
    }

    proptest! {
        #[test]
        fn a_number_is_never_handed_out_twice(start in any::<u64>(), steps in 1usize..50) {
            let mut s = SequenceNumbers::new(start);
            let mut previous = None;
            for _ in 0..steps {
                let Ok(n) = s.next_request() else { break };
                prop_assert!(n > start);
                prop_assert!(n != 0);
                if let Some(p) = previous { prop_assert!(n > p + 1); }
                previous = Some(n);
                s.spend(n);
            }
        }
    }
}
