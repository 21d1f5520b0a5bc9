//! The fuzz targets' bodies: each turns the bytes libFuzzer makes into one parser's input and
//! runs that parser's invariant, the check its property test runs too (`<crate>::invariants`).
//!
//! Never holds a check of its own: a broken promise panics inside the crate that makes it, and
//! libFuzzer keeps the input. The binaries under `fuzz_targets/` are one line each; the kept
//! corpus (`corpus/<target>/`) is replayed through [`TARGETS`] by `tests/corpus.rs` in `make
//! test`, so every crash once found stays a test.

use corpus::{Format, Split};

/// A target's name, as its folder under `corpus/` and its binary are named, and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: [Target; 7] = [
    ("wikitext", wikitext),
    ("corpus_jsonl", corpus_jsonl),
    ("corpus_dump", corpus_dump),
    ("student_tags", student_tags),
    ("rewriter", rewriter),
    ("ramp_mask", ramp_mask),
    ("server_bodies", server_bodies),
];

/// Wikitext → text and anchors. The converter is given text the XML reader already decoded,
/// so any bytes become text first.
pub fn wikitext(data: &[u8]) {
    corpus::invariants::wikitext(&String::from_utf8_lossy(data));
}

/// Any bytes as a JSONL corpus file: the first byte picks the format and how pages are split,
/// the rest is the file.
pub fn corpus_jsonl(data: &[u8]) {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    const FORMATS: [Format; 4] = [
        Format::Contents,
        Format::Passages,
        Format::Pages,
        Format::Kilt,
    ];
    let format = FORMATS[usize::from(pick) % FORMATS.len()];
    let split = if pick & 0x80 == 0 {
        Split::Auto
    } else {
        Split::Never
    };
    // A folder made and removed each time, not a file rewritten: see `any_jsonl`.
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("in.jsonl");
    std::fs::write(&path, file).expect("the input is written");
    let lines = dir.path().join("lines");
    std::fs::create_dir(&lines).expect("a scratch folder");
    corpus::invariants::any_jsonl(&path, format, split, &lines);
}

/// Any bytes as a MediaWiki XML dump.
pub fn corpus_dump(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let path = dir.path().join("dump.xml");
    std::fs::write(&path, data).expect("the input is written");
    corpus::invariants::any_dump(&path, data);
}

/// Any text as a model's turn for the student format's readers; its NUL-separated pieces as
/// the queries of one search.
pub fn student_tags(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    student::invariants::text(&text);
    let queries: Vec<&str> = text.split('\0').collect();
    student::invariants::queries_round_trip(&queries);
}

/// Any text as the Rewriter's reply; after a NUL, the sub-question it was asked to rewrite.
pub fn rewriter(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (reply, subquery) = text.split_once('\0').unwrap_or((&text, "who"));
    agent::invariants::rewriter_reply(reply, subquery);
}

/// Any passage for the masker: the first byte picks how many masks (1 to 4), the next eight
/// the seed, then the title up to the first newline and the text after it.
pub fn ramp_mask(data: &[u8]) {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let Some((seed, rest)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (title, text) = text.split_once('\n').unwrap_or(("Milan", &text));
    ramp::invariants::masking(
        title,
        text,
        usize::from(k % 4) + 1,
        u64::from_le_bytes(*seed),
    );
}

/// Any body for the routes that read one: the first byte picks the route and whether the body
/// is sent as JSON, the rest is the body.
pub fn server_bodies(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let path = server::invariants::PATHS[usize::from(pick) % server::invariants::PATHS.len()];
    server::invariants::any_body(path, body.to_vec(), pick & 0x80 == 0);
}
