//! `POST /retrieve`: the Search-R1 retrieval API over any `Searcher`; and `POST /observation`:
//! what a student reads after a search (`student::observe`), so RL tools never re-implement the
//! merge of several queries or the rendering of the `<information>` block.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{State, rejection::JsonRejection},
    routing::post,
};
use search::{DocFields, RetrieveHit, RetrieveRequest, RetrieveResponse, SearchError, Searcher};
use serde::{Deserialize, Serialize};

use crate::{ApiError, ascii_json::AsciiJson};

/// Limits that keep one request from monopolising the server, and the shape of its documents.
#[derive(Debug, Clone)]
pub struct RetrieveConfig {
    /// `topk` used when a request omits it or sends 0 (Search-R1's `--topk`, default 3).
    pub default_topk: usize,
    pub max_topk: usize,
    pub max_queries: usize,
    /// Longest query accepted, in bytes.
    pub max_query_bytes: usize,
    /// The fields each `/retrieve` document carries (all four by default).
    pub doc_fields: DocFields,
}

impl Default for RetrieveConfig {
    fn default() -> Self {
        RetrieveConfig {
            default_topk: 3,
            max_topk: 1000,
            max_queries: 4096,
            max_query_bytes: 8192,
            doc_fields: DocFields::ALL,
        }
    }
}

#[derive(Clone)]
struct RetrieveState {
    searcher: Arc<dyn Searcher>,
    config: Arc<RetrieveConfig>,
}

/// The `/retrieve` and `/observation` routes.
pub fn router(searcher: Arc<dyn Searcher>, config: RetrieveConfig) -> Router {
    Router::new()
        .route("/retrieve", post(retrieve))
        .route("/observation", post(observation))
        .with_state(RetrieveState {
            searcher,
            config: Arc::new(config),
        })
}

impl RetrieveConfig {
    /// The `topk` a request asks for, within the cap; the default for none or 0.
    fn topk(&self, asked: Option<usize>) -> Result<usize, ApiError> {
        match asked {
            None | Some(0) => Ok(self.default_topk),
            Some(k) if k > self.max_topk => Err(ApiError::bad_request(format!(
                "topk {k} is above this server's limit of {}",
                self.max_topk
            ))),
            Some(k) => Ok(k),
        }
    }

    /// Refuses more queries, or longer ones, than the caps allow.
    fn check_queries(&self, queries: &[String]) -> Result<(), ApiError> {
        if queries.len() > self.max_queries {
            return Err(ApiError::bad_request(format!(
                "{} queries in one request; this server accepts at most {}",
                queries.len(),
                self.max_queries
            )));
        }
        match queries.iter().position(|q| q.len() > self.max_query_bytes) {
            Some(i) => Err(ApiError::bad_request(format!(
                "query {i} is {} bytes long; the limit is {}",
                queries[i].len(),
                self.max_query_bytes
            ))),
            None => Ok(()),
        }
    }
}

fn search_error(e: SearchError) -> ApiError {
    match e {
        SearchError::InvalidQuery(message) => ApiError::bad_request(message),
        backend => ApiError::internal(backend),
    }
}

async fn retrieve(
    State(state): State<RetrieveState>,
    body: Result<Json<RetrieveRequest>, JsonRejection>,
) -> Result<AsciiJson<RetrieveResponse>, ApiError> {
    let Json(request) = body.map_err(ApiError::rejected)?;
    let config = &state.config;
    let k = config.topk(request.topk)?;
    config.check_queries(&request.queries)?;
    let results = state
        .searcher
        .batch_search(&request.queries, k)
        .await
        .map_err(search_error)?;
    let result = results
        .into_iter()
        .map(|hits| {
            hits.into_iter()
                .map(|h| RetrieveHit::from_hit(h, request.return_scores, config.doc_fields))
                .collect()
        })
        .collect();
    Ok(AsciiJson(RetrieveResponse { result }))
}

/// `POST /observation`: the queries of one student search.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservationRequest {
    /// One query or several (cleaned as the student format carries them).
    queries: Vec<String>,
    topk: Option<usize>,
    /// Passage ids no result may show (a RAMP sample's own passage).
    #[serde(default)]
    exclude: Vec<String>,
}

