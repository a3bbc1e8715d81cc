//! What both servers (HTTP and gRPC) need to stay up when clients misbehave: a cap on open
//! connections that makes room by closing the connection that has waited longest on its
//! client, an accept loop that backs off when the process runs out of descriptors, a
//! connection wrapper that knows when a request started and closes with a bounded lingering
//! read, and a budget for the request bytes held in memory.
//!
//! Limits (see README, "Limits"): a request must arrive whole within [`REQUEST_DEADLINE`]
//! from its first byte; at most [`connection_cap`] connections are open (derived from the
//! descriptor limit); request bodies over 16 KiB held at once total at most [`BODY_BUDGET`]
//! bytes (smaller ones are bounded by the cap).

pub mod accept;
pub mod budget;
pub mod conns;
pub mod drive;
pub mod limits;
pub mod stream;

use std::time::Duration;

pub use limits::connection_cap;

/// How long a whole request (headers and body, or a gRPC request message) may take to arrive,
/// counted from its first byte.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// How long in-flight requests may run after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Total bytes of request bodies over 16 KiB held in memory across all connections.
pub const BODY_BUDGET: usize = 24 * 1024 * 1024;

/// After an error answer to a request whose body was not read, how long and how much of the
/// rest is read and discarded so that the client sees the answer instead of a reset.
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// See [`LINGER_TIME`].
pub const LINGER_BYTES: usize = 64 * 1024 * 1024;
