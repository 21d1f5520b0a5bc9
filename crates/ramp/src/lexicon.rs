//! What a corpus says about its own words: which are its most document-frequent words, and which
//! of those are capitalised only where a sentence starts. This is how the offline span sources
//! tell an entity ("Michigan", "spintronics") from an everyday word ("family", "well").
//!
//! Exact definitions:
//! - a **token** is a maximal run of letters, digits and combining marks; it is compared
//!   lower-cased, so document frequencies ignore case;
//! - the **common words** are the [`COMMON_WORDS`] tokens with the highest document frequency
//!   (ties broken by the token), among tokens found in at least two documents;
//! - a token **starts a sentence** when only whitespace, quotes and brackets stand between it
//!   and the start of the text, a line break, or one of `.` `!` `?` `:`;
//! - a common word is **sentence-case only** ("The", "In", "During") when, away from sentence
//!   starts, it is written lower-case at least [`SENTENCE_CASE_RATIO`] times as often as
//!   capitalised (plus one): a capital on it says nothing about a name;
//! - a **common-word mask** is one or two lower-case words (words with a lower-case letter and
//!   no upper-case letter or digit), each made only of common words: a fill-in a language model
//!   guesses without any search.
//!
//! Counting is exact while the corpus has fewer than [`MAX_TRACKED`] distinct tokens; past that,
//! tokens seen in the fewest documents so far are forgotten in bulk to keep memory flat. Only
//! tokens far too rare to be among the common words are affected.

use std::{borrow::Cow, collections::HashMap};

use rayon::prelude::*;

use crate::spans::{Span, is_word_char};

/// How many of the most document-frequent tokens count as common words.
pub const COMMON_WORDS: usize = 5000;

/// Lower-case uses per capitalised use (away from sentence starts) that make a common word
/// sentence-case only.
pub const SENTENCE_CASE_RATIO: u64 = 50;

/// Distinct tokens tracked exactly before the rarest are forgotten (about 150 MB at most).
pub const MAX_TRACKED: usize = 2_000_000;

/// The tokens of `text` with their byte offsets.
pub fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        at = skip_while_word(text, at, false);
        if at >= text.len() {
            return None;
        }
        let start = at;
        at = skip_while_word(text, at, true);
        Some((start, &text[start..at]))
    })
}

/// The first byte offset from `at` on whose character is (`word`) or is not a word character;
/// ASCII is decided byte by byte.
fn skip_while_word(text: &str, mut at: usize, word: bool) -> usize {
    let bytes = text.as_bytes();
    while let Some(&b) = bytes.get(at) {
        let (is_word, len) = if b.is_ascii() {
            (b.is_ascii_alphanumeric(), 1)
        } else {
            match text[at..].chars().next() {
                Some(c) => (is_word_char(c), c.len_utf8()),
                None => break,
            }
        };
        if is_word != word {
            break;
        }
        at += len;
    }
    at
}

/// Whether the token at byte offset `at` starts a sentence (see the module docs).
pub fn starts_sentence(text: &str, at: usize) -> bool {
    for c in text[..at].chars().rev() {
        match c {
            '\n' | '.' | '!' | '?' | ':' => return true,
            c if c.is_whitespace() => {}
            '"' | '\'' | '(' | '[' | '{' | '“' | '”' | '‘' | '’' | '«' | '»' | ')' | ']' =>
                {}
            _ => return false,
        }
    }
    true
}

/// A word with a lower-case letter, no upper-case letter and no digit ("1960s" is a date).
fn is_lower_case_word(word: &str) -> bool {
    word.chars().any(char::is_lowercase)
        && !word.chars().any(|c| c.is_uppercase() || c.is_numeric())
}

/// The corpus's common words (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    /// Common word (lower-cased) → whether it is sentence-case only.
    common: HashMap<String, bool>,
    documents: u64,
}

impl Lexicon {
    /// Whether `token` (any case) is among the common words.
    pub fn is_common(&self, token: &str) -> bool {
        self.common.contains_key(&token.to_lowercase())
    }

    /// Documents the lexicon was counted over.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// Whether `mask` is a common-word mask: one or two lower-case words made of common words.
    pub fn is_common_word_mask(&self, mask: &str) -> bool {
        let words: Vec<&str> = mask.split_whitespace().collect();
        (1..=2).contains(&words.len())
            && words
                .iter()
                .all(|w| is_lower_case_word(w) && tokens(w).all(|(_, t)| self.is_common(t)))
    }

    /// Whether `text[span]` looks like an entity rather than an everyday phrase: it carries a
    /// capital that is not just a sentence start, or one of its tokens is not a common word.
    pub fn is_entity_like(&self, text: &str, span: &Span) -> bool {
        let surface = &text[span.start..span.end];
        let sentence_start = starts_sentence(text, span.start);
        let capital = surface
            .char_indices()
            .any(|(i, c)| c.is_uppercase() && !(i == 0 && sentence_start));
        capital || tokens(surface).any(|(_, t)| !self.is_common(t))
    }

