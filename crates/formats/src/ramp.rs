//! `RampSample`: one Retrieval-Augmented Mask Prediction training record.

use serde::{Deserialize, Serialize};

/// The token that replaces a masked span in a RAMP query (lower case, square brackets, no
/// index, as the original writes it).
pub const MASK: &str = "[mask]";

/// The instruction appended to every English masked passage (as in the original `gen_qa.py`).
pub const RAMP_INSTRUCTION_EN: &str =
    "Fill in all the [mask] and output the whole paragraph without changing its format.";
/// The Chinese instruction of the original.
pub const RAMP_INSTRUCTION_ZH: &str = "补充所有的[mask]，并重新输出，要求格式不能发生变化。";

/// A RAMP record; a superset of the original MaskSearch `gen_qa.py` output, so tooling written
/// for that file reads ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RampSample {
    /// Empty in files written by the original, which had no ids.
    #[serde(default)]
    pub id: String,
    /// The masked passage, a blank line, then the instruction.
    pub query: String,
    /// The original passage.
    pub answer: String,
    pub ext: RampExt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RampExt {
    /// Number of `[mask]` tokens in the query (the curriculum level).
    pub mask_num: usize,
    /// The masked spans, in the order their `[mask]` appears.
    pub masks: Vec<String>,
    /// Every candidate span that survived filtering.
    pub entities: Vec<String>,
    /// Always `"wiki"` for Wikipedia-derived passages, as in the original.
    pub source: String,
    pub title: String,
    /// Empty in files written by the original.
    #[serde(default)]
    pub passage_id: String,
    /// Which span sources produced the candidates, e.g. `"anchor+date"` or `"llm"` (`+ppl` with
    /// difficulty scoring).
    #[serde(default)]
    pub strategy: String,
    /// Difficulty of the chosen masks (mean negative log-likelihood per token under the local
    /// model; higher = harder to guess without search); `None` without difficulty scoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<f64>,
    /// Where each mask's span came from (`anchor`, `title`, `llm`, `date`, `number`, `name`),
    /// parallel to `masks`; empty in files written by the original.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask_kinds: Vec<String>,
    /// Per-mask difficulty (mean negative log-likelihood per token), parallel to `masks`;
    /// empty without difficulty scoring.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask_difficulty: Vec<f64>,
    /// Whether the title was put in front of the passage (as a first line) because the passage
    /// does not mention it; the answer then starts with that line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub title_prefixed: bool,
}
