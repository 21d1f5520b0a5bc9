//! The Search-R1 retrieval API (`search_r1/search/retrieval_server.py`).
//!
//! Request: `{"queries": [...], "topk": k, "return_scores": bool}`; a missing or zero `topk`
//! means the server default. Response: `{"result": [[hit, ...], ...]}`, one list per query, where
//! a hit is `{"document": DOC, "score": s}` with scores, or `DOC` alone.
//!
//! Search-R1's BM25 path answers `DOC = {"title", "text", "contents"}`, its dense path the corpus
//! row `{"id", "contents"}`; clients built on either read one or the other. We answer the union
//! `{"id", "title", "text", "contents"}`, and read either shape back.

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

/// A document as sent: every field both Search-R1 paths send. Read leniently: a BM25-path
/// document has no `id`, a dense-path one no `title` / `text` (they are then taken from
/// `contents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrieveDocument {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub text: String,
    pub contents: String,
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
        Self::from_passage(passage.clone())
    }

    /// The document for `passage`, taking its strings rather than copying them.
    pub fn from_passage(passage: Passage) -> Self {
        let contents = passage.contents().into_owned();
        RetrieveDocument {
            id: passage.id,
            title: passage.title,
            text: passage.text,
            contents,
        }
    }

    /// The passage this document stands for; title and text come from `contents` when the
    /// server sent only that.
    pub fn into_passage(self) -> Passage {
        if self.title.is_empty() && self.text.is_empty() {
            return Passage::from_contents(self.id, &self.contents);
        }
        let mut passage = Passage::new(self.id, self.title, self.text);
        if passage.contents() != self.contents {
            passage.original_contents = Some(self.contents);
        }
        passage
    }
}

impl RetrieveHit {
    pub fn new(hit: &SearchHit, with_score: bool) -> Self {
        Self::from_hit(hit.clone(), with_score)
    }

    /// The hit as sent, taking the passage's strings rather than copying them.
    pub fn from_hit(hit: SearchHit, with_score: bool) -> Self {
        let document = RetrieveDocument::from_passage(hit.passage);
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
