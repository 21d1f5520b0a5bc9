//! libFuzzer's entry for the `wikitext` target: its body and invariant are `fuzz::wikitext`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::wikitext(data));
