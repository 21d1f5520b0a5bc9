//! The pattern sources: link anchors, dates, numbers and capitalised names, each a list of raw
//! spans of one passage (tidied and filtered by [`super::OfflineSpans`]).

use std::sync::LazyLock;

use formats::Passage;
use regex::Regex;

use super::{Span, SpanKind, at_word_boundaries};
use crate::Lang;

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

/// Digits with optional thousands groups and decimals: "1,950" and "2.5", never a trailing
/// comma ("1998," is "1998").
const AMOUNT: &str = r"\d+(?:,\d{3})*(?:\.\d+)?";

static NUMBERS_EN: LazyLock<Regex> = LazyLock::new(|| {
    let scale = r"(?: (?:million|billion|trillion|thousand)\b)?";
    Regex::new(&format!(
        r"(?:[$£€¥]\s?{AMOUNT}{scale}|\b{AMOUNT}{scale}(?:%|\s?°[CF]|\s?(?:{UNITS})\b)?)"
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

/// Capitalised multi-word names ("Stanley Kubrick", "University of Michigan"), without a
/// possessive ("Kubrick's" gives "Kubrick").
pub fn names(text: &str) -> Vec<Span> {
    spans_of(&NAMES, text, SpanKind::Name)
        .into_iter()
        .map(|mut s| {
            let surface = &text[s.start..s.end];
            if let Some(stem) = surface
                .strip_suffix("'s")
                .or_else(|| surface.strip_suffix("’s"))
            {
                s.end = s.start + stem.len();
            }
            s
        })
        .collect()
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
        check(f, "In 1998, it rained.", &["1998"]);
    }

    #[test]
    fn numbers_en() {
        let f = |t: &str| numbers(t, Lang::En);
        check(f, "It is 8,848 m high.", &["8,848 m"]);
        check(f, "About 45% of 1200 people.", &["45%", "1200 people"]);
        check(f, "It cost $2.5 million.", &["$2.5 million"]);
        check(f, "Chapter 7 of 1998.", &[]);
        check(
            f,
            "In 1998, 1,950 came; 225, 300.",
            &["1,950", "225", "300"],
        );
    }

    #[test]
    fn names_en() {
        check(
            names,
            "Directed by Stanley Kubrick at the University of Michigan.",
            &["Stanley Kubrick", "University of Michigan"],
        );
        check(names, "The film was good.", &[]);
        check(
            names,
            "A film by Stanley Kubrick's studio.",
            &["Stanley Kubrick"],
        );
    }

    #[test]
    fn chinese_dates_and_numbers() {
        let t = "他于1998年3月12日出生，人口约120万人。";
        assert_eq!(surfaces(t, &dates(t, Lang::Zh)), ["1998年3月12日"]);
        // The year is a date, not a number; "3" and "12" are too short to be worth a mask.
        assert_eq!(surfaces(t, &numbers(t, Lang::Zh)), ["120万人"]);
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
}
