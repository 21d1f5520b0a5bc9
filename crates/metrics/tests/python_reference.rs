//! The committed Python-made files are what their committed scripts make today: the golden cases
//! (`golden/reference.py`) and the word-character table (`scripts/word_chars.py`).
//!
//! Runs `python3` (standard library only), which `make setup` requires: without it, or with a
//! Python whose Unicode tables are not the ones the word table was made from, the checks fail
//! rather than pass unchecked. The golden cases themselves are also checked without Python by
//! `tests/golden.rs`.

use std::path::Path;
use std::process::Command;

/// The script's standard output.
fn python(script: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new("python3")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to check {script} (make setup): {e}"));
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn committed(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("committed file")
}

/// The Unicode version a generated table names in its header ("... `unicodedata`\n//! 14.0.0; ...").
fn unicode_version(table: &str) -> Option<&str> {
    table.lines().find_map(|l| {
        l.strip_prefix("//! ")?
            .strip_suffix("; do not edit by hand.")
    })
}

#[test]
fn golden_cases_are_what_the_reference_script_writes() {
    let fresh = python("tests/golden/reference.py");
    assert!(
        fresh == committed("tests/golden/cases.jsonl"),
        "tests/golden/cases.jsonl is stale: regenerate it with\n  \
         python3 crates/metrics/tests/golden/reference.py > crates/metrics/tests/golden/cases.jsonl"
    );
}

#[test]
fn word_table_is_what_the_generator_writes() {
    let fresh = python("scripts/word_chars.py");
    let table = committed("src/word_chars.rs");
    let (theirs, ours) = (unicode_version(&fresh), unicode_version(&table));
    assert_eq!(
        ours,
        Some("14.0.0"),
        "the Unicode version src/word_chars.rs names"
    );
    assert_eq!(
        theirs, ours,
        "python3's unicodedata is not the Unicode version the table was made from (Python 3.11, \
         Debian bookworm's, has 14.0.0): the table cannot be checked with this Python"
    );
    assert!(
        fresh == table,
        "src/word_chars.rs is stale: regenerate it with\n  \
         python3 crates/metrics/scripts/word_chars.py > crates/metrics/src/word_chars.rs"
    );
}
