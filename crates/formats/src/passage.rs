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
    /// The input's own Search-R1 `contents` string, kept byte for byte when rebuilding it from
    /// title and text would differ (a wiki-18 line whose title is not quoted); `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_contents: Option<String>,
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
    /// A passage without anchors.
    pub fn new(id: impl Into<String>, title: impl Into<String>, text: impl Into<String>) -> Self {
        Passage {
            id: id.into(),
            title: title.into(),
            text: text.into(),
            anchors: Vec::new(),
            original_contents: None,
        }
    }

    /// A passage from a Search-R1 / FlashRAG `contents` string (see [`Passage::split_contents`]),
    /// remembering the string itself when [`Passage::contents`] would not rebuild it exactly.
    pub fn from_contents(id: impl Into<String>, contents: &str) -> Self {
        let (title, text) = Passage::split_contents(contents);
        let mut passage = Passage::new(id, title, text);
        if passage.contents() != contents {
            passage.original_contents = Some(contents.to_string());
        }
        passage
    }

    /// The Search-R1 / FlashRAG `contents` field: the input's own string when it had one,
    /// else `"Title"\ntext`, quotes kept.
    pub fn contents(&self) -> std::borrow::Cow<'_, str> {
        match &self.original_contents {
            Some(c) => std::borrow::Cow::Borrowed(c),
            None => std::borrow::Cow::Owned(format!("\"{}\"\n{}", self.title, self.text)),
        }
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
            original_contents: None,
        };
        assert_eq!(p.contents(), contents);
    }

    #[test]
    fn contents_are_kept_when_they_would_not_round_trip() {
        let quoted = Passage::from_contents("0", "\"Evan Morris\"\nEvan Morris was born.");
        assert_eq!(quoted.original_contents, None);
        assert_eq!(quoted.contents(), "\"Evan Morris\"\nEvan Morris was born.");
        let bare = Passage::from_contents("1", "Evan Morris\nEvan Morris was born.");
        assert_eq!(
            (bare.title.as_str(), bare.text.as_str()),
            ("Evan Morris", "Evan Morris was born.")
        );
        assert_eq!(bare.contents(), "Evan Morris\nEvan Morris was born.");
        assert!(
            serde_json::to_string(&bare)
                .unwrap()
                .contains("original_contents")
        );
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
            original_contents: None,
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"id":"a#0","title":"A","text":"x"}"#
        );
    }
}
