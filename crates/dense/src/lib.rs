//! Dense and hybrid retrieval over a BM25 index's passages.
//!
//! `index --dense MODEL` embeds every passage of a built index with a sentence encoder
//! ([`Encoder`]: any BERT-family Hugging Face folder; all-MiniLM-L6-v2 by default) into the
//! index's `dense/` folder ([`build`]; or takes the rows of a faiss flat index of the same
//! passages, [`import`]), one row per passage in the index's order, so a row's
//! position is the passage's. [`DenseIndex`] answers a query with the rows nearest its vector
//! (an exact scan of the memory-mapped rows, or, when the build made one, a walk of an HNSW graph
//! of them or of their principal components, [`Graph`]); [`Hybrid`] fuses the BM25 and the dense lists by
//! reciprocal rank. Both are [`search::Searcher`]s, so `/retrieve`, the agents and eval use them
//! as they use BM25.

mod bert;
mod build;
mod encoder;
mod faiss;
mod graph;
mod projection;
mod searcher;
mod store;

use std::path::{Path, PathBuf};

pub use build::{DenseBuild, DenseReport, Phase, WINDOW_BATCHES, build, import, passage_text};
pub use encoder::{Encoder, Pooling, prepare_process};
pub use graph::{Graph, GraphParams, Reduced, Repair, Tuning};
pub use projection::Components;
pub use searcher::{DenseIndex, Fusion, Hybrid};
pub use store::{Scored, Storage, Vectors};

/// The folder of an index that holds its dense vectors.
pub const DENSE_DIR: &str = "dense";

/// What stops building or opening dense vectors.
#[derive(Debug, thiserror::Error)]
pub enum DenseError {
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The encoder's folder cannot be loaded or run.
    #[error("model {}: {message}", dir.display())]
    Model { dir: PathBuf, message: String },
    /// The HNSW graph cannot be built, opened or searched, or is not the graph of the rows.
    #[error("{}: {message}; build it again with `masksearch index --dense MODEL --hnsw`", path.display())]
    Graph { path: PathBuf, message: String },
    #[error("{}: damaged: {message}", path.display())]
    Damaged { path: PathBuf, message: String },
    #[error("{}: no dense vectors; build them with `masksearch index --dense MODEL`", dir.display())]
    Missing { dir: PathBuf },
    /// The vectors were made for another build of the index.
    #[error("{}: the dense vectors are of another build of this index ({message}); build them again with `masksearch index --dense MODEL`", dir.display())]
    Stale { dir: PathBuf, message: String },
    /// The encoder the vectors were made with is no longer where the build found it.
    #[error("{}: the encoder these vectors were made with, {}, is not there (moved?): put it back, or write where it is now into the file's \"model\"", meta.display(), model.display())]
    ModelMoved { meta: PathBuf, model: PathBuf },
    #[error(transparent)]
    Index(#[from] index::IndexError),
    #[error(transparent)]
    Search(#[from] search::SearchError),
}

impl DenseError {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> Self {
        DenseError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub(crate) fn model(dir: &Path, message: String) -> Self {
        DenseError::Model {
            dir: dir.to_path_buf(),
            message,
        }
    }
}

/// What `dense/meta.json` records: how the rows were made, so that queries are encoded the same
/// way, and which index they belong to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DenseMeta {
    /// The encoder's folder, absolute.
    pub model: PathBuf,
    pub dim: usize,
    pub storage: Storage,
    /// Put before each query and each passage (e5: `query: ` and `passage: `).
    pub query_prefix: String,
    pub passage_prefix: String,
    /// Rows: the index's passages when the build finished.
    pub count: u64,
    /// The faiss flat index the rows were taken from, if not embedded here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    /// The HNSW graph beside the rows (`graph.usearch`) and how it was built; without one a
    /// query scans every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphParams>,
}

impl DenseMeta {
    pub(crate) fn path(dense: &Path) -> PathBuf {
        dense.join("meta.json")
    }

    pub(crate) fn load(dense: &Path) -> Result<DenseMeta, DenseError> {
        let path = DenseMeta::path(dense);
        let text = std::fs::read_to_string(&path).map_err(|e| DenseError::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| DenseError::Damaged {
            path,
            message: e.to_string(),
        })
    }
}
