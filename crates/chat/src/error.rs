//! `ChatError`, why a chat request failed, and `InvalidRequest`, why a request cannot be served.

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
    /// The request cannot be served as it is; sending it again fails again.
    #[error("invalid request: {0}")]
    Invalid(#[from] InvalidRequest),
    /// The backend failed on this request for a reason of its own (a local model error, a
    /// broken response cache).
    #[error("{backend}: {message}")]
    Failed { backend: String, message: String },
    /// The caller stopped listening (a streaming receiver went away) before the answer was
    /// complete.
    #[error("cancelled: the caller stopped listening")]
    Cancelled,
}

/// Why a request cannot be served. Parameter names are the OpenAI API's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidRequest {
    #[error("`messages` must not be empty")]
    NoMessages,
    #[error("messages[{index}]: unsupported role {role:?}")]
    UnknownRole { index: usize, role: String },
    #[error("messages[{index}]: the content holds a NUL byte")]
    NulInContent { index: usize },
    #[error("only n = 1 is supported (got {n})")]
    SeveralChoices { n: u32 },
    #[error("max_tokens must be at least 1")]
    NoTokensAllowed,
    /// A sampling parameter outside the range the OpenAI API allows.
    #[error("{parameter} must be in {range} (got {value})")]
    OutOfRange {
        parameter: &'static str,
        range: &'static str,
        value: f32,
    },
    /// A tool message that answers no call of the assistant message before it (OpenAI's rule).
    #[error(
        "messages[{index}]: a tool message must answer, by its tool_call_id, a call of the assistant message before it"
    )]
    UnansweredTool { index: usize },
    #[error("continue_final_message needs an assistant message last")]
    NothingToContinue,
    #[error("continue_final_message and add_generation_prompt cannot both be true")]
    ContinueWithGenerationPrompt,
    #[error("the prompt is {tokens} tokens; the model's context holds {context}")]
    PromptTooLong { tokens: usize, context: usize },
    #[error("the continuation is {tokens} tokens; the model's context holds {context}")]
    ContinuationTooLong { tokens: usize, context: usize },
    /// A remote backend refused the request and said why.
    #[error("{0}")]
    Rejected(String),
}
