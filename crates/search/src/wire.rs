//! The Search-R1 retrieval API (`search_r1/search/retrieval_server.py`).
//!
//! Request: `{"queries": [...], "topk": k, "return_scores": bool}`; a missing or zero `topk`
//! means the server default. Response: `{"result": [[hit, ...], ...]}`, one list per query, where
//! a hit is `{"document": DOC, "score": s}` with scores, or `DOC` alone.
//!
//! Search-R1's BM25 path answers `DOC = {"title", "text", "contents"}`, its dense path the corpus
//! row `{"id", "contents"}`; clients built on either read one or the other. We answer the union
//! `{"id", "title", "text", "contents"}` unless a server is told to send fewer ([`DocFields`]),
//! and read any of these shapes back.

use std::{fmt, str::FromStr};

use formats::Passage;
use serde::{Deserialize, Serialize};

use crate::SearchHit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrieveRequest {
    pub queries: Vec<String>,
    #[serde(default)]
    pub topk: Option<usize>,
    #[serde(default)]
    pub return_scores: bool,
}

/// A document as sent: the fields the server chose ([`DocFields`]), each absent one left out of
/// the JSON. Read leniently: a BM25-path document has no `id`, a dense-path one no `title` /
/// `text` (they are then taken from `contents`); but one with none of the four is refused, so
/// that an answer of another shape is an error rather than empty documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct RetrieveDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<String>,
}

impl Serialize for RetrieveDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RetrieveDocument::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for RetrieveDocument {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let document = RetrieveDocument::deserialize(deserializer)?;
        let RetrieveDocument {
            id,
            title,
            text,
            contents,
        } = &document;
        if [id, title, text, contents].iter().all(|f| f.is_none()) {
            return Err(serde::de::Error::custom(format!(
                "a document with none of the fields {}",
                field_names()
            )));
        }
        Ok(document)
    }
}

/// A field a `/retrieve` document can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocField {
    Id,
    Title,
    Text,
    Contents,
}

impl DocField {
    /// Every field, in the order a document carries them.
    pub const ALL: [DocField; 4] = [
        DocField::Id,
        DocField::Title,
        DocField::Text,
        DocField::Contents,
    ];

    /// The field's JSON key.
    pub fn name(self) -> &'static str {
        match self {
            DocField::Id => "id",
            DocField::Title => "title",
            DocField::Text => "text",
            DocField::Contents => "contents",
        }
    }
}

/// The fields every document of a `/retrieve` answer carries. [`DocFields::ALL`], the default,
/// is the union of Search-R1's two shapes; `id,contents` is its dense path's corpus row, all that
/// Search-R1's and verl's clients read, and spares the server writing (and the client parsing)
/// each passage's text twice.
///
/// Parsed from and shown as comma-separated names (`"id,contents"`); the JSON keeps
/// [`DocField::ALL`]'s order whatever the order of the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocFields(u8);

impl DocFields {
    pub const ALL: DocFields = DocFields((1 << DocField::ALL.len()) - 1);

    pub fn contains(self, field: DocField) -> bool {
        self.0 & (1 << field as u8) != 0
    }
}

impl Default for DocFields {
    fn default() -> Self {
        DocFields::ALL
    }
}

/// A list of document fields that names none, or a name that is not a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocFieldsError {
    #[error("no document field named; the fields are {fields}", fields = field_names())]
    Empty,
    #[error("unknown document field {0:?}; the fields are {fields}", fields = field_names())]
    Unknown(String),
}

fn field_names() -> String {
    DocField::ALL.map(DocField::name).join(", ")
}

impl FromStr for DocFields {
    type Err = DocFieldsError;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut bits = 0;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let field = DocField::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| DocFieldsError::Unknown(name.to_string()))?;
            bits |= 1 << field as u8;
        }
        if bits == 0 {
            return Err(DocFieldsError::Empty);
        }
        Ok(DocFields(bits))
    }
}

impl fmt::Display for DocFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = DocField::ALL
            .into_iter()
            .filter(|&field| self.contains(field))
            .map(DocField::name)
            .collect();
        f.write_str(&names.join(","))
    }
}

