//! The `Searcher` trait every search backend implements, the `SearchHit` it returns, and the
//! Search-R1 `/retrieve` wire types.
//!
//! `search` holds no index and does no ranking of its own: backends (the tantivy index, remote
//! servers) live elsewhere and are seen by agents and servers only through this trait.

mod wire;

pub use wire::{RetrieveDocument, RetrieveHit, RetrieveRequest, RetrieveResponse};

/// One ranked result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchHit {
    pub id: String,
    pub title: String,
    pub text: String,
    pub score: f32,
}

impl SearchHit {
    /// The Search-R1 `contents` string: `"Title"\ntext`, quotes kept.
    pub fn contents(&self) -> String {
        format!("\"{}\"\n{}", self.title, self.text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search backend: {0}")]
    Backend(String),
}

/// A search backend. Implementations are shared across threads; `batch_search` may search the
/// queries in parallel and must return one result list per query, in query order.
pub trait Searcher: Send + Sync {
    /// The best `k` hits for `query`, best first. Any query string is valid input: a backend
    /// that has a query syntax falls back to plain terms when the syntax does not parse.
    fn search(&self, query: &str, k: usize) -> Result<Vec<SearchHit>, SearchError>;

    fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError> {
        queries.iter().map(|q| self.search(q, k)).collect()
    }
}
