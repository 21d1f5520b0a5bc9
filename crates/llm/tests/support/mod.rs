//! A misbehaving OpenAI-compatible server on 127.0.0.1: a real socket, answers scripted per
//! request, counts what it receives.
// Each test binary and the bench use a different subset of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use retry::stand_in::{self, StandIn};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with a valid completion whose text is given.
    Ok(String),
    /// Any status with a plain body.
    Status(u16, String),
    /// 429 with `Retry-After: secs`.
    TooMany { retry_after_secs: u64 },
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with `"choices": []`.
    EmptyChoices,
    /// Reads the request and never answers (for 30 s, then drops the connection).
    Hang,
    /// Like `Ok`, after a delay.
    Slow(Duration, String),
    /// Sends the head and half of a valid body, then resets the connection (TCP RST).
    Reset,
}

/// The stand-in every HTTP-calling crate tests against (`retry::stand_in`), answering the
/// OpenAI way: base URL `…/v1`, replies built from [`Reply`].
pub struct FaultServer {
    pub base_url: String,
    server: Arc<StandIn>,
}

impl FaultServer {
    /// Serves `script` in order, then `fallback` forever.
    pub async fn start(script: Vec<Reply>, fallback: Reply) -> Arc<FaultServer> {
        let script = script.into_iter().map(Reply::into_stand_in).collect();
        let server = StandIn::start(script, fallback.into_stand_in()).await;
        Arc::new(FaultServer {
            base_url: format!("{}/v1", server.url),
            server,
        })
    }

    pub fn requests(&self) -> usize {
        self.server.received().len()
    }

    pub fn max_in_flight(&self) -> usize {
        self.server.max_in_flight()
    }

    pub fn authorization_headers(&self) -> Vec<String> {
        self.server
            .received()
            .iter()
            .filter_map(|r| r.header("authorization"))
            .collect()
    }
}

impl Reply {
    fn into_stand_in(self) -> stand_in::Reply {
        let full = |status, headers: Vec<String>, body, delay| stand_in::Reply::Full {
            status,
            headers,
            body,
            delay,
        };
        match self {
            Reply::Ok(text) => full(200, vec![], completion(&text), Duration::ZERO),
            Reply::Slow(delay, text) => full(200, vec![], completion(&text), delay),
            Reply::Status(code, body) => full(code, vec![], body, Duration::ZERO),
            Reply::TooMany { retry_after_secs } => full(
                429,
                vec![format!("Retry-After: {retry_after_secs}")],
                "rate limited".to_string(),
                Duration::ZERO,
            ),
            Reply::Malformed => full(200, vec![], "{\"choices\": [".to_string(), Duration::ZERO),
            Reply::EmptyChoices => full(
                200,
                vec![],
                r#"{"id":"x","choices":[]}"#.to_string(),
                Duration::ZERO,
            ),
            Reply::Hang => stand_in::Reply::Hang,
            Reply::Reset => stand_in::Reply::Reset(completion("cut short")),
        }
    }
}

/// A completion body with usage counts, as a real server sends it.
pub fn completion(text: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    })
    .to_string()
}
