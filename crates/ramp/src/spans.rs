//! Span candidates found without a model: link anchors, corpus titles, dates, numbers, names.
//!
//! Every candidate is a byte range of the passage text that starts and ends on a word boundary
//! (see [`at_word_boundaries`]), so masking it never cuts a word, a combining sequence or a
//! number in half.

use std::{collections::BTreeSet, fmt, str::FromStr, sync::LazyLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use formats::Passage;
use regex::Regex;

use crate::{Lang, RampError};

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

    /// The singular name used in records (`ext.mask_kinds`) and stats.
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

    /// The plural name used on the command line (`--spans anchors,dates`).
    pub fn flag(self) -> &'static str {
        match self {
            SpanKind::Anchor => "anchors",
            SpanKind::Title => "titles",
            SpanKind::Llm => "llm",
            SpanKind::Date => "dates",
            SpanKind::Number => "numbers",
            SpanKind::Name => "names",
        }
    }
}

/// A set of span sources, parsed from `anchors,titles,dates,numbers,names,llm`.
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
}

impl FromStr for SpanSet {
    type Err = RampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = BTreeSet::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let kind = SpanKind::ALL
                .into_iter()
                .find(|k| k.flag() == name || k.as_str() == name)
                .ok_or_else(|| {
                    RampError::Config(format!(
                        "unknown span source {name:?}; expected some of anchors,titles,dates,numbers,names,llm"
                    ))
                })?;
            set.insert(kind);
        }
        if set.is_empty() {
            return Err(RampError::Config("--spans names no source".into()));
        }
        Ok(SpanSet(set))
    }
}

impl fmt::Display for SpanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.kinds().map(SpanKind::flag).collect();
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
}

/// Whether `c` belongs to a word: letters, digits and combining marks (a mark glued to the
/// previous letter must never be separated from it).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_mark(c)
}

/// Combining marks (Unicode general category M).
pub(crate) fn is_mark(c: char) -> bool {
    static MARK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\p{M}$").expect("static regex"));
    !c.is_ascii() && MARK.is_match(c.encode_utf8(&mut [0; 4]))
}

/// Scripts written without spaces between words: any character boundary is a word boundary.
fn is_unspaced_script(c: char) -> bool {
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

/// Link anchors of the passage whose offsets fit its text, trimmed to word boundaries.
pub fn anchors(passage: &Passage) -> Vec<Span> {
    let text = passage.text.as_str();
    passage
        .anchors
        .iter()
        .filter_map(|a| a.byte_range(text))
        .filter_map(|r| {
            let surface = &text[r.clone()];
            let start = r.start + (surface.len() - surface.trim_start().len());
            let end = r.start + surface.trim_end().len();
            at_word_boundaries(text, start, end).then_some(Span {
                start,
                end,
                kind: SpanKind::Anchor,
            })
        })
        .collect()
}

/// The page title without a trailing disambiguation, as in the original: `"Mercury (planet)"`
/// becomes `"Mercury"`.
pub fn title_core(title: &str) -> &str {
    title.split(" (").next().unwrap_or(title).trim()
}

/// The corpus's own page titles, matched as whole words: every title is an entity.
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
            .build(&set)
            .map_err(|e| RampError::Config(format!("title gazetteer: {e}")))?;
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

const MONTHS: &str = "January|February|March|April|May|June|July|August|September|October|November|December|Jan\\.?|Feb\\.?|Mar\\.?|Apr\\.?|Jun\\.?|Jul\\.?|Aug\\.?|Sept?\\.?|Oct\\.?|Nov\\.?|Dec\\.?";

static DATES_EN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"\b(?:\d{{1,2}} (?:{MONTHS}),? \d{{3,4}}|(?:{MONTHS}) \d{{1,2}}, \d{{3,4}}|(?:{MONTHS}) \d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|(?:1[0-9]|20)\d0s|(?:1[0-9]|20)\d\d)\b"
    ))
    .expect("static regex")
});

static DATES_ZH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d{1,4}年(?:\d{1,2}月(?:\d{1,2}日)?)?|\d{1,2}月\d{1,2}日").expect("static regex")
});

const UNITS: &str = "percent|per cent|km²|km2|km|kilometres|kilometers|kilometre|kilometer|sq mi|square miles|square kilometres|square kilometers|miles|mile|mi|metres|meters|metre|meter|m|cm|mm|ft|feet|foot|inches|kg|kilograms|grams|lb|lbs|pounds|tonnes|tons|hectares|acres|people|inhabitants|residents|species|km/h|mph|MW|GW|kW|kWh|MHz|GHz|Hz|seats|votes|episodes|copies|years|days|hours|minutes|seconds";

static NUMBERS_EN: LazyLock<Regex> = LazyLock::new(|| {
    let scale = r"(?: (?:million|billion|trillion|thousand)\b)?";
    Regex::new(&format!(
        r"(?:[$£€¥]\s?\d[\d,]*(?:\.\d+)?{scale}|\b\d[\d,]*(?:\.\d+)?{scale}(?:%|\s?°[CF]|\s?(?:{UNITS})\b)?)"
    ))
    .expect("static regex")
});