/// A hit as Search-R1 sends it: with `return_scores` the document and its score (a JSON
/// double), else the document alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RetrieveHit {
    Scored {
        document: RetrieveDocument,
        score: f64,
    },
    Plain(RetrieveDocument),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrieveResponse {
    pub result: Vec<Vec<RetrieveHit>>,
}

impl RetrieveDocument {
    pub fn new(passage: &Passage) -> Self {
        Self::from_passage(passage.clone(), DocFields::ALL)
    }

    /// The document for `passage` carrying `fields`, taking its strings rather than copying
    /// them (`contents` is only built when sent).
    pub fn from_passage(passage: Passage, fields: DocFields) -> Self {
        let contents = fields
            .contains(DocField::Contents)
            .then(|| passage.contents().into_owned());
        let sent = |field, value| fields.contains(field).then_some(value);
        RetrieveDocument {
            id: sent(DocField::Id, passage.id),
            title: sent(DocField::Title, passage.title),
            text: sent(DocField::Text, passage.text),
            contents,
        }
    }

    /// The passage this document stands for; title and text come from `contents` when the
    /// server sent neither. A field the server did not send is empty.
    pub fn into_passage(self) -> Passage {
        let id = self.id.unwrap_or_default();
        let title = self.title.unwrap_or_default();
        let text = self.text.unwrap_or_default();
        let Some(contents) = self.contents else {
            return Passage::new(id, title, text);
        };
        if title.is_empty() && text.is_empty() {
            return Passage::from_contents(id, &contents);
        }
        let mut passage = Passage::new(id, title, text);
        if passage.contents() != contents {
            passage.original_contents = Some(contents);
        }
        passage
    }
}

impl RetrieveHit {
    pub fn new(hit: &SearchHit, with_score: bool) -> Self {
        Self::from_hit(hit.clone(), with_score, DocFields::ALL)
    }

    /// The hit as sent, its document carrying `fields`, taking the passage's strings rather
    /// than copying them.
    pub fn from_hit(hit: SearchHit, with_score: bool, fields: DocFields) -> Self {
        let document = RetrieveDocument::from_passage(hit.passage, fields);
        if with_score {
            RetrieveHit::Scored {
                document,
                score: hit.score,
            }
        } else {
            RetrieveHit::Plain(document)
        }
    }

    pub fn document(&self) -> &RetrieveDocument {
        match self {
            RetrieveHit::Scored { document, .. } | RetrieveHit::Plain(document) => document,
        }
    }

