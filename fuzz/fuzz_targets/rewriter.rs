//! libFuzzer's entry for the `rewriter` target: its body and invariant are `fuzz::rewriter`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::rewriter(data));
