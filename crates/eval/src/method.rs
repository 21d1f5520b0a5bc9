//! The methods a question is answered with.
//!
//! - `direct`: the model answers from its own knowledge (FlashRAG's direct-generation prompt);
//! - `rag-pe`: retrieve the top k for the question once, answer from them (FlashRAG's standard
//!   RAG prompt) — the paper's RAG-PE;
//! - `agent-pe`: the student-format runtime driving a prompted, untrained model — Agent-PE;
//! - `agent`: the same runtime driving a trained model (its own mode, style and prompt);
//! - `multi-agent`: the Planner / Rewriter / Observer teacher as a question-answering system.
//!
//! How each answers is [`crate::answer`]; the settings are [`crate::EvalConfig`].

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Direct,
    RagPe,
    AgentPe,
    Agent,
    MultiAgent,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Direct,
        Method::RagPe,
        Method::AgentPe,
        Method::Agent,
        Method::MultiAgent,
    ];

    /// The name on the command line and in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Direct => "direct",
            Method::RagPe => "rag-pe",
            Method::AgentPe => "agent-pe",
            Method::Agent => "agent",
            Method::MultiAgent => "multi-agent",
        }
    }

    /// The name in reports, as the paper writes it.
    pub fn label(name: &str) -> String {
        match name {
            "direct" => "Direct".into(),
            "rag-pe" => "RAG-PE".into(),
            "agent-pe" => "Agent-PE".into(),
            "agent" => "Agent".into(),
            "multi-agent" => "Multi-agent".into(),
            other => other.to_string(),
        }
    }

    pub fn searches(self) -> bool {
        self != Method::Direct
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown method {s:?}; expected direct, rag-pe, agent-pe, agent or multi-agent"
                )
            })
    }
}
