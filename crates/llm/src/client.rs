//! The OpenAI-compatible HTTP client: round-robin endpoints, bounded concurrency (and no more
//! in flight to an endpoint than it says it answers at once), retries with exponential back-off
//! and jitter, `Retry-After`, per-attempt timeouts.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use retry::{ApiKey, CallError, Failure, Policy, Step, snippet};
use tokio::sync::{OnceCell, Semaphore};

use chat::openai::{CompletionRequest, CompletionResponse};
use chat::{ChatError, ChatModel, ChatRequest, ChatResponse, InvalidRequest};

use crate::{Accounting, ClientConfig, LlmError};

/// A [`ChatModel`] served by one or more OpenAI-compatible endpoints (vLLM, SGLang, Ollama,
/// llama.cpp's server, DashScope compatible mode, OpenAI, `masksearch llm serve`).
///
/// Transient failures (connection errors, timeouts, 408/429/5xx, malformed JSON, an empty
/// `choices` list) are retried on the next endpoint after a back-off; other 4xx fail at once:
/// 400/413/422 as [`ChatError::Invalid`] (the request itself is wrong), the rest (401, 403,
/// 404: a wrong key, URL or model name) as [`ChatError::Unavailable`].
pub struct OpenAiClient {
    config: ClientConfig,
    endpoints: Vec<String>,
    http: reqwest::Client,
    policy: Policy,
    api_key: Option<ApiKey>,
    next_endpoint: AtomicUsize,
    permits: Semaphore,
    /// Per endpoint, how many requests it answers at once when it says so (see [`Self::slots`]).
    slots: Vec<OnceCell<Option<Semaphore>>>,
    accounting: Arc<Accounting>,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("model", &self.config.model)
            .field("endpoints", &self.endpoints)
            .field("api_key_env", &self.config.api_key_env)
            .field("api_key", &self.api_key)
            .finish()
    }
}

impl OpenAiClient {
    /// Validates the config and reads the API key from the environment variable it names.
    pub fn new(config: ClientConfig) -> Result<Self, LlmError> {
        if config.base_urls.is_empty() {
            return Err(LlmError::NoEndpoint);
        }
        if config.model.is_empty() {
            return Err(LlmError::NoModelName);
        }
        let endpoints = config
            .base_urls
            .iter()
            .map(|u| completions_url(u))
            .collect::<Result<Vec<_>, _>>()?;
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => {
                Some(ApiKey::from_env(var).map_err(|e| LlmError::MissingApiKey { var: e.var })?)
            }
        };
        let policy = Policy::from_secs(
            config.max_attempts,
            config.request_timeout_secs,
            config.initial_backoff_secs,
            config.max_backoff_secs,
        );
        let http = policy.client().map_err(LlmError::HttpClient)?;
        Ok(OpenAiClient {
            accounting: Arc::clone(&config.accounting),
            permits: Semaphore::new(config.max_concurrency.max(1)),
            slots: endpoints.iter().map(|_| OnceCell::new()).collect(),
            config,
            endpoints,
            http,
            policy,
            api_key,
            next_endpoint: AtomicUsize::new(0),
        })
    }

    pub fn accounting(&self) -> &Arc<Accounting> {
        &self.accounting
    }

    /// The full `…/chat/completions` URLs, in round-robin order.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    fn pick_endpoint(&self) -> usize {
        self.next_endpoint.fetch_add(1, Ordering::Relaxed) % self.endpoints.len()
    }

    /// The bound endpoint `i` sets itself, asked once of its `/models`: `masksearch llm serve`
    /// says how many requests it answers at once (`workers`) and queues the others, and a
    /// request's timeout must run while it is answered, not while it waits in that queue; so no
    /// more than that many go to it at once, the rest wait here. Servers that do not say (vLLM,
    /// OpenAI: they batch) are bounded only by the client's concurrency.
    async fn slots(&self, i: usize) -> Option<&Semaphore> {
        let ask = async {
            let url = self.endpoints[i].strip_suffix("/chat/completions")?;
            let mut request = self.http.get(format!("{url}/models"));
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key.expose());
            }
            let answer = retry::exchange(request, self.policy.timeout).await.ok()?;
            let models: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
            let workers = models["data"][0]["workers"].as_u64()?;
            Some(Semaphore::new(workers.clamp(1, 4096) as usize))
        };
        self.slots[i].get_or_init(|| ask).await.as_ref()
    }

    /// One attempt at `url`. Transient failures (connection errors, timeouts, 408/429/5xx,
    /// malformed JSON, no choice) are retried; 400/413/422 abort as the request's own fault;
    /// any other status (401, 403, 404: a wrong key, URL or model) stops the call.
    async fn attempt(&self, url: &str, body: &[u8]) -> Step<ChatResponse, ChatError> {
        let mut request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose());
        }
        let retry::Answer {
            status,
            headers,
            body: bytes,
        } = match retry::exchange(request, self.policy.timeout).await {
            Ok(answer) => answer,
            Err(failure) => return Step::Retry(failure),
        };
        if !status.is_success() {
            let failure = Failure::status(status, &headers, &bytes);
            return match status.as_u16() {
                _ if retry::is_transient(status) => Step::Retry(failure),
                400 | 413 | 422 => Step::Abort(ChatError::Invalid(InvalidRequest::Rejected(
                    format!("{url}: {}", failure.message),
                ))),
                _ => Step::Stop(failure),
            };
        }
        let parsed: CompletionResponse = match serde_json::from_slice(&bytes) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Step::Retry(Failure::new(format!(
                    "malformed JSON response ({e}): {}",
                    snippet(&bytes)
                )));
            }
        };
        match parsed.into_chat() {
            Ok(response) => Step::Done(response),
            Err(e) => Step::Retry(Failure::new(e.to_string())),
        }
    }
}

