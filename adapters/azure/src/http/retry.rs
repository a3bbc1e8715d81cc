//! Retry policy: which answers are retried, how long to wait between attempts (exponential
//! backoff with jitter, or the service's Retry-After) and the total budget.

use std::time::{Duration, SystemTime};

/// How a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each further attempt.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
    /// Upper bound of the whole call, all attempts and waits included. A Retry-After that would
    /// end past it makes the call fail at once instead of waiting.
    pub total_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            total_budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        total_budget: Duration::from_secs(3600),
    };

    /// Backoff before attempt number `next` (1-based count of attempts already made), with
    /// "equal jitter": half the exponential step fixed, the other half random.
    pub fn backoff(&self, attempts_made: u32, random: u64) -> Duration {
        let shift = attempts_made.saturating_sub(1).min(20);
        let step = self
            .base_delay
            .saturating_mul(1u32 << shift)
            .min(self.max_delay);
        let half = step / 2;
        let half_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let jitter = if half_nanos == 0 {
            0
        } else {
            random % half_nanos.saturating_add(1)
        };
        half.saturating_add(Duration::from_nanos(jitter))
    }
}

/// Status codes worth another attempt: request timeout, too many requests, server errors.
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// Parses a Retry-After value: delay seconds, or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A random u64 from the system's CSPRNG (for jitter and nonces).
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // The system RNG failing is not something a retry delay can recover from; fall back to a
    // time-derived value rather than aborting the call.
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos().into())
            .unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            total_budget: Duration::from_secs(10),
        };
        assert_eq!(p.backoff(1, 0), Duration::from_millis(50));
        assert_eq!(p.backoff(2, 0), Duration::from_millis(100));
        assert_eq!(p.backoff(3, 0), Duration::from_millis(200));
        assert_eq!(p.backoff(9, 0), Duration::from_millis(400));
        assert!(p.backoff(9, u64::MAX) <= Duration::from_millis(800));
        assert!(p.backoff(1, 7) > Duration::from_millis(50));
    }

    #[test]
    fn retry_after_seconds_and_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(5));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 412] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }
}
