//! The text analysis shared by indexing and querying.

use std::cell::RefCell;

use foldhash::HashMap;

use serde::{Deserialize, Serialize};
use tantivy::tokenizer::{
    Language as Stem, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter, TextAnalyzer,
    Token, TokenFilter, TokenStream, Tokenizer,
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
                .filter(CachedStemmer)
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

/// tantivy's English stemmer (frostem's Snowball English, as tantivy's `Stemmer` calls it), with
/// the stems it made kept per thread: words repeat, and stemming them again took a quarter of an
/// index build's CPU.
#[derive(Clone)]
struct CachedStemmer;

/// Words whose stems a thread keeps; past it the kept stems are dropped and kept again.
const KEPT_STEMS: usize = 1 << 17;

/// A thread's stemmer and the stems it made.
struct Stems {
    stemmer: frostem::Stemmer,
    kept: HashMap<Box<str>, Box<str>>,
}

thread_local! {
    static STEMS: RefCell<Stems> = RefCell::new(Stems {
        stemmer: frostem::Stemmer::new(frostem::Algorithm::English),
        kept: HashMap::default(),
    });
}

/// `word`'s stem, into `out`.
fn stem_into(word: &str, out: &mut String) {
    STEMS.with_borrow_mut(|Stems { stemmer, kept }| {
        out.clear();
        if let Some(stem) = kept.get(word) {
            out.push_str(stem);
            return;
        }
        let stem = stemmer.stem(word);
        out.push_str(&stem);
        if kept.len() == KEPT_STEMS {
            kept.clear();
        }
        kept.insert(word.into(), stem.into());
    });
}

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter { inner }
    }
}

#[derive(Clone)]
struct CachedStemmerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream {
            tail: self.inner.token_stream(text),
            buffer: String::new(),
        }
    }
}

struct CachedStemmerStream<T> {
    tail: T,
    buffer: String,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        stem_into(&token.text, &mut self.buffer);
        std::mem::swap(&mut token.text, &mut self.buffer);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
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

#[cfg(test)]
mod tests {
    use tantivy::tokenizer::Stemmer;

    use super::*;

    fn terms(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            terms.push(token.text.clone());
        }
        terms
    }

    /// The kept stems are tantivy's own: every word of 1,000 wiki-18 passages gives the terms
    /// tantivy's `Stemmer` gives, read first from the stemmer and then from what was kept, on
    /// two threads.
    #[test]
    fn the_english_analyzer_gives_the_terms_of_tantivys_stemmer() {
        let passages = crate::fixtures::wiki18_sample();
        let mut tantivy = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(StopWordFilter::new(Stem::English).unwrap())
            .filter(Stemmer::new(Stem::English))
            .build();
        let expected: Vec<Vec<String>> = passages
            .iter()
            .map(|p| terms(&mut tantivy, &p.text))
            .collect();
        assert!(expected.iter().flatten().any(|t| t == "run"), "stems made");
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut ours = Analyzer::En.analyzer();
                    for _ in 0..2 {
                        for (p, expected) in passages.iter().zip(&expected) {
                            assert_eq!(&terms(&mut ours, &p.text), expected, "{}", p.id);
                        }
                    }
                });
            }
        });
    }
}
