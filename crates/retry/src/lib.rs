//! HTTP calls retried the one way, for every crate that calls out: the OpenAI-compatible client
//! (`llm`) and the search backends (`backends`). [`call`] runs attempts until one is final,
//! waiting between them as a [`Policy`] says (exponential back-off with jitter, or the server's
//! `Retry-After`); [`Failure`]s describe what an attempt met without its URL; an [`ApiKey`] is
//! kept out of every message and `Debug` print.
//!
//! Knows nothing of what is sent or what an answer means: the caller decides, attempt by
//! attempt, whether to stop, try again or give up ([`Step`]).

#[cfg(feature = "stand-in")]
pub mod stand_in;

use std::{fmt, future::Future, time::Duration};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How long an attempt may take, how many are made, and how long to wait between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Attempts per call, the first one included (at least one is made).
    pub max_attempts: u32,
    /// Time allowed for one attempt, from sending to the last byte of the answer.
    pub timeout: Duration,
    /// The wait before the second attempt; doubled each retry, with jitter, up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Ceiling of a back-off, and of a server's `Retry-After`.
    pub max_backoff: Duration,
}

impl Policy {
    /// From seconds as configuration files hold them (a negative or invalid number is zero).
    pub fn from_secs(
        max_attempts: u32,
        timeout: f64,
        initial_backoff: f64,
        max_backoff: f64,
    ) -> Self {
        Policy {
            max_attempts,
            timeout: secs(timeout),
            initial_backoff: secs(initial_backoff),
            max_backoff: secs(max_backoff),
        }
    }

    /// A reqwest client whose attempts time out as this policy says (connecting within at most
    /// 10 s of that).
    pub fn client(&self) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .build()
    }

    /// The wait before retry number `retry` (0 = before the second attempt): the doubled step,
    /// capped, times a jitter in [0.5, 1.0) that keeps many clients from retrying in lockstep.
    pub fn backoff(&self, retry: u32) -> Duration {
        let step = self.initial_backoff.saturating_mul(1u32 << retry.min(16));
        step.min(self.max_backoff)
            .mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

/// What an attempt met, described without its URL, and when the server asked to be tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A request that did not get an answer (timeout, connection refused, reset), described
    /// without its URL (which may carry a key in its query string).
    pub fn transport(e: reqwest::Error, timeout: Duration) -> Self {
        let e = e.without_url();
        Failure::new(if e.is_timeout() {
            format!("timed out after {:.1}s", timeout.as_secs_f64())
        } else if e.is_connect() {
            format!("connection failed: {}", error_chain(&e))
        } else {
            format!("request failed: {}", error_chain(&e))
        })
    }

    /// An answer with a status that is not a success: the status, the start of the body, and
    /// the server's `Retry-After` (delta-seconds; HTTP dates are ignored).
    pub fn status(status: reqwest::StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        Failure {
            message: format!("HTTP {status}: {}", snippet(body)),
            retry_after: retry_after(headers),
        }
    }
}

/// An HTTP answer read whole.
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Sends `request` and reads its answer whole. A failure to connect, send or read is a
/// [`Failure::transport`], worth another attempt; `timeout` is the request's own, named in it.
pub async fn exchange(
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<Answer, Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::transport(e, timeout))?;
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::transport(e, timeout))?;
    Ok(Answer {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// Whether an answer with `status` may succeed if sent again: 408, 429 and 5xx.
pub fn is_transient(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429) || status.is_server_error()
}

/// What the caller makes of one attempt.
pub enum Step<T, E> {
    /// The answer.
    Done(T),
    /// Worth another attempt, after the back-off (or the server's `Retry-After`).
    Retry(Failure),
    /// Not worth another attempt: the call fails with what every attempt met.
    Stop(Failure),
    /// The call fails with this error, at once.
    Abort(E),
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError<E> {
    #[error("{0}")]
    Aborted(E),
    /// Every attempt failed (or one could not be retried): each one's failure, in order.
    #[error("failed after {} attempt(s): {}", .attempts.len(), .attempts.join("; "))]
    Failed { attempts: Vec<String> },
}

/// Runs `attempt` (given the attempt number, from 0) until it is done, aborts, stops, or the
/// policy's attempts are spent, waiting between attempts. `name` labels each failure in the
/// error (the endpoint it went to, say), and `hide` is applied to every message.
pub async fn call<T, E, Fut>(
    policy: &Policy,
    mut attempt: impl FnMut(u32) -> Fut,
    name: impl Fn(u32) -> String,
    hide: impl Fn(&str) -> String,
) -> Result<T, CallError<E>>
where
    Fut: Future<Output = Step<T, E>>,
{
    let attempts = policy.max_attempts.max(1);
    let mut met = Vec::new();
    for n in 0..attempts {
        let (failure, again) = match attempt(n).await {
            Step::Done(answer) => return Ok(answer),
            Step::Abort(e) => return Err(CallError::Aborted(e)),
            Step::Retry(failure) => (failure, true),
            Step::Stop(failure) => (failure, false),
        };
        let label = name(n);
        let message = hide(&failure.message);
        met.push(if label.is_empty() {
            format!("[{}] {message}", n + 1)
        } else {
            format!("[{}] {label}: {message}", n + 1)
        });
        if !again || n + 1 == attempts {
            break;
        }
        let wait = match failure.retry_after {
            Some(after) => after.min(policy.max_backoff),
            None => policy.backoff(n),
        };
        tokio::time::sleep(wait).await;
    }
    Err(CallError::Failed { attempts: met })
}

/// An API key, read from an environment variable and shown nowhere: not in `Debug`, not in a
/// message (plain or URL-encoded, in case a server echoes the request).
#[derive(Clone)]
pub struct ApiKey {
    key: String,
    /// The key as it appears in a URL's query string.
    encoded: String,
}

/// An environment variable that holds no key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the environment variable {var} holds no API key")]
pub struct MissingKey {
    pub var: String,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl ApiKey {
    /// The key in environment variable `var` (trimmed); unset or blank is an error naming it.
    pub fn from_env(var: &str) -> Result<Self, MissingKey> {
        match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Ok(ApiKey::new(key.trim())),
            _ => Err(MissingKey {
                var: var.to_string(),
            }),
        }
    }

    pub fn new(key: &str) -> Self {
        let encoded = reqwest::Url::parse_with_params("http://h/", [("k", key)])
            .ok()
            .and_then(|url| url.query().map(|q| q.trim_start_matches("k=").to_string()))
            .unwrap_or_else(|| key.to_string());
        ApiKey {
            key: key.to_string(),
            encoded,
        }
    }

    /// The key itself, to put in a request.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// `text` with the key, plain or URL-encoded, replaced by `<redacted>`.
    pub fn hide(&self, text: &str) -> String {
        if self.key.is_empty() {
            return text.to_string();
        }
        text.replace(&self.key, "<redacted>")
            .replace(&self.encoded, "<redacted>")
    }
}

/// `url` parsed, if it is an http or https URL; else why not.
pub fn http_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("the scheme must be http or https".to_string());
    }
    Ok(parsed)
}