    /// `span` without the sentence-case-only words it starts with when it starts a sentence
    /// ("The Netherlands" at a sentence start becomes "Netherlands", "In the United States"
    /// becomes "United States"); `None` if nothing with a capital is left.
    pub fn trim_sentence_case(&self, text: &str, span: Span) -> Option<Span> {
        if !starts_sentence(text, span.start) {
            return Some(span);
        }
        let surface = &text[span.start..span.end];
        let mut start = span.end;
        for (n, (i, t)) in tokens(surface).enumerate() {
            let leading = if n == 0 {
                self.common.get(&t.to_lowercase()) == Some(&true)
            } else {
                is_lower_case_word(t)
            };
            if !leading {
                start = span.start + i;
                break;
            }
        }
        let rest = &text[start..span.end];
        rest.chars()
            .any(char::is_uppercase)
            .then_some(Span { start, ..span })
    }
}

/// Per-token counts while the corpus is read.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    documents: u64,
    lower: u64,
    upper: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.documents += other.documents;
        self.lower += other.lower;
        self.upper += other.upper;
    }
}

/// Adds the counts of `from` into `into`, allocating only for words new to `into`.
fn merge<S: AsRef<str> + Into<String>>(
    into: &mut HashMap<String, Counts>,
    from: impl IntoIterator<Item = (S, Counts)>,
) {
    for (word, counts) in from {
        match into.get_mut(word.as_ref()) {
            Some(c) => c.add(counts),
            None => {
                into.insert(word.into(), counts);
            }
        }
    }
}

/// Counts document frequencies and capitalisation over a stream of documents.
#[derive(Debug, Default)]
pub struct LexiconBuilder {
    words: HashMap<String, Counts>,
    documents: u64,
}

impl LexiconBuilder {
    /// Adds a batch of documents (counted on all cores). The result depends on the order of
    /// documents and on batch boundaries only past [`MAX_TRACKED`] distinct tokens.
    pub fn add_batch<S: AsRef<str> + Sync>(&mut self, documents: &[S]) {
        let batch = documents
            .par_iter()
            .fold(HashMap::new, |mut acc, doc| {
                merge(&mut acc, document_counts(doc.as_ref()));
                acc
            })
            .reduce(HashMap::new, |a, b| {
                let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                merge(&mut big, small);
                big
            });
        merge(&mut self.words, batch);
        self.documents += documents.len() as u64;
        if self.words.len() > MAX_TRACKED {
            self.forget_rarest(MAX_TRACKED / 2);
        }
    }

    /// Forgets the tokens seen in the fewest documents, so that at most `keep` remain.
    fn forget_rarest(&mut self, keep: usize) {
        if self.words.len() <= keep {
            return;
        }
        let mut by_documents: Vec<u64> = self.words.values().map(|c| c.documents).collect();
        let cut = by_documents.len() - keep - 1;
        let (_, threshold, _) = by_documents.select_nth_unstable(cut);
        let threshold = *threshold;
        self.words.retain(|_, c| c.documents > threshold);
    }

    pub fn finish(self) -> Lexicon {
        let mut ranked: Vec<(String, Counts)> = self
            .words
            .into_iter()
            .filter(|(_, c)| c.documents >= 2)
            .collect();
        ranked.sort_unstable_by(|(a, ca), (b, cb)| cb.documents.cmp(&ca.documents).then(a.cmp(b)));
        ranked.truncate(COMMON_WORDS);
        let common = ranked
            .into_iter()
            .map(|(word, c)| (word, c.lower >= SENTENCE_CASE_RATIO * (c.upper + 1)))
            .collect();
        Lexicon {
            common,
            documents: self.documents,
        }
    }
}

