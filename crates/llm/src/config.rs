//! Configuration of the HTTP client and the response cache: plain `serde` data, which the
//! binary builds from its flags (any serde format can hold it; none is read here).

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Accounting;

/// How to reach one or more OpenAI-compatible `/v1/chat/completions` endpoints.
///
/// `base_urls` are used round-robin (each retry moves on to the next one). A base URL is the part
/// before `/chat/completions`, e.g. `http://127.0.0.1:8001/v1` or
/// `https://dashscope.aliyuncs.com/compatible-mode/v1`; a URL without a path gets `/v1` appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    pub base_urls: Vec<String>,
    /// The `model` field sent with every request (e.g. `qwen-max`, `Qwen/Qwen2.5-7B-Instruct`).
    pub model: String,
    /// The *name* of the environment variable holding the API key (e.g. `DASHSCOPE_API_KEY`).
    /// The key itself never appears in a config file, a log line or a `Debug` print.
    pub api_key_env: Option<String>,
    /// Requests in flight at once across all endpoints.
    pub max_concurrency: usize,
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// Time allowed for one HTTP attempt, from sending to the last byte of the body.
    pub request_timeout_secs: f64,
    /// Back-off before the second attempt; doubles each retry, with jitter, up to `max_backoff_secs`.
    pub initial_backoff_secs: f64,
    /// Ceiling for a back-off and for a server's `Retry-After`.
    pub max_backoff_secs: f64,
    /// Where requests, retries and tokens are counted (share one with a cache in front).
    #[serde(skip)]
    pub accounting: Arc<Accounting>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_urls: Vec::new(),
            model: String::new(),
            api_key_env: None,
            max_concurrency: 8,
            max_attempts: 4,
            request_timeout_secs: 120.0,
            initial_backoff_secs: 0.5,
            max_backoff_secs: 30.0,
            accounting: Arc::default(),
        }
    }
}

impl ClientConfig {
    /// A config for one endpoint and model, everything else default.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        ClientConfig {
            base_urls: vec![base_url.into()],
            model: model.into(),
            ..Self::default()
        }
    }
}

/// Which responses the cache stores and replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CachePolicy {
    /// Only requests whose answer is fixed by the request: greedy (`temperature: Some(0.0)`), or
    /// sampled with a `seed` (part of the key, so each seed has its own entry; a server that
    /// honours seeds would give the same sample again). Replaying them changes nothing. An
    /// unseeded request at the backend's default temperature is never cached.
    #[default]
    Deterministic,
    /// Every request, sampled ones included (re-runs replay the first sample).
    All,
    /// Nothing is read or written.
    Off,
}

/// Where the persistent response cache lives and what it keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// The redb file; created with its parent directories if missing.
    pub path: PathBuf,
    #[serde(default)]
    pub policy: CachePolicy,
    /// Where hits and misses are counted (share one with the model behind).
    #[serde(skip)]
    pub accounting: Arc<Accounting>,
}
