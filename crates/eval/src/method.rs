//! The methods a question is answered with, and the harness that runs one method on one
//! question.
//!
//! - `direct`: the model answers from its own knowledge (FlashRAG's direct-generation prompt);
//! - `rag-pe`: retrieve the top k for the question once, answer from them (FlashRAG's standard
//!   RAG prompt) — the paper's RAG-PE;
//! - `agent-pe`: the Search-R1-format runtime driving a prompted, untrained model — Agent-PE;
//! - `agent`: the same runtime driving a trained model (its own mode and prompt);
//! - `multi-agent`: the Planner / Rewriter / Observer teacher as a question-answering system.

use agent::{Attempt, End, runtime};
use chat::{ChatModel, ChatRequest, Message};
use search::Searcher;

use crate::run::EvalConfig;

/// FlashRAG's direct-generation system prompt.
pub const DIRECT_PROMPT: &str = "Answer the question based on your own knowledge. Only give me the answer and do not output any other words.";

/// FlashRAG's standard RAG system prompt; `{reference}` is replaced by the documents.
pub const RAG_PROMPT: &str = "Answer the question based on the given document. Only give me the answer and do not output any other words.\n\nThe following are given documents.\n\n{reference}";

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

/// What a method did on one question.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The final answer ("" when there is none).
    pub prediction: String,
    /// Everything the model wrote and read, in the student format for the agents.
    pub transcript: String,
    /// Model calls that answered (a failed call is no turn, as in the agents' accounting).
    pub turns: u64,
    pub searches: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// How it ended: `answered`, `max_turns`, `malformed`, `model_failed`, `search_failed`.
    pub end: String,
    /// Why the question could not be run (a model or search failure), when it could not.
    pub failed: Option<String>,
}

/// Runs `method` on `question`.
pub async fn answer(
    method: Method,
    config: &EvalConfig,
    model: &dyn ChatModel,
    searcher: Option<&dyn Searcher>,
    question: &str,
    seed: u64,
) -> Outcome {
    match (method, searcher) {
        (Method::Direct, _) => {
            prompted(config, model, DIRECT_PROMPT.to_string(), question, seed).await
        }
        (Method::RagPe, Some(searcher)) => rag(config, model, searcher, question, seed).await,
        (Method::AgentPe | Method::Agent, Some(searcher)) => {
            let runtime = if method == Method::Agent {
                &config.agent_runtime
            } else {
                &config.runtime
            };
            let ask = runtime::Ask::question(question);
            from_attempt(runtime::rollout(model, searcher, ask, runtime, Some(seed)).await)
        }
        (Method::MultiAgent, Some(searcher)) => {
            let system = agent::chatml::system_message(config.today, seed);
            let attempt = agent::multi::run(
                model,
                searcher,
                &config.prompts,
                &system,
                runtime::Ask::question(question),
                &config.multi,
                Some(seed),
            )
            .await;
            from_attempt(attempt)
        }
        // The run refuses searching methods without a searcher before it starts.
        (_, None) => Outcome {
            end: "search_failed".into(),
            failed: Some("no search backend".into()),
            ..Outcome::default()
        },
    }
}

/// Retrieves once with the question and answers from the documents.
async fn rag(
    config: &EvalConfig,
    model: &dyn ChatModel,
    searcher: &dyn Searcher,
    question: &str,
    seed: u64,
) -> Outcome {
    let hits = match searcher.search(question, config.rag_topk).await {
        Ok(hits) => hits,
        Err(e) => {
            return Outcome {
                searches: 1,
                end: "search_failed".into(),
                failed: Some(e.to_string()),
                ..Outcome::default()
            };
        }
    };
    let docs = student::render_docs(&hits);
    let system = RAG_PROMPT.replace("{reference}", docs.trim());
    let mut outcome = prompted(config, model, system, question, seed).await;
    outcome.searches = 1;
    outcome
}

/// One model call with `system` and the question; the reply (or its last `<answer>`) is the
/// prediction.
async fn prompted(
    config: &EvalConfig,
    model: &dyn ChatModel,
    system: String,
    question: &str,
    seed: u64,
) -> Outcome {
    let user = format!("Question: {}", question.trim());
    let request = ChatRequest {
        messages: vec![Message::system(system.clone()), Message::user(user.clone())],
        temperature: config.runtime.temperature,
        max_tokens: Some(config.answer_max_tokens),
        seed: Some(seed),
        ..ChatRequest::default()
    };
    let transcript = format!("{system}\n\n{user}\n\n");
    match model.chat(&request).await {
        Ok(reply) => Outcome {
            prediction: metrics::extract_answer(&reply.text)
                .unwrap_or(&reply.text)
                .trim()
                .to_string(),
            transcript: transcript + &reply.text,
            turns: 1,
            searches: 0,
            prompt_tokens: reply.usage.prompt_tokens,
            completion_tokens: reply.usage.completion_tokens,
            end: "answered".into(),
            failed: None,
        },
        Err(e) => Outcome {
            transcript,
            end: "model_failed".into(),
            failed: Some(e.to_string()),
            ..Outcome::default()
        },
    }
}

/// An agent's attempt as an outcome: model and search failures fail the question; an agent
/// that never answered scores 0 with an empty prediction.
fn from_attempt(attempt: Attempt) -> Outcome {
    let (prediction, end, failed) = match attempt.end {
        End::Answered(answer) => (answer, "answered", None),
        End::MaxTurns => (String::new(), "max_turns", None),
        End::Malformed(_) | End::NotGrounded(_) => (String::new(), "malformed", None),
        End::ModelFailed(why) => (String::new(), "model_failed", Some(why)),
        End::SearchFailed(why) => (String::new(), "search_failed", Some(why)),
    };
    Outcome {
        prediction,
        transcript: attempt.transcript,
        turns: attempt.usage.model_calls,
        searches: attempt.search.calls,
        prompt_tokens: attempt.usage.prompt_tokens,
        completion_tokens: attempt.usage.completion_tokens,
        end: end.to_string(),
        failed,
    }
}
