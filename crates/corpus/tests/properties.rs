//! Every corpus reader held to an invariant on generated input, not only to "does not panic".
//!
//! - JSONL (wiki-18 `contents`, passages, pages, KILT): on any mix of good, blank and bad lines
//!   the reader yields each good line's passages as its format promises and each bad line as an
//!   error naming that line, in input order, or with `skip_bad` counts the bad lines; so the
//!   first bad line is an error after exactly the passages before it, and never a passage.
//! - MediaWiki dumps: a well-formed dump gives exactly its article pages, in order; a cut one
//!   the pages completed before the cut, then an error that says so; a page damaged inside is
//!   reported and never a passage, and reading goes on after it (or, where the XML cannot be
//!   read past, ends there saying where and why); any bytes at all end without a panic.
//! - Page folders: one page per visible file, in name order, named by the file; a file that is
//!   not UTF-8 is a bad page, whatever the names and bytes.
//! - Format detection: the name and the first record decide, whatever follows them and whether
//!   the file is compressed; a good record is detected as its own format.
//!
//! Wherever a reader reports bad input, reading again with `skip_bad` gives the same passages
//! and counts and hides exactly the errors it counted; a JSONL file reads as its lines read one
//! by one. The checks that hold for any input are `corpus::invariants`, which the fuzz targets
//! run too. `PROPTEST_CASES` raises the number of cases (256 by default).

use std::path::Path;

use corpus::{
    Config, CorpusError, Format, PageSkip, Split,
    invariants::{read_all, read_both_ways},
};
use formats::{Anchor, Passage};
use proptest::prelude::*;
use serde_json::json;

fn reading(format: Option<Format>, split: Split) -> Config {
    Config {
        format,
        split,
        ..Config::default()
    }
}

fn splits() -> impl Strategy<Value = Split> {
    prop_oneof![Just(Split::Auto), Just(Split::Never)]
}

/// A word of prose in any script, maybe ending a sentence or a clause.
fn word() -> impl Strategy<Value = String> {
    "[\\p{L}\\p{N}]{1,8}[.,;!?]?".prop_map(String::from)
}

/// One to `max` words.
fn words(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(word(), 1..=max)
}

/// Paragraphs as a page's lines: white space around them, blank lines between. Returns the
/// lines and the text they make, the paragraphs joined by single spaces.
fn paragraphs() -> impl Strategy<Value = (Vec<String>, String)> {
    let pad = "[ \t\u{a0}\r]{0,2}";
    let line = prop_oneof![
        3 => (pad, words(15), pad).prop_map(|(a, w, b)| (format!("{a}{}{b}", w.join(" ")), w.join(" "))),
        1 => pad.prop_map(|p| (p, String::new())),
    ];
    prop::collection::vec(line, 0..6).prop_map(|lines| {
        let text: Vec<String> = lines
            .iter()
            .map(|(_, t)| t.clone())
            .filter(|t| !t.is_empty())
            .collect();
        (lines.into_iter().map(|(l, _)| l).collect(), text.join(" "))
    })
}

/// The passage a page of at most 100 words gives: named by the page when nothing is split,
/// `<page>#0` otherwise (no page here is long enough to be cut in two); none without text.
fn page_passage(id: &str, title: &str, text: &str, split: Split) -> Option<Passage> {
    if text.is_empty() {
        return None;
    }
    Some(Passage::new(passage_id(id, split), title, text))
}

/// The id of the one passage of a page of at most 100 words.
fn passage_id(page: &str, split: Split) -> String {
    match split {
        Split::Never => page.to_string(),
        _ => format!("{page}#0"),
    }
}

/// JSONL: wiki-18 `contents`, passages, pages and KILT pages, one record a line.
mod jsonl {
    use super::*;

    /// One JSONL line and what its reader must make of it.
    #[derive(Debug, Clone)]
    pub(crate) enum Line {
        /// A record that is already a passage: kept as it is, or counted empty if its text is
        /// white space only.
        Passage { json: String, passage: Passage },
        /// A page record: its paragraphs joined by single spaces as one passage.
        Page {
            json: String,
            id: String,
            title: String,
            text: String,
        },
        /// White space only: passed over, but counted in line numbers.
        Blank(String),
        /// A line no reader of the format takes.
        Bad(Vec<u8>),
    }

    impl Line {
        pub(crate) fn bytes(&self) -> &[u8] {
            match self {
                Line::Passage { json, .. } | Line::Page { json, .. } => json.as_bytes(),
                Line::Blank(s) => s.as_bytes(),
                Line::Bad(b) => b,
            }
        }

        fn passage(&self, split: Split) -> Option<Passage> {
            match self {
                Line::Passage { passage, .. } => {
                    Some(passage.clone()).filter(|p| !p.text.trim().is_empty())
                }
                Line::Page {
                    id, title, text, ..
                } => page_passage(id, title, text, split),
                Line::Blank(_) | Line::Bad(_) => None,
            }
        }
    }

    /// What a JSONL reader yields, errors reduced to the line they name.
    #[derive(Debug, PartialEq)]
    enum Item {
        Passage(Passage),
        BadLine(u64),
        Other(String),
    }

