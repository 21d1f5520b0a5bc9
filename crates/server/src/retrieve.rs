//! `POST /retrieve`: the Search-R1 retrieval API over any `Searcher`; and `POST /observation`:
//! what a student reads after a search (`student::observe`), so RL tools never re-implement the
//! merge of several queries or the rendering of the `<information>` block.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{State, rejection::JsonRejection},
    routing::post,
};
use search::{RetrieveHit, RetrieveRequest, RetrieveResponse, SearchError, Searcher};
use serde::{Deserialize, Serialize};

use crate::ApiError;

/// Limits that keep one request from monopolising the server.
#[derive(Debug, Clone)]
pub struct RetrieveConfig {
    /// `topk` used when a request omits it or sends 0 (Search-R1's `--topk`, default 3).
    pub default_topk: usize,
    pub max_topk: usize,
    pub max_queries: usize,
    /// Longest query accepted, in bytes.
    pub max_query_bytes: usize,
}

impl Default for RetrieveConfig {
    fn default() -> Self {
        RetrieveConfig {
            default_topk: 3,
            max_topk: 1000,
            max_queries: 4096,
            max_query_bytes: 8192,
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
) -> Result<Json<RetrieveResponse>, ApiError> {
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
                .map(|h| RetrieveHit::from_hit(h, request.return_scores))
                .collect()
        })
        .collect();
    Ok(Json(RetrieveResponse { result }))
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
) -> Result<Json<ObservationResponse>, ApiError> {
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
    Ok(Json(ObservationResponse {
        observation: seen.turn().to_string(),
        ids: seen.hits.iter().map(|h| h.passage.id.clone()).collect(),
        queries,
    }))
}
