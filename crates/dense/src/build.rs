//! Embedding an index's passages into its `dense/` folder: staged in `dense.partial/`, resumed
//! there after a kill (the rows written stay; a torn last row is cut), and swapped in whole when
//! every passage has its row, so that a failed build leaves the previous vectors in place.

use std::{
    fs::{File, OpenOptions},
    io::{BufWriter, Write as _},
    path::{Path, PathBuf},
};

use index::Bm25Index;

use crate::{DENSE_DIR, DenseError, DenseMeta, Encoder, Storage};

/// How to embed an index's passages.
#[derive(Debug, Clone)]
pub struct DenseBuild {
    /// The encoder's folder (config.json, model.safetensors, tokenizer.json).
    pub model: PathBuf,
    pub storage: Storage,
    pub query_prefix: String,
    pub passage_prefix: String,
    /// Passages encoded at once.
    pub batch: usize,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseReport {
    /// Rows in the finished vectors.
    pub rows: u64,
    /// Rows an interrupted build had written, kept.
    pub resumed: u64,
    pub dim: usize,
}

/// Batches read at once and sorted by length, so that a batch's texts, padded to its longest,
/// are of much the same length.
const WINDOW: usize = 16;

/// The vectors of `texts`, in order, encoded `batch` at a time from the shortest to the longest.
fn encode_sorted(
    encoder: &Encoder,
    texts: &[String],
    batch: usize,
) -> Result<Vec<Vec<f32>>, DenseError> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut vectors = vec![Vec::new(); texts.len()];
    for chunk in order.chunks(batch) {
        let refs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        for (&i, vector) in chunk.iter().zip(encoder.encode(&refs)?) {
            vectors[i] = vector;
        }
    }
    Ok(vectors)
}

/// What an encoder reads of a passage.
pub(crate) fn passage_text(prefix: &str, title: &str, text: &str) -> String {
    format!("{prefix}{title}\n{text}")
}

/// Embeds every passage of the index in `index_dir` into `index_dir/dense`; `progress` is told
/// the rows done and the total after each batch.
pub fn build(
    index_dir: &Path,
    config: &DenseBuild,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DenseReport, DenseError> {
    let bm25 = Bm25Index::open(index_dir)?;
    let total = bm25.len();
    let model = std::path::absolute(&config.model).map_err(|e| DenseError::io(&config.model, e))?;
    let encoder = Encoder::load(&model)?;
    let meta = DenseMeta {
        model,
        dim: encoder.dim(),
        storage: config.storage,
        query_prefix: config.query_prefix.clone(),
        passage_prefix: config.passage_prefix.clone(),
        count: total,
    };
    let staging = index_dir.join(format!("{DENSE_DIR}.partial"));
    let resumed = resume(&staging, &meta)?;
    let (vectors, scales) = (staging.join("vectors.bin"), staging.join("scales.bin"));
    let append = |path: &Path| -> Result<BufWriter<File>, DenseError> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(BufWriter::new)
            .map_err(|e| DenseError::io(path, e))
    };
    let mut rows_out = append(&vectors)?;
    let mut scales_out = match config.storage {
        Storage::F32 => None,
        Storage::I8 => Some(append(&scales)?),
    };
    let mut done = resumed;
    progress(done, total);
    let mut passages = bm25.passages().skip(resumed as usize);
    let (mut row, mut scale) = (Vec::new(), Vec::new());
    let batch = config.batch.max(1);
    loop {
        let texts: Vec<String> = passages
            .by_ref()
            .take(batch * WINDOW)
            .map(|p| p.map(|p| passage_text(&meta.passage_prefix, &p.title, &p.text)))
            .collect::<Result<_, _>>()?;
        if texts.is_empty() {
            break;
        }
        for vector in encode_sorted(&encoder, &texts, batch)? {
            meta.storage.encode(&vector, &mut row, &mut scale);
        }
        // The scales first: a kill between the two leaves no row without its scale.
        if let Some(out) = &mut scales_out {
            out.write_all(&scale)
                .and_then(|()| out.flush())
                .map_err(|e| DenseError::io(&scales, e))?;
        }
        rows_out
            .write_all(&row)
            .and_then(|()| rows_out.flush())
            .map_err(|e| DenseError::io(&vectors, e))?;
        row.clear();
        scale.clear();
        done += texts.len() as u64;
        progress(done, total);
    }
    for (out, path) in [(Some(rows_out), &vectors), (scales_out, &scales)] {
        if let Some(out) = out {
            out.into_inner()
                .map_err(|e| DenseError::io(path, e.into_error()))?
                .sync_all()
                .map_err(|e| DenseError::io(path, e))?;
        }
    }
    let path = DenseMeta::path(&staging);
    let json = serde_json::to_string_pretty(&meta).expect("plain data");
    std::fs::write(&path, json + "\n").map_err(|e| DenseError::io(&path, e))?;
    std::fs::remove_file(settings(&staging)).map_err(|e| DenseError::io(&staging, e))?;
    index::replace_folder(&staging, &index_dir.join(DENSE_DIR))?;
    Ok(DenseReport {
        rows: done,
        resumed,
        dim: meta.dim,
    })
}

/// Where a staging folder records the settings its rows were made with.
fn settings(staging: &Path) -> PathBuf {
    staging.join("settings.json")
}

/// Prepares `staging` for a build with `meta`'s settings: the whole rows an interrupted build
/// with the same settings wrote are kept (the count returned), anything else is cleared.
fn resume(staging: &Path, meta: &DenseMeta) -> Result<u64, DenseError> {
    let recorded = std::fs::read_to_string(settings(staging))
        .ok()
        .and_then(|text| serde_json::from_str::<DenseMeta>(&text).ok());
    if recorded.as_ref() != Some(meta) {
        if staging.exists() {
            std::fs::remove_dir_all(staging).map_err(|e| DenseError::io(staging, e))?;
        }
        std::fs::create_dir_all(staging).map_err(|e| DenseError::io(staging, e))?;
        let path = settings(staging);
        let json = serde_json::to_string_pretty(meta).expect("plain data");
        std::fs::write(&path, json).map_err(|e| DenseError::io(&path, e))?;
        return Ok(0);
    }
    let len = |name: &str| std::fs::metadata(staging.join(name)).map_or(0, |m| m.len());
    let mut rows = len("vectors.bin") / meta.storage.row_bytes(meta.dim) as u64;
    if meta.storage == Storage::I8 {
        rows = rows.min(len("scales.bin") / 4);
    }
    let cut = |name: &str, bytes: u64| -> Result<(), DenseError> {
        let path = staging.join(name);
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .and_then(|f| f.set_len(bytes))
            .map_err(|e| DenseError::io(&path, e))
    };
    cut(
        "vectors.bin",
        rows * meta.storage.row_bytes(meta.dim) as u64,
    )?;
    if meta.storage == Storage::I8 {
        cut("scales.bin", rows * 4)?;
    }
    Ok(rows)
}
