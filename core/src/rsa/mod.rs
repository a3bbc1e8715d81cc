//! RSA with fixed-size integers and no heap: public-key operations (signature verification,
//! issue 3) in [`public`], private-key operations (constant-time, blinded OAEP decryption,
//! issue 4) in [`private`]. [`mgf1`] is shared.

pub mod mgf1;
pub mod monty;
pub mod private;
pub mod public;
