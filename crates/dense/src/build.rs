//! Filling an index's `dense/` folder, by embedding its passages ([`build`]) or by taking the
//! rows of a faiss flat index made from the same passages ([`import`]): staged in
//! `dense.partial/`, resumed there after a kill (the rows written stay; a torn last row is cut),
//! and swapped in whole when every passage has its row, so that a failed build leaves the
//! previous vectors in place.

use std::{
    fs::{File, OpenOptions},
    io::{BufWriter, Write as _},
    path::{Path, PathBuf},
};

use index::Bm25Index;

use crate::{DENSE_DIR, DenseError, DenseMeta, Encoder, Storage, faiss::FaissFlat};

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

/// Rows of a faiss index copied between two progress reports.
const IMPORT_CHUNK: usize = 4096;

/// What an encoder reads of a passage.
pub(crate) fn passage_text(prefix: &str, title: &str, text: &str) -> String {
    format!("{prefix}{title}\n{text}")
}

/// The index in `index_dir`, the encoder of `config` and what the vectors' meta will say.
fn prepare(
    index_dir: &Path,
    config: &DenseBuild,
    source: Option<PathBuf>,
) -> Result<(Bm25Index, Encoder, DenseMeta), DenseError> {
    let bm25 = Bm25Index::open(index_dir)?;
    let model = std::path::absolute(&config.model).map_err(|e| DenseError::io(&config.model, e))?;
    let encoder = Encoder::load(&model)?;
    let meta = DenseMeta {
        model,
        dim: encoder.dim(),
        storage: config.storage,
        query_prefix: config.query_prefix.clone(),
        passage_prefix: config.passage_prefix.clone(),
        count: bm25.len(),
        source,
    };
    Ok((bm25, encoder, meta))
}

