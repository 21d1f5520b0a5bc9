//! `Passage`: the unit every later step works on.

use serde::{Deserialize, Serialize};

/// A retrievable chunk of a page (about 100 words), with the link anchors it contains.
///
/// Serialised as one JSON object per line: `{"id", "title", "text", "anchors"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    /// Stable id: the input's own id for passage corpora (wiki-18 line numbers), `<page id>#<n>`
    /// for pages split by `ingest`.
    pub id: String,
    pub title: String,
    pub text: String,
    /// Link anchors inside `text`, in order; empty for sources without links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<Anchor>,
}

/// A link inside a passage's text: `text[start..end]` (in characters) links to page `target`.
///
/// Offsets count Unicode scalar values, like Python `str` indices, so `text[start:end]` works
/// unchanged in Python tooling. Use [`Anchor::byte_range`] to slice in Rust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub start: usize,
    pub end: usize,
    pub target: String,
}

impl Passage {
    /// The Search-R1 / FlashRAG `contents` field: `"Title"\ntext`, quotes kept.
    pub fn contents(&self) -> String {
        format!("\"{}\"\n{}", self.title, self.text)
    }

    /// Splits a Search-R1 `contents` string into (title, text): the first line is the title,
    /// with one pair of surrounding double quotes removed.
    pub fn split_contents(contents: &str) -> (&str, &str) {
        let (first, rest) = contents.split_once('\n').unwrap_or((contents, ""));
        let title = first
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(first);
        (title, rest)
    }
}

impl Anchor {
    /// The byte range of this anchor in `text`, or `None` if the offsets are out of bounds.
    pub fn byte_range(&self, text: &str) -> Option<std::ops::Range<usize>> {
        if self.start > self.end {
            return None;
        }
        let mut indices = text
            .char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()));
        let start = indices.nth(self.start)?;
        let end = if self.end == self.start {
            start
        } else {
            indices.nth(self.end - self.start - 1)?
        };
        Some(start..end)
    }

    /// The anchored surface text, if the offsets fit `text`.
    pub fn surface<'a>(&self, text: &'a str) -> Option<&'a str> {
        self.byte_range(text).map(|r| &text[r])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_round_trip() {
        let contents = "\"Pavia Cathedral\"\nPavia Cathedral is a church.";
        let (title, text) = Passage::split_contents(contents);
        assert_eq!(title, "Pavia Cathedral");
        let p = Passage {
            id: "0".into(),
            title: title.into(),
            text: text.into(),
            anchors: vec![],
        };
        assert_eq!(p.contents(), contents);
    }

    #[test]
    fn split_contents_without_quotes_or_newline() {
        assert_eq!(Passage::split_contents("Title\nbody"), ("Title", "body"));
        assert_eq!(Passage::split_contents("\"Only\""), ("Only", ""));
    }

    #[test]
    fn anchor_offsets_are_characters() {
        let text = "Hà Nội là thủ đô của Việt Nam.";
        let a = Anchor {
            start: 21,
            end: 29,
            target: "Việt Nam".into(),
        };
        assert_eq!(a.surface(text), Some("Việt Nam"));
        let out = Anchor {
            start: 21,
            end: 99,
            target: String::new(),
        };
        assert_eq!(out.surface(text), None);
    }

    #[test]
    fn anchors_omitted_when_empty() {
        let p = Passage {
            id: "a#0".into(),
            title: "A".into(),
            text: "x".into(),
            anchors: vec![],
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"id":"a#0","title":"A","text":"x"}"#
        );
    }
}
