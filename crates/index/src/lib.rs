//! A BM25 index over passages (tantivy): build it from any stream of `Passage`s, then query it
//! through `search::Searcher`.
//!
//! `index` never reads corpus files or talks to the network: it takes `Passage` iterators from
//! its caller and answers queries. BM25 uses tantivy's fixed k1 = 1.2, b = 0.75 (pyserini, which
//! Search-R1 uses, defaults to k1 = 0.9, b = 0.4), so rankings differ slightly from theirs.

mod analyzer;
mod build;
mod meta;
mod query;

pub use analyzer::Language;
pub use build::{BuildConfig, BuildReport, build};
pub use meta::IndexMeta;
pub use query::Bm25Index;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{path}: {message}")]
    Dir { path: PathBuf, message: String },
    #[error("{path}: not a masksearch index (no {file}); build one with `masksearch index`")]
    NotAnIndex { path: PathBuf, file: &'static str },
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
}
