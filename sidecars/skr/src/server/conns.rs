//! The open connections of one server, each either waiting on its client (between requests,
//! or while a request is still arriving) or busy (the server is working on a request).
//!
//! At the cap, a new connection is admitted by closing the one that has waited longest on
//! its client: a client that opens connections and sends nothing, or stalls in mid-request,
//! loses its oldest connection to the next client instead of locking everyone out. A
//! connection the server is working for is never closed this way; when every connection is
//! busy, the new one is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

#[derive(Debug)]
struct Entry {
    /// When the connection started waiting on its client; `None` while busy.
    waiting_since: Option<Instant>,
    /// Asked to close (to make room, or the server stops).
    closing: bool,
    close: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    /// Entries not yet asked to close.
    live: usize,
}

/// The connection table of one server.
#[derive(Debug)]
pub struct Connections {
    cap: usize,
    table: Mutex<Table>,
    emptied: Notify,
}

impl Connections {
    /// A table admitting at most `cap` connections at once.
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Connections {
            cap: cap.max(1),
            table: Mutex::new(Table::default()),
            emptied: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic elsewhere while holding the lock cannot leave the table inconsistent
        // (every update is a single insert, remove or field store).
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Connections open (including those asked to close that have not yet closed).
    pub fn open(&self) -> usize {
        self.lock().entries.len()
    }

    /// Asks the connection that has waited longest on its client to close. False if every
    /// connection is busy.
    pub fn close_longest_waiting(&self) -> bool {
        let mut t = self.lock();
        Self::close_oldest(&mut t)
    }

    fn close_oldest(t: &mut Table) -> bool {
        let oldest = t
            .entries
            .iter()
            .filter(|(_, e)| !e.closing)
            .filter_map(|(id, e)| e.waiting_since.map(|w| (w, *id)))
            .min();
        let Some((_, id)) = oldest else { return false };
        if let Some(e) = t.entries.get_mut(&id) {
            e.closing = true;
            e.close.notify_one();
            t.live = t.live.saturating_sub(1);
        }
        true
    }

    /// Admits a new connection, closing the longest-waiting one if the table is full.
    /// `None` when full of busy connections.
    pub fn admit(self: &Arc<Self>) -> Option<ConnHandle> {
        let mut t = self.lock();
        if t.live >= self.cap && !Self::close_oldest(&mut t) {
            return None;
        }
        let id = t.next_id;
        t.next_id = t.next_id.wrapping_add(1);
        let close = Arc::new(Notify::new());
        t.entries.insert(
            id,
            Entry {
                waiting_since: Some(Instant::now()),
                closing: false,
                close: close.clone(),
            },
        );
        t.live = t.live.saturating_add(1);
        Some(ConnHandle(Arc::new(HandleInner {
            id,
            conns: self.clone(),
            close,
        })))
    }

    /// Asks every connection to close (the server stops).
    pub fn close_all(&self) {
        let mut t = self.lock();
        for e in t.entries.values_mut() {
            if !e.closing {
                e.closing = true;
                e.close.notify_one();
            }
        }
        t.live = 0;
    }

    /// Completes when no connection is open.
    pub async fn wait_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.open() == 0 {
                return;
            }
            emptied.await;
        }
    }

    fn set_waiting(&self, id: u64, waiting: bool) {
        if let Some(e) = self.lock().entries.get_mut(&id) {
            e.waiting_since = waiting.then(Instant::now);
        }
    }

    fn remove(&self, id: u64) {
        let mut t = self.lock();
        if let Some(e) = t.entries.remove(&id)
            && !e.closing
        {
            t.live = t.live.saturating_sub(1);
        }
        if t.entries.is_empty() {
            self.emptied.notify_waiters();
        }
    }
}

#[derive(Debug)]
struct HandleInner {
    id: u64,
    conns: Arc<Connections>,
    close: Arc<Notify>,
}

impl Drop for HandleInner {
    fn drop(&mut self) {
        self.conns.remove(self.id);
    }
}

/// One admitted connection; it leaves the table when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct ConnHandle(Arc<HandleInner>);

impl ConnHandle {
    /// The server is working on a request of this connection: not to be closed for room.
    pub fn busy(&self) {
        self.0.conns.set_waiting(self.0.id, false);
    }

    /// The connection waits on its client again.
    pub fn waiting(&self) {
        self.0.conns.set_waiting(self.0.id, true);
    }

    /// Completes when the connection is asked to close.
    pub async fn closed(&self) {
        self.0.close.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn full_table_closes_the_longest_waiting_never_a_busy_one() {
        let c = Connections::new(2);
        let a = c.admit().unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let b = c.admit().unwrap();
        // Third: `a` waited longest and is asked to close.
        let third = c.admit().unwrap();
        tokio::time::timeout(Duration::from_secs(1), a.closed())
            .await
            .expect("a asked to close");
        assert_eq!(c.open(), 3);
        drop(a);
        assert_eq!(c.open(), 2);
        // Both busy: a fourth is refused.
        b.busy();
        third.busy();
        assert!(c.admit().is_none());
        assert!(!c.close_longest_waiting());
        third.waiting();
        let fourth = c.admit().unwrap();
        tokio::time::timeout(Duration::from_secs(1), third.closed())
            .await
            .expect("third asked to close");
        drop((b, third));
        c.close_all();
        tokio::time::timeout(Duration::from_secs(1), fourth.closed())
            .await
            .unwrap();
        let waiter = {
            let c = c.clone();
            tokio::spawn(async move { c.wait_empty().await })
        };
        drop(fourth);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.open(), 0);
    }
}
