//! JWK and JWK-set rendering into caller buffers. (Issue 4.)
