//! RSA private-key operations: constant-time, blinded RSA-OAEP decryption with CRT. (Issue 4.)
