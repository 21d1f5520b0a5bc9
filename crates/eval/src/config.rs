//! The settings of an evaluation run: which methods, and how each drives its model.

use agent::{Prompts, RuntimeConfig, multi::MultiAgentConfig};

use crate::Method;

/// The settings that decide the predictions (recorded in the manifest; a resume must match).
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub methods: Vec<Method>,
    /// Agent-PE: the runtime driving the prompted model.
    pub runtime: RuntimeConfig,
    /// `agent`: the runtime driving a trained model (its mode, its prompt).
    pub agent_runtime: RuntimeConfig,
    pub multi: MultiAgentConfig,
    /// The multi-agent prompts and the judge's.
    pub prompts: Prompts,
    /// Documents RAG-PE retrieves.
    pub rag_topk: usize,
    /// Token limit of a direct or RAG-PE answer.
    pub answer_max_tokens: u32,
    /// Ask the LLM judge about every answer (ACC_L).
    pub judge: bool,
    pub seed: u64,
    /// The day the multi-agent system messages' "current time" counts back from.
    pub today: time::Date,
    /// Only the questions of this shard ([`question_key`](crate::run::question_key) hashed).
    pub shard: formats::Shard,
}
