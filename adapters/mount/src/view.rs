//! What the FUSE file serves: a [`ByteView`], either the block cache itself (the ciphertext,
//! for dm-crypt) or a [`CryptView`] that decrypts it (the userspace path).

use std::sync::Mutex;

use crate::cache::BlockCache;
use crate::luks2::Segment;
use crate::store::StoreError;
use crate::xts::Xts;

/// A fixed-size byte range with positional reads and writes.
pub trait ByteView: Send + Sync + std::fmt::Debug + 'static {
    /// Size in bytes.
    fn size(&self) -> u64;
    /// Whether writes are accepted.
    fn writable(&self) -> bool;
    /// Reads at `offset`; short only at the end.
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError>;
    /// Writes at `offset` (clipped at the end); returns bytes taken.
    fn write(&self, offset: u64, data: &[u8]) -> Result<usize, StoreError>;
    /// Makes every accepted write durable.
    fn sync(&self) -> Result<(), StoreError>;
}

impl ByteView for BlockCache {
    fn size(&self) -> u64 {
        BlockCache::size(self)
    }
    fn writable(&self) -> bool {
        BlockCache::writable(self)
    }
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        BlockCache::read(self, offset, buf)
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<usize, StoreError> {
        BlockCache::write(self, offset, data)
    }
    fn sync(&self) -> Result<(), StoreError> {
        BlockCache::sync(self)
    }
}

/// The plaintext of a LUKS2 crypt segment, decrypted (and encrypted on write) in userspace with
/// dm-crypt's sector size and IV rule, over a block cache of the ciphertext.
#[derive(Debug)]
pub struct CryptView {
    cache: BlockCache,
    xts: Xts,
    offset: u64,
    size: u64,
    sector_size: u64,
    iv_tweak: u64,
    /// Serialises read-modify-write of partially written sectors.
    rmw: Mutex<()>,
}

impl CryptView {
    /// A view of `segment` (from a validated header) over `cache`, keyed by `xts`.
    pub fn new(cache: BlockCache, segment: &Segment, xts: Xts) -> Result<Self, StoreError> {
        let size = segment
            .resolved_size(cache.size())
            .ok_or(StoreError::OutOfRange {
                offset: segment.offset,
                len: 0,
                size: cache.size(),
            })?;
        Ok(Self {
            cache,
            xts,
            offset: segment.offset,
            size,
            sector_size: u64::from(segment.sector_size),
            iv_tweak: segment.iv_tweak,
            rmw: Mutex::new(()),
        })
    }

    /// The cache below the view.
    pub fn cache(&self) -> &BlockCache {
        &self.cache
    }

    fn first_512(&self, plain_offset: u64) -> u64 {
        self.iv_tweak.wrapping_add(plain_offset / 512)
    }

    fn read_aligned(&self, start: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        let n = self.cache.read(self.offset + start, buf)?;
        if n != buf.len() {
            return Err(StoreError::OutOfRange {
                offset: self.offset + start,
                len: buf.len() as u64,
                size: self.cache.size(),
            });
        }
        self.xts
            .decrypt_sectors(buf, self.sector_size as usize, self.first_512(start));
        Ok(())
    }

    fn write_aligned(&self, start: u64, plain: &mut [u8]) -> Result<(), StoreError> {
        self.xts
            .encrypt_sectors(plain, self.sector_size as usize, self.first_512(start));
        self.cache.write(self.offset + start, plain)?;
        Ok(())
    }
}

impl ByteView for CryptView {
    fn size(&self) -> u64 {
        self.size
    }

    fn writable(&self) -> bool {
        self.cache.writable()
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let len = (buf.len() as u64).min(self.size - offset) as usize;
        let ss = self.sector_size;
        let start = offset / ss * ss;
        let end = (offset + len as u64).div_ceil(ss) * ss;
        if start == offset && end == offset + len as u64 {
            let b = buf.get_mut(..len).ok_or(StoreError::ReadOnly)?;
            self.read_aligned(start, b)?;
            return Ok(len);
        }
        let mut tmp = vec![0u8; (end - start) as usize];
        self.read_aligned(start, &mut tmp)?;
        let from = (offset - start) as usize;
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), tmp.get(from..from + len)) {
            dst.copy_from_slice(src);
        }
        Ok(len)
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<usize, StoreError> {
        if !self.cache.writable() {
            return Err(StoreError::ReadOnly);
        }
        if offset >= self.size || data.is_empty() {
            return Ok(0);
        }
        let len = (data.len() as u64).min(self.size - offset) as usize;
        let ss = self.sector_size;
        let start = offset / ss * ss;
        let end = (offset + len as u64).div_ceil(ss) * ss;
        let Some(src) = data.get(..len) else {
            return Ok(0);
        };
        if start == offset && end == offset + len as u64 {
            let mut plain = src.to_vec();
            self.write_aligned(start, &mut plain)?;
            return Ok(len);
        }
        let _guard = self.rmw.lock().unwrap_or_else(|p| p.into_inner());
        let mut plain = vec![0u8; (end - start) as usize];
        self.read_aligned(start, &mut plain)?;
        let from = (offset - start) as usize;
        if let Some(dst) = plain.get_mut(from..from + len) {
            dst.copy_from_slice(src);
        }
        self.write_aligned(start, &mut plain)?;
        Ok(len)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.cache.sync()
    }
}
