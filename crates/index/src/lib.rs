//! A BM25 index over passages (tantivy): build it from any stream of `Passage`s, then query it
//! through `search::Searcher`.
//!
//! `index` never reads corpus files or talks to the network: it takes `Passage` iterators from
//! its caller and answers queries. BM25 uses tantivy's fixed k1 = 1.2, b = 0.75 (pyserini, which
//! Search-R1 uses, defaults to k1 = 0.9, b = 0.4), so rankings differ slightly from theirs.

mod analyzer;
mod build;
mod directory;
#[cfg(test)]
mod fixtures;
mod impact;
mod meta;
mod query;
mod schema;

pub use analyzer::Analyzer;
pub use build::{BuildConfig, BuildReport, build, replace_folder};
pub use meta::IndexMeta;
pub use query::{Bm25Index, QueryMode};

use std::path::PathBuf;

/// What stops opening, building or querying an index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A build was asked to write where an index (or anything else) already is.
    #[error("{}: already exists", path.display())]
    Exists { path: PathBuf },
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: not a masksearch index (no {file})", path.display())]
    NotAnIndex { path: PathBuf, file: &'static str },
    #[error("{}: unreadable index metadata: {message}", path.display())]
    BadMeta { path: PathBuf, message: String },
    /// The passages being indexed could not be read; the build was abandoned.
    #[error("reading the passages: {0}")]
    Input(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}

impl IndexError {
    pub(crate) fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        IndexError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}
