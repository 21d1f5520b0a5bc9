//! Span candidates: what a span is, where it may start and end, and the sources that propose
//! spans without a model (link anchors, corpus titles, dates, numbers, names).
//!
//! Every candidate that reaches the masking rules has gone through [`tidy`]: it starts and ends
//! on a word boundary (so masking never cuts a word, a combining sequence or a number in half),
//! carries no punctuation at either end, and is a whole whitespace-delimited token or run of
//! tokens — only quotes, brackets, sentence punctuation and a possessive `'s` may touch it from
//! outside ("US$1" never yields the mask "$1", "1998," yields "1998").

mod gazetteer;
mod offline;
mod sources;

use std::{collections::BTreeSet, fmt, str::FromStr, sync::LazyLock};

use regex::Regex;

use crate::RampError;

pub use gazetteer::{Gazetteer, title_core};
pub use offline::OfflineSpans;
pub use sources::{anchors, dates, names, numbers};

/// Where a candidate span came from. The order is the priority when two sources propose the
/// same range: the earlier kind names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpanKind {
    Anchor,
    Title,
    Llm,
    Date,
    Number,
    Name,
}

impl SpanKind {
    pub const ALL: [SpanKind; 6] = [
        SpanKind::Anchor,
        SpanKind::Title,
        SpanKind::Llm,
        SpanKind::Date,
        SpanKind::Number,
        SpanKind::Name,
    ];

    /// The one name of the kind: in records (`ext.mask_kinds`, `ext.strategy`), stats,
    /// manifests and span lists.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Anchor => "anchor",
            SpanKind::Title => "title",
            SpanKind::Llm => "llm",
            SpanKind::Date => "date",
            SpanKind::Number => "number",
            SpanKind::Name => "name",
        }
    }

    /// Sources whose spans are words (and so must look like entities, see
    /// [`crate::lexicon::Lexicon::is_entity_like`]), as opposed to dates, numbers and the
    /// model's own choices.
    pub fn is_word_source(self) -> bool {
        matches!(self, SpanKind::Anchor | SpanKind::Title | SpanKind::Name)
    }
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpanKind {
    type Err = RampError;
    /// The kind's name; its plural (`anchors`, `dates`) is read too, because span lists read
    /// naturally in the plural and were always written so — it is never printed.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        SpanKind::ALL
            .into_iter()
            .find(|k| name == k.as_str() || name.strip_suffix('s') == Some(k.as_str()))
            .ok_or_else(|| RampError::UnknownSpanSource {
                name: name.to_string(),
            })
    }
}

/// A set of span sources, parsed from a comma-separated list (`anchor,title,date`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanSet(BTreeSet<SpanKind>);

impl SpanSet {
    /// Every source that needs no model.
    pub fn offline() -> Self {
        SpanSet(
            [
                SpanKind::Anchor,
                SpanKind::Title,
                SpanKind::Date,
                SpanKind::Number,
                SpanKind::Name,
            ]
            .into(),
        )
    }

    pub fn contains(&self, kind: SpanKind) -> bool {
        self.0.contains(&kind)
    }

    pub fn kinds(&self) -> impl Iterator<Item = SpanKind> + '_ {
        self.0.iter().copied()
    }

    /// Whether any source proposes words (anchors, titles, names).
    pub fn has_word_source(&self) -> bool {
        self.kinds().any(SpanKind::is_word_source)
    }
}

impl FromStr for SpanSet {
    type Err = RampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let set = s
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::parse)
            .collect::<Result<BTreeSet<SpanKind>, _>>()?;
        if set.is_empty() {
            return Err(RampError::NoSpanSource);
        }
        Ok(SpanSet(set))
    }
}

impl fmt::Display for SpanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.kinds().map(SpanKind::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// A candidate span: `text[start..end]` (bytes) of the passage text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub kind: SpanKind,
}

impl Span {
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The first occurrence of `surface` in `text`, as a span of `kind` (for tests).
    #[cfg(test)]
    pub(crate) fn first(text: &str, surface: &str, kind: SpanKind) -> Span {
        let start = text.find(surface).expect("surface in text");
        Span {
            start,
            end: start + surface.len(),
            kind,
        }
    }
}

