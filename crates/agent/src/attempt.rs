//! `Attempt`: what a teacher did on one task, before it is verified — the same shape for every
//! teacher, so the pipeline builds one kind of record from all of them.

use chat::ChatResponse;
use formats::{Rejection, SearchUse, Step, TokenUse};
use search::Searcher;

use crate::chatml::Round;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    Answered(String),
    /// Every turn was used and no answer came.
    MaxTurns,
    SearchFailed(String),
    ModelFailed(String),
    /// The model's replies were unusable (no action and nothing to search).
    Malformed(String),
    /// The rule teacher found a masked span in no retrieved document.
    NotGrounded(String),
}

impl End {
    /// The answer, or why there is none: the rejection and its detail.
    pub fn answer(&self) -> Result<&str, (Rejection, String)> {
        match self {
            End::Answered(answer) => Ok(answer),
            End::MaxTurns => Err((
                Rejection::MaxTurns,
                "no answer within the search budget".to_string(),
            )),
            End::SearchFailed(why) => Err((Rejection::SearchFailure, why.clone())),
            End::ModelFailed(why) => Err((Rejection::ModelError, why.clone())),
            End::Malformed(why) => Err((Rejection::Format, why.clone())),
            End::NotGrounded(why) => Err((Rejection::NotGrounded, why.clone())),
        }
    }
}

/// One teacher's work on one task.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The assistant turns and what answered them, for the chatml record.
    pub rounds: Vec<Round>,
    /// The final reply (with the answer), when there is one.
    pub final_text: Option<String>,
    /// The whole attempt in the student format.
    pub transcript: String,
    pub end: End,
    pub steps: Vec<Step>,
    pub usage: TokenUse,
    pub search: SearchUse,
}

impl Attempt {
    /// An attempt that has done nothing yet, with `searcher`.
    pub fn new(searcher: &dyn Searcher) -> Attempt {
        let backend = searcher.name();
        Attempt {
            rounds: Vec::new(),
            final_text: None,
            transcript: String::new(),
            end: End::MaxTurns,
            steps: Vec::new(),
            usage: TokenUse::default(),
            search: SearchUse {
                simulated: backend.starts_with("simulated:"),
                backend,
                ..SearchUse::default()
            },
        }
    }

    /// Counts a model call and records its step.
    pub(crate) fn model_step(&mut self, mut step: Step, reply: &ChatResponse) {
        step.prompt_tokens = reply.usage.prompt_tokens;
        step.completion_tokens = reply.usage.completion_tokens;
        self.usage.model_calls += 1;
        self.usage.prompt_tokens += reply.usage.prompt_tokens;
        self.usage.completion_tokens += reply.usage.completion_tokens;
        self.steps.push(step);
    }

    /// Counts a search of `queries` and records its step.
    pub(crate) fn search_step(&mut self, step: Step) {
        self.search.calls += 1;
        self.search.queries += step.queries.len() as u64;
        self.steps.push(step);
    }
}
