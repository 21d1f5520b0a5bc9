//! The LLM backends behind the `chat` seam: an OpenAI-compatible HTTP client, a response cache
//! and, behind the `local` feature, a GGUF model run in-process on CPU by llama.cpp.
//!
//! `llm` knows nothing of passages, search or agents: messages in, text and token counts out.
//! Crates that only use models depend on `chat`, not on this crate; the binary wires a backend
//! from here into them.
//!
//! - [`OpenAiClient`]: any OpenAI-compatible endpoint(s), with retries, back-off and bounded
//!   concurrency; keys only from an environment variable named in [`ClientConfig`].
//! - [`CachedModel`]: a persistent (redb) response cache in front of any [`chat::ChatModel`].
//! - [`Accounting`]: requests, retries, cache hits and tokens of a run.
//! - `LocalModel` (feature `local`): llama.cpp in-process; also a [`chat::TokenScorer`]. It
//!   speaks tools by writing them, the calls and their results into the chat text the way
//!   LLaMA-Factory trains on them, and reading calls back from what it generates.

mod accounting;
mod cache;
mod client;
mod config;
mod error;
#[cfg(feature = "local")]
mod local;
// Only the local model decodes tokens itself; the module is built (and tested) regardless.
#[cfg_attr(not(feature = "local"), allow(dead_code))]
mod stream;
#[cfg_attr(not(feature = "local"), allow(dead_code))]
mod tool_format;

pub use accounting::{Accounting, AccountingSnapshot};
pub use cache::{CachedModel, cache_key};
pub use client::OpenAiClient;
pub use config::{CacheConfig, CachePolicy, ClientConfig};
pub use error::LlmError;
#[cfg(feature = "local")]
pub use local::{LocalConfig, LocalModel, LocalTimings};