/// Whether `c` belongs to a word: letters, digits and combining marks (a mark glued to the
/// previous letter must never be separated from it).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_mark(c)
}

/// Combining marks (Unicode general category M).
pub(crate) fn is_mark(c: char) -> bool {
    static MARK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\p{M}$").expect("static regex"));
    // No mark comes before U+0300 (combining grave accent): most text never reaches the regex.
    c >= '\u{300}' && MARK.is_match(c.encode_utf8(&mut [0; 4]))
}

/// Scripts written without spaces between words: any character boundary is a word boundary.
pub(crate) fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // kana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x0E00..=0x0E7F    // Thai
        | 0x20000..=0x2FA1F) // CJK extensions B-F, compatibility supplement
}

/// Whether byte offset `at` of `text` lies between two words.
pub(crate) fn is_boundary(text: &str, at: usize) -> bool {
    if !text.is_char_boundary(at) {
        return false;
    }
    let before = text[..at].chars().next_back();
    let after = text[at..].chars().next();
    match (before, after) {
        (None, _) | (_, None) => !after.is_some_and(is_mark),
        (Some(b), Some(a)) => {
            if is_mark(a) {
                return false;
            }
            !is_word_char(b) || !is_word_char(a) || is_unspaced_script(b) || is_unspaced_script(a)
        }
    }
}

/// Whether `text[start..end]` is a non-empty, trimmed span starting and ending on word
/// boundaries.
pub fn at_word_boundaries(text: &str, start: usize, end: usize) -> bool {
    start < end
        && end <= text.len()
        && is_boundary(text, start)
        && is_boundary(text, end)
        && text[start..end].trim() == &text[start..end]
}

/// Byte offsets of every whole-word occurrence of `needle` in `text`.
pub fn word_occurrences(text: &str, needle: &str) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(needle) {
        let start = from + i;
        if at_word_boundaries(text, start, start + needle.len()) {
            found.push(start);
        }
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    found
}

/// Punctuation that may open a token before a span: quotes and brackets.
fn is_opening(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '“' | '‘' | '«' | '„' | '(' | '[' | '{' | '¿' | '¡'
    )
}

/// Punctuation that may close a token after a span: quotes, brackets, sentence punctuation.
fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '”'
            | '’'
            | '»'
            | ')'
            | ']'
            | '}'
            | ','
            | '.'
            | ';'
            | ':'
            | '!'
            | '?'
            | '…'
            | '、'
            | '，'
            | '。'
    )
}

/// Whether the span's last word ends in an abbreviation's period ("U.S.", "D.C.").
fn ends_in_abbreviation(surface: &str) -> bool {
    let last = surface
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or(surface);
    last.strip_suffix('.').is_some_and(|w| w.contains('.'))
}

/// Whether a closing bracket at the end of `surface` is matched inside it ("Saw (film)").
fn closes_inside(surface: &str, close: char) -> bool {
    let open = match close {
        ')' => '(',
        ']' => '[',
        '}' => '{',
        _ => return false,
    };
    surface.matches(open).count() > surface.matches(close).count()
}

/// Whether `text[start..end]` is whole whitespace-delimited tokens: outside it, up to the next
/// whitespace on each side, there is only opening (before) or closing (after) punctuation and
/// a possessive `'s`. Next to a script written without spaces, any word boundary will do.
fn is_whole_tokens(text: &str, start: usize, end: usize) -> bool {
    let first = text[start..end].chars().next();
    let last = text[start..end].chars().next_back();
    let before = text[..start].chars().rev().find(|&c| !is_opening(c));
    let after_text = &text[end..];
    let after_text = after_text
        .strip_prefix("'s")
        .or_else(|| after_text.strip_prefix("’s"))
        .filter(|rest| !rest.starts_with(is_word_char))
        .unwrap_or(after_text);
    let after = after_text.chars().find(|&c| !is_closing(c));
    let free = |neighbour: Option<char>, edge: Option<char>| match neighbour {
        None => true,
        Some(c) => {
            c.is_whitespace() || is_unspaced_script(c) || edge.is_some_and(is_unspaced_script)
        }
    };
    free(before, first) && free(after, last)
}

