//! The harness that runs one method on one question (see [`crate::method`] for what each does).

use agent::{Attempt, End, runtime};
use chat::{ChatModel, ChatRequest, Message};
use search::Searcher;

use crate::{EvalConfig, Method};

/// FlashRAG's direct-generation system prompt.
pub const DIRECT_PROMPT: &str = "Answer the question based on your own knowledge. Only give me the answer and do not output any other words.";

/// FlashRAG's standard RAG system prompt; `{reference}` is replaced by the documents.
pub const RAG_PROMPT: &str = "Answer the question based on the given document. Only give me the answer and do not output any other words.\n\nThe following are given documents.\n\n{reference}";

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
