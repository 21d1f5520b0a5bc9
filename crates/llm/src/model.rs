//! The `ChatModel` trait and its request/response types.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// One chat completion request. Parameters left `None` use the backend's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: String,
    pub usage: Usage,
    /// `"stop"` (end of turn or a stop sequence) or `"length"` (hit `max_tokens`).
    pub finish_reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The request failed after all retries; says which endpoint and how.
    #[error("{endpoint}: {message}")]
    Endpoint { endpoint: String, message: String },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("local model: {0}")]
    Local(String),
    #[error("response cache {path}: {message}")]
    Cache { path: String, message: String },
    /// A client, cache or model was configured in a way that cannot work (no URL, missing key).
    #[error("configuration: {0}")]
    Config(String),
}

/// Anything that answers chat messages: a remote endpoint, the local model, a cache in front of
/// either. Implementations must be cheap to share across tasks (`Arc<dyn ChatModel>`).
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// A short name for logs, manifests and cache keys (e.g. the model id).
    fn name(&self) -> &str;
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;

    /// Like [`ChatModel::chat`], but also sends the text to `tokens` piece by piece as it is
    /// generated (the pieces concatenate to the final text). Backends that cannot stream send
    /// the whole text once; a closed receiver does not stop generation.
    async fn chat_stream(
        &self,
        request: &ChatRequest,
        tokens: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<ChatResponse, LlmError> {
        let response = self.chat(request).await?;
        let _ = tokens.send(response.text.clone());
        Ok(response)
    }
}

/// A model that can score text: the log-likelihood of `continuation` right after `context`
/// (raw text, no chat template). Used for difficulty (perplexity) scoring of mask spans.
pub trait TokenScorer: Send + Sync {
    /// Sum of the natural-log probabilities of the continuation's tokens, and their count.
    fn continuation_logprob(
        &self,
        context: &str,
        continuation: &str,
    ) -> Result<(f64, usize), LlmError>;
}
