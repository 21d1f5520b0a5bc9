//! Building an index from a stream of passages.

use std::path::{Path, PathBuf};

use formats::Passage;
use tantivy::{
    Index, TantivyDocument,
    schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions},
};

use crate::{IndexError, Language, meta::IndexMeta};

/// How to build an index.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    pub language: Language,
    /// Indexing threads (tantivy segments are built in parallel).
    pub threads: usize,
    /// Memory budget per indexing thread, in MiB.
    pub memory_mb: usize,
    /// Recorded in the index metadata (e.g. the passages file).
    pub source: String,
    /// Replace an existing index at the destination.
    pub overwrite: bool,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            language: Language::En,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mb: 128,
            source: String::new(),
            overwrite: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildReport {
    pub passages: u64,
}

/// The fields of a masksearch index: `id` (exact, stored), `title` and `text` (analysed, stored).
#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub title: Field,
    pub text: Field,
}

pub(crate) fn schema(language: Language) -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analysed = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(language.tokenizer_name())
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        title: builder.add_text_field("title", analysed.clone()),
        text: builder.add_text_field("text", analysed),
    };
    (builder.build(), fields)
}

/// Builds an index in `dir` from `passages`, calling `progress` with the running count.
///
/// The index is written to a sibling staging directory and moved into place only once complete,
/// so an interrupted build never leaves something at `dir` that looks like an index.
pub fn build(
    dir: &Path,
    passages: impl Iterator<Item = Passage>,
    config: &BuildConfig,
    mut progress: impl FnMut(u64),
) -> Result<BuildReport, IndexError> {
    let dir_error = |path: &Path, e: std::io::Error| IndexError::Dir {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if dir.exists() && !config.overwrite {
        return Err(IndexError::Dir {
            path: dir.to_path_buf(),
            message: "already exists (pass --overwrite to replace it)".into(),
        });
    }
    let staging = staging_dir(dir);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| dir_error(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| dir_error(&staging, e))?;

    let (schema, fields) = schema(config.language);
    let index = Index::create_in_dir(&staging, schema)?;
    config.language.register(&index);
    let threads = config.threads.max(1);
    let mut writer = index.writer_with_num_threads::<TantivyDocument>(
        threads,
        threads * config.memory_mb.max(16) * 1024 * 1024,
    )?;
    let mut count = 0u64;
    for passage in passages {
        let mut doc = TantivyDocument::new();
        doc.add_text(fields.id, &passage.id);
        doc.add_text(fields.title, &passage.title);
        doc.add_text(fields.text, &passage.text);
        writer.add_document(doc)?;
        count += 1;
        if count.is_multiple_of(1024) {
            progress(count);
        }
    }
    writer.commit()?;
    writer.wait_merging_threads()?;
    progress(count);

    IndexMeta {
        passages: count,
        language: config.language,
        source: config.source.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
    .save(&staging)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| dir_error(dir, e))?;
    }
    std::fs::rename(&staging, dir).map_err(|e| dir_error(dir, e))?;
    Ok(BuildReport { passages: count })
}

fn staging_dir(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}
