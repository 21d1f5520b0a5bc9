//! The title gazetteer: the corpus's own page titles, found in passages as whole words.

use std::{collections::BTreeSet, fmt};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::{Span, SpanKind, at_word_boundaries, is_unspaced_script};
use crate::RampError;

/// The page title without a trailing disambiguation, as in the original: `"Mercury (planet)"`
/// becomes `"Mercury"`.
pub fn title_core(title: &str) -> &str {
    title.split(" (").next().unwrap_or(title).trim()
}

/// The corpus's page titles, matched as whole words. A match is only a candidate: the offline
/// sources keep it when it looks like an entity in its sentence (see
/// [`crate::lexicon::Lexicon::is_entity_like`]).
pub struct Gazetteer {
    matcher: Option<AhoCorasick>,
    titles: usize,
}

impl fmt::Debug for Gazetteer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gazetteer")
            .field("titles", &self.titles)
            .finish()
    }
}

impl Gazetteer {
    /// Builds the matcher from page titles (disambiguation suffixes cut). Titles shorter than
    /// three characters or without an upper-case or non-Latin letter are left out: "It" or
    /// "a" would match everywhere. Matching is case-sensitive, except that a title that is a
    /// common noun ("Circus") also matches with its first letter lowered ("circus").
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(titles: I) -> Result<Self, RampError> {
        let mut set = BTreeSet::new();
        for title in titles {
            let core = title_core(title.as_ref());
            let useful = core.chars().count() >= 3
                && core
                    .chars()
                    .any(|c| c.is_uppercase() || is_unspaced_script(c));
            if !useful {
                continue;
            }
            // Wikipedia capitalises the first letter of every title: "Theatre" is linked from
            // "theatre". A title whose other letters are lower case is a common noun, found
            // with its first letter lowered too; "New York" or "Paris" are not.
            let mut chars = core.chars();
            if let Some(first) = chars.next()
                && first.is_uppercase()
                && !chars.as_str().chars().any(char::is_uppercase)
            {
                set.insert(first.to_lowercase().chain(chars).collect());
            }
            set.insert(core.to_string());
        }
        let titles = set.len();
        if titles == 0 {
            return Ok(Gazetteer {
                matcher: None,
                titles,
            });
        }
        let matcher = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&set)?;
        Ok(Gazetteer {
            matcher: Some(matcher),
            titles,
        })
    }

    /// Number of distinct titles matched.
    pub fn len(&self) -> usize {
        self.titles
    }

    pub fn is_empty(&self) -> bool {
        self.titles == 0
    }

    /// Every whole-word occurrence of a title in `text` (overlapping ones included).
    pub fn find(&self, text: &str) -> Vec<Span> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        matcher
            .find_overlapping_iter(text)
            .filter(|m| at_word_boundaries(text, m.start(), m.end()))
            .map(|m| Span {
                start: m.start(),
                end: m.end(),
                kind: SpanKind::Title,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gazetteer_matches_whole_words_only() {
        let g = Gazetteer::new([
            "Michigan",
            "Mercury (planet)",
            "It",
            "Ann Arbor",
            "Circus",
            "New York",
        ])
        .unwrap();
        // Common-noun titles also match with a lower-case first letter.
        assert_eq!(g.len(), 8);
        let t = "Michigander Mercury lives in Ann Arbor, Michigan, by the circus, not in new york.";
        let found: Vec<&str> = g.find(t).iter().map(|s| &t[s.start..s.end]).collect();
        assert_eq!(found, ["Mercury", "Ann Arbor", "Michigan", "circus"]);
    }
}
