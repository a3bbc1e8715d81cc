//! A blob as a csc-mount [`BlockSource`]: size and ETag from one HEAD at open, ranged GETs for
//! reads, Put Page for writes (page blobs only), every write conditioned on the ETag this
//! handle last saw so that a concurrent writer is detected instead of overwritten.
//!
//! Threading: csc-mount calls these methods from plain OS threads (FUSE workers, the cache's
//! fetch threads, the main thread), never from inside the runtime. Each call drives the async
//! client with [`Handle::block_on`] on the calling thread while the runtime's workers run the
//! connections, so several threads fetch ranges in parallel over pooled connections. A call
//! from inside the runtime would deadlock or panic; it is refused with an error instead.

use std::fmt;
use std::sync::Mutex;

use csc_azure::blob::{BlobClient, PAGE_SIZE};
use csc_mount::{BlockSource, SourceError, Version};
use tokio::runtime::Handle;

use crate::input::redact_url;

/// The blob type that takes page writes.
pub const PAGE_BLOB: &str = "PageBlob";

/// One blob, opened.
pub struct BlobSource {
    client: BlobClient,
    rt: Handle,
    size: u64,
    blob_type: String,
    writable: bool,
    version: Mutex<Version>,
    url: String,
}

impl fmt::Debug for BlobSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobSource")
            .field("url", &self.url)
            .field("size", &self.size)
            .field("blob_type", &self.blob_type)
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

fn remote(e: csc_azure::Error) -> SourceError {
    // csc-azure's messages carry URLs with SAS signatures and tokens removed.
    SourceError::Remote(e.to_string())
}

fn outside_runtime() -> Result<(), SourceError> {
    if Handle::try_current().is_ok() {
        return Err(SourceError::Remote(
            "blob source called from inside the async runtime (blocking call refused)".into(),
        ));
    }
    Ok(())
}

impl BlobSource {
    /// Reads the blob's properties. `writable` needs a page blob (block blobs are read-only,
    /// as upstream's azmount can only write pages).
    pub fn open(
        client: BlobClient,
        url: &str,
        rt: Handle,
        writable: bool,
    ) -> Result<Self, SourceError> {
        outside_runtime()?;
        let props = rt.block_on(client.properties()).map_err(remote)?;
        if writable && props.blob_type != PAGE_BLOB {
            return Err(SourceError::Remote(format!(
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
            url: redact_url(url),
        })
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

fn check_range(offset: u64, len: u64, size: u64) -> Result<(), SourceError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(SourceError::OutOfRange { offset, len, size }),
    }
}

impl BlockSource for BlobSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn version(&self) -> Option<Version> {
        self.version.lock().ok().map(|v| v.clone())
    }

    fn write_alignment(&self) -> u64 {
        PAGE_SIZE
    }

    fn writable(&self) -> bool {
        self.writable
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let len = buf.len() as u64;
        check_range(offset, len, self.size)?;
        if buf.is_empty() {
            return Ok(());
        }
        outside_runtime()?;
        let got = self
            .rt
            .block_on(self.client.read_range(offset, len))
            .map_err(remote)?;
        if got.len() != buf.len() {
            return Err(SourceError::Remote(format!(
                "{}: asked for {len} bytes at {offset}, got {} (the blob shrank?)",
                self.url,
                got.len()
            )));
        }
        buf.copy_from_slice(&got);
        Ok(())
    }

    fn write_at(
        &self,
        offset: u64,
        data: &[u8],
        if_match: Option<&Version>,
    ) -> Result<Option<Version>, SourceError> {
        if !self.writable {
            return Err(SourceError::ReadOnly);
        }
        let len = data.len() as u64;
        check_range(offset, len, self.size)?;
        if !offset.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(SourceError::Unaligned {
                offset,
                len,
                alignment: PAGE_SIZE,
            });
        }
        outside_runtime()?;
        let mut current = self
            .version
            .lock()
            .map_err(|_| SourceError::Remote("version lock poisoned".into()))?;
        let expected = if_match.map(|v| v.0.as_str());
        match self
            .rt
            .block_on(self.client.write_pages(offset, data, expected))
        {
            Ok(etag) => {
                *current = Version(etag);
                Ok(Some(current.clone()))
            }
            Err(csc_azure::Error::ConditionNotMet { expected, .. }) => {
                Err(SourceError::ConditionFailed {
                    expected: Version(expected),
                    found: self.current_etag(),
                })
            }
            Err(e) => Err(remote(e)),
        }
    }

    fn flush(&self) -> Result<(), SourceError> {
        // A Put Page is durable once the service has answered it.
        Ok(())
    }
}
