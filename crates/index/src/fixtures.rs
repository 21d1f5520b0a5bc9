//! Small indexes for the crate's unit tests.

use std::path::Path;

use formats::Passage;

use crate::{Bm25Index, BuildConfig, build};

pub(crate) fn passage(id: &str, title: &str, text: &str) -> Result<Passage, std::io::Error> {
    Ok(Passage::new(id, title, text))
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
