//! The masksearch HTTP API: Search-R1-compatible `/retrieve`, an OpenAI-compatible chat endpoint
//! for the local model, and health checks.
//!
//! `server` sees search and models only through the `search::Searcher` and `llm::ChatModel`
//! traits; it never opens an index or loads weights itself.
