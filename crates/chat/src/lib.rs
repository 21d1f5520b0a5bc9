//! The seam between everything that asks a language model something and the backends that
//! answer: the [`ChatModel`] and [`TokenScorer`] traits, the request and response types, and the
//! OpenAI `/v1/chat/completions` wire types.
//!
//! `chat` holds no HTTP client, no cache and no model: those live in the `llm` crate. Crates
//! that only *use* models (`ramp`, `server`, the agents) depend on this crate alone, the way
//! ripgrep's searcher depends on `grep-matcher` and not on a regex engine.

mod error;
mod model;
pub mod openai;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{ChatError, InvalidRequest};
pub use model::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, LogProb, Message, PieceSink, Role,
    TokenScorer, Tool, ToolCall, Usage,
};