/// The span with leading and trailing whitespace and punctuation trimmed, if what is left is
/// whole tokens on word boundaries (see the module docs); `None` otherwise. A trailing period
/// stays when it ends an abbreviation with inner periods, a closing bracket when it is matched
/// inside the span.
pub fn tidy(text: &str, span: Span) -> Option<Span> {
    let (mut start, mut end) = (span.start, span.end);
    if start >= end
        || end > text.len()
        || !text.is_char_boundary(start)
        || !text.is_char_boundary(end)
    {
        return None;
    }
    while let Some(c) = text[start..end].chars().next() {
        if !(c.is_whitespace() || is_opening(c)) {
            break;
        }
        start += c.len_utf8();
    }
    while let Some(c) = text[start..end].chars().next_back() {
        let keep = match c {
            '.' => ends_in_abbreviation(&text[start..end]),
            ')' | ']' | '}' => closes_inside(&text[start..end - 1], c),
            c => !(c.is_whitespace() || is_closing(c)),
        };
        if keep {
            break;
        }
        end -= c.len_utf8();
    }
    (at_word_boundaries(text, start, end) && is_whole_tokens(text, start, end)).then_some(Span {
        start,
        end,
        kind: span.kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tidy` of the first occurrence of `raw` in `text`, as a string.
    fn check(text: &str, raw: &str, expect: Option<&str>) {
        let got =
            tidy(text, Span::first(text, raw, SpanKind::Anchor)).map(|s| &text[s.start..s.end]);
        assert_eq!(got, expect, "{raw:?} in {text:?}");
    }

    #[test]
    fn tidy_strips_punctuation_and_refuses_token_fragments() {
        check("In 1998, it rained.", "1998,", Some("1998"));
        check("It cost 1,950 dollars.", "1,950", Some("1,950"));
        check("It cost US$1 billion.", "$1 billion", None);
        check("the sub-Saharan Africa region", "Saharan Africa", None);
        check("a \"Hello\" song", "\"Hello\"", Some("Hello"));
        check("born in Oslo.", "Oslo.", Some("Oslo"));
        check("the U.S. Army", "U.S.", Some("U.S."));
        check("see Saw (film) here", "Saw (film)", Some("Saw (film)"));
        check("(see Oslo)", "Oslo)", Some("Oslo"));
        check("Kubrick's film", "Kubrick", Some("Kubrick"));
        check("Kubrick’s film", "Kubrick", Some("Kubrick"));
        check("the Kubricks", "Kubrick", None);
        check("the 1950s–60s", "1950s", None);
        check("the Paris-based firm", "Paris", None);
        check("他于1998年出生", "1998年", Some("1998年"));
        check("a , b", " , ", None);
    }

    #[test]
    fn boundaries_respect_combining_marks_and_cjk() {
        // "Cafe\u{301}" is "Café" with a combining acute: "Cafe" must not match.
        let t = "Cafe\u{301} Paris";
        assert!(!at_word_boundaries(t, 0, 4));
        assert!(at_word_boundaries(t, 0, 6));
        assert_eq!(word_occurrences(t, "Cafe"), Vec::<usize>::new());
        let zh = "北京是中国的首都";
        assert_eq!(word_occurrences(zh, "中国"), vec![9]);
        assert!(!at_word_boundaries("American", 0, 7));
    }

    #[test]
    fn span_set_has_one_spelling() {
        let s: SpanSet = "dates, anchor,llm".parse().unwrap();
        assert_eq!(s.to_string(), "anchor,llm,date");
        assert_eq!(s.to_string().parse::<SpanSet>().unwrap(), s);
        assert!(matches!(
            "dates,colours".parse::<SpanSet>(),
            Err(RampError::UnknownSpanSource { name }) if name == "colours"
        ));
        assert!(matches!(
            " , ".parse::<SpanSet>(),
            Err(RampError::NoSpanSource)
        ));
        for kind in SpanKind::ALL {
            assert_eq!(kind.as_str().parse::<SpanKind>().unwrap(), kind);
        }
    }
}
