//! RSA with `crypto-bigint` fixed-size integers and no heap: public-key operations (signature
//! verification) in [`public`], private-key operations (constant-time, blinded OAEP decryption)
//! in [`private`]. [`mgf1`] is shared.
//!
//! Private side: [`oaep`] (the [`oaep::OaepDecrypt`] backend trait and constant-time decoding),
//! [`private`] (the core's key, read by [`crate::private_key`]) over `crt` (the blinded CRT
//! exponentiation with its fault check). `uint_bytes` converts between big-endian bytes and
//! `crypto-bigint` integers without panics.

mod crt;
pub mod mgf1;
pub mod oaep;
pub mod private;
pub mod public;
pub(crate) mod uint_bytes;

/// The PKCS#1 `RSAPrivateKey` reader, which lives with the other key readers.
pub use crate::private_key::pkcs1;
