//! The gRPC key provider (upstream's `key_provider.KeyProviderService`), with server reflection
//! so that `grpcurl list` works as upstream documents.

pub mod codec;
pub mod conn;
pub mod keys;
pub mod protocol;
pub mod server;

/// Generated messages, server and client.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("key_provider");
}

/// The encoded descriptor set for reflection.
pub const DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/key_provider_descriptor.bin"));
