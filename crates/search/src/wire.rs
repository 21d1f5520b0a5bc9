//! The Search-R1 retrieval API (`search_r1/search/retrieval_server.py`), byte-compatible.
//!
//! Request: `{"queries": [...], "topk": k, "return_scores": bool}`; a missing or zero `topk`
//! means the server default. Response: `{"result": [[hit, ...], ...]}`, one list per query, where
//! a hit is `{"document": {"id", "contents"}, "score": s}` with scores, or the document alone.

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrieveDocument {
    pub id: String,
    pub contents: String,
}

/// A hit as Search-R1 sends it: with `return_scores` the document and its score, else the
/// document alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RetrieveHit {
    Scored {
        document: RetrieveDocument,
        score: f32,
    },
    Plain(RetrieveDocument),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrieveResponse {
    pub result: Vec<Vec<RetrieveHit>>,
}

impl RetrieveHit {
    pub fn new(hit: &SearchHit, with_score: bool) -> Self {
        let document = RetrieveDocument {
            id: hit.id.clone(),
            contents: hit.contents(),
        };
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit() -> SearchHit {
        SearchHit {
            id: "7".into(),
            title: "Pavia Cathedral".into(),
            text: "Pavia Cathedral is a church.".into(),
            score: 1.5,
        }
    }

    #[test]
    fn scored_hit_matches_search_r1_bytes() {
        let got = serde_json::to_string(&RetrieveHit::new(&hit(), true)).unwrap();
        assert_eq!(
            got,
            r#"{"document":{"id":"7","contents":"\"Pavia Cathedral\"\nPavia Cathedral is a church."},"score":1.5}"#
        );
    }

    #[test]
    fn plain_hit_is_the_document_alone() {
        let got = serde_json::to_string(&RetrieveHit::new(&hit(), false)).unwrap();
        assert_eq!(
            got,
            r#"{"id":"7","contents":"\"Pavia Cathedral\"\nPavia Cathedral is a church."}"#
        );
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