/// Embeds every passage of the index in `index_dir` into `index_dir/dense`; `progress` is told
/// the rows done and the total after each batch.
pub fn build(
    index_dir: &Path,
    config: &DenseBuild,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DenseReport, DenseError> {
    let (bm25, encoder, meta) = prepare(index_dir, config, None)?;
    let mut staged = Staged::open(index_dir, meta)?;
    progress(staged.rows, staged.meta.count);
    let mut passages = bm25.passages().skip(staged.resumed as usize);
    let batch = config.batch.max(1);
    loop {
        let texts: Vec<String> = passages
            .by_ref()
            .take(batch * WINDOW)
            .map(|p| p.map(|p| passage_text(&staged.meta.passage_prefix, &p.title, &p.text)))
            .collect::<Result<_, _>>()?;
        if texts.is_empty() {
            break;
        }
        staged.append(&encode_sorted(&encoder, &texts, batch)?)?;
        progress(staged.rows, staged.meta.count);
    }
    staged.finish(index_dir)
}

/// Takes the rows of `faiss`, a flat faiss index of the same passages in the same order (as
/// Search-R1 builds `e5_Flat.index` over wiki-18), as the vectors of the index in `index_dir`:
/// no passage is embedded again. The encoder of `config` must be the one that made them (its
/// length is checked); it encodes the queries.
pub fn import(
    index_dir: &Path,
    faiss: &Path,
    config: &DenseBuild,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<DenseReport, DenseError> {
    let source = std::path::absolute(faiss).map_err(|e| DenseError::io(faiss, e))?;
    let (_, _, meta) = prepare(index_dir, config, Some(source))?;
    let mut rows = FaissFlat::open(faiss)?;
    if (rows.dim(), rows.len()) != (meta.dim, meta.count) {
        return Err(DenseError::Damaged {
            path: faiss.to_path_buf(),
            message: format!(
                "{} rows of {} values, for an index of {} passages and an encoder of {}",
                rows.len(),
                rows.dim(),
                meta.count,
                meta.dim
            ),
        });
    }
    let mut staged = Staged::open(index_dir, meta)?;
    rows.skip(staged.resumed)?;
    progress(staged.rows, staged.meta.count);
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    while staged.rows + (chunk.len() as u64) < staged.meta.count {
        chunk.push(rows.next_row()?);
        if chunk.len() == IMPORT_CHUNK {
            staged.append(&chunk)?;
            chunk.clear();
            progress(staged.rows, staged.meta.count);
        }
    }
    staged.append(&chunk)?;
    progress(staged.rows, staged.meta.count);
    staged.finish(index_dir)
}

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

/// The `dense.partial/` folder being filled.
struct Staged {
    dir: PathBuf,
    meta: DenseMeta,
    rows_out: BufWriter<File>,
    scales_out: Option<BufWriter<File>>,
    /// Rows written, those kept from an interrupted build included.
    rows: u64,
    resumed: u64,
    row: Vec<u8>,
    scale: Vec<u8>,
}

impl Staged {
    /// Opens the staging folder of `index_dir` for vectors made as `meta` says, keeping the
    /// whole rows an interrupted build with the same settings wrote.
    fn open(index_dir: &Path, meta: DenseMeta) -> Result<Staged, DenseError> {
        let dir = index_dir.join(format!("{DENSE_DIR}.partial"));
        let resumed = resume(&dir, &meta)?;
        let append = |name: &str| -> Result<BufWriter<File>, DenseError> {
            let path = dir.join(name);
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map(BufWriter::new)
                .map_err(|e| DenseError::io(&path, e))
        };
        Ok(Staged {
            rows_out: append("vectors.bin")?,
            scales_out: match meta.storage {
                Storage::F32 => None,
                Storage::I8 => Some(append("scales.bin")?),
            },
            dir,
            meta,
            rows: resumed,
            resumed,
            row: Vec::new(),
            scale: Vec::new(),
        })
    }

    /// Appends `vectors` as the next rows, flushed.
    fn append(&mut self, vectors: &[Vec<f32>]) -> Result<(), DenseError> {
        for vector in vectors {
            self.meta
                .storage
                .encode(vector, &mut self.row, &mut self.scale);
        }
        // The scales first: a kill between the two leaves no row without its scale.
        if let Some(out) = &mut self.scales_out {
            out.write_all(&self.scale)
                .and_then(|()| out.flush())
                .map_err(|e| DenseError::io(&self.dir.join("scales.bin"), e))?;
        }
        self.rows_out
            .write_all(&self.row)
            .and_then(|()| self.rows_out.flush())
            .map_err(|e| DenseError::io(&self.dir.join("vectors.bin"), e))?;
        self.row.clear();
        self.scale.clear();
        self.rows += vectors.len() as u64;
        Ok(())
    }

    /// Syncs the rows, writes the meta and swaps the folder in as `index_dir/dense`.
    fn finish(self, index_dir: &Path) -> Result<DenseReport, DenseError> {
        let outs = [
            (Some(self.rows_out), "vectors.bin"),
            (self.scales_out, "scales.bin"),
        ];
        for (out, name) in outs {
            if let Some(out) = out {
                let path = self.dir.join(name);
                out.into_inner()
                    .map_err(|e| DenseError::io(&path, e.into_error()))?
                    .sync_all()
                    .map_err(|e| DenseError::io(&path, e))?;
            }
        }
        let path = DenseMeta::path(&self.dir);
        let json = serde_json::to_string_pretty(&self.meta).expect("plain data");
        std::fs::write(&path, json + "\n").map_err(|e| DenseError::io(&path, e))?;
        let recorded = settings(&self.dir);
        std::fs::remove_file(&recorded).map_err(|e| DenseError::io(&recorded, e))?;
        index::replace_folder(&self.dir, &index_dir.join(DENSE_DIR))?;
        Ok(DenseReport {
            rows: self.rows,
            resumed: self.resumed,
            dim: self.meta.dim,
        })
    }
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
