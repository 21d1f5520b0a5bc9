//! Filling an index's `dense/` folder, by embedding its passages ([`build`]) or by taking the
//! rows of a faiss flat index made from the same passages ([`import`]): staged in
//! `dense.partial/`, resumed there after a kill (the rows written stay; a torn last row is cut),
//! and swapped in whole when every passage has its row, so that a failed build leaves the
//! previous vectors in place. With [`GraphParams`] the HNSW graph of the rows is built in the
//! staging folder once they are whole, before the swap; a build that only adds a graph to
//! finished rows of the same settings takes those rows instead of embedding them again.
//!
//! A build with a shard i/n embeds only the i-th of n contiguous ranges of the passages, into
//! `dense.shards/<i>-of-<n>/` (resumed the same way, sealed with its `meta.json` when done), so
//! that machines can share the embedding. A build without a shard takes the rows of every
//! finished shard made with its settings instead of embedding them again, embeds whatever no
//! shard covers, and removes the shards once its vectors are in place.

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io::{BufWriter, Read as _, Write as _},
    ops::Range,
    path::{Path, PathBuf},
};

use formats::Shard;
use index::Bm25Index;

use crate::{
    DENSE_DIR, DenseError, DenseMeta, Encoder, GraphParams, Storage, Vectors,
    faiss::FaissFlat,
    graph::{Graph, Repair},
};

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
    /// Only this shard's range of the passages, left in `dense.shards/` for a build without a
    /// shard to take.
    pub shard: Shard,
    /// Also build an HNSW graph of the rows, searched instead of scanning them all (not for a
    /// shard: the build that puts the shards together makes it).
    pub graph: Option<GraphParams>,
}

/// What a build's progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Rows embedded or copied.
    Rows,
    /// Rows linked into the HNSW graph.
    Graph,
    /// Rows of the HNSW graph looked for by their own values.
    GraphCheck,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseReport {
    /// Rows in the finished vectors.
    pub rows: u64,
    /// Rows an earlier build had written, kept: an interrupted one's, or the finished rows a
    /// graph is added to.
    pub resumed: u64,
    /// Rows taken from finished shards.
    pub from_shards: u64,
    pub dim: usize,
    /// What the HNSW graph's build did about rows no search reached.
    pub repair: Repair,
}

/// Batches read at once and sorted by length, so that a batch's texts, padded to its longest,
/// are of much the same length. A build's rows are those of `Encoder::encode_sorted` over each
/// window of this many batches in turn.
pub const WINDOW_BATCHES: usize = 16;

/// Rows of a faiss index copied between two progress reports.
const IMPORT_CHUNK: usize = 4096;

/// What an encoder reads of a passage: its prefix (e5's `passage: `), title and text.
pub fn passage_text(prefix: &str, title: &str, text: &str) -> String {
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
        // The rows' settings: a staging folder is resumed by them, whatever graph is asked for.
        graph: None,
    };
    Ok((bm25, encoder, meta))
}

/// Embeds every passage of the index in `index_dir` into `index_dir/dense` (or, with a shard,
/// its range into `dense.shards/`); `progress` is told the phase, the rows done and the total
/// after each batch.
pub fn build(
    index_dir: &Path,
    config: &DenseBuild,
    progress: &mut dyn FnMut(Phase, u64, u64),
) -> Result<DenseReport, DenseError> {
    let (bm25, encoder, meta) = prepare(index_dir, config, None)?;
    let rows_progress = &mut |done, total| progress(Phase::Rows, done, total);
    if config.shard.count > 1 {
        let (range, meta) = shard_of(config.shard, &meta);
        let dir = shard_dir(index_dir, config.shard);
        if DenseMeta::load(&dir).is_ok_and(|done| done == meta) {
            rows_progress(meta.count, meta.count);
            return Ok(DenseReport {
                rows: meta.count,
                resumed: meta.count,
                from_shards: 0,
                dim: meta.dim,
                repair: Repair::default(),
            });
        }
        let mut staged = Staged::open(dir, meta)?;
        embed(
            &bm25,
            &encoder,
            &mut staged,
            range,
            config.batch,
            rows_progress,
        )?;
        return staged.seal();
    }
    let shards = finished_shards(index_dir, &meta)?;
    let count = meta.count;
    if config.graph.is_some() {
        reuse_finished(index_dir, &meta)?;
    }
    let mut staged = Staged::open(staging(index_dir), meta)?;
    let mut from_shards = 0;
    while staged.rows < count {
        match shards.get(&staged.rows) {
            Some((end, dir)) => {
                let rows = end - staged.rows;
                staged.copy_rows(dir, rows)?;
                from_shards += rows;
                rows_progress(staged.rows, count);
            }
            None => {
                let next = shards
                    .range(staged.rows..)
                    .next()
                    .map_or(count, |(s, _)| *s);
                embed(
                    &bm25,
                    &encoder,
                    &mut staged,
                    0..next,
                    config.batch,
                    rows_progress,
                )?;
            }
        }
    }
    let report = staged.swap_in(index_dir, config.graph, progress)?;
    let shards_dir = index_dir.join(SHARDS_DIR);
    match std::fs::remove_dir_all(&shards_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(DenseError::io(&shards_dir, e));
        }
        _ => {}
    }
    Ok(DenseReport {
        from_shards,
        ..report
    })
}

