//! One HTTP exchange with bounded retries: connection errors, timeouts, 408, 429 and 5xx are
//! tried again after an exponential back-off with jitter; any other answer is final.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BackendError;

/// How an HTTP backend waits and retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Time allowed for one attempt, from sending to the last byte of the answer.
    pub request_timeout_secs: f64,
    /// Attempts per request, the first one included.
    pub max_attempts: u32,
    /// Back-off before the second attempt; doubles each retry, with jitter, up to
    /// `max_backoff_secs`.
    pub initial_backoff_secs: f64,
    pub max_backoff_secs: f64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            request_timeout_secs: 30.0,
            max_attempts: 4,
            initial_backoff_secs: 0.5,
            max_backoff_secs: 8.0,
        }
    }
}

/// How much of an unexpected answer's body goes into an error message.
const BODY_SNIPPET_CHARS: usize = 200;

/// A client that retries as its [`HttpConfig`] says.
pub(crate) struct Http {
    client: reqwest::Client,
    config: HttpConfig,
    /// The backend's name, for log lines.
    backend: String,
    /// A key that must not show in a log line or error message, even if a server echoes it.
    secret: Option<ApiKey>,
}

impl Http {
    pub(crate) fn new(config: &HttpConfig, backend: String) -> Result<Self, BackendError> {
        let timeout = secs(config.request_timeout_secs);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| BackendError::HttpClient(e.without_url().to_string()))?;
        Ok(Http {
            client,
            config: config.clone(),
            backend,
            secret: None,
        })
    }

    /// Removes `secret` from every message this client logs or returns.
    pub(crate) fn hiding(mut self, secret: ApiKey) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Sends the request `build` makes until an attempt is final; returns the body of a 2xx
    /// answer, or why the last attempt failed with the history of every attempt.
    ///
    /// Error messages never hold the request's URL (it may carry a key in its query string).
    pub(crate) async fn fetch(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, String> {
        let attempts = self.config.max_attempts.max(1);
        let mut history = Vec::new();
        for attempt in 0..attempts {
            let failure = match self.attempt(build(&self.client)).await {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            let message = match &self.secret {
                Some(secret) => secret.hide(&failure.message),
                None => failure.message,
            };
            tracing::debug!(backend = %self.backend, attempt, error = %message, "search request failed");
            history.push(format!("[{}] {message}", attempt + 1));
            if !failure.transient || attempt + 1 == attempts {
                break;
            }
            tokio::time::sleep(self.backoff(attempt)).await;
        }
        Err(format!(
            "failed after {} attempt(s): {}",
            history.len(),
            history.join("; ")
        ))
    }

    async fn attempt(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, Failure> {
        let response = request.send().await.map_err(|e| self.describe(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.describe(e))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        Err(Failure {
            message: format!("HTTP {status}: {}", snippet(&body)),
            transient: matches!(status.as_u16(), 408 | 429) || status.is_server_error(),
        })
    }

    /// A transport failure, described without its URL.
    fn describe(&self, e: reqwest::Error) -> Failure {
        let message = if e.is_timeout() {
            format!("timed out after {:.1}s", self.config.request_timeout_secs)
        } else if e.is_connect() {
            format!("connection failed: {}", error_chain(&e.without_url()))
        } else {
            format!("request failed: {}", error_chain(&e.without_url()))
        };
        Failure {
            message,
            transient: true,
        }
    }

    fn backoff(&self, retry: u32) -> Duration {
        let step = secs(self.config.initial_backoff_secs).saturating_mul(1u32 << retry.min(16));
        let capped = step.min(secs(self.config.max_backoff_secs));
        // Jitter in [0.5, 1.0) of the step keeps many clients from retrying in lockstep.
        capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

/// An API key: read from an environment variable, shown nowhere.
#[derive(Clone)]
pub(crate) struct ApiKey {
    key: String,
    /// The key as it appears in a URL's query string.
    encoded: String,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ApiKey {
    /// The key in environment variable `var` (trimmed); unset or blank is an error naming `var`.
    pub(crate) fn from_env(var: &str) -> Result<Self, BackendError> {
        match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Ok(ApiKey::new(key.trim())),
            _ => Err(BackendError::MissingApiKey {
                var: var.to_string(),
            }),
        }
    }

    pub(crate) fn new(key: &str) -> Self {
        let encoded = reqwest::Url::parse_with_params("http://h/", [("k", key)])
            .ok()
            .and_then(|url| url.query().map(|q| q.trim_start_matches("k=").to_string()))
            .unwrap_or_else(|| key.to_string());
        ApiKey {
            key: key.to_string(),
            encoded,
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.key
    }

    /// `text` with the key, plain or URL-encoded, replaced by `<redacted>`.
    pub(crate) fn hide(&self, text: &str) -> String {
        if self.key.is_empty() {
            return text.to_string();
        }
        text.replace(&self.key, "<redacted>")
            .replace(&self.encoded, "<redacted>")
    }
}

/// One failed attempt and whether another may succeed.
struct Failure {
    message: String,
    transient: bool,
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
}

/// The start of a body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
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

/// An error and its sources, `outer: inner: …` (reqwest's own message alone says little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let chain: Vec<String> = std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect();
    chain.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hidden_plain_and_url_encoded() {
        let key = ApiKey::new("k3y/with spaces&=");
        assert_eq!(format!("{key:?}"), "<redacted>");
        assert_eq!(
            key.hide("a k3y/with spaces&= b k3y%2Fwith+spaces%26%3D c"),
            "a <redacted> b <redacted> c"
        );
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let config = HttpConfig {
            initial_backoff_secs: 1.0,
            max_backoff_secs: 5.0,
            ..HttpConfig::default()
        };
        let http = Http::new(&config, "test".to_string()).unwrap();
        for retry in 0..20 {
            let wait = http.backoff(retry).as_secs_f64();
            let step = (1u64 << retry.min(16)).min(5) as f64;
            assert!(wait >= step * 0.5 && wait < step, "{retry}: {wait}");
        }
    }

    #[test]
    fn snippets_are_cut_and_never_empty() {
        assert_eq!(snippet(b"  "), "(empty body)");
        assert_eq!(snippet(b" boom "), "boom");
        let long = "x".repeat(500);
        assert_eq!(
            snippet(long.as_bytes()).chars().count(),
            BODY_SNIPPET_CHARS + 1
        );
    }
}