/// What the student reads next, and what it was made of.
#[derive(Debug, Serialize)]
struct ObservationResponse {
    /// `<information>…</information>`: the user turn (or tool message) after the search.
    observation: String,
    /// The queries searched, cleaned.
    queries: Vec<String>,
    /// The ids of the documents shown, in order.
    ids: Vec<String>,
}

async fn observation(
    State(state): State<RetrieveState>,
    body: Result<Json<ObservationRequest>, JsonRejection>,
) -> Result<AsciiJson<ObservationResponse>, ApiError> {
    let Json(request) = body.map_err(ApiError::rejected)?;
    let config = &state.config;
    let k = config.topk(request.topk)?;
    config.check_queries(&request.queries)?;
    config.check_queries(&request.exclude)?;
    let queries = student::turn::clean_queries(&request.queries);
    if queries.is_empty() {
        return Err(ApiError::bad_request("no query to search"));
    }
    let seen = student::observe(state.searcher.as_ref(), &queries, k, &request.exclude)
        .await
        .map_err(search_error)?;
    Ok(AsciiJson(ObservationResponse {
        observation: seen.turn().to_string(),
        ids: seen.hits.iter().map(|h| h.passage.id.clone()).collect(),
        queries,
    }))
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use formats::Passage;
    use search::RetrieveDocument;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    /// The keys of every document `/retrieve` answers, with and without scores, from a server
    /// configured with `doc_fields` (sorted: serde_json's map sorts them anyway).
    async fn document_keys(doc_fields: DocFields) -> Vec<Vec<String>> {
        let searcher = Arc::new(search::testing::Scripted::fixed(vec![
            Passage::new("1", "Milan", "Milan is a city in Italy."),
            Passage::new("2", "Pavia", "Pavia lies south of Milan."),
        ]));
        let app = router(
            searcher,
            RetrieveConfig {
                doc_fields,
                ..RetrieveConfig::default()
            },
        );
        let mut keys = Vec::new();
        for scores in [true, false] {
            let body = serde_json::json!({"queries": ["milan", "pavia"], "topk": 2, "return_scores": scores});
            let request = Request::post("/retrieve")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let answer: Value = serde_json::from_slice(&bytes).unwrap();
            for hit in answer["result"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|q| q.as_array().unwrap())
            {
                let document = if scores { &hit["document"] } else { hit };
                let mut names: Vec<String> =
                    document.as_object().unwrap().keys().cloned().collect();
                names.sort();
                keys.push(names);
            }
        }
        keys
    }

    #[tokio::test]
    async fn documents_carry_exactly_the_configured_fields() {
        let keys = document_keys("contents,id".parse().unwrap()).await;
        assert_eq!(keys.len(), 8, "2 queries × 2 hits, with and without scores");
        for k in &keys {
            assert_eq!(k, &["contents", "id"]);
        }
        let keys = document_keys(DocFields::default()).await;
        for k in &keys {
            assert_eq!(k, &["contents", "id", "text", "title"]);
        }
    }

    /// `/retrieve` and `/observation` answer in ASCII (what Python's `json.loads` reads
    /// fastest), and the escaped text reads back to the passages' own strings.
    #[tokio::test]
    async fn answers_are_ascii_and_carry_the_passages_own_text() {
        let passage = Passage::new(
            "z#0",
            "Zürich",
            "Zürich (Züri) lies on Lake Zürich 🇨🇭; 北京 is far.",
        );
        let searcher = Arc::new(search::testing::Scripted::fixed(vec![passage.clone()]));
        let app = router(searcher, RetrieveConfig::default());
        // The body answered to `path`, checked to be a 200 in ASCII.
        let ascii_answer = |path: &str| {
            let request = Request::post(path)
                .header("content-type", "application/json")
                .body(Body::from(r#"{"queries": ["zurich"], "topk": 1}"#))
                .unwrap();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                assert!(bytes.is_ascii(), "{}", String::from_utf8_lossy(&bytes));
                bytes
            }
        };
        let bytes = ascii_answer("/retrieve").await;
        let answer: RetrieveResponse = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            answer.result,
            [[RetrieveHit::Plain(RetrieveDocument::new(&passage))]]
        );
        let bytes = ascii_answer("/observation").await;
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        let observation = answer["observation"].as_str().unwrap();
        assert!(observation.contains(&passage.text), "{observation}");
    }
}