    /// Writes `lines` to a file, reads it as `format` and checks every passage, error and count.
    pub(crate) fn check_lines(
        format: Format,
        lines: &[Line],
        split: Split,
        skip_bad: bool,
        eol: &str,
    ) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        let mut bytes = Vec::new();
        for line in lines {
            bytes.extend_from_slice(line.bytes());
            bytes.extend_from_slice(eol.as_bytes());
        }
        std::fs::write(&path, bytes).unwrap();
        let config = Config {
            skip_bad,
            ..reading(Some(format), split)
        };
        let (reader, items) = read_all(&path, &config);
        let got: Vec<Item> = items
            .into_iter()
            .map(|item| match item {
                Ok(p) => Item::Passage(p),
                Err(CorpusError::BadLine { line, .. }) => Item::BadLine(line),
                Err(e) => Item::Other(e.to_string()),
            })
            .collect();
        let mut want = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            match line {
                Line::Bad(_) if !skip_bad => want.push(Item::BadLine(n as u64 + 1)),
                _ => want.extend(line.passage(split).map(Item::Passage)),
            }
        }
        prop_assert_eq!(got, want);
        let tally = reader.tally();
        let kinds = |f: fn(&Line) -> bool| lines.iter().filter(|l| f(l)).count() as u64;
        prop_assert_eq!(tally.pages, kinds(|l| !matches!(l, Line::Blank(_))));
        prop_assert_eq!(
            tally.skipped(PageSkip::Malformed),
            kinds(|l| matches!(l, Line::Bad(_)))
        );
        let empty = |l: &Line| {
            !matches!(l, Line::Blank(_) | Line::Bad(_)) && l.passage(Split::Never).is_none()
        };
        prop_assert_eq!(tally.skipped(PageSkip::Empty), kinds(empty));
        corpus::invariants::any_jsonl(&path, format, split, dir.path());
        Ok(())
    }

    /// A wiki-18 line as the wiki-18 dump writes them: a quoted title and text on one line.
    fn good() -> impl Strategy<Value = Line> {
        (
            "[0-9]{1,6}",
            "[A-Za-zà-ỹ ]{1,12}",
            "[a-z]{1,8}( [a-zà-ỹ,.]{1,8}){0,20}",
        )
            .prop_map(|(id, title, text)| Line::Passage {
                json: json!({"id": id, "contents": format!("\"{title}\"\n{text}")}).to_string(),
                passage: Passage::new(id, title, text),
            })
    }

    /// Lines no reader can take for a wiki-18 passage: broken JSON, JSON that is not an object,
    /// objects without `contents` or with the wrong types, text.
    pub(crate) fn bad() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\{\"id\": ?\"?[0-9a-z]{0,4}".prop_map(String::from),
            Just("[1, 2, 3]".to_owned()),
            Just("42".to_owned()),
            Just("\"just a string\"".to_owned()),
            Just("null".to_owned()),
            "[a-z]{1,6}".prop_map(|k| json!({ k: "x" }).to_string()),
            any::<i64>().prop_map(|n| json!({"id": "1", "contents": n}).to_string()),
            Just(json!({"id": "1", "contents": ["a", "b"]}).to_string()),
            "[^\\n\\r{\\[\"0-9tfn \\t-]{1,20}".prop_map(String::from),
        ]
        // A line of white space only is blank, and blank lines are passed over.
        .prop_filter("not blank", |line| !line.trim().is_empty())
    }

    fn lines() -> impl Strategy<Value = Vec<Line>> {
        let line = prop_oneof![3 => good(), 1 => bad().prop_map(|b| Line::Bad(b.into_bytes()))];
        prop::collection::vec(line, 1..30)
    }

    /// Any line of a format: good ones, blank ones, the bad lines of every format and the bad
    /// lines of this one.
    fn mixed(
        good: impl Strategy<Value = Line>,
        own_bad: impl Strategy<Value = serde_json::Value>,
    ) -> impl Strategy<Value = Vec<Line>> {
        let bad = prop_oneof![
            bad().prop_map(String::into_bytes),
            own_bad.prop_map(|v| v.to_string().into_bytes()),
            // A record cut by a bad byte: not UTF-8.
            "[a-z]{0,4}".prop_map(|k| [b"{\"", k.as_bytes(), b"\xff\"}"].concat()),
        ];
        let line = prop_oneof![
            6 => good,
            1 => "[ \t\u{a0}\u{3000}]{0,3}".prop_map(Line::Blank),
            2 => bad.prop_map(Line::Bad),
        ];
        prop::collection::vec(line, 1..30)
    }

    fn eol() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("\n"), Just("\r\n")]
    }

    /// An id as JSONL formats take it, a string or a number, and the id it names.
    fn id() -> impl Strategy<Value = (serde_json::Value, String)> {
        prop_oneof![
            "[\\p{L}\\p{N} _.-]{1,10}".prop_map(|s| (json!(s), s)),
            any::<i64>().prop_map(|n| (json!(n), n.to_string())),
        ]
    }

    /// Any text a passage may have, white space only now and then.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![4 => any::<String>(), 1 => "[ \t\n\u{a0}]{0,3}"]
    }

    /// This crate's own passages: `<page>#<n>` ids, anchors and original contents kept as given.
    fn passage() -> impl Strategy<Value = Line> {
        let anchor =
            (0..50usize, 0..10usize, "\\PC{0,8}").prop_map(|(start, len, target)| Anchor {
                start,
                end: start + len,
                target,
            });
        (
            any::<String>(),
            0..40u32,
            any::<String>(),
            any_text(),
            prop::collection::vec(anchor, 0..3),
            prop::option::of(any::<String>()),
        )
            .prop_map(|(page, n, title, text, anchors, original)| {
                let mut passage = Passage::new(format!("{page}#{n}"), title, text);
                passage.anchors = anchors;
                passage.original_contents = original;
                Line::Passage {
                    json: serde_json::to_string(&passage).unwrap(),
                    passage,
                }
            })
    }

    /// wiki-18 lines of any contents and ids given as strings or numbers.
    fn contents() -> impl Strategy<Value = Line> {
        let contents = prop_oneof![
            (any::<String>(), any_text()).prop_map(|(t, x)| format!("\"{t}\"\n{x}")),
            any_text(),
        ];
        (id(), contents).prop_map(|((id, name), contents)| Line::Passage {
            json: json!({"id": id, "contents": contents}).to_string(),
            passage: Passage::from_contents(name, &contents),
        })
    }

    /// `{"id"?, "title", "text"}` pages; without an id the title names the page.
    fn page() -> impl Strategy<Value = Line> {
        (prop::option::of(id()), any::<String>(), paragraphs()).prop_map(
            |(id, title, (lines, text))| {
                let mut record = json!({"title": title, "text": lines.join("\n")});
                let id = match id {
                    Some((value, name)) => {
                        record["id"] = value;
                        name
                    }
                    None => title.clone(),
                };
                Line::Page {
                    json: record.to_string(),
                    id,
                    title,
                    text,
                }
            },
        )
    }

    /// KILT section names: of prose, and of references or links, whose content is dropped.
    const PROSE: &[&str] = &["History", "Early life", "Lịch sử", "Career"];
    const BOILERPLATE: &[&str] = &[
        "References",
        "See also",
        "External links",
        "Tham khảo",
        "notes",
    ];

    /// A KILT section: a heading (none for the introduction), and its paragraphs and list items
    /// with the text each gives, none in a reference-like section.
    fn kilt_section(heading: bool) -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
        // Eight words an item, three items a section, four sections: one passage at most.
        let item = (any::<bool>(), words(8)).prop_map(|(bullet, w)| {
            let text = w.join(" ");
            let line = if bullet {
                format!("BULLET::::- {text}\n")
            } else {
                format!("{text}\n")
            };
            (line, text)
        });
        let name = prop_oneof![
            prop::sample::select(PROSE).prop_map(|n| (n, true)),
            prop::sample::select(BOILERPLATE).prop_map(|n| (n, false)),
        ];
        let sub = prop::option::of(prop::sample::select(PROSE));
        (name, sub, prop::collection::vec(item, 0..4)).prop_map(
            move |((name, prose), sub, items)| {
                let mut lines = Vec::new();
                if heading {
                    lines.push(match sub {
                        Some(sub) => format!("Section::::{name}.:{sub}.\n"),
                        None => format!("Section::::{name}.\n"),
                    });
                }
                let prose = prose || !heading;
                let mut texts = Vec::new();
                for (line, text) in items {
                    lines.push(line);
                    if prose {
                        texts.push(text);
                    }
                }
                (lines, texts)
            },
        )
    }

    /// KILT pages: the title first, then sections; named by `wikipedia_id`, else `_id`, else
    /// the title.
    fn kilt() -> impl Strategy<Value = Line> {
        (
            "\\PC{1,16}",
            prop::option::of(id()),
            prop::option::of(id()),
            kilt_section(false),
            prop::collection::vec(kilt_section(true), 0..4),
        )
            .prop_map(|(title, wikipedia_id, other_id, intro, sections)| {
                let mut text = vec![format!("{title}\n")];
                let mut kept = Vec::new();
                for (lines, texts) in std::iter::once(intro).chain(sections) {
                    text.extend(lines);
                    kept.extend(texts);
                }
                let mut record = json!({"wikipedia_title": title, "text": text});
                if let Some((value, _)) = &other_id {
                    record["_id"] = value.clone();
                }
                if let Some((value, _)) = &wikipedia_id {
                    record["wikipedia_id"] = value.clone();
                }
                let id = wikipedia_id
                    .or(other_id)
                    .map_or_else(|| title.clone(), |(_, name)| name);
                Line::Page {
                    json: record.to_string(),
                    id,
                    title,
                    text: kept.join(" "),
                }
            })
    }

    /// Any good record of a JSONL format, with its format: what detection must tell.
    pub(crate) fn any_good() -> impl Strategy<Value = (Format, Line)> {
        prop_oneof![
            good().prop_map(|l| (Format::Contents, l)),
            contents().prop_map(|l| (Format::Contents, l)),
            passage().prop_map(|l| (Format::Passages, l)),
            page().prop_map(|l| (Format::Pages, l)),
            kilt().prop_map(|l| (Format::Kilt, l)),
        ]
    }

    proptest! {
        #[test]
        fn a_bad_line_is_named_or_counted_and_never_becomes_a_passage(lines in lines(), skip_bad in any::<bool>()) {
            check_lines(Format::Contents, &lines, Split::Auto, skip_bad, "\n")?;
        }

        #[test]
        fn wiki18_lines_keep_their_id_and_contents_and_a_bad_one_is_named(
            lines in mixed(contents(), prop_oneof![
                Just(json!({"id": 1.5, "contents": "x"})),
                Just(json!({"id": null, "contents": "x"})),
                Just(json!({"contents": "x"})),
                Just(json!({"id": "1", "contents": null})),
            ]),
            split in splits(), skip_bad in any::<bool>(), eol in eol(),
        ) {
            check_lines(Format::Contents, &lines, split, skip_bad, eol)?;
        }

        #[test]
        fn passage_lines_are_kept_as_written_and_a_bad_one_is_named(
            lines in mixed(passage(), prop_oneof![
                Just(json!({"id": 7, "title": "T", "text": "x"})),
                Just(json!({"title": "T", "text": "x"})),
                Just(json!({"id": "T#0", "title": "T"})),
                Just(json!({"id": "T#0", "title": "T", "text": ["x"]})),
                Just(json!({"id": "T#0", "title": "T", "text": "x", "anchors": "none"})),
                Just(json!({"id": "T#0", "title": "T", "text": "x", "anchors": [{"start": -1, "end": 1, "target": "U"}]})),
            ]),
            split in splits(), skip_bad in any::<bool>(), eol in eol(),
        ) {
            check_lines(Format::Passages, &lines, split, skip_bad, eol)?;
        }

        #[test]
        fn page_lines_become_their_paragraphs_under_their_id_and_a_bad_one_is_named(
            lines in mixed(page(), prop_oneof![
                Just(json!({"id": "1", "text": "x"})),
                Just(json!({"id": "1", "title": 5, "text": "x"})),
                Just(json!({"id": "1", "title": "T", "text": ["x"]})),
                Just(json!({"id": 1.5, "title": "T", "text": "x"})),
                Just(json!({"id": true, "title": "T", "text": "x"})),
                Just(json!({"title": "T", "text": null})),
            ]),
            split in splits(), skip_bad in any::<bool>(), eol in eol(),
        ) {
            check_lines(Format::Pages, &lines, split, skip_bad, eol)?;
        }

        #[test]
        fn kilt_lines_become_their_prose_under_their_id_and_a_bad_one_is_named(
            lines in mixed(kilt(), prop_oneof![
                Just(json!({"title": "T", "text": ["T\n", "x\n"]})),
                Just(json!({"wikipedia_title": "T", "text": "x"})),
                Just(json!({"wikipedia_title": "T", "text": ["T\n", 1]})),
                Just(json!({"wikipedia_title": "T", "text": ["x"], "wikipedia_id": 1.5})),
                Just(json!({"wikipedia_title": "T", "text": ["x"], "_id": [1]})),
                Just(json!({"wikipedia_title": null, "text": ["x"]})),
            ]),
            split in splits(), skip_bad in any::<bool>(), eol in eol(),
        ) {
            check_lines(Format::Kilt, &lines, split, skip_bad, eol)?;
        }
    }
}

