//! Record types (`Passage`, `RampSample`, `QaExample`, `Trajectory`, `RunManifest`) and the
//! resumable JSONL run log.
//!
//! `formats` never talks to the network and never knows where records come from: it only defines
//! their shape on disk, the [`PassageSource`] seam that streams them, how a run appends them
//! safely, resumes after a crash, splits work into shards and merges them back, and the one stable hash that
//! shards and per-record seeds use.

mod hash;
mod merge;
mod passage;
mod qa;
mod ramp;
mod runlog;
mod shard;
mod source;
pub mod staged;
mod trajectory;

pub use hash::{seed_for, stable_hash};
pub use merge::{MergeError, Shards};
pub use passage::{Anchor, Passage};
pub use qa::QaExample;
pub use ramp::{MASK, RAMP_INSTRUCTION_EN, RAMP_INSTRUCTION_ZH, RampExt, RampSample};
pub use runlog::{CHECKPOINT_EVERY, JsonlReader, Run, RunLog, RunManifest, read_jsonl};
pub use shard::{Shard, ShardParseError};
pub use source::{JsonlPassages, PassageSource, Passages};
pub use staged::{Staged, StagedLines, commit_all, remove_if_present, write_whole};
pub use trajectory::{
    ChatmlMessage, ChatmlRecord, Note, Rejection, SearchUse, Step, StepKind, Task, TaskKind,
    Teacher, TokenUse, Trajectory, Verdict,
};

/// Everything that can go wrong reading or writing records.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The I/O error is part of the message (not a `source`), so `{:#}` chains print it once.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: String,
        line: u64,
        message: String,
    },
    /// A resumed output whose manifest records other settings or inputs.
    #[error(
        "{path}: this output was started with different settings ({field}: was {was}, now {now})"
    )]
    ManifestMismatch {
        path: String,
        field: String,
        was: String,
        now: String,
    },
    /// An output to resume that holds records but no manifest saying how they were made.
    #[error("{path}: holds records but no manifest beside it says how they were made")]
    NoManifest { path: String },
    /// A record store that is not a file (an index) failed to produce the next record.
    #[error("{store}: {error}")]
    Store {
        store: String,
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl FormatError {
    /// An I/O error on `path`: the one way every crate reports one (their errors wrap this).
    pub fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        FormatError::Io {
            path: path.display().to_string(),
            error,
        }
    }
}
