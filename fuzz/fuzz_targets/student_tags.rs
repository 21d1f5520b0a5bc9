//! libFuzzer's entry for the `student_tags` target: its body and invariant are `fuzz::student_tags`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::student_tags(data));
