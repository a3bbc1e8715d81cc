//! Compiles proto/key_provider.proto with protox (no protoc needed) into tonic code and an
//! encoded descriptor set for server reflection.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/key_provider.proto");
    let fds = protox::compile(["proto/key_provider.proto"], ["proto"])?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("key_provider_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_transport(false)
        .build_server(true)
        // Undecodable messages are InvalidArgument, not Internal (grpc/codec.rs).
        .codec_path("crate::grpc::codec::StrictCodec")
        .compile_fds(fds)?;
    Ok(())
}