    /// The hit as a [`SearchHit`]; a hit sent without a score gets `0.0`.
    pub fn into_search_hit(self) -> SearchHit {
        let (document, score) = match self {
            RetrieveHit::Scored { document, score } => (document, score),
            RetrieveHit::Plain(document) => (document, 0.0),
        };
        SearchHit {
            passage: document.into_passage(),
            score,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit() -> SearchHit {
        SearchHit {
            passage: Passage::new("7", "Pavia Cathedral", "Pavia Cathedral is a church."),
            score: 1.5,
        }
    }

    #[test]
    fn scored_hit_carries_both_search_r1_document_shapes() {
        let got = serde_json::to_string(&RetrieveHit::new(&hit(), true)).unwrap();
        assert_eq!(
            got,
            r#"{"document":{"id":"7","title":"Pavia Cathedral","text":"Pavia Cathedral is a church.","contents":"\"Pavia Cathedral\"\nPavia Cathedral is a church."},"score":1.5}"#
        );
    }

    #[test]
    fn plain_hit_is_the_document_alone() {
        let got = serde_json::to_string(&RetrieveHit::new(&hit(), false)).unwrap();
        assert!(got.starts_with(r#"{"id":"7","title":"#), "{got}");
    }

    #[test]
    fn either_search_r1_shape_reads_back() {
        // Search-R1's BM25 path (pyserini with stored raw documents): no id.
        let bm25 = r#"{"document": {"title": "Evan Morris", "text": "Evan L. Morris was a lobbyist.", "contents": "\"Evan Morris\"\nEvan L. Morris was a lobbyist."}, "score": 12.5}"#;
        let hit: RetrieveHit = serde_json::from_str(bm25).unwrap();
        let hit = hit.into_search_hit();
        assert_eq!(hit.passage.title, "Evan Morris");
        assert_eq!(hit.passage.original_contents, None);
        assert_eq!(hit.score, 12.5);
        // Its dense path: the corpus row.
        let dense = r#"{"id": "0", "contents": "\"Evan Morris\"\nEvan L. Morris was a lobbyist."}"#;
        let hit: RetrieveHit = serde_json::from_str(dense).unwrap();
        let hit = hit.into_search_hit();
        assert_eq!(hit.passage.id, "0");
        assert_eq!(hit.passage.text, "Evan L. Morris was a lobbyist.");
        assert_eq!(hit.score, 0.0);
    }

    #[test]
    fn chosen_fields_are_the_only_keys_sent_and_read_back() {
        let fields: DocFields = "id,contents".parse().unwrap();
        let got = serde_json::to_string(&RetrieveHit::from_hit(hit(), true, fields)).unwrap();
        assert_eq!(
            got,
            r#"{"document":{"id":"7","contents":"\"Pavia Cathedral\"\nPavia Cathedral is a church."},"score":1.5}"#
        );
        let back: RetrieveHit = serde_json::from_str(&got).unwrap();
        assert_eq!(back.into_search_hit(), hit());
        // Without contents, title and text are read as sent.
        let fields: DocFields = "id,title,text".parse().unwrap();
        let plain = RetrieveHit::from_hit(hit(), false, fields);
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("contents"), "{json}");
        let back: RetrieveHit = serde_json::from_str(&json).unwrap();
        assert_eq!(back.into_search_hit().passage, hit().passage);
    }

    #[test]
    fn a_document_without_any_field_is_refused() {
        for other in [
            r#"{"document": {}, "score": 1.0}"#,
            r#"{"document": {"id": "7"}, "score": "high"}"#,
            r#"{"url": "https://example.org"}"#,
        ] {
            let err = serde_json::from_str::<RetrieveHit>(other).unwrap_err();
            assert!(
                err.to_string().contains("did not match any variant"),
                "{other}: {err}"
            );
        }
        let err = serde_json::from_str::<RetrieveDocument>("{}").unwrap_err();
        assert!(
            err.to_string()
                .contains("none of the fields id, title, text, contents"),
            "{err}"
        );
    }

    #[test]
    fn doc_fields_parse_and_show_as_comma_separated_names() {
        fn check(list: &str, expect: Result<&str, &str>) {
            let got = list.parse::<DocFields>();
            assert_eq!(
                got.as_ref()
                    .map(ToString::to_string)
                    .map_err(ToString::to_string),
                expect.map(str::to_string).map_err(str::to_string),
                "{list:?}"
            );
        }
        check("id,contents", Ok("id,contents"));
        check(" contents , id,id", Ok("id,contents"));
        check("text,title,contents,id", Ok("id,title,text,contents"));
        check(
            "id,body",
            Err(r#"unknown document field "body"; the fields are id, title, text, contents"#),
        );
        check(
            "Id",
            Err(r#"unknown document field "Id"; the fields are id, title, text, contents"#),
        );
        check(
            ",",
            Err("no document field named; the fields are id, title, text, contents"),
        );
        assert_eq!(DocFields::default(), DocFields::ALL);
        assert_eq!(DocFields::ALL.to_string(), "id,title,text,contents");
    }

    #[test]
    fn request_defaults() {
        let r: RetrieveRequest = serde_json::from_str(r#"{"queries":["a"]}"#).unwrap();
        assert_eq!(r.topk, None);
        assert!(!r.return_scores);
        let r: RetrieveRequest =
            serde_json::from_str(r#"{"queries":["a"],"topk":null,"return_scores":true}"#).unwrap();
        assert_eq!(r.topk, None);
        assert!(r.return_scores);
    }
}