/// How much of an unexpected answer's body goes into an error message.
pub const SNIPPET_CHARS: usize = 200;

/// The start of a body, for error messages; never empty.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    let mut cut: String = text.chars().take(SNIPPET_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// `Retry-After` as delta-seconds (the form rate limiters send); HTTP dates are ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    Duration::try_from_secs_f64(value.parse().ok()?).ok()
}

/// An error and its sources, `outer: inner: …` (reqwest's own message alone says little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO)
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
        let policy = Policy::from_secs(4, 30.0, 1.0, 5.0);
        for retry in 0..20 {
            let wait = policy.backoff(retry).as_secs_f64();
            let step = (1u64 << retry.min(16)).min(5) as f64;
            assert!(wait >= step * 0.5 && wait < step, "{retry}: {wait}");
        }
    }

    #[test]
    fn snippets_are_cut_and_never_empty() {
        assert_eq!(snippet(b"  "), "(empty body)");
        assert_eq!(snippet(b" boom "), "boom");
        let long = "x".repeat(500);
        assert_eq!(snippet(long.as_bytes()).chars().count(), SNIPPET_CHARS + 1);
    }

    #[test]
    fn retry_after_reads_delta_seconds_only() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        let status = reqwest::StatusCode::TOO_MANY_REQUESTS;
        let failure = Failure::status(status, &headers, b"slow down");
        assert_eq!(failure.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(failure.message, "HTTP 429 Too Many Requests: slow down");
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(Failure::status(status, &headers, b"").retry_after, None);
        assert!(is_transient(status) && !is_transient(reqwest::StatusCode::NOT_FOUND));
    }

    #[test]
    fn only_http_urls_are_taken() {
        assert!(http_url("http://127.0.0.1:8000/x").is_ok());
        assert!(http_url("ftp://h").unwrap_err().contains("http or https"));
        assert!(http_url("not a url").is_err());
    }

    /// Attempts that fail as scripted, counting the calls.
    async fn run(
        script: &[Step<&'static str, &'static str>],
    ) -> (Result<&'static str, CallError<&'static str>>, u32) {
        let policy = Policy::from_secs(3, 1.0, 0.0, 0.0);
        let calls = std::cell::Cell::new(0);
        let take = |n: u32| {
            calls.set(calls.get() + 1);
            let step = match &script[n as usize] {
                Step::Done(t) => Step::Done(*t),
                Step::Retry(f) => Step::Retry(f.clone()),
                Step::Stop(f) => Step::Stop(f.clone()),
                Step::Abort(e) => Step::Abort(*e),
            };
            async move { step }
        };
        let result = call(
            &policy,
            take,
            |n| format!("e{n}"),
            |m| m.replace("key", "<redacted>"),
        )
        .await;
        (result, calls.get())
    }

    #[tokio::test]
    async fn a_call_retries_until_done_stopped_aborted_or_spent() {
        let retry = || Step::Retry(Failure::new("HTTP 503 key"));
        assert_eq!(run(&[retry(), Step::Done("ok")]).await, (Ok("ok"), 2));
        assert_eq!(
            run(&[Step::Abort("bad"), Step::Done("ok")]).await,
            (Err(CallError::Aborted("bad")), 1)
        );
        let (stopped, calls) = run(&[
            retry(),
            Step::Stop(Failure::new("HTTP 401")),
            Step::Done("ok"),
        ])
        .await;
        assert_eq!(calls, 2);
        assert_eq!(
            stopped.unwrap_err().to_string(),
            "failed after 2 attempt(s): [1] e0: HTTP 503 <redacted>; [2] e1: HTTP 401"
        );
        let (spent, calls) = run(&[retry(), retry(), retry(), Step::Done("never")]).await;
        assert_eq!(
            (
                calls,
                matches!(spent, Err(CallError::Failed { ref attempts }) if attempts.len() == 3)
            ),
            (3, true)
        );
    }
}
