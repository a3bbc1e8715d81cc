//! AES key wrap (RFC 3394, RFC 5649), RSA-OAEP + AES-KWP as Key Vault releases keys, HKDF key
//! derivation for encfs. (Issue 4.)