/// MediaWiki XML dumps.
mod dump {
    use std::ops::Range;

    use super::*;

    /// A word of article text, maybe the label of a link to another page.
    #[derive(Debug, Clone)]
    struct Word {
        text: String,
        link: Option<String>,
    }

    #[derive(Debug, Clone, Copy)]
    enum Redirect {
        Element,
        Text,
    }

    #[derive(Debug, Clone, Copy)]
    enum Disambiguation {
        Title,
        Template,
    }

    /// How the XML writes a page's text: as it is, with every non-ASCII character as a
    /// character reference, or in a CDATA section.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Escape {
        Plain,
        CharRefs,
        Cdata,
    }

    /// A page of a generated dump.
    #[derive(Debug, Clone)]
    struct Page {
        /// Words joined by spaces, with the characters XML must escape.
        title: String,
        /// Without one, the title names the page.
        id: Option<u32>,
        /// Without one, the page is in the article namespace.
        ns: Option<u16>,
        redirect: Option<Redirect>,
        disambiguation: Option<Disambiguation>,
        /// Paragraphs of lines of words.
        paragraphs: Vec<Vec<Vec<Word>>>,
        escape: Escape,
    }

    impl Page {
        /// Why the reader passes this page over, in the order it asks: namespace, redirect,
        /// disambiguation, no text.
        fn skip(&self) -> Option<PageSkip> {
            if self.ns.is_some_and(|ns| ns != 0) {
                Some(PageSkip::Namespace)
            } else if self.redirect.is_some() {
                Some(PageSkip::Redirect)
            } else if self.disambiguation.is_some() {
                Some(PageSkip::Disambiguation)
            } else if self.paragraphs.is_empty() {
                Some(PageSkip::Empty)
            } else {
                None
            }
        }

        /// The page's words joined by single spaces, its links as anchors over their labels.
        fn passage(&self, split: Split) -> Option<Passage> {
            if self.skip().is_some() {
                return None;
            }
            let (mut text, mut anchors) = (String::new(), Vec::new());
            for word in self.paragraphs.iter().flatten().flatten() {
                if !text.is_empty() {
                    text.push(' ');
                }
                let start = text.chars().count();
                text.push_str(&word.text);
                if let Some(target) = &word.link {
                    let end = text.chars().count();
                    anchors.push(Anchor {
                        start,
                        end,
                        target: target.clone(),
                    });
                }
            }
            let id = self
                .id
                .map_or_else(|| self.title.clone(), |id| id.to_string());
            let mut passage = page_passage(&id, &self.title, &text, split)?;
            passage.anchors = anchors;
            Some(passage)
        }

        fn wikitext(&self) -> String {
            if let Some(Redirect::Text) = self.redirect {
                return "#REDIRECT [[Elsewhere]]".into();
            }
            let word = |w: &Word| match &w.link {
                Some(target) => format!("[[{target}|{}]]", w.text),
                None => w.text.clone(),
            };
            let mut paragraphs: Vec<String> = self
                .paragraphs
                .iter()
                .map(|lines| {
                    let lines: Vec<String> = lines
                        .iter()
                        .map(|words| words.iter().map(word).collect::<Vec<_>>().join(" "))
                        .collect();
                    lines.join("\n")
                })
                .collect();
            if let Some(Disambiguation::Template) = self.disambiguation {
                paragraphs.push("{{disambiguation}}".into());
            }
            paragraphs.join("\n\n")
        }

        /// The page's `<page>` element, `damage` written into its title or text.
        fn xml(&self, damage: Option<&Damage>) -> Vec<u8> {
            let inserted = |in_title: bool| damage.filter(|d| d.in_title == in_title);
            let mut out = b"  <page>\n    <title>".to_vec();
            out.extend(escaped(
                &self.title,
                self.escape == Escape::CharRefs,
                inserted(true),
            ));
            out.extend_from_slice(b"</title>\n");
            if let Some(ns) = self.ns {
                out.extend(format!("    <ns>{ns}</ns>\n").bytes());
            }
            if let Some(id) = self.id {
                out.extend(format!("    <id>{id}</id>\n").bytes());
            }
            if let Some(Redirect::Element) = self.redirect {
                out.extend_from_slice(b"    <redirect title=\"Elsewhere\" />\n");
            }
            // The revision's and contributor's ids are not the page's.
            out.extend_from_slice(
                b"    <revision>\n      <id>999999</id>\n      <timestamp>2023-05-01T00:00:00Z</timestamp>\n      \
                  <contributor>\n        <username>Bot</username>\n        <id>42</id>\n      </contributor>\n      \
                  <model>wikitext</model>\n      <format>text/x-wiki</format>\n      ",
            );
            let text = self.wikitext();
            let damaged = inserted(false);
            if text.is_empty() && damaged.is_none() {
                out.extend_from_slice(b"<text bytes=\"0\" xml:space=\"preserve\" />\n");
            } else {
                out.extend(
                    format!("<text bytes=\"{}\" xml:space=\"preserve\">", text.len()).bytes(),
                );
                // Inside CDATA the damage would be text like any other.
                if self.escape == Escape::Cdata && damaged.is_none() {
                    out.extend(format!("<![CDATA[{text}]]>").bytes());
                } else {
                    out.extend(escaped(&text, self.escape == Escape::CharRefs, damaged));
                }
                out.extend_from_slice(b"</text>\n");
            }
            out.extend_from_slice(b"      <sha1>0</sha1>\n    </revision>\n  </page>");
            out
        }
    }

    /// `text` escaped for XML content, non-ASCII characters as character references if
    /// `char_refs`, and the damage's bytes between two characters.
    fn escaped(text: &str, char_refs: bool, damage: Option<&Damage>) -> Vec<u8> {
        let at = damage.map(|d| d.at.index(text.chars().count() + 1));
        let mut out = Vec::new();
        for (i, c) in text.chars().enumerate() {
            if at == Some(i) {
                out.extend_from_slice(damage.unwrap().bytes);
            }
            let piece = match c {
                '&' => "&amp;".to_string(),
                '<' => "&lt;".to_string(),
                '>' => "&gt;".to_string(),
                '"' => "&quot;".to_string(),
                c if char_refs && !c.is_ascii() && u32::from(c) % 2 == 0 => {
                    format!("&#{};", u32::from(c))
                }
                c if char_refs && !c.is_ascii() => format!("&#x{:x};", u32::from(c)),
                c => c.to_string(),
            };
            out.extend(piece.bytes());
        }
        if at == Some(text.chars().count()) {
            out.extend_from_slice(damage.unwrap().bytes);
        }
        out
    }

    const HEAD: &str = "<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.10/\" version=\"0.10\" xml:lang=\"vi\">\n  \
        <siteinfo>\n    <sitename>Wikipedia</sitename>\n    <namespaces>\n      \
        <namespace key=\"0\" case=\"first-letter\" />\n      \
        <namespace key=\"10\" case=\"first-letter\">Bản mẫu</namespace>\n    </namespaces>\n  </siteinfo>\n";

    /// A dump's bytes, where each page lies in them, and where `</mediawiki>` ends.
    struct Dump {
        bytes: Vec<u8>,
        pages: Vec<Range<usize>>,
        end: usize,
    }

    fn dump(pages: &[Page], damage: Option<&Damage>) -> Dump {
        let mut bytes = HEAD.as_bytes().to_vec();
        let mut ranges = Vec::new();
        for (n, page) in pages.iter().enumerate() {
            let start = bytes.len();
            bytes.extend(page.xml(damage.filter(|d| d.page == n)));
            ranges.push(start..bytes.len());
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(b"</mediawiki>");
        let end = bytes.len();
        bytes.push(b'\n');
        Dump {
            bytes,
            pages: ranges,
            end,
        }
    }

    fn page() -> impl Strategy<Value = Page> {
        let title =
            prop::collection::vec("[\\p{L}\\p{N}&<>\"':]{1,6}", 1..4).prop_map(|w| w.join(" "));
        let target = "[A-Z][a-z]{1,6}( [A-Z][a-z]{1,6})?";
        let linked = (word(), prop::option::weighted(0.2, target))
            .prop_map(|(text, link)| Word { text, link });
        let lines = prop::collection::vec(prop::collection::vec(linked, 1..9), 1..4);
        let namespace = prop_oneof![
            4 => Just(Some(0)),
            2 => Just(None),
            1 => prop::sample::select(vec![1u16, 2, 4, 6, 10, 14, 828]).prop_map(Some),
        ];
        let redirect = prop::option::weighted(
            0.15,
            prop_oneof![Just(Redirect::Element), Just(Redirect::Text)],
        );
        let disambiguation = prop::option::weighted(
            0.15,
            prop_oneof![Just(Disambiguation::Title), Just(Disambiguation::Template)],
        );
        let escape = prop_oneof![
            Just(Escape::Plain),
            Just(Escape::CharRefs),
            Just(Escape::Cdata)
        ];
        (
            title,
            prop::option::weighted(0.8, any::<u32>()),
            namespace,
            redirect,
            disambiguation,
            prop::collection::vec(lines, 0..4),
            escape,
        )
            .prop_map(
                |(title, id, ns, redirect, disambiguation, paragraphs, escape)| {
                    let title = match disambiguation {
                        Some(Disambiguation::Title) => format!("{title} (disambiguation)"),
                        _ => title,
                    };
                    Page {
                        title,
                        id,
                        ns,
                        redirect,
                        disambiguation,
                        paragraphs,
                        escape,
                    }
                },
            )
    }

    /// Bytes written into a page that no well-formed dump holds. Ill-formed XML the reader
    /// reads past; XML it cannot read on from (not UTF-8, markup never closed) is fatal.
    #[derive(Debug, Clone)]
    struct Damage {
        page: usize,
        in_title: bool,
        at: prop::sample::Index,
        bytes: &'static [u8],
        fatal: bool,
    }

    const ILL_FORMED: &[&[u8]] = &[
        b"&bogus;",
        b"&#0;",
        b"&#xD800;",
        b"&#;",
        b"&#x110000;",
        b"& ",
        b"&amp ",
        b"</oops>",
        b"</>",
        b"<b>",
        b"<>",
    ];
    const FATAL: &[&[u8]] = &[
        b"\xff",
        b"\xc3(",
        b"\xed\xa0\x80",
        b"<!x",
        b"<!-- x",
        b"<?x",
    ];

    fn damage(pages: usize) -> impl Strategy<Value = Damage> {
        let bytes = prop_oneof![
            prop::sample::select(ILL_FORMED).prop_map(|b| (b, false)),
            prop::sample::select(FATAL).prop_map(|b| (b, true)),
        ];
        (0..pages, any::<bool>(), any::<prop::sample::Index>(), bytes).prop_map(
            |(page, in_title, at, (bytes, fatal))| Damage {
                page,
                in_title,
                at,
                bytes,
                fatal,
            },
        )
    }

    fn pages_and_damage() -> impl Strategy<Value = (Vec<Page>, Damage)> {
        prop::collection::vec(page(), 1..6).prop_flat_map(|pages| {
            let n = pages.len();
            (Just(pages), damage(n))
        })
    }

    /// What a dump reader yields, errors reduced to their kind.
    #[derive(Debug, PartialEq)]
    enum Item {
        Passage(Passage),
        BadPage,
        Truncated { complete: u64 },
        NotADump,
        Other(String),
    }

    fn item(item: &Result<Passage, CorpusError>) -> Item {
        match item {
            Ok(p) => Item::Passage(p.clone()),
            Err(CorpusError::BadPage { .. }) => Item::BadPage,
            Err(CorpusError::Truncated { complete, .. }) => Item::Truncated {
                complete: *complete,
            },
            Err(CorpusError::UnknownFormat { .. }) => Item::NotADump,
            Err(e) => Item::Other(e.to_string()),
        }
    }

    fn passages(pages: &[Page], split: Split) -> Vec<Item> {
        pages
            .iter()
            .filter_map(|p| p.passage(split))
            .map(Item::Passage)
            .collect()
    }

    fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump.xml");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    /// The byte an error message places itself near, if it names one.
    fn near_byte(error: &CorpusError) -> Option<usize> {
        let message = error.to_string();
        let (_, rest) = message.split_once("near byte ")?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }

    /// Readable dump bits and broken ones, for input that is no dump or hardly one.
    const PIECES: &[&[u8]] = &[
        b"<mediawiki>",
        b"</mediawiki>",
        b"<page>",
        b"</page>",
        b"<page/>",
        b"<title>",
        b"</title>",
        b"<ns>0</ns>",
        b"<ns>",
        b"</ns>",
        b"<id>7</id>",
        b"<revision>",
        b"</revision>",
        b"<text>",
        b"</text>",
        b"<text/>",
        b"<redirect/>",
        b"Alpha ",
        b"beta. ",
        b"&amp;",
        b"&#233;",
        b"&bogus;",
        b"&",
        b"<",
        b">",
        b"/",
        b"<![CDATA[x]]>",
        b"<!-- c -->",
        b"<?pi?>",
        b"<!DOCTYPE x>",
        b"\n",
        b"<siteinfo><namespaces><namespace key=\"6\">File</namespace></namespaces></siteinfo>",
        b"[[Link|w]]",
        b"{{tpl}}",
        b"#REDIRECT [[X]]",
        b"\xff",
    ];

    fn soup() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => prop::sample::select(PIECES).prop_map(<[u8]>::to_vec),
            1 => prop::collection::vec(any::<u8>(), 0..8),
        ];
        (any::<bool>(), prop::collection::vec(piece, 0..40)).prop_map(|(head, pieces)| {
            let head = if head { HEAD.as_bytes() } else { b"" };
            [head.to_vec(), pieces.concat()].concat()
        })
    }

    proptest! {
        #[test]
        fn a_well_formed_dump_gives_exactly_its_article_pages_in_order(
            pages in prop::collection::vec(page(), 0..8), split in splits(),
        ) {
            let (_dir, path) = write(&dump(&pages, None).bytes);
            let (tally, items) = read_both_ways(&path, &reading(Some(Format::Xml), split));
            prop_assert_eq!(items.iter().map(item).collect::<Vec<_>>(), passages(&pages, split));
            prop_assert_eq!(tally.pages, pages.len() as u64);
            for reason in [PageSkip::Namespace, PageSkip::Redirect, PageSkip::Disambiguation, PageSkip::Empty] {
                let want = pages.iter().filter(|p| p.skip() == Some(reason)).count() as u64;
                prop_assert_eq!(tally.skipped(reason), want, "{}", reason);
            }
        }

        #[test]
        fn a_cut_dump_gives_the_pages_completed_before_the_cut_then_says_so(
            pages in prop::collection::vec(page(), 1..6), cut in any::<prop::sample::Index>(), split in splits(),
        ) {
            let dump = dump(&pages, None);
            let cut = cut.index(dump.end);
            let (_dir, path) = write(&dump.bytes[..cut]);
            let (_, items) = read_both_ways(&path, &reading(Some(Format::Xml), split));
            let complete = dump.pages.iter().filter(|r| r.end <= cut).count();
            let items: Vec<Item> = items.iter().map(item).collect();
            let first_error = items.iter().position(|i| !matches!(i, Item::Passage(_)));
            let (read, errors) = items.split_at(first_error.unwrap_or(items.len()));
            prop_assert_eq!(read, &passages(&pages[..complete], split)[..]);
            prop_assert!(!errors.is_empty(), "a cut dump must say so");
            prop_assert!(errors.iter().all(|i| !matches!(i, Item::Passage(_))), "{:?}", errors);
            let root = HEAD.find('>').unwrap() + 1;
            match errors.last().unwrap() {
                Item::Truncated { complete: c } => prop_assert_eq!(*c, complete as u64),
                Item::NotADump => prop_assert!(cut < root, "{:?}", errors),
                other => prop_assert!(false, "the last error says where the dump ends: {:?}", other),
            }
        }

        #[test]
        fn a_page_damaged_inside_is_reported_and_never_becomes_a_passage(
            (pages, damage) in pages_and_damage(), split in splits(),
        ) {
            let dump = dump(&pages, Some(&damage));
            let (_dir, path) = write(&dump.bytes);
            let (tally, items) = read_both_ways(&path, &reading(Some(Format::Xml), split));
            let k = damage.page;
            let mut want = passages(&pages[..k], split);
            if damage.fatal {
                // Nothing after the damage can be read: the end says so, and where and why.
                want.push(Item::Truncated { complete: k as u64 });
            } else {
                want.push(Item::BadPage);
                want.extend(passages(&pages[k + 1..], split));
            }
            prop_assert_eq!(items.iter().map(item).collect::<Vec<_>>(), want);
            let error = items.iter().find_map(|i| i.as_ref().err()).unwrap();
            if damage.fatal {
                let at = near_byte(error);
                prop_assert!(at.is_some_and(|at| dump.pages[k].contains(&at)), "{} in {:?}", error, dump.pages[k]);
            } else {
                prop_assert_eq!(tally.skipped(PageSkip::Invalid), 1);
                let named = matches!(error, CorpusError::BadPage { title, .. } if *title == pages[k].title);
                prop_assert!(named || damage.in_title, "the bad page is named by its title: {}", error);
            }
        }

        #[test]
        fn any_bytes_read_as_a_dump_end_and_keep_no_page_without_an_end_tag(bytes in soup()) {
            let (_dir, path) = write(&bytes);
            corpus::invariants::any_dump(&path, &bytes);
        }
    }
}

