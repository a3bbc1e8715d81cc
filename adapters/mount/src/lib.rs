//! FUSE block file, LUKS2, dm-crypt and userspace decryption, mount and publish.
//!
//! The pipeline for one encrypted image, from the bottom up:
//! 1. a [`BlockStore`] (local file now, Azure page blob later) behind a [`BlockCache`];
//! 2. the LUKS2 header read once and validated ([`Luks2Header::read`]), the volume key opened
//!    with the key file ([`Luks2Header::unlock`]);
//! 3. the plaintext exposed either by dm-crypt over a loop device on the FUSE file of the
//!    ciphertext ([`Exposure::DmCrypt`]) or by a FUSE file that decrypts in userspace
//!    ([`Exposure::Userspace`]);
//! 4. a loop device on that, ext4 mounted on a sibling directory of the mount point, and the
//!    mount point published as an atomic symlink ([`mount`]); [`Mounted::teardown`] undoes all
//!    of it in reverse order.
//!
//! Unsafe code is confined to the ioctl and mount wrappers in `sys`, `loopdev` and `dm`.

pub mod cache;
pub mod dm;
mod error;
pub mod fuse_file;
pub mod image;
pub mod loopdev;
pub mod luks2;
pub mod mount;
pub mod signals;
pub mod store;
mod sys;
pub mod view;
pub mod xts;

pub use cache::{BlockCache, CacheConfig};
pub use error::Error;
pub use fuse_file::{FuseFile, FuseOptions};
pub use luks2::{Luks2Header, Passphrase, VolumeKey};
pub use mount::{Exposure, MountRequest, Mounted, mount};
pub use store::{BlockStore, Counting, LocalFile, StoreError, Version};
pub use view::{ByteView, CryptView};
