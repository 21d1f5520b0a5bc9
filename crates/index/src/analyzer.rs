//! The text analysis shared by indexing and querying.

use serde::{Deserialize, Serialize};
use tantivy::tokenizer::{
    Language as Stem, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter,
    TextAnalyzer,
};

/// How text is turned into terms. Recorded in the index so queries are analysed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Analyzer {
    /// Lower-cased, English stop words removed, Porter-stemmed: close to pyserini's default
    /// analyzer that Search-R1's BM25 index uses.
    #[default]
    En,
    /// Lower-cased words only: for other languages (no stemming, no stop words).
    Plain,
}

impl Analyzer {
    /// The name the analyzer is registered under in tantivy.
    pub(crate) fn tokenizer_name(self) -> &'static str {
        match self {
            Analyzer::En => "masksearch_en",
            Analyzer::Plain => "masksearch_plain",
        }
    }

    pub(crate) fn analyzer(self) -> TextAnalyzer {
        let base = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser);
        match self {
            Analyzer::En => base
                .filter(
                    StopWordFilter::new(Stem::English).expect("tantivy ships English stop words"),
                )
                .filter(Stemmer::new(Stem::English))
                .build(),
            Analyzer::Plain => base.build(),
        }
    }

    pub(crate) fn register(self, index: &tantivy::Index) {
        index
            .tokenizers()
            .register(self.tokenizer_name(), self.analyzer());
    }
}

impl std::str::FromStr for Analyzer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "en" => Ok(Analyzer::En),
            "plain" => Ok(Analyzer::Plain),
            _ => Err(format!("unknown analyzer {s:?}: expected en or plain")),
        }
    }
}
