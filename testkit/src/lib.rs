//! Helpers shared by the project's tests and benchmarks. A dev-dependency only: no shipped
//! program links this crate.
//!
//! - [`proxy`]: a loopback TCP proxy that makes a local server (Azurite, the emulators) answer
//!   like a distant one: a delay per request, a bandwidth cap per connection, a limit on
//!   connections, and counters of what went through;
//! - [`strip`]: a plain-HTTP front that removes request headers a test server refuses and
//!   forwards over TLS (upstream's azmount against Azurite).

pub mod proxy;
pub mod strip;

pub use proxy::{LatencyProxy, ProxyConfig, ProxyStats};
pub use strip::{HeaderStripper, StripConfig};