/// The tokens of one document, each counted once for its document frequency, with its lower-
/// and upper-case uses away from sentence starts.
fn document_counts(text: &str) -> Vec<(Cow<'_, str>, Counts)> {
    let mut uses: Vec<(Cow<'_, str>, Counts)> = tokens(text)
        .map(|(at, token)| {
            let word = if token.chars().any(char::is_uppercase) {
                Cow::Owned(token.to_lowercase())
            } else {
                Cow::Borrowed(token)
            };
            let mut counts = Counts {
                documents: 1,
                ..Counts::default()
            };
            if !starts_sentence(text, at) {
                if token.starts_with(char::is_uppercase) {
                    counts.upper = 1;
                } else if is_lower_case_word(token) {
                    counts.lower = 1;
                }
            }
            (word, counts)
        })
        .collect();
    uses.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    uses.dedup_by(|later, first| {
        let same = later.0 == first.0;
        if same {
            first.1.lower += later.1.lower;
            first.1.upper += later.1.upper;
        }
        same
    });
    uses
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spans::SpanKind;

    fn lexicon(documents: &[&str]) -> Lexicon {
        let mut b = LexiconBuilder::default();
        b.add_batch(documents);
        b.finish()
    }

    fn span(text: &str, surface: &str) -> Span {
        Span::first(text, surface, SpanKind::Title)
    }

    #[test]
    fn tokens_split_on_non_word_characters() {
        let got: Vec<(usize, &str)> = tokens("US$1, well-known Café").collect();
        assert_eq!(
            got,
            [
                (0, "US"),
                (3, "1"),
                (6, "well"),
                (11, "known"),
                (17, "Café")
            ]
        );
    }

    #[test]
    fn sentence_starts() {
        let t = "The cat. \"Then\" came (In) a: Box\nNew";
        for (word, expect) in [
            ("The", true),
            ("cat", false),
            ("Then", true),
            ("came", false),
            ("In", false),
            ("Box", true),
            ("New", true),
        ] {
            assert_eq!(starts_sentence(t, t.find(word).unwrap()), expect, "{word}");
        }
    }

    /// Ten documents in which "family", "the", "well" and "in" are everywhere, "Paris" and
    /// "spintronics" in one each.
    fn corpus() -> Vec<String> {
        (0..10)
            .map(|i| {
                let extra = match i {
                    0 => " It is in Paris.",
                    1 => " Its spintronics lab is new.",
                    _ => "",
                };
                format!("The family lived in the house as well as the farm.{extra}")
            })
            .collect()
    }

    #[test]
    fn common_words_and_common_word_masks() {
        let docs = corpus();
        let lex = lexicon(&docs.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(lex.documents(), 10);
        assert!(lex.is_common("Family") && lex.is_common("well"));
        assert!(!lex.is_common("paris") && !lex.is_common("spintronics"));
        assert!(lex.is_common_word_mask("family"));
        assert!(lex.is_common_word_mask("as well"));
        assert!(
            !lex.is_common_word_mask("the family as well"),
            "three words"
        );
        assert!(!lex.is_common_word_mask("Family"), "capitalised");
        assert!(!lex.is_common_word_mask("spintronics"), "rare");
        assert!(!lex.is_common_word_mask("1998"), "not a word");
        let decades: Vec<String> = (0..3).map(|_| "the 1960s".to_string()).collect();
        let lex = lexicon(&decades.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(lex.is_common("1960s"));
        assert!(!lex.is_common_word_mask("1960s"), "a date");
    }

    #[test]
    fn entity_like_spans() {
        let docs = corpus();
        let lex = lexicon(&docs.iter().map(String::as_str).collect::<Vec<_>>());
        let t = "Family matters. The family of Family Guy as well as spintronics.";
        assert!(!lex.is_entity_like(t, &span(t, "Family")), "sentence case");
        assert!(
            lex.is_entity_like(t, &span(t, "Family matters")),
            "a rare word"
        );
        assert!(!lex.is_entity_like(t, &span(t, "family")));
        assert!(
            lex.is_entity_like(t, &span(t, "Family Guy")),
            "capital mid-sentence"
        );
        assert!(!lex.is_entity_like(t, &span(t, "well")));
        assert!(lex.is_entity_like(t, &span(t, "spintronics")), "rare");
    }

    #[test]
    fn sentence_case_words_are_trimmed_from_names() {
        let docs = corpus();
        let lex = lexicon(&docs.iter().map(String::as_str).collect::<Vec<_>>());
        // "the" is written lower-case 20 times away from sentence starts, never capitalised:
        // below the ratio of 50, so it is not sentence-case only yet.
        let t = "The Hague is here.";
        assert_eq!(
            lex.trim_sentence_case(t, span(t, "The Hague")),
            Some(span(t, "The Hague"))
        );
        let many: Vec<String> = (0..60).map(|_| "a cat in the house".to_string()).collect();
        let lex = lexicon(&many.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(
            lex.trim_sentence_case(t, span(t, "The Hague")),
            Some(span(t, "Hague"))
        );
        let t = "In the United States, it rains.";
        assert_eq!(
            lex.trim_sentence_case(t, span(t, "In the United States")),
            Some(span(t, "United States"))
        );
        let t = "He lives In The House.";
        assert_eq!(
            lex.trim_sentence_case(t, span(t, "In The House")),
            Some(span(t, "In The House"))
        );
    }

    #[test]
    fn forgetting_keeps_the_frequent() {
        let mut b = LexiconBuilder::default();
        b.add_batch(&["a b c d", "b c d", "c d", "d", "d"]);
        b.forget_rarest(2);
        let mut kept: Vec<(&str, u64)> = b
            .words
            .iter()
            .map(|(w, c)| (w.as_str(), c.documents))
            .collect();
        kept.sort_unstable();
        assert_eq!(kept, [("c", 3), ("d", 5)]);
        assert_eq!(b.documents, 5);
    }
}
