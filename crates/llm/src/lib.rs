//! One `ChatModel` abstraction for every LLM step: an OpenAI-compatible HTTP client and, behind the
//! `local` feature, a GGUF model run in-process on CPU by llama.cpp.
//!
//! `llm` knows nothing of passages, search or agents: messages in, text and token counts out.
//!
//! - [`OpenAiClient`]: any OpenAI-compatible endpoint(s), with retries, back-off and bounded
//!   concurrency; keys only from an environment variable named in [`ClientConfig`].
//! - [`CachedModel`]: a persistent (redb) response cache in front of any [`ChatModel`].
//! - [`Accounting`]: requests, retries, cache hits and tokens of a run.
//! - `LocalModel` (feature `local`): llama.cpp in-process; also a [`TokenScorer`].

mod accounting;
mod cache;
mod client;
mod config;
#[cfg(feature = "local")]
mod local;
mod model;
pub mod openai;

pub use accounting::{Accounting, AccountingSnapshot};
pub use cache::{CachedModel, cache_key};
pub use client::OpenAiClient;
pub use config::{CacheConfig, CachePolicy, ClientConfig};
#[cfg(feature = "local")]
pub use local::{LocalConfig, LocalModel, LocalTimings};
pub use model::{
    ChatModel, ChatRequest, ChatResponse, LlmError, Message, Role, TokenScorer, Usage,
};
