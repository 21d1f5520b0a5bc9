//! The committed Python-made files are what their committed scripts make today: the golden cases
//! (`golden/reference.py`) and the word-character table (`scripts/word_chars.py`).
//!
//! Runs `python3` (standard library only). Without it the checks print a note and pass; the
//! golden cases themselves are checked without Python by `tests/golden.rs`.

use std::path::Path;
use std::process::Command;

/// The script's standard output, or `None` (with a note) when `python3` cannot be run.
fn python(script: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    match Command::new("python3").arg(&path).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{script} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).expect("UTF-8 output"))
        }
        Err(e) => {
            eprintln!("note: python3 not runnable ({e}); {script} not checked");
            None
        }
    }
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
    let Some(fresh) = python("tests/golden/reference.py") else {
        return;
    };
    assert!(
        fresh == committed("tests/golden/cases.jsonl"),
        "tests/golden/cases.jsonl is stale: regenerate it with\n  \
         python3 crates/metrics/tests/golden/reference.py > crates/metrics/tests/golden/cases.jsonl"
    );
}

#[test]
fn word_table_is_what_the_generator_writes() {
    let Some(fresh) = python("scripts/word_chars.py") else {
        return;
    };
    let table = committed("src/word_chars.rs");
    let (theirs, ours) = (unicode_version(&fresh), unicode_version(&table));
    assert_eq!(
        ours,
        Some("14.0.0"),
        "the Unicode version src/word_chars.rs names"
    );
    if theirs != ours {
        eprintln!("note: python3 has Unicode {theirs:?}, the table {ours:?}; table not compared");
        return;
    }
    assert!(
        fresh == table,
        "src/word_chars.rs is stale: regenerate it with\n  \
         python3 crates/metrics/scripts/word_chars.py > crates/metrics/src/word_chars.rs"
    );
}
