//! Running a blocking kernel request off the caller's thread, without a runtime.
//!
//! A report request blocks for milliseconds to seconds (the host throttles guest requests).
//! Doing it inside `poll` would stall an async executor's worker, so each request runs on a
//! short-lived thread and the returned future completes when it is done. The future is `Send`
//! and needs nothing but a `Waker`: tokio, embassy-futures' `block_on` or a hand-written loop
//! all drive it. Dropping the future early leaves the thread to finish and discard its result.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    result: Option<T>,
    waker: Option<Waker>,
}

/// The future of [`run`].
pub(crate) struct Offload<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

/// Runs `work` on a new thread; if no thread can be started, the future resolves to
/// `on_spawn_error`'s value.
pub(crate) fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    on_spawn_error: impl FnOnce(std::io::Error) -> T,
) -> Offload<T> {
    let slot = Arc::new(Mutex::new(Slot {
        result: None,
        waker: None,
    }));
    let theirs = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("csc-sev-request".into())
        .spawn(move || {
            let value = work();
            let mut s = theirs.lock().unwrap_or_else(PoisonError::into_inner);
            s.result = Some(value);
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        });
    if let Err(e) = spawned {
        slot.lock().unwrap_or_else(PoisonError::into_inner).result = Some(on_spawn_error(e));
    }
    Offload { slot }
}

impl<T> Future for Offload<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match s.result.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn runs_off_thread_and_wakes() {
        let caller = std::thread::current().id();
        let fut = run(
            move || {
                std::thread::sleep(Duration::from_millis(20));
                std::thread::current().id() != caller
            },
            |_| false,
        );
        fn send<F: Send>(f: F) -> F {
            f
        }
        let start = Instant::now();
        assert!(embassy_futures::block_on(send(fut)));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn dropping_early_is_harmless() {
        let fut = run(|| std::thread::sleep(Duration::from_millis(5)), |_| ());
        drop(fut);
        std::thread::sleep(Duration::from_millis(20));
    }
}
