//! libFuzzer's entry for the `ramp_mask` target: its body and invariant are `fuzz::ramp_mask`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::ramp_mask(data));
