//! What a relying party checks beyond the signature: expected values, minimum TCB, VMPL,
//! guest policy and platform bits. (Issue 3.)
