//! `LlmError`: what goes wrong setting a backend up (requests fail with `chat::ChatError`).

use std::path::PathBuf;

/// A client, cache or local model that cannot be built as configured.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("no endpoint URL given")]
    NoEndpoint,
    #[error("no model name given")]
    NoModelName,
    #[error("environment variable {var} (the API key) is not set or empty")]
    MissingApiKey { var: String },
    #[error("base URL {url:?}: {reason}")]
    BadBaseUrl { url: String, reason: String },
    #[error("building the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("model file {} not found", path.display())]
    ModelNotFound { path: PathBuf },
    /// llama.cpp could not load the weights or start a worker.
    #[error("loading {}: {message}", path.display())]
    ModelLoad { path: PathBuf, message: String },
    #[error("response cache {}: {message}", path.display())]
    Cache { path: PathBuf, message: String },
}
