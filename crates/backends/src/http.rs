//! One HTTP exchange with bounded retries: connection errors, timeouts, 408, 429 and 5xx are
//! tried again after an exponential back-off with jitter; any other answer is final.

use retry::{ApiKey, Failure, Step};
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

/// A client that retries as its [`HttpConfig`] says (the `retry` crate's one loop).
pub(crate) struct Http {
    client: reqwest::Client,
    policy: retry::Policy,
    /// The backend's name, for log lines.
    backend: String,
    /// A key that must not show in a log line or error message, even if a server echoes it.
    secret: Option<ApiKey>,
}

impl Http {
    pub(crate) fn new(config: &HttpConfig, backend: String) -> Result<Self, BackendError> {
        let policy = retry::Policy::from_secs(
            config.max_attempts,
            config.request_timeout_secs,
            config.initial_backoff_secs,
            config.max_backoff_secs,
        );
        let client = policy
            .client()
            .map_err(|e| BackendError::HttpClient(e.without_url().to_string()))?;
        Ok(Http {
            client,
            policy,
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
        let attempt = |n: u32| {
            let request = build(&self.client);
            async move {
                let step = self.attempt(request).await;
                if let Step::Retry(f) | Step::Stop(f) = &step {
                    let error = self.hide(&f.message);
                    tracing::debug!(backend = %self.backend, attempt = n, %error, "search request failed");
                }
                step
            }
        };
        retry::call::<_, std::convert::Infallible, _>(
            &self.policy,
            attempt,
            |_| String::new(),
            |m| self.hide(m),
        )
        .await
        .map_err(|e| e.to_string())
    }

    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Step<Vec<u8>, std::convert::Infallible> {
        let answer = match retry::exchange(request, self.policy.timeout).await {
            Ok(answer) => answer,
            Err(failure) => return Step::Retry(failure),
        };
        if answer.status.is_success() {
            return Step::Done(answer.body);
        }
        let failure = Failure::status(answer.status, &answer.headers, &answer.body);
        if retry::is_transient(answer.status) {
            Step::Retry(failure)
        } else {
            Step::Stop(failure)
        }
    }

    fn hide(&self, message: &str) -> String {
        match &self.secret {
            Some(secret) => secret.hide(message),
            None => message.to_string(),
        }
    }
}
