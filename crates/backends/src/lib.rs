//! Search backends other than the local index, each a [`search::Searcher`]: a remote
//! Search-R1-compatible `/retrieve` server ([`Remote`]), Google results through SerpAPI
//! ([`Web`]), and documents a language model writes for the query, ZeroSearch's simulated search
//! ([`Simulated`]).
//!
//! `backends` never ranks, indexes or caches anything itself, never retries without bound, and
//! never lets an API key reach a log line, a `Debug` print or an error message. Configuration is
//! plain data ([`RemoteConfig`], [`WebConfig`], [`SimulatedConfig`]); keys are read only from an
//! environment variable whose *name* is configured. Agents see these backends only through the
//! `search` seam; the binary picks one.

mod http;
mod remote;
mod simulated;
mod web;

pub use http::HttpConfig;
pub use remote::{Remote, RemoteConfig};
pub use simulated::{Simulated, SimulatedConfig};
pub use web::{Web, WebConfig};

/// Why a backend could not be set up from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{url}: not a usable URL ({reason})")]
    BadUrl { url: String, reason: String },
    /// The environment variable that should hold the API key is unset or empty.
    #[error("the environment variable {var} (the API key) is not set or empty")]
    MissingApiKey { var: String },
    #[error("cannot create an HTTP client: {0}")]
    HttpClient(String),
}

/// The score of the hit at `rank` (1 = best) for backends that only rank: `1 / rank`.
fn rank_score(rank: usize) -> f64 {
    1.0 / rank.max(1) as f64
}

/// A URL with scheme `http` or `https`.
fn http_url(url: &str) -> Result<reqwest::Url, BackendError> {
    retry::http_url(url).map_err(|reason| BackendError::BadUrl {
        url: url.to_string(),
        reason,
    })
}

impl From<retry::MissingKey> for BackendError {
    fn from(e: retry::MissingKey) -> Self {
        BackendError::MissingApiKey { var: e.var }
    }
}
