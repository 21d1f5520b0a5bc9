//! What the readers and the wikitext converter promise on any input, as checks that panic when
//! broken: the property tests (`wikitext`'s and `tests/properties.rs`) run them on generated
//! input and the fuzz targets (`fuzz/`) on what libFuzzer makes, so each promise is written once.
//!
//! Built for this crate's tests and behind the `invariants` feature; never used by a reader.

use std::path::Path;

use formats::Passage;

use crate::{
    Config, CorpusError, CorpusReader, Format, PageSkip, Split, Tally,
    wikitext::{Namespaces, convert},
};

/// More items than any input a check is given can yield: a reader that goes past it would
/// never end.
const MAX_ITEMS: usize = 10_000;

/// Any wikitext converts without a panic into paragraphs whose links lie inside their text, on
/// character boundaries, in order and apart.
pub fn wikitext(text: &str) {
    let converted = convert(text, &Namespaces::default());
    for p in &converted.paragraphs {
        let mut last_end = 0;
        for link in &p.links {
            assert!(
                link.start < link.end && link.end <= p.text.len(),
                "{link:?} in {:?}",
                p.text
            );
            assert!(p.text.is_char_boundary(link.start) && p.text.is_char_boundary(link.end));
            assert!(
                last_end <= link.start,
                "links overlap or are out of order in {p:?}"
            );
            last_end = link.end;
        }
    }
}

/// Reads an input to its end, going on after every error the reader goes on after.
pub fn read_all(path: &Path, config: &Config) -> (CorpusReader, Vec<Result<Passage, CorpusError>>) {
    let mut reader = crate::open(path, config).expect("the input opens");
    let items: Vec<_> = reader.by_ref().take(MAX_ITEMS).collect();
    assert!(items.len() < MAX_ITEMS, "the reader does not end");
    (reader, items)
}

/// Reads `path` without and with `skip_bad`: the same passages and counts either way, and the
/// errors `skip_bad` hides are as many as the bad records counted. Returns the first read.
pub fn read_both_ways(path: &Path, config: &Config) -> (Tally, Vec<Result<Passage, CorpusError>>) {
    let reporting = Config {
        skip_bad: false,
        ..config.clone()
    };
    let skipping = Config {
        skip_bad: true,
        ..config.clone()
    };
    let (reported, items) = read_all(path, &reporting);
    let (skipped, skipped_items) = read_all(path, &skipping);
    assert_eq!(passages(&items), passages(&skipped_items));
    assert_eq!(reported.tally(), skipped.tally());
    let bad = [PageSkip::Malformed, PageSkip::Invalid, PageSkip::Truncated]
        .map(|r| reported.tally().skipped(r))
        .iter()
        .sum::<u64>();
    assert_eq!(
        (errors(&items) - errors(&skipped_items)) as u64,
        bad,
        "{items:?}"
    );
    let tally = reported.tally();
    assert_eq!(tally.passages, passages(&items).len() as u64);
    (tally.clone(), items)
}

fn passages(items: &[Result<Passage, CorpusError>]) -> Vec<Passage> {
    items
        .iter()
        .filter_map(|i| i.as_ref().ok().cloned())
        .collect()
}

fn errors(items: &[Result<Passage, CorpusError>]) -> usize {
    items.iter().filter(|i| i.is_err()).count()
}

/// Any bytes read as a dump from `path`: the read ends, the same either way (see
/// [`read_both_ways`]), keeps no more pages than there are `page>` tags, and says so when there
/// is no dump at all.
pub fn any_dump(path: &Path, bytes: &[u8]) {
    let config = Config {
        format: Some(Format::Xml),
        split: Split::Auto,
        ..Config::default()
    };
    let (tally, items) = read_both_ways(path, &config);
    assert!(
        tally.kept() as usize <= occurrences(bytes, b"page>"),
        "{items:?}"
    );
    if occurrences(bytes, b"mediawiki") == 0 {
        assert!(
            items.iter().any(|i| i.is_err()),
            "no dump, no silence: {items:?}"
        );
    }
}

fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// What a JSONL reader yields, an error reduced to the line it names.
#[derive(Debug, PartialEq)]
enum Item {
    Passage(Passage),
    BadLine(u64),
    /// Any other error: its text names the file, which differs between the two reads.
    Other,
}

/// Any bytes read as `format` JSONL from `path` (a file ending `.jsonl`): the read ends, the
/// same either way (see [`read_both_ways`]), and line by line: each line gives what it gives
/// read alone, in order, a bad one an error naming its own line and never a passage. The
/// one-line files are made in the folder `scratch`, each new and removed after: truncating a
/// file that holds data makes ext4 flush it to disk, a hundred times slower.
pub fn any_jsonl(path: &Path, format: Format, split: Split, scratch: &Path) {
    let config = Config {
        format: Some(format),
        split,
        ..Config::default()
    };
    let (_, items) = read_both_ways(path, &config);
    let bytes = std::fs::read(path).expect("the input reads");
    let mut want = Vec::new();
    let alone = scratch.join("line.jsonl");
    for (n, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        std::fs::write(&alone, line).expect("a scratch file");
        let (_, read) = read_all(&alone, &config);
        std::fs::remove_file(&alone).expect("a scratch file");
        want.extend(read.into_iter().map(|item| match item {
            Err(CorpusError::BadLine { line: 1, .. }) => Item::BadLine(n as u64 + 1),
            other => item_of(other),
        }));
    }
    let got: Vec<Item> = items.into_iter().map(item_of).collect();
    assert_eq!(got, want);
}

fn item_of(item: Result<Passage, CorpusError>) -> Item {
    match item {
        Ok(p) => Item::Passage(p),
        Err(CorpusError::BadLine { line, .. }) => Item::BadLine(line),
        Err(_) => Item::Other,
    }
}