#[async_trait]
impl ChatModel for OpenAiClient {
    fn name(&self) -> &str {
        &self.config.model
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
        let body = serde_json::to_vec(&CompletionRequest::from_chat(&self.config.model, request))
            .map_err(|e| ChatError::Failed {
            backend: self.config.model.clone(),
            message: format!("serialising the request: {e}"),
        })?;
        // Each attempt goes to the next endpoint in turn, within the concurrency bound.
        let tried: std::sync::Mutex<Vec<&str>> = std::sync::Mutex::default();
        let attempt = |n: u32| {
            let i = self.pick_endpoint();
            let url = self.endpoints[i].as_str();
            tried.lock().unwrap_or_else(|p| p.into_inner()).push(url);
            let body = &body;
            async move {
                let shutting_down = || {
                    Step::Abort(ChatError::Unavailable {
                        backend: url.to_string(),
                        message: "client is shutting down".to_string(),
                    })
                };
                let Ok(_permit) = self.permits.acquire().await else {
                    return shutting_down();
                };
                let _slot = match self.slots(i).await {
                    Some(slots) => match slots.acquire().await {
                        Ok(slot) => Some(slot),
                        Err(_) => return shutting_down(),
                    },
                    None => None,
                };
                self.accounting.http_request(n > 0);
                let step = self.attempt(url, body).await;
                if let Step::Retry(f) | Step::Stop(f) = &step {
                    tracing::debug!(endpoint = url, attempt = n, error = %f.message, "chat attempt failed");
                }
                step
            }
        };
        let tried_url = |n: u32| {
            let tried = tried.lock().unwrap_or_else(|p| p.into_inner());
            tried
                .get(n as usize)
                .copied()
                .unwrap_or_default()
                .to_string()
        };
        let answered = retry::call(&self.policy, attempt, tried_url, str::to_string).await;
        match answered {
            Ok(response) => {
                self.accounting.tokens(response.usage);
                Ok(response)
            }
            Err(e) => {
                self.accounting.failed_call();
                Err(match e {
                    CallError::Aborted(e) => e,
                    failed @ CallError::Failed { .. } => ChatError::Unavailable {
                        backend: tried
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .last()
                            .copied()
                            .unwrap_or_default()
                            .to_string(),
                        message: failed.to_string(),
                    },
                })
            }
        }
    }
}

/// `…/chat/completions` for a base URL; a URL without a path gets `/v1`.
fn completions_url(base: &str) -> Result<String, LlmError> {
    let bad = |reason: String| LlmError::BadBaseUrl {
        url: base.to_string(),
        reason,
    };
    let url = retry::http_url(base).map_err(bad)?;
    let trimmed = url.as_str().trim_end_matches('/');
    if trimmed.ends_with("/chat/completions") {
        return Ok(trimmed.to_string());
    }
    let path = url.path().trim_matches('/');
    Ok(if path.is_empty() {
        format!("{trimmed}/v1/chat/completions")
    } else {
        format!("{trimmed}/chat/completions")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_url_accepts_the_usual_base_url_shapes() {
        let check = |base: &str, expect: &str| assert_eq!(completions_url(base).unwrap(), expect);
        check(
            "http://127.0.0.1:8001",
            "http://127.0.0.1:8001/v1/chat/completions",
        );
        check(
            "http://127.0.0.1:8001/",
            "http://127.0.0.1:8001/v1/chat/completions",
        );
        check("http://h/v1", "http://h/v1/chat/completions");
        check(
            "https://dashscope.aliyuncs.com/compatible-mode/v1/",
            "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
        );
        check(
            "http://h/v1/chat/completions",
            "http://h/v1/chat/completions",
        );
        assert!(completions_url("ftp://h").is_err());
        assert!(completions_url("not a url").is_err());
    }

    #[test]
    fn api_key_never_shows_in_debug() {
        // PATH stands in for a key: it is set everywhere and needs no (unsafe) set_var.
        let secret = std::env::var("PATH").unwrap();
        let mut config = ClientConfig::new("http://127.0.0.1:9", "m");
        config.api_key_env = Some("PATH".to_string());
        let client = OpenAiClient::new(config).unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains(&secret), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn missing_api_key_variable_is_a_config_error_naming_it() {
        let mut config = ClientConfig::new("http://127.0.0.1:9", "m");
        config.api_key_env = Some("MASKSEARCH_TEST_KEY_SURELY_UNSET".to_string());
        let err = OpenAiClient::new(config).unwrap_err().to_string();
        assert!(err.contains("MASKSEARCH_TEST_KEY_SURELY_UNSET"), "{err}");
    }
}
