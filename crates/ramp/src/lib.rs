//! Turns passages into RAMP (Retrieval-Augmented Mask Prediction) samples: finds salient spans,
//! masks some of them and keeps the original passage as the answer.
//!
//! `ramp` never reads corpora in their raw formats, never talks to a model except through the
//! `chat` traits, and never decides how samples are trained on: it takes `Passage`s and writes
//! `RampSample`s.
//!
//! The pieces, in the order a passage meets them:
//! - [`spans`]: offline candidates (link anchors, a gazetteer of the corpus's titles, dates,
//!   numbers, capitalised names);
//! - [`extract`]: the paper's few-shot "knowledge entities" prompt and a validating parser of
//!   its answers;
//! - [`difficulty`]: span log-likelihood under a local model (`--difficulty ppl`);
//! - [`mask`]: the masking rules, one pure function from a passage and its candidates to a
//!   sample or a counted skip;
//! - [`curriculum`]: how many masks each sample gets;
//! - [`run`]: the resumable, parallel, sharded run over a corpus;
//! - [`stats`]: counters for a run and for any RAMP file.

pub mod curriculum;
pub mod difficulty;
pub mod extract;
pub mod mask;
pub mod run;
pub mod spans;
pub mod stats;

use std::{fmt, str::FromStr};

pub use curriculum::LevelMix;
pub use mask::{MaskConfig, Outcome, Skip, fill_masks};
pub use run::{RampConfig, RunOptions, RunReport, run};
pub use spans::{Gazetteer, Span, SpanKind, SpanSet};
pub use stats::RampStats;

/// What stops a RAMP run. Bad passages and bad model answers are not errors: they are
/// counted skips (see [`Skip`]).
#[derive(Debug, thiserror::Error)]
pub enum RampError {
    #[error(transparent)]
    Format(#[from] formats::FormatError),
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("{path}: {message}")]
    Resume { path: String, message: String },
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
}

impl FromStr for Lang {
    type Err = RampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "en" => Ok(Lang::En),
            "zh" => Ok(Lang::Zh),
            _ => Err(RampError::Config(format!(
                "unknown language {s:?}; expected en or zh"
            ))),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        })
    }
}
