//! A software SEV-SNP platform for tests, demos and developers