/// Page folders: one plain-text file per page, named by its title.
mod pagedir {
    use std::{collections::BTreeMap, ffi::OsStr, os::unix::ffi::OsStrExt};

    use super::*;

    /// The contents of a file in a page folder.
    #[derive(Debug, Clone)]
    enum File {
        /// Paragraphs, one a line, as a text editor may leave them.
        Prose(Vec<u8>),
        /// Any bytes at all.
        Bytes(Vec<u8>),
    }

    impl File {
        fn bytes(&self) -> &[u8] {
            match self {
                File::Prose(b) | File::Bytes(b) => b,
            }
        }
    }

    fn file() -> impl Strategy<Value = File> {
        let eol = prop_oneof![Just("\n"), Just("\r\n")];
        prop_oneof![
            (paragraphs(), eol)
                .prop_map(|((lines, _), eol)| File::Prose(lines.join(eol).into_bytes())),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(File::Bytes),
        ]
    }

    /// Any name a file may have: any bytes but `/` and NUL, hidden or not, `.txt` or not.
    fn name() -> impl Strategy<Value = Vec<u8>> {
        let stem = prop_oneof![
            "[\\p{L}\\p{N} ._-]{1,12}".prop_map(String::into_bytes),
            prop::collection::vec(prop_oneof![1..b'/', b'/' + 1..=u8::MAX], 1..12),
        ];
        (stem, prop::sample::select(vec!["", ".txt", ".TXT"]))
            .prop_map(|(stem, ext)| [stem, ext.as_bytes().to_vec()].concat())
            .prop_filter("a file name", |n| n != b"." && n != b"..")
    }

