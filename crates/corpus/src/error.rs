//! [`CorpusError`]: everything that can go wrong reading a corpus or ingesting it, said in the
//! corpus's own terms (files, lines, pages), never in a command line's.

use std::path::PathBuf;

use crate::Tally;

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
        /// `inside page 'X'` or `after page 'X', before </mediawiki>`.
        place: String,
        /// `: <decompressor error>` when the compressed stream itself is damaged, else empty.
        detail: String,
        complete: u64,
    },
    #[error("{path}: cannot tell the input format ({why})")]
    UnknownFormat { path: PathBuf, why: String },
    /// A name that is not one of a closed set (a format, a split mode).
    #[error("unknown {kind} '{name}' (expected {})", one_of(.expected))]
    UnknownName {
        kind: &'static str,
        name: String,
        expected: Vec<&'static str>,
    },
    /// Writing the passages or the run manifest failed.
    #[error("{0}")]
    Output(#[from] formats::FormatError),
    /// A bad record stopped an ingest: the passages before it were written to `out`, and the
    /// run manifest says the run is incomplete. `tally` counts what was read, the bad record
    /// included.
    #[error("{error}\n  the {} passages before it are in {}", .tally.passages, .out.display())]
    Stopped {
        error: Box<CorpusError>,
        tally: Tally,
        out: PathBuf,
    },
}

impl CorpusError {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        CorpusError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