/// Where the shards of a sharded build stay until a build without a shard takes their rows.
const SHARDS_DIR: &str = "dense.shards";

/// The positions of the passages shard i/n embeds: the i-th of n contiguous ranges.
fn shard_range(shard: Shard, count: u64) -> Range<u64> {
    let at = |i: u32| count * u64::from(i) / u64::from(shard.count);
    at(shard.index)..at(shard.index + 1)
}

/// Shard i/n of the vectors `meta` describes: its range of positions, and the meta of its rows.
fn shard_of(shard: Shard, meta: &DenseMeta) -> (Range<u64>, DenseMeta) {
    let range = shard_range(shard, meta.count);
    let meta = DenseMeta {
        count: range.end - range.start,
        ..meta.clone()
    };
    (range, meta)
}

fn shard_dir(index_dir: &Path, shard: Shard) -> PathBuf {
    index_dir
        .join(SHARDS_DIR)
        .join(format!("{}-of-{}", shard.index, shard.count))
}

/// The shards in `index_dir` sealed with the settings of `meta`: first position → (end, folder).
fn finished_shards(
    index_dir: &Path,
    meta: &DenseMeta,
) -> Result<BTreeMap<u64, (u64, PathBuf)>, DenseError> {
    let mut found = BTreeMap::new();
    let dir = index_dir.join(SHARDS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(found);
    };
    for entry in entries {
        let path = entry.map_err(|e| DenseError::io(&dir, e))?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let Some(shard) = name
            .split_once("-of-")
            .and_then(|(i, n)| format!("{i}/{n}").parse::<Shard>().ok())
        else {
            continue;
        };
        let (range, expected) = shard_of(shard, meta);
        if range.is_empty() || !DenseMeta::load(&path).is_ok_and(|m| m == expected) {
            continue;
        }
        found.entry(range.start).or_insert((range.end, path));
    }
    Ok(found)
}

/// Embeds the passages at `range.start + staged.rows` up to `range.end` into `staged`, a window
/// of batches at a time.
fn embed(
    bm25: &Bm25Index,
    encoder: &Encoder,
    staged: &mut Staged,
    range: Range<u64>,
    batch: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), DenseError> {
    let batch = batch.max(1);
    progress(staged.rows, staged.meta.count);
    loop {
        let from = range.start + staged.rows;
        let to = (from + (batch * WINDOW_BATCHES) as u64).min(range.end);
        if from >= to {
            return Ok(());
        }
        let positions: Vec<u64> = (from..to).collect();
        let texts: Vec<String> = bm25
            .passages_at(&positions)?
            .iter()
            .map(|p| passage_text(&staged.meta.passage_prefix, &p.title, &p.text))
            .collect();
        staged.append(&encoder.encode_sorted(&texts, batch)?)?;
        progress(staged.rows, staged.meta.count);
    }
}

/// Takes the rows of `faiss`, a flat faiss index of the same passages in the same order (as
/// Search-R1 builds `e5_Flat.index` over wiki-18), as the vectors of the index in `index_dir`:
/// no passage is embedded again. The encoder of `config` must be the one that made them (its
/// length is checked); it encodes the queries.
pub fn import(
    index_dir: &Path,
    faiss: &Path,
    config: &DenseBuild,
    progress: &mut dyn FnMut(Phase, u64, u64),
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
    if config.graph.is_some() {
        reuse_finished(index_dir, &meta)?;
    }
    let mut staged = Staged::open(staging(index_dir), meta)?;
    rows.skip(staged.resumed)?;
    progress(Phase::Rows, staged.rows, staged.meta.count);
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    while staged.rows + (chunk.len() as u64) < staged.meta.count {
        chunk.push(rows.next_row()?);
        if chunk.len() == IMPORT_CHUNK {
            staged.append(&chunk)?;
            chunk.clear();
            progress(Phase::Rows, staged.rows, staged.meta.count);
        }
    }
    staged.append(&chunk)?;
    progress(Phase::Rows, staged.rows, staged.meta.count);
    staged.swap_in(index_dir, config.graph, progress)
}

/// Where a build stages the vectors it swaps in whole.
fn staging(index_dir: &Path) -> PathBuf {
    index_dir.join(format!("{DENSE_DIR}.partial"))
}

