//! Turns passages into RAMP (Retrieval-Augmented Mask Prediction) samples: finds salient spans,
//! masks some of them and keeps the original passage as the answer.
//!
//! `ramp` never reads corpora in their raw formats, never talks to a model except through the
//! `chat` traits, never starts an async runtime of its own (the run is an `async fn` on the
//! caller's runtime), and never decides how samples are trained on: it takes `Passage`s and
//! writes `RampSample`s.
//!
//! The pieces, in the order a passage meets them:
//! - [`lexicon`]: what the corpus says about its words (common words, sentence case), learnt in
//!   a first pass, so that offline sources propose entities rather than everyday words;
//! - [`spans`]: offline candidates (link anchors, a gazetteer of the corpus's titles, dates,
//!   numbers, capitalised names) and the rule every span obeys ([`spans::tidy`]);
//! - [`extract`]: the paper's few-shot "knowledge entities" prompt and a validating parser of
//!   its answers;
//! - [`difficulty`]: span log-likelihood under a local model ([`Difficulty::Ppl`]);
//! - [`mask`]: the masking rules, one pure function from a passage and its candidates to a
//!   sample or a counted [`SampleSkip`];
//! - [`curriculum`]: how many masks each sample gets;
//! - [`run`]: the resumable, parallel, sharded run over a corpus;
//! - [`stats`]: counters for a run and for any RAMP file.

pub mod curriculum;
pub mod difficulty;
pub mod extract;
#[cfg(any(test, feature = "invariants"))]
pub mod invariants;
pub mod lexicon;
pub mod mask;
pub mod run;
pub mod spans;
pub mod stats;

use std::{fmt, str::FromStr};

pub use curriculum::{LevelMix, LevelRule};
pub use difficulty::Difficulty;
pub use lexicon::Lexicon;
pub use mask::{MaskConfig, Masked, SampleSkip, fill_masks};
pub use run::{RampConfig, RampReport, RunOptions, run};
pub use spans::{Gazetteer, Span, SpanKind, SpanSet};
pub use stats::Tally;

/// What stops a RAMP run, or rejects a setting. Bad passages and bad model answers are not
/// errors: they are counted skips (see [`SampleSkip`]).
#[derive(Debug, thiserror::Error)]
pub enum RampError {
    #[error(transparent)]
    Format(#[from] formats::FormatError),
    #[error("a sample holds 1 to {max} masks, not {got}")]
    BadMaskCount { got: usize, max: usize },
    #[error("curriculum {spec:?}: {reason}")]
    BadCurriculum { spec: String, reason: &'static str },
    #[error(
        "unknown span source {name:?}; expected some of anchor, title, date, number, name, llm"
    )]
    UnknownSpanSource { name: String },
    #[error("no span source named")]
    NoSpanSource,
    #[error("unknown language {name:?}; expected en or zh")]
    UnknownLanguage { name: String },
    #[error("unknown difficulty {name:?}; expected none or ppl")]
    UnknownDifficulty { name: String },
    #[error("LLM span extraction needs a chat model, and none was given")]
    MissingModel,
    #[error("difficulty scoring needs a token scorer (a local model), and none was given")]
    MissingScorer,
    #[error(
        "{path}: holds {records} records but its manifest counted {counted}; it was changed after the run"
    )]
    ChangedOutput {
        path: String,
        records: u64,
        counted: u64,
    },
    #[error("{path}: record {record} is not a RAMP sample: {message}")]
    NotASample {
        path: String,
        record: u64,
        message: String,
    },
    #[error("title gazetteer: {0}")]
    Gazetteer(#[from] aho_corasick::BuildError),
    #[error("model: {0}")]
    Model(#[from] chat::ChatError),
}

/// The language of the passages: picks the instruction, the LLM prompt and the date/number
/// patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// The instruction appended to the masked passage.
    pub fn instruction(self) -> &'static str {
        match self {
            Lang::En => formats::RAMP_INSTRUCTION_EN,
            Lang::Zh => formats::RAMP_INSTRUCTION_ZH,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }
}

impl FromStr for Lang {
    type Err = RampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Lang::En, Lang::Zh]
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| RampError::UnknownLanguage { name: s.into() })
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
