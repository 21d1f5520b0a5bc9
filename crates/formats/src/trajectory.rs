//! `Trajectory`: one agent's attempt at one task, as every teacher writes it and export, eval and
//! the UI read it.
//!
//! A record keeps the same attempt in two forms: the original MaskSearch `chatml` record
//! (`cot_construct.py`'s `type` / `messages` with `function_call` / `function` roles /
//! `functions` / `ext` with `response_acc`) and the student-format `transcript` (Search-R1's
//! `<think>` / `<search>` / `<information>` / `<answer>` text), plus what a researcher needs to
//! judge it: every step with its timing and tokens, the queries and retrieved ids, the search
//! backend, the verdict and why it was accepted or rejected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which teacher wrote a trajectory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Teacher {
    /// Planner, Rewriter, search, Observer: the paper's construction.
    MultiAgent,
    /// One model in the student format (the self-evolving teacher of later rounds).
    Agent,
    /// The deterministic, offline rule teacher (RAMP samples only).
    Rule,
}

impl Teacher {
    pub fn as_str(self) -> &'static str {
        match self {
            Teacher::MultiAgent => "multi-agent",
            Teacher::Agent => "agent",
            Teacher::Rule => "rule",
        }
    }
}

/// What was asked: a RAMP sample (fill the masks) or a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub kind: TaskKind,
    /// The user turn: the masked passage with its instruction, or the question.
    pub query: String,
    /// Accepted final answers: the original passage for RAMP, the gold aliases for QA.
    pub golds: Vec<String>,
    /// RAMP only: the masked spans, in the order their `[mask]`s appear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Ramp,
    Qa,
}

/// Why a trajectory was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// The record breaks the format (the original's check, or the tag grammar).
    Format,
    /// The search budget ran out before an answer.
    MaxTurns,
    /// The LLM judge said the answer is wrong (or gave no clear verdict).
    Judge,
    /// The string metrics against the gold are below the accept threshold.
    Metric,
    /// The search backend failed mid-trajectory.
    SearchFailure,
    /// A model call failed (after its retries) or answered nothing usable.
    ModelError,
    /// Rule teacher: the retrieved text does not contain a masked span.
    NotGrounded,
}

impl Rejection {
    pub const ALL: [Rejection; 7] = [
        Rejection::Format,
        Rejection::MaxTurns,
        Rejection::Judge,
        Rejection::Metric,
        Rejection::SearchFailure,
        Rejection::ModelError,
        Rejection::NotGrounded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Format => "format",
            Rejection::MaxTurns => "max_turns",
            Rejection::Judge => "judge",
            Rejection::Metric => "metric",
            Rejection::SearchFailure => "search_failure",
            Rejection::ModelError => "model_error",
            Rejection::NotGrounded => "not_grounded",
        }
    }
}

/// Who acted in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Planner,
    Rewriter,
    Search,
    Observer,
    Judge,
    /// A generation of the single model in the student format.
    Model,
    /// A deterministic step of the rule teacher.
    Rule,
}

/// Something the runtime handled deterministically instead of trusting the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// A `<search>` or `<answer>` was opened and never closed (the turn ran out of tokens).
    UnclosedTag,
    /// More than one action in one turn: the first was taken, the rest dropped.
    ExtraActionsDropped,
    /// Text after `</answer>` was dropped.
    TextAfterAnswer,
    /// An answer without any `<think>` before it.
    AnswerWithoutThinking,
    /// An empty `<search></search>`.
    EmptyQuery,
    /// Neither a search nor an answer: the fixed corrective observation was sent.
    InvalidAction,
    /// The last turn could not search: searching was disabled and the model asked to answer.
    SearchDisabled,
    /// The Rewriter's answer held no usable JSON query list; the planned sub-query was searched.
    RewriterFallback,
    /// The Rewriter wrote fewer than three queries.
    FewQueries,
    /// The judge's reply was neither "correct" nor "incorrect".
    UnclearVerdict,
    /// The search returned nothing.
    NoResults,
    /// The step asked for a search already made (the same sub-question or the same queries):
    /// it was not searched again, and the Observer was asked to reflect.
    RepeatedSearch,
    /// The Planner answered without any search, which the run does not allow.
    AnsweredWithoutSearch,
}

