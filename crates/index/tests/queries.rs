//! Property: any string a model may write is a valid query. On the real wiki-18 sample, no query
//! fails, and a bag of indexed words (in any order, with any punctuation around them) finds hits.

use std::sync::OnceLock;

use formats::Passage;
use index::{Bm25Index, BuildConfig, build};
use proptest::prelude::*;

struct Fixture {
    _dir: tempfile::TempDir,
    index: Bm25Index,
    /// Words of the corpus long enough never to be stop words (the English list's longest has
    /// five letters).
    words: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/wiki18-sample-1000.jsonl"
        );
        let passages: Vec<Passage> = std::fs::read_to_string(path)
            .expect("fixture")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                Passage::from_contents(
                    v["id"].as_str().expect("id"),
                    v["contents"].as_str().expect("contents"),
                )
            })
            .collect();
        let mut words: Vec<String> = passages
            .iter()
            .flat_map(|p| {
                p.text
                    .split(|c: char| !c.is_alphanumeric())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|w| (6..=40).contains(&w.chars().count()))
            .collect();
        words.sort();
        words.dedup();
        let dir = tempfile::tempdir().expect("temp dir");
        let at = dir.path().join("idx");
        build(
            &at,
            passages.into_iter().map(Ok::<_, std::io::Error>),
            &BuildConfig::default(),
            |_| {},
        )
        .expect("build");
        Fixture {
            index: Bm25Index::open(&at).expect("open"),
            _dir: dir,
            words,
        }
    })
}

/// Query-syntax characters, quotes, brackets, colons and unicode, in any mix.
fn hostile() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("AND".to_string()),
        Just("OR".to_string()),
        Just("NOT".to_string()),
        Just("title:".to_string()),
        Just("text:*".to_string()),
        Just("/M.*a/".to_string()),
        Just("\"".to_string()),
        Just("*".to_string()),
        "[-+^~*:(){}\\[\\]\"'!?/\\\\]{1,8}",
        "\\PC{0,12}",
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|p| p.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_query_fails(query in hostile()) {
        prop_assert!(fixture().index.query(&query, 5).is_ok());
    }

    #[test]
    fn arbitrary_text_never_fails(query in "\\PC{0,200}") {
        prop_assert!(fixture().index.query(&query, 3).is_ok());
    }

    #[test]
    fn a_bag_of_indexed_words_finds_hits(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        noise in hostile(),
    ) {
        let f = fixture();
        let words: Vec<&str> = picks.iter().map(|i| f.words[i.index(f.words.len())].as_str()).collect();
        let query = format!("{noise} {} {noise}", words.join(" \"(: "));
        let hits = f.index.query(&query, 3).expect("answered");
        prop_assert!(!hits.is_empty(), "no hits for {:?}", query);
    }
}

#[test]
fn eight_kilobytes_of_punctuation_is_answered() {
    let query: String = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
        .chars()
        .cycle()
        .take(8192)
        .collect();
    assert!(
        fixture()
            .index
            .query(&query, 3)
            .expect("answered")
            .is_empty()
    );
}
