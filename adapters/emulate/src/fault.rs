//! Fault injection, chosen per test and per service: the next requests to a service (or all of
//! them) are delayed, refused with 429 or a server error, cut short, or answered with a bad
//! signature, an expired certificate or wrong claims.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An emulated service (the unit faults and request counts are kept by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// IMDS managed identity tokens.
    Imds,
    /// Entra ID token endpoint (workload identity).
    Aad,
    /// IMDS THIM certification.
    Thim,
    /// AMD KDS and AzCache.
    Kds,
    /// MAA attest and `/certs`.
    Maa,
    /// Managed HSM / Key Vault.
    Hsm,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 6] = [
        Target::Imds,
        Target::Aad,
        Target::Thim,
        Target::Kds,
        Target::Maa,
        Target::Hsm,
    ];
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// The answer comes after this many milliseconds.
    Latency {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// 429 with `Retry-After: secs`.
    TooManyRequests {
        /// The Retry-After value in seconds.
        retry_after_secs: u64,
    },
    /// A server error (500, 503...), with an Azure-style error body.
    Status {
        /// The status code.
        status: u16,
    },
    /// The full Content-Length is announced, half the body is sent, the connection closes.
    Truncate,
    /// Tokens (MAA) and JWS answers (HSM) carry a signature that does not verify.
    BadSignature,
    /// The HSM signs its answer with an expired certificate; MAA issues an expired token.
    ExpiredCert,
    /// MAA tokens carry a wrong report data claim; HSM answers name another key; identity
    /// tokens are issued for another audience.
    WrongClaims,
}

impl Fault {
    /// Whether the fault changes the answer's content rather than the transport.
    pub fn is_content(&self) -> bool {
        matches!(
            self,
            Fault::BadSignature | Fault::ExpiredCert | Fault::WrongClaims
        )
    }
}

/// A fault and for how many requests it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The fault.
    pub fault: Fault,
    /// Applies to this many requests, then the service is healthy again; `None`: until
    /// cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    /// Until cleared.
    pub fn always(fault: Fault) -> Self {
        FaultRule { fault, times: None }
    }

    /// For the next `n` requests.
    pub fn times(fault: Fault, n: u32) -> Self {
        FaultRule {
            fault,
            times: Some(n),
        }
    }
}

/// Faults and request counters of all services.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<HashMap<Target, FaultRule>>,
    counts: HashMap<Target, AtomicU64>,
}

impl Faults {
    /// No faults.
    pub fn new() -> Self {
        Faults {
            rules: Mutex::new(HashMap::new()),
            counts: Target::ALL
                .iter()
                .map(|t| (*t, AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Sets the fault of a target (replacing any other).
    pub fn set(&self, target: Target, rule: FaultRule) {
        self.lock().insert(target, rule);
    }

    /// Clears the fault of a target.
    pub fn clear(&self, target: Target) {
        self.lock().remove(&target);
    }

    /// Clears every fault.
    pub fn clear_all(&self) {
        self.lock().clear();
    }

    /// Requests seen by a target so far.
    pub fn count(&self, target: Target) -> u64 {
        self.counts
            .get(&target)
            .map(|c| c.load(Ordering::SeqCst))
            .unwrap_or(0)
    }

    /// Counts a request and returns the fault to apply to it, if any.
    pub fn on_request(&self, target: Target) -> Option<Fault> {
        if let Some(c) = self.counts.get(&target) {
            c.fetch_add(1, Ordering::SeqCst);
        }
        let mut rules = self.lock();
        let rule = rules.get_mut(&target)?;
        let fault = rule.fault.clone();
        match &mut rule.times {
            None => {}
            Some(0) => {
                rules.remove(&target);
                return None;
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    rules.remove(&target);
                }
            }
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Target, FaultRule>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The delay of a latency fault.
pub fn latency(fault: &Fault) -> Option<Duration> {
    match fault {
        Fault::Latency { ms } => Some(Duration::from_millis(*ms)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_expire() {
        let f = Faults::new();
        f.set(
            Target::Kds,
            FaultRule::times(Fault::Status { status: 503 }, 2),
        );
        assert_eq!(
            f.on_request(Target::Kds),
            Some(Fault::Status { status: 503 })
        );
        assert_eq!(f.on_request(Target::Maa), None);
        assert_eq!(
            f.on_request(Target::Kds),
            Some(Fault::Status { status: 503 })
        );
        assert_eq!(f.on_request(Target::Kds), None);
        assert_eq!(f.count(Target::Kds), 3);
        f.set(Target::Hsm, FaultRule::always(Fault::Truncate));
        for _ in 0..3 {
            assert_eq!(f.on_request(Target::Hsm), Some(Fault::Truncate));
        }
        f.clear_all();
        assert_eq!(f.on_request(Target::Hsm), None);
    }

    #[test]
    fn rules_are_json() {
        let r: FaultRule = serde_json::from_str(
            r#"{"fault":{"kind":"too_many_requests","retry_after_secs":2},"times":1}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            FaultRule::times(
                Fault::TooManyRequests {
                    retry_after_secs: 2
                },
                1
            )
        );
    }
}
