//! Secrets held by the sidecar (bearer tokens): the std layer's one [`SecretString`] (zeroized
//! on drop, redacted in Debug), owned by csc-azure, whose clients take it.

pub use csc_azure::secret::SecretString;
