//! libFuzzer's entry for the `corpus_jsonl` target: its body and invariant are `fuzz::corpus_jsonl`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::corpus_jsonl(data));
