//! Small indexes for the crate's unit tests.

use std::path::Path;

use formats::Passage;

use crate::{Bm25Index, BuildConfig, build};

pub(crate) fn passage(id: &str, title: &str, text: &str) -> Result<Passage, std::io::Error> {
    Ok(Passage::new(id, title, text))
}

/// The 1,000 passages of FlashRAG's wiki-18 sample.
pub(crate) fn wiki18_sample() -> Vec<Passage> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/wiki18-sample-1000.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).unwrap();
            Passage::from_contents(
                row["id"].as_str().unwrap(),
                row["contents"].as_str().unwrap(),
            )
        })
        .collect()
}

pub(crate) fn small_index(dir: &Path) -> Bm25Index {
    let passages = vec![
        passage(
            "0",
            "Pavia Cathedral",
            "The cathedral of Pavia has one of the largest domes in Italy.",
        ),
        passage(
            "1",
            "Milan",
            "Milan is a city in northern Italy, capital of Lombardy.",
        ),
        passage(
            "2",
            "Dome",
            "A dome is an architectural element resembling the upper half of a sphere.",
        ),
    ];
    build(dir, passages, &BuildConfig::default(), |_| {}).unwrap();
    Bm25Index::open(dir).unwrap()
}
