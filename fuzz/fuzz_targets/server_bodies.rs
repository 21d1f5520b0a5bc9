//! libFuzzer's entry for the `server_bodies` target: its body and invariant are `fuzz::server_bodies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::server_bodies(data));
