//! libFuzzer's entry for the `corpus_dump` target: its body and invariant are `fuzz::corpus_dump`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::corpus_dump(data));