    /// What a folder reader yields, passages reduced to their words.
    #[derive(Debug, PartialEq)]
    enum Item {
        Page {
            id: String,
            title: String,
            words: Vec<String>,
        },
        BadPage {
            title: String,
        },
        Other(String),
    }

    fn words_of(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    proptest! {
        #[test]
        fn a_folder_gives_one_page_per_visible_file_in_name_order(
            files in prop::collection::btree_map(name(), file(), 0..8),
            folder in prop::sample::select(vec!["pages", "pages.xml", "pages.jsonl.bz2", "p.txt"]),
            split in splits(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join(folder);
            std::fs::create_dir(&root).unwrap();
            for (name, file) in &files {
                std::fs::write(root.join(OsStr::from_bytes(name)), file.bytes()).unwrap();
            }
            // A folder inside is not a page.
            if !files.contains_key(b"sub".as_slice()) {
                std::fs::create_dir(root.join("sub")).unwrap();
                std::fs::write(root.join("sub").join("page.txt"), "Not a page.").unwrap();
            }
            prop_assert_eq!(corpus::open(&root, &Config::default()).unwrap().format(), Format::Dir);
            let (tally, items) = read_both_ways(&root, &reading(None, split));
            for p in items.iter().flatten() {
                prop_assert!(!p.text.contains('\n') && p.text.trim() == p.text, "{:?}", p.text);
            }
            let got: Vec<Item> = items
                .into_iter()
                .map(|item| match item {
                    Ok(p) => Item::Page { id: p.id, title: p.title, words: words_of(&p.text) },
                    Err(CorpusError::BadPage { title, .. }) => Item::BadPage { title },
                    Err(e) => Item::Other(e.to_string()),
                })
                .collect();
            let visible: BTreeMap<&Vec<u8>, &File> = files.iter().filter(|(n, _)| !n.starts_with(b".")).collect();
            let mut want = Vec::new();
            let (mut bad, mut empty) = (0, 0);
            for (name, file) in &visible {
                let name = String::from_utf8_lossy(name);
                let title = name.strip_suffix(".txt").unwrap_or(&name).to_string();
                match std::str::from_utf8(file.bytes()) {
                    Err(_) => {
                        bad += 1;
                        want.push(Item::BadPage { title });
                    }
                    Ok(text) if text.trim().is_empty() => empty += 1,
                    Ok(text) => want.push(Item::Page { id: passage_id(&title, split), title, words: words_of(text) }),
                }
            }
            prop_assert_eq!(got, want);
            prop_assert_eq!(tally.pages, visible.len() as u64);
            prop_assert_eq!(tally.skipped(PageSkip::Invalid), bad);
            prop_assert_eq!(tally.skipped(PageSkip::Empty), empty);
        }
    }
}

/// Telling an input's format.
mod detect {
    use super::*;

    /// The format `corpus::open` tells for `path`, or why it cannot, without the path.
    fn told(path: &Path) -> Result<Format, String> {
        match corpus::open(path, &Config::default()) {
            Ok(reader) => Ok(reader.format()),
            Err(CorpusError::UnknownFormat { why, .. }) => Err(why),
            Err(CorpusError::Io { error, .. }) => Err(format!("I/O: {}", error.kind())),
            Err(e) => Err(e.to_string()),
        }
    }

    fn bz2(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        std::io::Write::write_all(&mut encoder, bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A first record: good ones of every format, bad ones, XML, any bytes; never blank.
    fn first() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            jsonl::any_good().prop_map(|(_, line)| line.bytes().to_vec()),
            jsonl::bad().prop_map(String::into_bytes),
            prop::sample::select(vec!["<mediawiki>", " <?xml version=\"1.0\"?>", "<html>"])
                .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(prop_oneof![0..b'\n', b'\n' + 1..=u8::MAX], 1..40),
        ]
        .prop_filter("not blank", |line| {
            !std::str::from_utf8(line).is_ok_and(|s| s.trim().is_empty())
        })
    }

    proptest! {
        #[test]
        fn the_name_and_the_first_record_alone_tell_the_format(
            stem in "[\\p{L}\\p{N}_-]{1,8}",
            ext in prop::sample::select(vec!["", ".jsonl", ".json", ".txt", ".xml", ".XML", ".Xml"]),
            blanks in "([ \t]{0,2}\n){0,3}",
            first in first(),
            rests in [prop::collection::vec(any::<u8>(), 0..64), prop::collection::vec(any::<u8>(), 0..64)],
        ) {
            let dir = tempfile::tempdir().unwrap();
            let name = format!("{stem}{ext}");
            let contents = |rest: &[u8]| [blanks.as_bytes(), &first, b"\n", rest].concat();
            let path = dir.path().join(&name);
            std::fs::write(&path, contents(&rests[0])).unwrap();
            let format = told(&path);
            prop_assert_eq!(&told(&path), &format, "told again");
            std::fs::write(&path, contents(&rests[1])).unwrap();
            prop_assert_eq!(&told(&path), &format, "whatever follows the first record");
            let packed = dir.path().join(format!("{name}.bz2"));
            std::fs::write(&packed, bz2(&contents(&rests[0]))).unwrap();
            prop_assert_eq!(&told(&packed), &format, "compressed");
        }

        #[test]
        fn a_good_record_is_told_as_its_own_format(
            (format, line) in jsonl::any_good(),
            blanks in "([ \t]{0,2}\n){0,3}",
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("in.jsonl");
            std::fs::write(&path, [blanks.as_bytes(), line.bytes(), b"\n"].concat()).unwrap();
            prop_assert_eq!(told(&path), Ok(format), "{}", String::from_utf8_lossy(line.bytes()));
        }
    }
}
