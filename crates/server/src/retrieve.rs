//! `POST /retrieve`: the Search-R1 retrieval API over any `Searcher`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{State, rejection::JsonRejection},
    routing::post,
};
use search::{RetrieveHit, RetrieveRequest, RetrieveResponse, SearchError, Searcher};

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

/// The `/retrieve` route.
pub fn router(searcher: Arc<dyn Searcher>, config: RetrieveConfig) -> Router {
    Router::new()
        .route("/retrieve", post(retrieve))
        .with_state(RetrieveState {
            searcher,
            config: Arc::new(config),
        })
}

async fn retrieve(
    State(state): State<RetrieveState>,
    body: Result<Json<RetrieveRequest>, JsonRejection>,
) -> Result<Json<RetrieveResponse>, ApiError> {
    let Json(request) = body.map_err(ApiError::rejected)?;
    let config = &state.config;
    let k = match request.topk {
        None | Some(0) => config.default_topk,
        Some(k) if k > config.max_topk => {
            return Err(ApiError::bad_request(format!(
                "topk {k} is above this server's limit of {}",
                config.max_topk
            )));
        }
        Some(k) => k,
    };
    if request.queries.len() > config.max_queries {
        return Err(ApiError::bad_request(format!(
            "{} queries in one request; this server accepts at most {}",
            request.queries.len(),
            config.max_queries
        )));
    }
    if let Some(i) = request
        .queries
        .iter()
        .position(|q| q.len() > config.max_query_bytes)
    {
        return Err(ApiError::bad_request(format!(
            "query {i} is {} bytes long; the limit is {}",
            request.queries[i].len(),
            config.max_query_bytes
        )));
    }
    let results = state
        .searcher
        .batch_search(&request.queries, k)
        .await
        .map_err(|e| match e {
            SearchError::InvalidQuery(message) => ApiError::bad_request(message),
            backend => ApiError::internal(backend),
        })?;
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
