//! `corpus` turns corpus files into a stream of [`formats::Passage`] records: it reads MediaWiki
//! XML dumps (plain or `.bz2`), JSONL passages and pages, KILT pages and page folders, converts
//! wikitext to plain text with link anchors, and chunks pages into ~100-word passages.
//!
//! `corpus` never builds indexes, never writes output files and never talks to the network: it
//! only reads local files and hands back passages plus a [`Summary`] of what it read and skipped.
//!
//! The entry point is [`open`]: it detects the input's [`Format`] and returns a [`Source`], an
//! iterator of passages. Expected bad input (a malformed JSONL line, an invalid or truncated
//! page) is counted in the summary; without [`Config::skip_bad`] it is also yielded as an
//! [`CorpusError`] naming the file and the line or page, and the caller decides whether to stop.

mod chunk;
mod detect;
mod dump;
mod input;
mod jsonl;
mod page;
mod pagedir;
mod source;
mod summary;
mod wikitext;

use std::{fmt, path::PathBuf, str::FromStr};

use serde::{Deserialize, Serialize};

pub use source::{Source, open};
pub use summary::{Skip, Summary};

/// The kinds of input `corpus` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A MediaWiki XML dump (`*-pages-articles*.xml[.bz2]`).
    Xml,
    /// JSONL `{"id", "contents"}` with contents `"Title"\ntext` (Search-R1 / FlashRAG wiki-18):
    /// already passages.
    Contents,
    /// JSONL `{"id", "title", "text", "anchors"?}` that is already passages (this crate's output).
    Passages,
    /// JSONL `{"id"?, "title", "text"}` whole pages, paragraphs separated by newlines.
    Pages,
    /// KILT page JSONL `{"wikipedia_title", "text": [paragraphs], "wikipedia_id"?}`.
    Kilt,
    /// A directory with one plain-text file per page (file name = title), one paragraph a line.
    Dir,
}

impl Format {
    /// The name accepted by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Xml => "xml",
            Format::Contents => "contents",
            Format::Passages => "passages",
            Format::Pages => "pages",
            Format::Kilt => "kilt",
            Format::Dir => "dir",
        }
    }

    /// Whether records of this format are already passages (kept as they are by [`Split::Auto`]).
    pub fn is_passages(self) -> bool {
        matches!(self, Format::Contents | Format::Passages)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "xml" | "dump" | "mediawiki" => Format::Xml,
            "contents" | "wiki18" | "wiki-18" | "flashrag" | "search-r1" => Format::Contents,
            "passages" => Format::Passages,
            "pages" => Format::Pages,
            "kilt" => Format::Kilt,
            "dir" | "masksearch" => Format::Dir,
            _ => {
                return Err(format!(
                    "unknown format '{s}' (expected xml, contents, passages, pages, kilt or dir)"
                ));
            }
        })
    }
}

/// When pages are cut into passages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// Pages are split; inputs that are already passages keep their ids and text.
    #[default]
    Auto,
    /// Every record is split, passages too (ids become `<id>#<n>`).
    Always,
    /// Nothing is split: a page becomes one passage whose id is the page id.
    Never,
}

impl FromStr for Split {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Split::Auto),
            "always" => Ok(Split::Always),
            "never" => Ok(Split::Never),
            _ => Err(format!(
                "unknown split mode '{s}' (expected auto, always or never)"
            )),
        }
    }
}

/// How [`open`] reads and chunks an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The input format; `None` detects it from the path and the first record.
    pub format: Option<Format>,
    pub split: Split,
    /// Target passage length in words (passages end on sentence boundaries near it).
    pub words: usize,
    /// Skip and count bad records instead of reporting them as errors.
    pub skip_bad: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format: None,
            split: Split::Auto,
            words: 100,
            skip_bad: false,
        }
    }
}

/// Everything that can go wrong reading a corpus.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// Reading failed (missing file, permissions, a disk error). The I/O error is part of the
    /// message rather than a `source`, so error chains print it once.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A JSONL line that is not valid JSON or lacks a field the format needs.
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// A page that cannot be read (invalid XML, not UTF-8).
    #[error("{path}: page '{title}': {message}")]
    BadPage {
        path: PathBuf,
        title: String,
        message: String,
    },
    /// The input stops before its end: a cut download or a damaged `.bz2`.
    #[error(
        "{path}: input ends {place} (truncated download?){detail}; {complete} complete pages before it"
    )]
    Truncated {
        path: PathBuf,
        /// `inside page 'X'` or `after the last page, before </mediawiki>`.
        place: String,
        /// `: <decompressor error>` when the compressed stream itself is damaged, else empty.
        detail: String,
        complete: u64,
    },
    #[error("{path}: cannot tell the input format ({why})")]
    UnknownFormat { path: PathBuf, why: String },
}

impl CorpusError {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        CorpusError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}
