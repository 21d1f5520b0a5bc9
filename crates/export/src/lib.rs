//! Training data out of masksearch: LLaMA-Factory sharegpt files (with the `dataset_info.json`
//! entries that name them) from accepted trajectories for SFT, and verl parquet in Search-R1's
//! schema from RAMP samples and questions for RL.
//!
//! `export` never runs a model or a search and never changes its inputs. Every file it writes is
//! staged beside its destination (`<file>.partial`), synced and renamed into place only after
//! every input was read, so an export that fails or is killed while reading leaves the previous
//! files as they were. The files are renamed one after another, with the manifest saved as
//! incomplete before the first rename and as complete after the last: a folder whose manifest
//! says `"complete": false` holds a mix of two exports (`formats::Staged`, the one writer of
//! whole files). Arrow and parquet are used here and nowhere
//! else in the workspace; rows are written in bounded batches, so memory stays flat however
//! large the input.
//!
//! - [`export_sft`]: trajectories → `<name>.train.jsonl` / `<name>.val.jsonl` (sharegpt) +
//!   `dataset_info.json` + `<name>.manifest.json`, in one of the student format's two
//!   [`Style`]s (tags by default, what the runtime speaks). Every example *replays*: its
//!   assistant turns, read by the runtime's own parser, ask for exactly the searches whose
//!   results the next turns hold; one that does not is skipped as `not_replayable`.
//! - [`export_rl`]: RAMP samples and questions → `train.parquet` / `test.parquet` (or one
//!   train file per mask count) + `manifest.json`, ordered by a [`Curriculum`].

#[cfg(test)]
mod fixtures;
mod input;
mod rl;
mod select;
mod sft;
mod sharegpt;
mod skips;
mod verl;

use std::path::PathBuf;

pub use rl::{Curriculum, RlConfig, RlReport, export_rl};
pub use select::{Selection, held_out, is_correct, search_rounds};
pub use sft::{SftConfig, SftReport, export_sft};
pub use sharegpt::{Example, Role, Turn, check_alignment, example};
pub use skips::{Skip, Skips};
pub use student::{Style, Template};
pub use verl::verl_schema;

/// How far an export has got, for progress displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Input records read (lines, blank lines aside).
    pub read: u64,
    /// Records written to an output file (or, for a curriculum, set aside to be written).
    pub written: u64,
    /// Records skipped: bad input or left out by a filter.
    pub skipped: u64,
}

/// What stops an export. Bad records are not errors: they are counted [`Skip`]s.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Format(#[from] formats::FormatError),
    #[error("{}: writing parquet: {message}", path.display())]
    Parquet { path: PathBuf, message: String },
    /// The output folder holds a `dataset_info.json` that is not a JSON object.
    #[error(
        "{}: not a dataset_info.json (LLaMA-Factory's file is one JSON object naming datasets)",
        path.display()
    )]
    NotADatasetInfo { path: PathBuf },
    /// A curriculum orders by mask count, and a question has none.
    #[error("{path}:{line}: a question has no mask count; a curriculum orders RAMP samples only")]
    CurriculumNeedsMasks { path: String, line: u64 },
    /// Every record was skipped: no file was written.
    #[error("nothing to export: none of the {read} records read was kept ({skips})")]
    Empty { read: u64, skips: String },
}

impl ExportError {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        formats::FormatError::io(path, error).into()
    }
}
