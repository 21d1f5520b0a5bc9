//! The OpenAI-compatible HTTP client: round-robin endpoints, bounded concurrency, retries with
//! exponential back-off and jitter, `Retry-After`, per-attempt timeouts.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use tokio::sync::Semaphore;

use chat::openai::{CompletionRequest, CompletionResponse};
use chat::{ChatError, ChatModel, ChatRequest, ChatResponse, InvalidRequest};

use crate::{Accounting, ClientConfig, LlmError};

/// How much of an unexpected response body goes into an error message.
const BODY_SNIPPET_CHARS: usize = 200;

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
    api_key: Option<ApiKey>,
    next_endpoint: AtomicUsize,
    permits: Semaphore,
    accounting: Arc<Accounting>,
}

/// The API key, kept out of every `Debug` print and log line.
struct ApiKey(String);

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("model", &self.config.model)
            .field("endpoints", &self.endpoints)
            .field("api_key_env", &self.config.api_key_env)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One failed attempt: what happened and whether trying again may help.
struct Failure {
    message: String,
    retry: Retry,
}

enum Retry {
    /// The endpoint refuses this request as it is.
    Invalid,
    /// The endpoint cannot serve us (wrong key, URL or model): trying again will not help.
    No,
    /// After the usual back-off, or after the server's `Retry-After` when it sent one.
    Yes(Option<Duration>),
}

impl Failure {
    fn transient(message: String) -> Self {
        Failure {
            message,
            retry: Retry::Yes(None),
        }
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
            Some(var) => match std::env::var(var) {
                Ok(key) if !key.trim().is_empty() => Some(ApiKey(key.trim().to_string())),
                _ => return Err(LlmError::MissingApiKey { var: var.clone() }),
            },
        };
        let timeout = config.request_timeout();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(LlmError::HttpClient)?;
        Ok(OpenAiClient {
            permits: Semaphore::new(config.max_concurrency.max(1)),
            config,
            endpoints,
            http,
            api_key,
            next_endpoint: AtomicUsize::new(0),
            accounting: Arc::default(),
        })
    }

    /// Count into `accounting` (e.g. one shared with a [`crate::CachedModel`]) instead of a
    /// private one.
    pub fn with_accounting(mut self, accounting: Arc<Accounting>) -> Self {
        self.accounting = accounting;
        self
    }

    pub fn accounting(&self) -> &Arc<Accounting> {
        &self.accounting
    }

    /// The full `…/chat/completions` URLs, in round-robin order.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    fn pick_endpoint(&self) -> &str {
        let i = self.next_endpoint.fetch_add(1, Ordering::Relaxed);
        &self.endpoints[i % self.endpoints.len()]
    }

    async fn attempt(&self, url: &str, body: &[u8]) -> Result<ChatResponse, Failure> {
        let mut request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec());
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(&key.0);
        }
        let response = request.send().await.map_err(|e| self.describe(&e))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| self.describe(&e))?;
        if !status.is_success() {
            let message = format!("HTTP {status}: {}", snippet(&bytes));
            let retry = match status.as_u16() {
                408 | 429 => Retry::Yes(retry_after),
                _ if status.is_server_error() => Retry::Yes(retry_after),
                400 | 413 | 422 => Retry::Invalid,
                _ => Retry::No,
            };
            return Err(Failure { message, retry });
        }
        let parsed: CompletionResponse = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::transient(format!(
                "malformed JSON response ({e}): {}",
                snippet(&bytes)
            ))
        })?;
        parsed
            .into_chat()
            .map_err(|e| Failure::transient(e.to_string()))
    }

    fn describe(&self, e: &reqwest::Error) -> Failure {
        let what = if e.is_timeout() {
            format!("timed out after {:.1}s", self.config.request_timeout_secs)
        } else if e.is_connect() {
            format!("connection failed: {}", error_chain(e))
        } else {
            format!("request failed: {}", error_chain(e))
        };
        Failure::transient(what)
    }

    fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .config
            .initial_backoff()
            .saturating_mul(1u32 << retry.min(16));
        let capped = base.min(self.config.max_backoff());
        // Jitter in [0.5, 1.0) of the step keeps many clients from retrying in lockstep.
        capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)
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
        let attempts = self.config.max_attempts.max(1);
        let mut history = Vec::new();
        let mut last_endpoint = String::new();
        for attempt in 0..attempts {
            let url = self.pick_endpoint();
            last_endpoint = url.to_string();
            let outcome = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .map_err(|_| ChatError::Unavailable {
                        backend: url.to_string(),
                        message: "client is shutting down".to_string(),
                    })?;
                self.accounting.http_request(attempt > 0);
                self.attempt(url, &body).await
            };
            let failure = match outcome {
                Ok(response) => {
                    self.accounting.tokens(response.usage);
                    return Ok(response);
                }
                Err(failure) => failure,
            };
            tracing::debug!(endpoint = url, attempt, error = %failure.message, "chat attempt failed");
            history.push(format!("[{}] {url}: {}", attempt + 1, failure.message));
            let wait = match failure.retry {
                Retry::Invalid => {
                    self.accounting.failed_call();
                    return Err(ChatError::Invalid(InvalidRequest::Rejected(format!(
                        "{url}: {}",
                        failure.message
                    ))));
                }
                Retry::No => break,
                Retry::Yes(_) if attempt + 1 == attempts => break,
                Retry::Yes(Some(after)) => after.min(self.config.max_backoff()),
                Retry::Yes(None) => self.backoff(attempt),
            };
            tokio::time::sleep(wait).await;
        }
        self.accounting.failed_call();
        let message = format!(
            "failed after {} attempt(s): {}",
            history.len(),
            history.join("; ")
        );
        Err(ChatError::Unavailable {
            backend: last_endpoint,
            message,
        })
    }
}

/// `…/chat/completions` for a base URL; a URL without a path gets `/v1`.
fn completions_url(base: &str) -> Result<String, LlmError> {
    let bad = |reason: String| LlmError::BadBaseUrl {
        url: base.to_string(),
        reason,
    };
    let url = reqwest::Url::parse(base.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https".to_string()));
    }
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

/// `Retry-After` as delta-seconds (the form rate limiters send); HTTP dates are ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = value.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    let mut cut: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let mut config = ClientConfig::new("http://127.0.0.1:9", "m");
        config.initial_backoff_secs = 1.0;
        config.max_backoff_secs = 5.0;
        let client = OpenAiClient::new(config).unwrap();
        for retry in 0..20 {
            let wait = client.backoff(retry);
            let step = (1u64 << retry.min(16)).min(5) as f64;
            assert!(
                wait.as_secs_f64() >= step * 0.5 && wait.as_secs_f64() < step,
                "{retry}: {wait:?}"
            );
        }
    }

    #[test]
    fn retry_after_reads_delta_seconds_only() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
