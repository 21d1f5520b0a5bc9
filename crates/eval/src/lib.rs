//! Evaluates search agents on QA benchmarks the MaskSearch paper's way: benchmark loaders, the
//! harness that answers every question with each method (`direct`, RAG-PE, Agent-PE, a trained
//! `agent`, the `multi-agent` teacher), per-question scores, and reports (Markdown and one
//! self-contained HTML page laid out like the paper's Table 2).
//!
//! `eval` sees models only through `chat::ChatModel` and search only through
//! `search::Searcher`; it opens no index, loads no weights and never evaluates model output.
//! Scores come from `metrics` (the one implementation), so eval, the verifier and rewards agree.
//!
//! # Scoring, stated once
//!
//! Every answer score compares [`metrics::normalize_answer`]ed strings (lower-case, punctuation
//! removed, the articles `a`/`an`/`the` removed, whitespace collapsed — the SQuAD / HotpotQA
//! official scripts' normalisation) and takes the **maximum over the gold aliases**. A dataset's
//! score is the **mean over its questions** (a failed question counts, with score 0), ×100. The
//! headline is the paper's token-level recall; EM, F1, cover-EM, sub-EM and, when asked, the LLM
//! judge (ACC_L) are reported beside it. "Avg" is the mean of the dataset scores.
//!
//! [`rescore`] can score under another named [`metrics::Normalization`]: under `r1-searcher`,
//! R1-Searcher's own, EM, F1, cover-EM and sub-EM are its script's `em`, `f1`, `cover_em_1` (its
//! ACC_R) and `cover_em_2`, and reports say so; under SQuAD's, cover-EM applies the same rule to
//! differently normalised text and reports do not call it ACC_R.

pub mod answer;
pub mod bench;
mod config;
pub mod method;
pub mod paper;
pub mod prediction;
pub mod report;
pub mod rescore;
pub mod run;
pub mod summary;

use std::path::PathBuf;

pub use bench::{Benchmark, load};
pub use config::EvalConfig;
pub use method::Method;
pub use metrics::Normalization;
pub use prediction::Prediction;
pub use rescore::{FieldMap, Judging, Rescored, rescore, rescore_files};
pub use run::{EvalOptions, EvalReport, Tally, run};
pub use summary::{Cell, Summary};

/// What stops an eval run or a report. A question whose model call or search fails is not an
/// error: it is recorded as failed, with its reason.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Format(#[from] formats::FormatError),
    /// A benchmark or predictions file whose shape no loader knows.
    #[error("{}: {message}", path.display())]
    UnknownShape { path: PathBuf, message: String },
    /// A method that searches was asked for with no search backend.
    #[error("the {method} method searches, and no search backend was given")]
    NoSearcher { method: &'static str },
    /// A rescoring would write over one of the files it reads.
    #[error("{}: rescoring would write over this input", path.display())]
    RescoreOverInput { path: PathBuf },
    /// The paper has no rows for this backbone.
    #[error("the paper reports no rows for {backbone:?}; it reports {known}")]
    UnknownBackbone { backbone: String, known: String },
}

impl EvalError {
    fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        formats::FormatError::io(path, error).into()
    }
}
