//! `corpus` turns corpus files into a stream of [`formats::Passage`] records: it reads MediaWiki
//! XML dumps (plain or `.bz2`), JSONL passages and pages, KILT pages and page folders, converts
//! wikitext to plain text with link anchors, and chunks pages into ~100-word passages.
//!
//! `corpus` never builds indexes and never talks to the network: it reads local files and
//! writes one passages file (with its run manifest) when asked to [`ingest`].
//!
//! Two entry points. [`open`] detects one input's [`Format`] and returns a [`CorpusReader`], an
//! iterator of passages with a running [`Tally`]. [`ingest`] is the whole pipeline: every
//! input opened first, passages streamed into a crash-safe output, a run manifest beside it.
//! Expected bad input (a malformed JSONL line, an invalid or truncated page) is counted in the
//! tally as a [`PageSkip`]; without [`Config::skip_bad`] it is also reported as a
//! [`CorpusError`] naming the file and the line or page, and an ingest stops there.
//!
//! Inside, readers (`dump`, `jsonl`, `pagedir`) turn bytes (`input`) into pages (`page`);
//! `wikitext` converts MediaWiki markup for the dump reader; `chunk` cuts pages into passages;
//! `reader` ties one input together and `ingest` many into one output.

mod chunk;
mod config;
mod detect;
mod dump;
mod error;
mod ingest;
mod input;
#[cfg(any(test, feature = "invariants"))]
pub mod invariants;
mod jsonl;
mod page;
mod pagedir;
mod reader;
mod tally;
mod wikitext;

pub use config::{Config, Format, Split};
pub use error::CorpusError;
pub use ingest::{IngestProgress, IngestReport, ingest};
pub use reader::{CorpusReader, open};
pub use tally::{PageSkip, Tally};
