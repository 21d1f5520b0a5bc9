//! The student format, defined once: what a search agent trained on masksearch data reads and
//! writes, and how its searches are answered. `export` writes it, the agent runtime speaks it,
//! rewards grade it and the UI shows it — all through this crate, so what a student sees in
//! training is byte for byte what its runtime gives it (the *replay* property, checked by
//! `export`).
//!
//! Never runs a model and never opens an index: search comes in through `search::Searcher`.
//!
//! Two styles of the same trajectory ([`Style`]):
//! - **tags** (the default), Search-R1's plain text: one user turn holding the instruction and
//!   the question ([`Template`]); each assistant turn thinks in `<think>…</think>` and ends with
//!   one action, `<search>…</search>` or `<answer>…</answer>` ([`turn::parse_turn`]); a search
//!   holds one query, or several, one per line ([`turn::search_element`]); the runtime answers it
//!   with `<information>…</information>` as the next user turn ([`observation::observe`]); a turn
//!   with no action gets [`turn::INVALID_ACTION_OBSERVATION`].
//! - **tools**, the original MaskSearch record: the same searches as calls of the `web_search`
//!   tool with a `queries` list ([`tools`]), answered by the same information block.

#[cfg(feature = "invariants")]
pub mod invariants;
pub mod observation;
pub mod prompt;
pub mod tags;
pub mod tools;
pub mod turn;

pub use observation::{Observation, information_block, observe, render_docs};
pub use prompt::{SEARCH_R1_TEMPLATE, STUDENT_TEMPLATE, Template, TemplateError};
pub use turn::{
    Action, INVALID_ACTION_OBSERVATION, STOPS, Turn, parse_turn, parse_written, search_element,
};

/// Documents per search unless a flag says otherwise: Search-R1's `topk` (3).
pub const DEFAULT_TOPK: usize = 3;

/// Tokens one student turn may take unless a flag says otherwise: Search-R1's 500 (verl's
/// agent loops, integrations/verl, ask for at most this a generation too).
pub const MAX_TOKENS_PER_TURN: u32 = 500;

/// How a search turn is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Style {
    /// Search-R1's tags in plain text; searches are `<search>` elements.
    #[default]
    Tags,
    /// The original's record: searches are calls of the `web_search` tool.
    Tools,
}

impl Style {
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Tags => "tags",
            Style::Tools => "tools",
        }
    }
}

impl std::str::FromStr for Style {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tags" => Ok(Style::Tags),
            "tools" => Ok(Style::Tools),
            _ => Err(format!(
                "unknown student style {s:?}; expected tags or tools"
            )),
        }
    }
}
