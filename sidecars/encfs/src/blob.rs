//! A blob as a csc-mount [`BlockStore`]: size and ETag from one HEAD at open, ranged GETs for
//! reads, Put Page for writes (page blobs only). Every request is conditioned on the ETag this
//! handle last saw (its own writes move it): a concurrent writer is detected instead of
//! overwritten, and a reader never gets a mix of two versions of the blob, which is what
//! lets the kernel keep its page cache of the FUSE file across opens. At most
//! [`MAX_IN_FLIGHT`] requests per blob are in flight, so the connection pool stays small.
//!
//! Threading: csc-mount calls these methods from plain OS threads (FUSE workers, the cache's
//! fetch threads, the main thread), never from inside the runtime. Each call drives the async
//! client with [`Handle::block_on`] on the calling thread while the runtime's workers run the
//! connections, so several threads fetch ranges in parallel over pooled connections. A call
//! from inside the runtime would deadlock or panic; it is refused with an error instead.

use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard};

use csc_azure::blob::{BlobClient, PAGE_SIZE};
use csc_mount::store::scatter;
use csc_mount::{BlockStore, StoreError, Version};
use tokio::runtime::Handle;

use crate::input::redact_url;

/// The blob type that takes page writes.
pub const PAGE_BLOB: &str = "PageBlob";

/// Requests in flight per blob at most (the HTTP client keeps as many connections idle).
pub const MAX_IN_FLIGHT: usize = 16;

/// Reads retried when our own write moved the ETag while they were under way.
const READ_ATTEMPTS: usize = 3;

/// A counting semaphore for blocking callers.
#[derive(Debug, Default)]
struct Slots {
    busy: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn take(&self) -> Slot<'_> {
        let mut busy = lock(&self.busy);
        while *busy >= MAX_IN_FLIGHT {
            busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *lock(&self.0.busy) -= 1;
        self.0.freed.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One blob, opened.
pub struct BlobStore {
    client: BlobClient,
    rt: Handle,
    size: u64,
    blob_type: String,
    writable: bool,
    /// The ETag after open or after our last write (held only to read or replace it).
    version: Mutex<Version>,
    /// Serialises writes: each is conditioned on the ETag the previous one returned.
    writing: Mutex<()>,
    slots: Slots,
    url: String,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStore")
            .field("url", &self.url)
            .field("size", &self.size)
            .field("blob_type", &self.blob_type)
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

fn remote(e: csc_azure::Error) -> StoreError {
    // csc-azure's messages carry URLs with SAS signatures and tokens removed.
    StoreError::Remote(e.to_string())
}

fn outside_runtime() -> Result<(), StoreError> {
    if Handle::try_current().is_ok() {
        return Err(StoreError::Remote(
            "blob source called from inside the async runtime (blocking call refused)".into(),
        ));
    }
    Ok(())
}

impl BlobStore {
    /// Reads the blob's properties. `writable` needs a page blob (block blobs are read-only,
    /// as upstream's azmount can only write pages).
    pub fn open(
        client: BlobClient,
        url: &str,
        rt: Handle,
        writable: bool,
    ) -> Result<Self, StoreError> {
        outside_runtime()?;
        let props = rt.block_on(client.properties()).map_err(remote)?;
        if writable && props.blob_type != PAGE_BLOB {
            return Err(StoreError::Remote(format!(
                "read_write needs a page blob; {} is a {}",
                redact_url(url),
                if props.blob_type.is_empty() {
                    "blob of unknown type"
                } else {
                    props.blob_type.as_str()
                }
            )));
        }
        Ok(Self {
            client,
            rt,
            size: props.size,
            blob_type: props.blob_type,
            writable,
            version: Mutex::new(Version(props.etag)),
            writing: Mutex::new(()),
            slots: Slots::default(),
            url: redact_url(url),
        })
    }

    fn etag(&self) -> Option<Version> {
        Some(lock(&self.version).clone()).filter(|v| !v.0.is_empty())
    }

    /// One ranged GET of `len` bytes at `offset`, conditioned on the current ETag.
    fn fetch(
        &self,
        offset: u64,
        len: u64,
    ) -> Result<impl std::ops::Deref<Target = [u8]> + use<>, StoreError> {
        outside_runtime()?;
        let _slot = self.slots.take();
        let mut tag = self.etag();
        for attempt in 1..=READ_ATTEMPTS {
            let cond = tag.as_ref().map(|v| v.0.as_str());
            match self
                .rt
                .block_on(self.client.read_range_if(offset, len, cond))
            {
                Ok(got) => return Ok(got),
                Err(csc_azure::Error::ConditionNotMet { expected, .. }) => {
                    let now = self.etag();
                    if now != tag && attempt < READ_ATTEMPTS {
                        // Our own write changed the ETag while the read was under way.
                        tag = now;
                        continue;
                    }
                    return Err(StoreError::ConditionFailed {
                        expected: Version(expected),
                        found: self.current_etag(),
                    });
                }
                Err(e) => return Err(remote(e)),
            }
        }
        Err(StoreError::Remote(format!(
            "{}: read kept failing",
            self.url
        )))
    }

    /// `PageBlob`, `BlockBlob`, ...
    pub fn blob_type(&self) -> &str {
        &self.blob_type
    }

    fn current_etag(&self) -> Version {
        match self.rt.block_on(self.client.properties()) {
            Ok(p) => Version(p.etag),
            Err(_) => Version("(unknown)".into()),
        }
    }
}

fn check_range(offset: u64, len: u64, size: u64) -> Result<(), StoreError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(StoreError::OutOfRange { offset, len, size }),
    }
}

impl BlockStore for BlobStore {
    fn size(&self) -> u64 {
        self.size
    }

    fn version(&self) -> Option<Version> {
        Some(lock(&self.version).clone())
    }

    fn write_alignment(&self) -> u64 {
        PAGE_SIZE
    }

    fn writable(&self) -> bool {
        self.writable
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        self.read_vectored_at(offset, &mut [buf])
    }

    fn read_vectored_at(&self, offset: u64, bufs: &mut [&mut [u8]]) -> Result<(), StoreError> {
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        check_range(offset, len, self.size)?;
        if len == 0 {
            return Ok(());
        }
        let got = self.fetch(offset, len)?;
        if got.len() as u64 != len {
            return Err(StoreError::Remote(format!(
                "{}: asked for {len} bytes at {offset}, got {} (the blob shrank?)",
                self.url,
                got.len()
            )));
        }
        scatter(&got, bufs);
        Ok(())
    }

    fn write_at(
        &self,
        offset: u64,
        data: &[u8],
        if_match: Option<&Version>,
    ) -> Result<Option<Version>, StoreError> {
        if !self.writable {
            return Err(StoreError::ReadOnly);
        }
        let len = data.len() as u64;
        check_range(offset, len, self.size)?;
        if !offset.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(StoreError::Unaligned {
                offset,
                len,
                alignment: PAGE_SIZE,
            });
        }
        outside_runtime()?;
        let _one_at_a_time = lock(&self.writing);
        let _slot = self.slots.take();
        let expected = if_match.map(|v| v.0.as_str());
        match self
            .rt
            .block_on(self.client.write_pages(offset, data, expected))
        {
            Ok(etag) => {
                let v = Version(etag);
                *lock(&self.version) = v.clone();
                Ok(Some(v))
            }
            Err(csc_azure::Error::ConditionNotMet { expected, .. }) => {
                Err(StoreError::ConditionFailed {
                    expected: Version(expected),
                    found: self.current_etag(),
                })
            }
            Err(e) => Err(remote(e)),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        // A Put Page is durable once the service has answered it.
        Ok(())
    }
}
