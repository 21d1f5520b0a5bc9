//! `corpus` turns corpus files into a stream of [`formats::Passage`] records: it reads MediaWiki
//! XML dumps (plain or `.bz2`), JSONL passages and pages, KILT pages and page folders, converts
//! wikitext to plain text with link anchors, and chunks pages into ~100-word passages.
//!
//! `corpus` never builds indexes, never writes output files and never talks to the network: it
//! only reads local files and hands back passages plus a [`Summary`] of what it read and skipped.
//!
//! The entry point is [`open`]: it detects one input's [`Format`] and returns a
//! [`CorpusReader`], an iterator of passages with a running [`Summary`]. Expected bad input (a
//! malformed JSONL line, an invalid or truncated page) is counted in the summary as a
//! [`PageSkip`]; without [`Config::skip_bad`] it is also yielded as a [`CorpusError`] naming the
//! file and the line or page, and the caller decides whether to stop.
//!
//! Inside, readers (`dump`, `jsonl`, `pagedir`) turn bytes (`input`) into pages (`page`);
//! `wikitext` converts MediaWiki markup for the dump reader; `chunk` cuts pages into passages;
//! `reader` ties one input together.

mod chunk;
mod config;
mod detect;
mod dump;
mod error;
mod input;
mod jsonl;
mod page;
mod pagedir;
mod reader;
mod summary;
mod wikitext;

pub use config::{Config, Format, Split};
pub use error::CorpusError;
pub use reader::{CorpusReader, open};
pub use summary::{PageSkip, Summary};
