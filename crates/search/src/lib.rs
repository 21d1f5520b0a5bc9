//! The `Searcher` trait every search backend implements, the `SearchHit` it returns, the
//! Search-R1 `/retrieve` wire types, [`merge`] for the results of several queries, and [`TopK`],
//! the one ranking of scored positions every engine keeps.
//!
//! `search` holds no index, ranks nothing and opens no connection: backends (the tantivy index,
//! remote servers, web search) live elsewhere and are seen by agents and servers only through
//! this trait.

mod merge;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod top;
mod wire;

use formats::Passage;
pub use merge::{Duplicate, Merged, MergedHit, merge};
pub use top::{Scored, TopK};
pub use wire::{
    DocField, DocFields, DocFieldsError, RetrieveDocument, RetrieveHit, RetrieveRequest,
    RetrieveResponse,
};

/// One ranked result: the passage and its score (higher is better; scales differ by backend).
///
/// Serialised flat, as `{"id", "title", "text", "score"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchHit {
    #[serde(flatten)]
    pub passage: Passage,
    pub score: f64,
}

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query cannot be run as written (query syntax that does not parse, for a backend
    /// that was asked to read query syntax). Sending it again fails again.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The backend failed: an index that cannot be read, a remote server that is down.
    #[error("{backend}: {message}")]
    Backend { backend: String, message: String },
}

/// A search backend. Implementations are shared across tasks (`Arc<dyn Searcher>`).
///
/// Async because most backends wait on I/O (a remote server, a web API, a model writing
/// documents); a backend that computes (the local index) does its work off the async runtime.
#[async_trait::async_trait]
pub trait Searcher: Send + Sync {
    /// What this backend is, for logs and the records that used it (e.g. `bm25:work/index`,
    /// `remote:http://127.0.0.1:8000/retrieve`, `simulated:qwen-max`).
    fn name(&self) -> String;

    /// The best `k` hits of each query, best first: one list per query, in query order. By
    /// default a query is a bag of words, as models write them: no character in it is an
    /// operator.
    async fn batch_search(
        &self,
        queries: &[String],
        k: usize,
    ) -> Result<Vec<Vec<SearchHit>>, SearchError>;

    /// The best `k` hits for one query.
    async fn search(&self, query: &str, k: usize) -> Result<Vec<SearchHit>, SearchError> {
        let mut results = self.batch_search(&[query.to_string()], k).await?;
        Ok(results.pop().unwrap_or_default())
    }

    /// The passage stored under `id`, for backends that keep passages by id (the local index);
    /// `None` when there is none or the backend cannot look passages up (remote and web search).
    async fn passage(&self, id: &str) -> Result<Option<Passage>, SearchError> {
        let _ = id;
        Ok(None)
    }
}
