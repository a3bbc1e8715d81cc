//! Ephemeral RSA-2048 wrapping keys made ahead of need, so that a release does not wait for
//! key generation (tens of milliseconds). Each key is used for one release only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use csc_crypto::unwrap::AwsLcRsaKey;

use crate::error::{ReleaseError, Result};

/// A pool of fresh keys, refilled in the background.
#[derive(Debug, Clone)]
pub struct KeyPool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ready: Mutex<Vec<AwsLcRsaKey>>,
    target: AtomicUsize,
    refilling: Mutex<bool>,
}

impl KeyPool {
    /// A pool that keeps `target` keys ready (0: every key is made on demand). Filling starts
    /// at once on a blocking thread of the current tokio runtime, if there is one.
    pub fn new(target: usize) -> KeyPool {
        let pool = KeyPool {
            inner: Arc::new(Inner {
                ready: Mutex::new(Vec::with_capacity(target)),
                target: AtomicUsize::new(target),
                refilling: Mutex::new(false),
            }),
        };
        pool.refill();
        pool
    }

    /// Keys ready now.
    pub fn ready(&self) -> usize {
        self.inner.ready.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// A fresh key: a ready one, or one made now when none is ready.
    pub async fn take(&self) -> Result<AwsLcRsaKey> {
        let ready = self
            .inner
            .ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        self.refill();
        match ready {
            Some(k) => Ok(k),
            None => tokio::task::spawn_blocking(AwsLcRsaKey::generate_ephemeral)
                .await
                .map_err(|e| ReleaseError::WrappingKey(e.to_string()))?
                .map_err(|e| ReleaseError::WrappingKey(e.to_string())),
        }
    }

    /// Keeps `target` keys ready from now on (a server starts with 0 and sets its target once
    /// it listens, so that key generation does not compete with its start).
    pub fn set_target(&self, target: usize) {
        self.inner.target.store(target, Ordering::Relaxed);
        self.refill();
    }

    fn refill(&self) {
        if self.inner.target.load(Ordering::Relaxed) == 0
            || tokio::runtime::Handle::try_current().is_err()
        {
            return;
        }
        {
            let mut busy = self
                .inner
                .refilling
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if *busy {
                return;
            }
            *busy = true;
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            loop {
                let have = inner.ready.lock().map(|v| v.len()).unwrap_or(usize::MAX);
                if have >= inner.target.load(Ordering::Relaxed) {
                    break;
                }
                match AwsLcRsaKey::generate_ephemeral() {
                    Ok(k) => inner
                        .ready
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(k),
                    Err(e) => {
                        tracing::warn!("wrapping key generation failed: {e}");
                        break;
                    }
                }
            }
            *inner.refilling.lock().unwrap_or_else(|p| p.into_inner()) = false;
        });
    }
}
