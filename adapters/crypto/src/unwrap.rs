//! aws-lc-rs RSA-OAEP decryption backend and ephemeral key generation. (Issue 4.)
