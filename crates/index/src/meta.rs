//! `IndexMeta`: what masksearch records about an index beside tantivy's own files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Analyzer, IndexError};

pub(crate) const META_FILE: &str = "masksearch-index.json";

/// Written into the index directory when a build completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMeta {
    pub passages: u64,
    /// How text was analysed (written `language` by earlier versions).
    #[serde(alias = "language")]
    pub analyzer: Analyzer,
    /// Where the passages came from, as given by the caller.
    #[serde(alias = "source")]
    pub origin: String,
    pub version: String,
}

impl IndexMeta {
    pub(crate) fn path(dir: &Path) -> PathBuf {
        dir.join(META_FILE)
    }

    pub fn load(dir: &Path) -> Result<IndexMeta, IndexError> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path).map_err(|_| IndexError::NotAnIndex {
            path: dir.to_path_buf(),
            file: META_FILE,
        })?;
        serde_json::from_str(&text).map_err(|e| IndexError::BadMeta {
            path,
            message: e.to_string(),
        })
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<(), IndexError> {
        let path = Self::path(dir);
        let text = serde_json::to_string_pretty(self).expect("IndexMeta serialises");
        std::fs::write(&path, text).map_err(|e| IndexError::io(&path, e))
    }
}
