//! Search agents: the student-format runtime (Search-R1 compatible), the paper's multi-agent
//! teacher (Planner, Rewriter, search, Observer) with its LLM-judge verifier, an offline rule
//! teacher, and the `trajectories` pipeline that runs any of them over RAMP samples or
//! questions.
//!
//! `agent` sees models only through `chat::ChatModel` and search only through
//! `search::Searcher`; it opens no index, loads no weights and never evaluates model output.
//! Every teacher writes one record shape, `formats::Trajectory`.

pub mod attempt;
pub mod chatml;
pub mod information;
pub mod multi;
pub mod pipeline;
pub mod prompts;
pub mod rule;
pub mod runtime;
pub mod tags;
pub mod verify;

use std::path::PathBuf;

pub use attempt::{Attempt, End};
pub use pipeline::{Report, RunOptions, Tally, TrajectoryConfig, run};
pub use prompts::Prompts;
pub use runtime::{Mode, RuntimeConfig, rollout};
pub use verify::{AcceptPolicy, VerifyConfig};

pub use formats::MASK;

/// What stops a trajectories run. A failed model call or search is not an error: it rejects that
/// one trajectory, with its reason.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Format(#[from] formats::FormatError),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: not a prompt file (expected one of {expected})", path.display())]
    UnknownPrompt { path: PathBuf, expected: String },
    /// An output holds records but no manifest says how they were made.
    #[error("{}: {message}", path.display())]
    Resume { path: PathBuf, message: String },
    /// The teacher needs a model and none was given.
    #[error("the {teacher} teacher needs a model")]
    NoModel { teacher: &'static str },
    /// The rule teacher was given a record that is not a RAMP sample.
    #[error("{path}: record {record} is not a RAMP sample; the rule teacher fills masks only")]
    NotRamp { path: String, record: u64 },
}
