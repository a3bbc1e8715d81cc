//! RSA with fixed-size integers and no heap: public-key operations (signature verification,
//! issue 3) in [`public`], private-key operations (constant-time, blinded OAEP decryption,
//! issue 4) in [`private`]. [`mgf1`] is shared.
//!
//! Private side: [`oaep`] (the [`oaep::OaepDecrypt`] backend trait and constant-time decoding),
//! [`pkcs1`] (the `RSAPrivateKey` reader), [`private`] (the core's key) over `crt` (the
//! blinded CRT exponentiation) and `bignum` (constant-time, panic-free Montgomery arithmetic).

pub(crate) mod bignum;
mod crt;
pub mod mgf1;
pub mod monty;
pub mod oaep;
pub mod pkcs1;
pub mod private;
pub mod public;
