//! Helpers shared by the project's tests and benchmarks. A dev-dependency only: no shipped
//! program links this crate.
//!
//! - [`proxy`]: a loopback TCP proxy that makes a local server (Azurite, the emulators) answer
//!   like a distant one: a delay per request, a bandwidth cap per connection, a limit on
//!   connections, and counters of what went through;
//! - [`strip`]: a plain-HTTP front that removes request headers a test server refuses and
//!   forwards over TLS (upstream's azmount against Azurite);
//! - [`azurite`]: the Azure Storage emulator started over HTTPS with the emulators' CA, account
//!   SAS, containers;
//! - [`storage`]: emulators, Azurite and a bearer-token blob client set up for blocking tests
//!   and benches (upload, download);
//! - [`scratch`]: scratch directories under the target directory and the simulated
//!   platform's shared key cache;
//! - [`tree`]: a sample directory tree of known content;
//! - [`unwrap`]: Key Vault's RSA-AES key wrap undone with aws-lc-rs alone;
//! - [`mounts`]: mounts and loop devices a test left behind;
//! - [`vm`]: the workspace root and the VM kit's directory.

pub mod azurite;
pub mod mounts;
pub mod proxy;
pub mod scratch;
pub mod storage;
pub mod strip;
pub mod tree;
pub mod unwrap;
pub mod vm;

pub use azurite::Azurite;
pub use mounts::{assert_clean, loops_under, mounts_with};
pub use proxy::{LatencyProxy, ProxyConfig, ProxyStats};
pub use scratch::{key_cache, scratch};
pub use storage::Storage;
pub use strip::{HeaderStripper, StripConfig};
pub use tree::sample_tree;
