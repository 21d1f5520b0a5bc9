//! The `masksearch` command line: parses arguments, shows progress, wires the library crates together.
fn main() {}
