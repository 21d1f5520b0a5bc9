//! The `ChatModel` and `TokenScorer` traits and the types they speak.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// The OpenAI name of the role (`"system"`, `"user"`, `"assistant"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
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
    /// Continue the final (assistant) message instead of starting a new turn: the chat template
    /// is applied without closing that message and without a generation prompt (vLLM's
    /// `continue_final_message`). How Search-R1 rolls out: one assistant message grows by a
    /// generation, an `<information>` block, the next generation, …
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_final_message: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn, or a stop sequence was generated.
    #[default]
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
}

impl FinishReason {
    /// The OpenAI spelling (`"stop"`, `"length"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }

    /// Reads an OpenAI `finish_reason`; anything but `"length"` ended the turn (`"stop"`,
    /// `"tool_calls"`, `"content_filter"`, a missing value).
    pub fn from_openai(name: Option<&str>) -> Self {
        match name {
            Some("length") => FinishReason::Length,
            _ => FinishReason::Stop,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub text: String,
    pub usage: Usage,
    pub finish_reason: FinishReason,
}

/// Why a chat request failed. Callers decide by variant: an [`ChatError::Invalid`] request
/// fails again if resent, an [`ChatError::Unavailable`] backend may answer later.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The backend could not answer: unreachable, timing out or failing, after its retries.
    #[error("{backend}: {message}")]
    Unavailable { backend: String, message: String },
    /// The backend is saturated and asks to be called again later.
    #[error("{backend}: busy; retry after {retry_after_secs} s")]
    Busy {
        backend: String,
        retry_after_secs: u64,
    },
    /// The request cannot be served as it is (longer than the context, parameters out of
    /// range, a role the backend does not know); sending it again fails again.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend failed on this request for a reason of its own (a local model error, a
    /// broken response cache).
    #[error("{backend}: {message}")]
    Failed { backend: String, message: String },
    /// The caller stopped listening (a streaming receiver went away) before the answer was
    /// complete.
    #[error("cancelled: the caller stopped listening")]
    Cancelled,
}

/// Where a streamed answer goes, piece by piece. Returns whether anyone still listens: `false`
/// asks the backend to stop generating ([`ChatError::Cancelled`]).
pub type PieceSink<'a> = &'a (dyn Fn(&str) -> bool + Send + Sync);

/// Anything that answers chat messages: a remote endpoint, the local model, a cache in front of
/// either. Implementations must be cheap to share across tasks (`Arc<dyn ChatModel>`).
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// A short name for logs, manifests and cache keys (e.g. the model id).
    fn name(&self) -> &str;

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError>;

    /// Like [`ChatModel::chat`], but also hands the text to `sink` piece by piece as it is
    /// generated (the pieces concatenate to the final text). Backends that cannot stream hand
    /// over the whole text once.
    async fn chat_stream(
        &self,
        request: &ChatRequest,
        sink: PieceSink<'_>,
    ) -> Result<ChatResponse, ChatError> {
        let response = self.chat(request).await?;
        if sink(&response.text) {
            Ok(response)
        } else {
            Err(ChatError::Cancelled)
        }
    }
}

/// The log-likelihood of a continuation: the sum of its tokens' natural-log probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LogProb {
    pub sum: f64,
    pub tokens: usize,
}

impl LogProb {
    /// Mean negative log-likelihood per token (0 for an empty continuation): higher is harder
    /// to guess.
    pub fn mean_nll(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            -self.sum / self.tokens as f64
        }
    }
}

/// A model that can score text: the log-likelihood of `continuation` right after `context`
/// (raw text, no chat template). Used for difficulty (perplexity) scoring of mask spans.
///
/// Blocking: call it from plain threads (rayon, `spawn_blocking`), not from an async task.
pub trait TokenScorer: Send + Sync {
    /// A short name for manifests (e.g. the model file's stem).
    fn name(&self) -> &str;

    fn continuation_logprob(&self, context: &str, continuation: &str)
    -> Result<LogProb, ChatError>;
}