static NUMBERS_ZH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d+(?:\.\d+)?(?:万|亿)?(?:%|％|人|公里|千米|米|平方公里|公顷|吨|元|美元|岁|座|个|家|所|名)?")
        .expect("static regex")
});

static NAMES: LazyLock<Regex> = LazyLock::new(|| {
    let word = r"\p{Lu}[\p{L}\p{M}'’-]*\p{L}";
    let link = r"(?:of|the|de|la|le|du|del|della|der|den|van|von|y|da|di|for)";
    Regex::new(&format!(r"\b{word}(?:\s(?:{link}\s)*{word})+\b")).expect("static regex")
});

/// Dates: years, decades, full dates ("12 March 1998", "March 12, 1998"), ISO dates; for
/// Chinese, 年/月/日 dates.
pub fn dates(text: &str, lang: Lang) -> Vec<Span> {
    let re = match lang {
        Lang::En => &*DATES_EN,
        Lang::Zh => &*DATES_ZH,
    };
    spans_of(re, text, SpanKind::Date)
}

/// Numbers: quantities with units, money, percentages, and bare numbers of three or more
/// digits. A bare year is a date, not a number.
pub fn numbers(text: &str, lang: Lang) -> Vec<Span> {
    let re = match lang {
        Lang::En => &*NUMBERS_EN,
        Lang::Zh => &*NUMBERS_ZH,
    };
    spans_of(re, text, SpanKind::Number)
        .into_iter()
        .filter(|s| {
            let surface = &text[s.start..s.end];
            let digits = surface.chars().filter(char::is_ascii_digit).count();
            let bare = surface.chars().all(|c| c.is_ascii_digit() || c == ',');
            let year = bare && surface.len() == 4 && DATES_EN.is_match(surface);
            if bare {
                digits >= 3 && !year
            } else {
                digits >= 1
            }
        })
        .collect()
}

/// Capitalised multi-word names ("Stanley Kubrick", "University of Michigan").
pub fn names(text: &str) -> Vec<Span> {
    spans_of(&NAMES, text, SpanKind::Name)
}

fn spans_of(re: &Regex, text: &str, kind: SpanKind) -> Vec<Span> {
    re.find_iter(text)
        .filter(|m| at_word_boundaries(text, m.start(), m.end()))
        .map(|m| Span {
            start: m.start(),
            end: m.end(),
            kind,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surfaces(text: &str, spans: &[Span]) -> Vec<String> {
        spans
            .iter()
            .map(|s| text[s.start..s.end].to_string())
            .collect()
    }

    fn check(found: fn(&str) -> Vec<Span>, text: &str, expect: &[&str]) {
        assert_eq!(surfaces(text, &found(text)), expect, "in {text:?}");
    }

    #[test]
    fn dates_en() {
        let f = |t: &str| dates(t, Lang::En);
        check(f, "Born on 12 March 1998 in Oslo.", &["12 March 1998"]);
        check(f, "On March 12, 1998, it rained.", &["March 12, 1998"]);
        check(f, "In the 1990s and in 2004.", &["1990s", "2004"]);
        check(f, "Released in June 1968.", &["June 1968"]);
        check(f, "Room 12345 is not a year.", &[]);
    }

    #[test]
    fn numbers_en() {
        let f = |t: &str| numbers(t, Lang::En);
        check(f, "It is 8,848 m high.", &["8,848 m"]);
        check(f, "About 45% of 1200 people.", &["45%", "1200 people"]);
        check(f, "It cost $2.5 million.", &["$2.5 million"]);
        check(f, "Chapter 7 of 1998.", &[]);
    }

    #[test]
    fn names_en() {
        check(
            names,
            "Directed by Stanley Kubrick at the University of Michigan.",
            &["Stanley Kubrick", "University of Michigan"],
        );
        check(names, "The film was good.", &[]);
    }

    #[test]
    fn chinese_dates_and_numbers() {
        let t = "他于1998年3月12日出生，人口约120万人。";
        assert_eq!(surfaces(t, &dates(t, Lang::Zh)), ["1998年3月12日"]);
        // The year is a date, not a number; "3" and "12" are too short to be worth a mask.
        assert_eq!(surfaces(t, &numbers(t, Lang::Zh)), ["120万人"]);
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
        assert_eq!(
            surfaces(t, &g.find(t)),
            ["Mercury", "Ann Arbor", "Michigan", "circus"]
        );
    }

    #[test]
    fn anchors_are_trimmed_and_checked() {
        let p = Passage {
            id: "1".into(),
            title: "T".into(),
            text: "See Việt Nam here".into(),
            anchors: vec![
                formats::Anchor {
                    start: 3,
                    end: 12,
                    target: "Việt Nam".into(),
                },
                formats::Anchor {
                    start: 5,
                    end: 7,
                    target: "x".into(),
                },
                formats::Anchor {
                    start: 40,
                    end: 50,
                    target: "x".into(),
                },
            ],
            original_contents: None,
        };
        assert_eq!(surfaces(&p.text, &anchors(&p)), ["Việt Nam"]);
    }

    #[test]
    fn span_set_parses_and_prints() {
        let s: SpanSet = "dates, anchors,llm".parse().unwrap();
        assert_eq!(s.to_string(), "anchors,llm,dates");
        assert!("dates,colours".parse::<SpanSet>().is_err());
    }
}
