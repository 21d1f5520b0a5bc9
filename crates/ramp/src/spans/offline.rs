//! The offline sources together: every span a passage offers without a model, selected the
//! way the paper selects knowledge entities.

use formats::Passage;

use super::{Gazetteer, Span, SpanKind, SpanSet, sources, tidy};
use crate::{
    Lang,
    lexicon::{self, Lexicon},
};

/// The offline sources of a run, with what the first pass over the corpus learnt: its titles
/// and its [`Lexicon`].
///
/// Selection: every span is [`tidy`]; dates and numbers are kept as found; anchors, titles and
/// names are kept only when they look like entities in their sentence (a capital that is not
/// just a sentence start, or a word outside the corpus's common words), so "family" or the
/// "well" of "as well as" — titles of the corpus too — are never proposed. A name that starts a
/// sentence loses its sentence-case-only first words ("In the United States" → "United States").
#[derive(Debug)]
pub struct OfflineSpans {
    set: SpanSet,
    lang: Lang,
    gazetteer: Option<Gazetteer>,
    lexicon: Option<Lexicon>,
}

impl OfflineSpans {
    /// `gazetteer` is used when `set` has titles, `lexicon` (needed when `set` has a word
    /// source) selects the word spans.
    pub fn new(
        set: SpanSet,
        lang: Lang,
        gazetteer: Option<Gazetteer>,
        lexicon: Option<Lexicon>,
    ) -> Self {
        OfflineSpans {
            set,
            lang,
            gazetteer,
            lexicon,
        }
    }

    pub fn lexicon(&self) -> Option<&Lexicon> {
        self.lexicon.as_ref()
    }

    /// The selected spans of `passage`, by source, possibly overlapping.
    pub fn find(&self, passage: &Passage) -> Vec<Span> {
        let text = passage.text.as_str();
        let names = self.names(text);
        let mut found = Vec::new();
        if self.set.contains(SpanKind::Anchor) {
            found.extend(sources::anchors(passage));
        }
        if let (true, Some(g)) = (self.set.contains(SpanKind::Title), &self.gazetteer) {
            found.extend(
                g.find(text)
                    .into_iter()
                    .filter(|t| !is_fragment(text, t, &names)),
            );
        }
        if self.set.contains(SpanKind::Date) {
            found.extend(sources::dates(text, self.lang));
        }
        if self.set.contains(SpanKind::Number) {
            found.extend(sources::numbers(text, self.lang));
        }
        let mut found: Vec<Span> = found
            .into_iter()
            .filter_map(|s| self.select(text, s))
            .collect();
        if self.set.contains(SpanKind::Name) {
            // A name inside a title or an anchor is a piece of it: "One Thousand" and
            // "One Nights" in "One Thousand and One Nights".
            let whole: Vec<Span> = found
                .iter()
                .filter(|s| s.kind.is_word_source())
                .copied()
                .collect();
            found.extend(
                names
                    .into_iter()
                    .filter(|n| !whole.iter().any(|w| strictly_inside(n, w))),
            );
        }
        found
    }

    /// The names of `text` (English only), tidy and without sentence-case-only first words.
    fn names(&self, text: &str) -> Vec<Span> {
        let Some(lexicon) = &self.lexicon else {
            return Vec::new();
        };
        if self.lang != Lang::En {
            return Vec::new();
        }
        sources::names(text)
            .into_iter()
            .filter_map(|s| tidy(text, s))
            .filter_map(|s| lexicon.trim_sentence_case(text, s))
            .filter(|s| lexicon.is_entity_like(text, s))
            .collect()
    }

    /// A tidy span, kept if it is not a word or looks like an entity.
    fn select(&self, text: &str, span: Span) -> Option<Span> {
        let span = tidy(text, span)?;
        if !span.kind.is_word_source() {
            return Some(span);
        }
        self.lexicon
            .as_ref()?
            .is_entity_like(text, &span)
            .then_some(span)
    }
}

/// Whether `inner` lies within `outer` and is shorter.
fn strictly_inside(inner: &Span, outer: &Span) -> bool {
    outer.start <= inner.start
        && inner.end <= outer.end
        && outer.end - outer.start > inner.end - inner.start
}

/// Whether a title match is part of a longer name: inside a name found in the text ("Empire"
/// in "Roman Empire"), or next to a capitalised word that does not start a sentence ("Arm" in
/// "Carina–Sagittarius Arm").
fn is_fragment(text: &str, title: &Span, names: &[Span]) -> bool {
    let inside = names.iter().any(|n| strictly_inside(title, n));
    let before = &text[..title.start];
    let spaced = before.trim_end_matches([' ', '\u{a0}']);
    let capital_before = spaced.len() < before.len()
        && lexicon::tokens(spaced).last().is_some_and(|(at, token)| {
            token.starts_with(char::is_uppercase)
                && spaced.len() == at + token.len()
                && !lexicon::starts_sentence(text, at)
        });
    let after = &text[title.end..];
    let spaced = after.trim_start_matches([' ', '\u{a0}']);
    let capital_after = spaced.len() < after.len() && spaced.starts_with(char::is_uppercase);
    inside || capital_before || capital_after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::LexiconBuilder;

    #[test]
    fn common_nouns_and_fragments_are_not_entities() {
        let docs: Vec<String> = (0..60)
            .map(|i| format!("There was a well in the family, as well as a circus {i}."))
            .collect();
        let mut lexicon = LexiconBuilder::default();
        lexicon.add_batch(&docs);
        let gazetteer = Gazetteer::new([
            "Well",
            "Family",
            "Circus",
            "Oslo",
            "Spintronics",
            "Arm",
            "One Thousand and One Nights",
        ])
        .unwrap();
        let offline = OfflineSpans::new(
            SpanSet::offline(),
            Lang::En,
            Some(gazetteer),
            Some(lexicon.finish()),
        );
        let text = "Family life in Oslo, as well as spintronics. In the Royal Circus, 1998, \
                    the family paid US$1 and £2 for 1,950 tickets at the Oslo Circus, in the \
                    Carina–Sagittarius Arm, reading One Thousand and One Nights.";
        let passage = Passage::new("p", "T", text);
        let mut found: Vec<(&str, &str)> = offline
            .find(&passage)
            .iter()
            .map(|s| (s.kind.as_str(), &text[s.start..s.end]))
            .collect();
        found.sort_unstable();
        assert_eq!(
            found,
            [
                ("date", "1998"),
                ("name", "Oslo Circus"),
                ("name", "Royal Circus"),
                ("number", "1,950"),
                ("number", "£2"),
                ("title", "One Thousand and One Nights"),
                ("title", "Oslo"),
                ("title", "spintronics"),
            ]
        );
    }
}
