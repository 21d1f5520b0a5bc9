//! One `ChatModel` abstraction for every LLM step: an OpenAI-compatible HTTP client and, behind the
//! `local` feature, a GGUF model run in-process on CPU by llama.cpp.
//!
//! `llm` knows nothing of passages, search or agents: messages in, text and token counts out.

mod model;

pub use model::{ChatModel, ChatRequest, ChatResponse, LlmError, Message, Role, TokenScorer, Usage};
