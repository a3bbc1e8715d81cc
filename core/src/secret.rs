//! Key material that zeroizes on drop and never prints its contents.
//!
//! [`SecretBytes`] is a fixed-capacity byte buffer for keys of variable length (a released key,
//! a KEK, a derived key): it lives on the stack or inside another value, never on a heap, and its
//! whole capacity is wiped when it is dropped. Its `Debug` output shows only the length.
//! [`BlindingSeed`] carries the caller's randomness for one RSA private-key operation.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Up to `N` bytes of key material.
///
/// The bytes are reachable only through [`SecretBytes::as_bytes`] (the filled part) and
/// [`SecretBytes::fill_with`] (which hands out the whole buffer to a function that writes into
/// it and returns how much it wrote). Nothing is ever copied out implicitly: the type is not
/// `Copy`, and `Clone` is deliberately not implemented.
pub struct SecretBytes<const N: usize> {
    buf: [u8; N],
    len: usize,
}

/// Why a secret could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError {
    /// Bytes offered.
    pub needed: usize,
    /// Bytes the secret can hold.
    pub capacity: usize,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes of key material do not fit in {} bytes",
            self.needed, self.capacity
        )
    }
}

impl core::error::Error for CapacityError {}

impl<const N: usize> SecretBytes<N> {
    /// The number of bytes this secret can hold.
    pub const CAPACITY: usize = N;

    /// An empty secret.
    pub const fn new() -> Self {
        SecretBytes {
            buf: [0u8; N],
            len: 0,
        }
    }

    /// A copy of `bytes` (the caller remains responsible for wiping its own copy).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CapacityError> {
        let mut s = Self::new();
        let dst = s.buf.get_mut(..bytes.len()).ok_or(CapacityError {
            needed: bytes.len(),
            capacity: N,
        })?;
        dst.copy_from_slice(bytes);
        s.len = bytes.len();
        Ok(s)
    }

    /// Lets `write` fill the buffer: it receives all `N` bytes and returns how many it used. On
    /// error, or if it claims more than `N` bytes, the whole buffer is wiped and the secret is
    /// left empty.
    pub fn fill_with<E>(
        &mut self,
        write: impl FnOnce(&mut [u8; N]) -> Result<usize, E>,
    ) -> Result<&[u8], E>
    where
        E: From<CapacityError>,
    {
        self.clear();
        match write(&mut self.buf) {
            Ok(len) if len <= N => {
                self.len = len;
                Ok(self.as_bytes())
            }
            Ok(len) => {
                self.clear();
                Err(E::from(CapacityError {
                    needed: len,
                    capacity: N,
                }))
            }
            Err(e) => {
                self.clear();
                Err(e)
            }
        }
    }

    /// The key material.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Number of bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Wipes the whole buffer and empties the secret.
    pub fn clear(&mut self) {
        self.buf.zeroize();
        self.len = 0;
    }
}

impl<const N: usize> Default for SecretBytes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Drop for SecretBytes<N> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<const N: usize> ZeroizeOnDrop for SecretBytes<N> {}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes<{N}>({} bytes, redacted)", self.len)
    }
}

/// An AES key-encryption key or a released AES key: at most 32 bytes.
pub type AesKeyBytes = SecretBytes<32>;

/// 32 bytes of fresh randomness from the caller for one RSA private-key operation.
///
/// The core has no random number generator. Every private-key operation of the core's own RSA
/// key takes one of these, expands it with SHA-256 into a blinding factor and uses it once;
/// callers must never reuse one (a sidecar draws it from the OS for each call).
pub struct BlindingSeed([u8; 32]);

impl BlindingSeed {
    /// Wraps 32 random bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        BlindingSeed(bytes)
    }

    /// The seed bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for BlindingSeed {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for BlindingSeed {}

impl fmt::Debug for BlindingSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindingSeed(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn debug_never_shows_bytes() {
        let s = SecretBytes::<16>::from_slice(&[0xAB; 5]).unwrap();
        let d = format!("{s:?}");
        assert_eq!(d, "SecretBytes<16>(5 bytes, redacted)");
        assert!(!d.to_lowercase().contains("ab,"));
        assert_eq!(
            format!("{:?}", BlindingSeed::new([7; 32])),
            "BlindingSeed(redacted)"
        );
    }

    #[test]
    fn capacity_and_fill() {
        assert_eq!(
            SecretBytes::<4>::from_slice(&[1; 5]).unwrap_err(),
            CapacityError {
                needed: 5,
                capacity: 4
            }
        );
        let mut s = SecretBytes::<8>::new();
        let got = s
            .fill_with(|b| {
                b[..3].copy_from_slice(b"key");
                Ok::<_, CapacityError>(3)
            })
            .unwrap();
        assert_eq!(got, b"key");
        // A failing writer leaves nothing behind, not even what it wrote before failing.
        let err = s.fill_with(|b| {
            b.fill(0x55);
            Err(CapacityError {
                needed: 0,
                capacity: 0,
            })
        });
        assert!(err.is_err());
        assert!(s.is_empty());
        assert_eq!(s.buf, [0u8; 8]);
        // A writer claiming more than the capacity is refused.
        assert!(s.fill_with(|_| Ok::<_, CapacityError>(9)).is_err());
        assert!(s.is_empty());
    }

    #[test]
    fn clear_wipes_the_whole_buffer() {
        let mut s = SecretBytes::<8>::from_slice(&[9; 8]).unwrap();
        s.clear();
        assert_eq!((s.len(), s.buf), (0, [0u8; 8]));
    }
}
