//! Search agents: the student-format runtime (the `student` crate's format, Search-R1
//! compatible), the paper's multi-agent
//! teacher (Planner, Rewriter, search, Observer) with its LLM-judge verifier, an offline rule
//! teacher, the `trajectories` pipeline that runs any of them over RAMP samples or questions,
//! and the self-evolving rounds that grow the trajectories with a student trained on them.
//!
//! `agent` sees models only through `chat::ChatModel` and search only through
//! `search::Searcher`; it opens no index, loads no weights and never evaluates model output.
//! Every teacher writes one record shape, `formats::Trajectory`.

pub mod attempt;
pub mod chatml;
pub mod evolve;
#[cfg(any(test, feature = "invariants"))]
pub mod invariants;
pub mod multi;
pub mod pipeline;
pub mod prompts;
pub mod reward;
pub mod rule;
pub mod runtime;
pub mod verify;

use std::path::PathBuf;

pub use attempt::{Attempt, End};
pub use pipeline::{RunOptions, Tally, TrajectoriesReport, TrajectoryConfig, run};
pub use prompts::Prompts;
pub use runtime::{Ask, Mode, RuntimeConfig, rollout};
pub use verify::{AcceptPolicy, VerifyConfig};

pub use formats::MASK;

/// What stops a trajectories run. A failed model call or search is not an error: it rejects that
/// one trajectory, with its reason.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Format(#[from] formats::FormatError),
    #[error("{}: not a prompt file (expected one of {expected})", path.display())]
    UnknownPrompt { path: PathBuf, expected: String },
    /// A file an earlier run left (a round's row) is not what this run writes there.
    #[error("{}: {message}", path.display())]
    Resume { path: PathBuf, message: String },
    /// The teacher needs a model and none was given.
    #[error("the {teacher} teacher needs a model")]
    NoModel { teacher: &'static str },
    /// A self-evolving round after the first has no student model to act.
    #[error(
        "round {round} needs a student: an endpoint serving it or a command that trains and serves it"
    )]
    NoStudent { round: u32 },
    /// The input holds fewer samples than the rounds need.
    #[error("{}: {samples} distinct samples leave round {round} none (batches of {batch})", path.display())]
    TooFewSamples {
        path: PathBuf,
        samples: usize,
        round: u32,
        batch: usize,
    },
    /// The command that trains and serves a round's student failed.
    #[error("round {round}: the training command {message} (its output: {})", log.display())]
    TrainCommand {
        round: u32,
        message: String,
        log: PathBuf,
    },
    /// The round's student could not be reached.
    #[error("round {round}: the student at {base_url}: {message}")]
    Student {
        round: u32,
        base_url: String,
        message: String,
    },
    /// The rule teacher was given a record that is not a RAMP sample.
    #[error("{path}: record {record} is not a RAMP sample; the rule teacher fills masks only")]
    NotRamp { path: String, record: u64 },
}

impl AgentError {
    /// An I/O error on `path` (reported as every crate reports one, `formats::FormatError::io`).
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        formats::FormatError::io(path, error).into()
    }
}