/// One step of a trajectory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub kind: StepKind,
    /// Wall-clock time of the step, milliseconds.
    pub ms: u64,
    /// What the agent wrote (or, for a search step, the rendered information block).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<String>,
    /// Ids of the retrieved passages, in the order shown to the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doc_ids: Vec<String>,
    /// Duplicates dropped when the results of several queries were merged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicates_removed: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prompt_tokens: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub completion_tokens: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

impl Step {
    /// An empty step of `kind`; fill in what applies.
    pub fn new(kind: StepKind) -> Self {
        Step {
            kind,
            ms: 0,
            text: String::new(),
            queries: Vec::new(),
            doc_ids: Vec::new(),
            duplicates_removed: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            notes: Vec::new(),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How the trajectory was judged.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Verdict {
    /// The LLM judge: `Some(true)` correct, `Some(false)` incorrect, `None` not asked or unclear.
    #[serde(default)]
    pub judge: Option<bool>,
    /// The judge's reply as written.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub judge_reply: String,
    /// String metrics of the answer against the gold (`em`, `f1`, `token_recall`, …).
    #[serde(default)]
    pub scores: BTreeMap<String, f64>,
    /// RAMP: whether each mask was recovered, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks_recovered: Vec<bool>,
}

/// The search backend a trajectory used.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SearchUse {
    /// `Searcher::name()`, e.g. `bm25:work/index`.
    pub backend: String,
    /// Whether the documents were written by a model (ZeroSearch-style), not retrieved.
    pub simulated: bool,
    /// Search calls and queries sent.
    pub calls: u64,
    pub queries: u64,
}

/// Tokens and calls of all model steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenUse {
    pub model_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// One message of the original's chatml record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatmlMessage {
    pub role: String,
    pub content: String,
    /// `function` messages: the tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Assistant messages: `{"name": "web_search", "arguments": "<JSON string>"}`; the final
    /// answer carries `{}` as in the original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_role: Option<String>,
}

/// The record `cot_construct.py` writes (Qwen's function-call chatml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatmlRecord {
    /// Always `"chatml"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub messages: Vec<ChatmlMessage>,
    pub functions: Vec<Value>,
    /// The input's `ext` plus `response_acc` (`true`, `false` or `"Max_turn"`).
    pub ext: Value,
}

/// One teacher's attempt at one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    /// The input record's id.
    pub id: String,
    pub teacher: Teacher,
    /// The self-evolution round that produced it (0 for the first teacher).
    #[serde(default)]
    pub round: u32,
    /// The model that acted (empty for the rule teacher).
    #[serde(default)]
    pub model: String,
    pub task: Task,
    pub accepted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<Rejection>,
    /// What went wrong, in words, when rejected.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The final `<answer>` content, if the agent gave one.
    #[serde(default)]
    pub answer: Option<String>,
    /// The whole attempt in the student format.
    pub transcript: String,
    pub chatml: ChatmlRecord,
    pub steps: Vec<Step>,
    pub search: SearchUse,
    pub verdict: Verdict,
    pub usage: TokenUse,
    /// Wall-clock time of the whole attempt, milliseconds.
    pub ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_have_one_string_form() {
        for r in Rejection::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for t in [Teacher::MultiAgent, Teacher::Agent, Teacher::Rule] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(
            serde_json::to_value(Note::UnclosedTag).unwrap(),
            "unclosed_tag"
        );
    }

    #[test]
    fn the_final_chatml_message_keeps_the_originals_empty_function_call() {
        let m = ChatmlMessage {
            role: "assistant".into(),
            content: "<answer> x </answer>".into(),
            name: None,
            function_call: Some(serde_json::json!({})),
            finish_reason: Some("stop".into()),
            response_role: Some("assistant".into()),
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"role":"assistant","content":"<answer> x </answer>","function_call":{},"finish_reason":"stop","response_role":"assistant"}"#
        );
    }
}
