//! PEM decoding into caller buffers. (Issue 3.)
