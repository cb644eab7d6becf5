//! Generates the protobuf types from `proto/` at build time: Rust structs
//! through prost, and the serialized descriptor set that `ark._core` hands
//! to Python's `protobuf`, so both languages read the same `.proto` source.

use std::path::PathBuf;

use prost::Message;

const PROTOS: [&str; 3] = [
    "mesos/v1/mesos.proto",
    "mesos/v1/scheduler/scheduler.proto",
    "ark/store.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptors.bin"), descriptors.encode_to_vec())?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