/// A staging folder being filled: `dense.partial/`, or a shard's.
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
    /// Opens the staging folder `dir` for vectors made as `meta` says, keeping the whole rows
    /// an interrupted build with the same settings wrote.
    fn open(dir: PathBuf, meta: DenseMeta) -> Result<Staged, DenseError> {
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
                Storage::I8 => Some(append("scales.bin")?),
                Storage::F32 | Storage::F16 => None,
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

    /// Appends the first `rows` rows of the sealed shard in `dir` as they are, flushed.
    fn copy_rows(&mut self, dir: &Path, rows: u64) -> Result<(), DenseError> {
        let row_bytes = self.meta.storage.row_bytes(self.meta.dim) as u64;
        let outs = [
            (self.scales_out.as_mut(), "scales.bin", 4),
            (Some(&mut self.rows_out), "vectors.bin", row_bytes),
        ];
        // The scales first, as in `append`.
        for (out, name, bytes) in outs {
            let Some(out) = out else { continue };
            let path = dir.join(name);
            let mut from = File::open(&path)
                .map_err(|e| DenseError::io(&path, e))?
                .take(rows * bytes);
            let copied = std::io::copy(&mut from, out)
                .and_then(|n| out.flush().map(|()| n))
                .map_err(|e| DenseError::io(&path, e))?;
            if copied != rows * bytes {
                return Err(DenseError::Damaged {
                    path,
                    message: format!("{copied} bytes where {rows} rows need {}", rows * bytes),
                });
            }
        }
        self.rows += rows;
        Ok(())
    }

    /// Builds the graph `graph` asks for over the whole rows, seals the staging folder and swaps
    /// it in as `index_dir/dense`.
    fn swap_in(
        mut self,
        index_dir: &Path,
        graph: Option<GraphParams>,
        progress: &mut dyn FnMut(Phase, u64, u64),
    ) -> Result<DenseReport, DenseError> {
        let dir = self.dir.clone();
        let repair = match graph {
            Some(params) => {
                // `append` and `copy_rows` flushed every row: the files hold them all.
                let meta = &self.meta;
                let vectors = Vectors::open(&dir, meta.storage, meta.dim, self.rows)?;
                let repair = Graph::build(&dir, &vectors, &params, progress)?;
                self.meta.graph = Some(params);
                repair
            }
            // A graph a killed build left would sit unused beside the rows.
            None => {
                Graph::remove(&dir)?;
                Repair::default()
            }
        };
        let report = self.seal()?;
        index::replace_folder(&dir, &index_dir.join(DENSE_DIR))?;
        Ok(DenseReport { repair, ..report })
    }

    /// Syncs the rows and writes the meta, which says the folder is whole.
    fn seal(self) -> Result<DenseReport, DenseError> {
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
        Ok(DenseReport {
            rows: self.rows,
            resumed: self.resumed,
            from_shards: 0,
            dim: self.meta.dim,
            repair: Repair::default(),
        })
    }
}

/// Where a staging folder records the settings its rows were made with.
fn settings(staging: &Path) -> PathBuf {
    staging.join("settings.json")
}

/// Whether `staging` holds rows made with `meta`'s settings.
fn holds_settings(staging: &Path, meta: &DenseMeta) -> bool {
    std::fs::read_to_string(settings(staging))
        .ok()
        .and_then(|text| serde_json::from_str::<DenseMeta>(&text).ok())
        .is_some_and(|recorded| recorded == *meta)
}

/// Empties `staging` for rows made with `meta`'s settings.
fn restart(staging: &Path, meta: &DenseMeta) -> Result<(), DenseError> {
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(|e| DenseError::io(staging, e))?;
    }
    std::fs::create_dir_all(staging).map_err(|e| DenseError::io(staging, e))?;
    let path = settings(staging);
    let json = serde_json::to_string_pretty(meta).expect("plain data");
    std::fs::write(&path, json).map_err(|e| DenseError::io(&path, e))
}

/// Lays the finished rows of `index_dir/dense` into the staging folder when they were made with
/// `meta`'s settings and no interrupted build of those settings is staged, so that a build that
/// adds a graph to them embeds nothing again. The files are hard links (copies where the file
/// system has none): a finished folder's files are never written again, and a staging folder's
/// are only appended to, which whole rows rule out.
fn reuse_finished(index_dir: &Path, meta: &DenseMeta) -> Result<(), DenseError> {
    let finished = index_dir.join(DENSE_DIR);
    let Ok(done) = DenseMeta::load(&finished) else {
        return Ok(());
    };
    let staging = staging(index_dir);
    let same_rows = DenseMeta {
        graph: None,
        ..done
    } == *meta;
    if !same_rows || holds_settings(&staging, meta) {
        return Ok(());
    }
    restart(&staging, meta)?;
    let files: &[&str] = match meta.storage {
        Storage::I8 => &["vectors.bin", "scales.bin"],
        Storage::F32 | Storage::F16 => &["vectors.bin"],
    };
    for name in files {
        let (from, to) = (finished.join(name), staging.join(name));
        std::fs::hard_link(&from, &to)
            .or_else(|_| std::fs::copy(&from, &to).map(|_| ()))
            .map_err(|e| DenseError::io(&from, e))?;
    }
    Ok(())
}

/// Prepares `staging` for a build with `meta`'s settings: the whole rows an interrupted build
/// with the same settings wrote are kept (the count returned), anything else is cleared.
fn resume(staging: &Path, meta: &DenseMeta) -> Result<u64, DenseError> {
    if !holds_settings(staging, meta) {
        restart(staging, meta)?;
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
