//! The HTTP API of upstream's skr: routes, request bodies, responses and error mapping.

pub mod body;
pub mod failure;
pub mod http;
pub mod read_body;
