//! The encrypted filesystem sidecar

fn main() {}
