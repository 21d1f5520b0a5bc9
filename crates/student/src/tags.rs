//! The four tags of the student format and the one reader of them: every other piece (the
//! turn parser, the format reward's grammar, the UI's view of a turn) reads tags through here.
//!
//! Tags are the eight exact lower-case strings `<think>`, `</think>`, `<search>`, `</search>`,
//! `<information>`, `</information>`, `<answer>`, `</answer>`: `<Answer>` or `<answer >` is plain
//! text, as in Search-R1.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// One of the four tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tag {
    Think,
    Search,
    Information,
    Answer,
}

impl Tag {
    pub const ALL: [Tag; 4] = [Tag::Think, Tag::Search, Tag::Information, Tag::Answer];

    pub fn name(self) -> &'static str {
        match self {
            Tag::Think => "think",
            Tag::Search => "search",
            Tag::Information => "information",
            Tag::Answer => "answer",
        }
    }

    pub fn open(self) -> &'static str {
        match self {
            Tag::Think => "<think>",
            Tag::Search => "<search>",
            Tag::Information => "<information>",
            Tag::Answer => "<answer>",
        }
    }

    pub fn close(self) -> &'static str {
        match self {
            Tag::Think => "</think>",
            Tag::Search => "</search>",
            Tag::Information => "</information>",
            Tag::Answer => "</answer>",
        }
    }
}

/// One tag found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Byte offset of its `<`.
    pub offset: usize,
    pub tag: Tag,
    pub closing: bool,
}

impl Mark {
    /// Byte offset just after it.
    pub fn end(&self) -> usize {
        let len = if self.closing {
            self.tag.close().len()
        } else {
            self.tag.open().len()
        };
        self.offset + len
    }
}

/// Every tag of `text`, in order. No two can overlap: each starts with `<` and holds no other
/// `<`. Looks for `<` (rare in prose) rather than for each tag, so long texts are read fast.
pub fn marks(text: &str) -> impl Iterator<Item = Mark> + '_ {
    text.match_indices('<').filter_map(|(offset, _)| {
        let rest = &text[offset..];
        Tag::ALL.into_iter().find_map(|tag| {
            if rest.starts_with(tag.open()) {
                Some(Mark {
                    offset,
                    tag,
                    closing: false,
                })
            } else if rest.starts_with(tag.close()) {
                Some(Mark {
                    offset,
                    tag,
                    closing: true,
                })
            } else {
                None
            }
        })
    })
}

/// A complete `<tag>…</tag>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub tag: Tag,
    /// Byte offset of its opening tag.
    pub start: usize,
    /// What is between the two tags.
    pub content: Range<usize>,
    /// Byte offset just after its closing tag.
    pub end: usize,
}

/// The first complete element of one of `tags`: Search-R1's `<(search|answer)>(.*?)</\1>`, the
/// leftmost opening tag whose own closing tag follows it, closed at the first such closing tag.
pub fn first_element(text: &str, tags: &[Tag]) -> Option<Element> {
    tags.iter()
        .filter_map(|&tag| {
            let start = text.find(tag.open())?;
            let from = start + tag.open().len();
            let close = from + text[from..].find(tag.close())?;
            Some(Element {
                tag,
                start,
                content: from..close,
                end: close + tag.close().len(),
            })
        })
        .min_by_key(|e| e.start)
}

/// A piece of a turn as a reader sees it: an element's content, or the text between elements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part<'a> {
    /// The element's tag; `None` for text outside any element.
    pub tag: Option<Tag>,
    /// Trimmed.
    pub text: &'a str,
}

/// `text` cut into its elements and the non-blank text between them, in order. An element left
/// open runs to the end; a stray closing tag is text.
pub fn parts<'a>(text: &'a str) -> Vec<Part<'a>> {
    let mut out = Vec::new();
    let mut push = |tag: Option<Tag>, piece: &'a str| {
        let piece = piece.trim();
        if tag.is_some() || !piece.is_empty() {
            out.push(Part { tag, text: piece });
        }
    };
    let mut from = 0;
    let mut open: Option<Mark> = None;
    for mark in marks(text) {
        match open {
            None if !mark.closing => {
                push(None, &text[from..mark.offset]);
                open = Some(mark);
                from = mark.end();
            }
            Some(o) if mark.closing && mark.tag == o.tag => {
                push(Some(o.tag), &text[from..mark.offset]);
                open = None;
                from = mark.end();
            }
            _ => {}
        }
    }
    push(open.map(|o| o.tag), &text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_the_exact_tags_in_order() {
        let found: Vec<(usize, &str, bool)> = marks("a<think>b</think><Answer><answer >x<answer>")
            .map(|m| (m.offset, m.tag.name(), m.closing))
            .collect();
        assert_eq!(
            found,
            [
                (1, "think", false),
                (9, "think", true),
                (35, "answer", false)
            ]
        );
    }

    #[test]
    fn the_first_element_is_the_leftmost_that_closes() {
        let check = |text: &str, expect: Option<(&str, &str)>| {
            let found = first_element(text, &[Tag::Search, Tag::Answer]);
            let found = found.map(|e| (e.tag.name(), &text[e.content]));
            assert_eq!(found, expect, "{text:?}");
        };
        check(
            "<think>x</think><search> q </search>",
            Some(("search", " q ")),
        );
        check(
            "<answer>a</answer><search>b</search>",
            Some(("answer", "a")),
        );
        check("<search>open <answer>a</answer>", Some(("answer", "a")));
        check(
            "<search>a <search>b</search>",
            Some(("search", "a <search>b")),
        );
        check("<think>only</think>", None);
    }

    #[test]
    fn parts_split_a_turn_for_a_reader() {
        let shown = |text: &str| -> Vec<(Option<&str>, String)> {
            parts(text)
                .into_iter()
                .map(|p| (p.tag.map(Tag::name), p.text.to_string()))
                .collect()
        };
        assert_eq!(
            shown("hm <think>a</think> then <search>q</search>"),
            [
                (None, "hm".to_string()),
                (Some("think"), "a".to_string()),
                (None, "then".to_string()),
                (Some("search"), "q".to_string()),
            ]
        );
        assert_eq!(
            shown("<think>cut off"),
            [(Some("think"), "cut off".to_string())]
        );
        assert_eq!(shown("</think> x"), [(None, "</think> x".to_string())]);
    }
}
