//! FUSE block file, LUKS2, dm-crypt and userspace decryption, mount and publish
