//! The secure key release sidecar

fn main() {}
