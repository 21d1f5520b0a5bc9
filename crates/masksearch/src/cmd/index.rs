//! `masksearch index`: build a BM25 index from passages JSONL, and its dense vectors.

use std::{path::PathBuf, time::Instant};

use anyhow::{Context, anyhow};
use formats::{FormatError, Passage};
use indicatif::HumanCount;

use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    /// Passages JSONL written by `masksearch ingest` (`{"id","title","text"}` per line).
    #[arg(long, default_value = "work/passages.jsonl")]
    passages: PathBuf,
    /// Index directory to create.
    #[arg(long, default_value = "work/index")]
    out: PathBuf,
    /// Text analysis: `en` (stop words + Porter stemming, like pyserini) or `plain` (any language).
    #[arg(long, default_value = "en")]
    language: index::Analyzer,
    /// Indexing threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Replace an existing index.
    #[arg(long)]
    overwrite: bool,
    /// Skip and count malformed lines instead of stopping at the first one.
    #[arg(long)]
    skip_bad: bool,
    /// Also embed every passage with this sentence encoder (a Hugging Face BERT folder, e.g.
    /// assets/models/all-MiniLM-L6-v2) into the index's dense/ folder, for `--retriever dense`
    /// or `hybrid`. On an index that exists (and no --overwrite) only the vectors are built; an
    /// interrupted build resumes.
    #[arg(long, value_name = "MODEL")]
    dense: Option<PathBuf>,
    /// How the vectors are stored: f32 (exact), f16 (half the memory) or i8 (a quarter).
    #[arg(long, value_enum, default_value_t = DenseStorage::F32)]
    dense_storage: DenseStorage,
    /// Also build an HNSW graph of the vectors (dense/graph.usearch), walked instead of scanning
    /// every row: milliseconds a query at millions of passages, most of the exact top k. On
    /// finished vectors of the same settings only the graph is built.
    #[arg(long, requires = "dense", conflicts_with = "shard")]
    hnsw: bool,
    /// The graph's links per node and layer (HNSW's M).
    #[arg(long, value_name = "M", requires = "hnsw", default_value_t = dense::GraphParams::default().connectivity)]
    hnsw_m: usize,
    /// Candidates kept while linking a node (HNSW's efConstruction).
    #[arg(long, value_name = "N", requires = "hnsw", default_value_t = dense::GraphParams::default().ef_construction)]
    hnsw_ef_construction: usize,
    /// Candidates kept while searching (HNSW's ef; recorded with the vectors): more finds more
    /// of the exact top k, slower.
    #[arg(long, value_name = "N", requires = "hnsw", default_value_t = dense::GraphParams::default().ef_search)]
    hnsw_ef: usize,
    /// Build the graph over the vectors' D leading principal components (f16) instead of their
    /// own values: a smaller graph (e5 over wiki-18: 13.9 GB at D 256, where i8 nodes take 19.3),
    /// whose candidates the vectors' own values order (`--hnsw-rerank`).
    #[arg(long, value_name = "D", requires = "hnsw")]
    hnsw_dims: Option<usize>,
    /// Candidates a reduced graph (`--hnsw-dims`) finds for the vectors' values to order.
    #[arg(long, value_name = "N", requires = "hnsw_dims", default_value_t = 100)]
    hnsw_rerank: usize,
    /// Put before each query the encoder reads (e5 models want `query: `).
    #[arg(long, default_value = "")]
    query_prefix: String,
    /// Put before each passage the encoder reads (e5 models want `passage: `).
    #[arg(long, default_value = "")]
    passage_prefix: String,
    /// Passages the encoder reads at once, each batch padded to its longest. Small batches are
    /// faster on the CPU: on the demo's passages, 8 a batch embedded 72 a second on 2 cores, 32
    /// a batch 53.
    #[arg(long, default_value_t = 8)]
    dense_batch: usize,
    /// Take the vectors from this flat faiss index of the same passages in the same order
    /// (Search-R1's e5_Flat.index over wiki-18) instead of embedding them; --dense names the
    /// encoder that made them, which encodes the queries.
    #[arg(long, value_name = "FILE", requires = "dense")]
    faiss: Option<PathBuf>,
    /// Embed only the i-th of n contiguous ranges of the passages, into the index's
    /// dense.shards/ (machines can share the embedding); a later --dense build without --shard
    /// takes the finished shards' rows and embeds only what they miss.
    #[arg(long, value_name = "i/n", requires = "dense", conflicts_with_all = ["faiss", "overwrite"])]
    shard: Option<formats::Shard>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum DenseStorage {
    F32,
    F16,
    I8,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let vectors_only = args.dense.is_some() && args.out.exists() && !args.overwrite;
    if !vectors_only {
        words(&args)?;
    }
    if let Some(model) = &args.dense {
        vectors(&args, model)?;
    }
    Ok(())
}

/// The BM25 index.
fn words(args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let reader = formats::read_jsonl::<Passage>(&args.passages)
        .context("cannot read passages; create them with `masksearch ingest`")?;
    let defaults = index::BuildConfig::default();
    let config = index::BuildConfig {
        analyzer: args.language,
        threads: args.threads.unwrap_or(defaults.threads),
        origin: args.passages.display().to_string(),
        overwrite: args.overwrite,
        ..defaults
    };
    let bar = progress::bar(None, "passages");
    let mut skipped = 0u64;
    // A malformed line is skipped and counted with --skip-bad; otherwise it abandons the build.
    let passages = reader.filter(|item| match item {
        Err(e @ FormatError::BadLine { .. }) if args.skip_bad => {
            tracing::warn!("skipped: {e}");
            skipped += 1;
            false
        }
        _ => true,
    });
    let built = index::build(&args.out, passages, &config, |n| bar.set_position(n));
    bar.finish_and_clear();
    let report = built.map_err(|e| explain(e, args))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "index: {} passages indexed in {secs:.1} s ({} passages/s), {skipped} malformed lines skipped → {}",
        HumanCount(report.passages),
        HumanCount((report.passages as f64 / secs.max(1e-3)) as u64),
        args.out.display()
    );
    Ok(())
}

/// The dense vectors of the index at `--out`.
fn vectors(args: &Args, model: &std::path::Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = dense::DenseBuild {
        model: model.to_path_buf(),
        storage: match args.dense_storage {
            DenseStorage::F32 => dense::Storage::F32,
            DenseStorage::F16 => dense::Storage::F16,
            DenseStorage::I8 => dense::Storage::I8,
        },
        query_prefix: args.query_prefix.clone(),
        passage_prefix: args.passage_prefix.clone(),
        batch: args.dense_batch,
        shard: args.shard.unwrap_or(formats::Shard::ALL),
        graph: args.hnsw.then_some(dense::GraphParams {
            connectivity: args.hnsw_m,
            ef_construction: args.hnsw_ef_construction,
            ef_search: args.hnsw_ef,
            reduced: args.hnsw_dims.map(|dims| dense::Reduced {
                dims,
                rerank: args.hnsw_rerank,
            }),
        }),
    };
    let bar = progress::bar(None, "rows");
    let (mut graph_started, mut shown) = (None, dense::Phase::Rows);
    let mut progress = |phase, done, total| {
        if phase != shown {
            shown = phase;
            graph_started.get_or_insert_with(Instant::now);
            bar.reset();
            bar.set_message(match phase {
                dense::Phase::Rows => "",
                dense::Phase::Graph => "linked into the HNSW graph",
                dense::Phase::GraphCheck => "looked for in the HNSW graph",
            });
        }
        bar.set_length(total);
        bar.set_position(done);
    };
    let built = match &args.faiss {
        Some(flat) => dense::import(&args.out, flat, &config, &mut progress),
        None => dense::build(&args.out, &config, &mut progress),
    };
    bar.finish_and_clear();
    let report =
        built.with_context(|| format!("embedding the passages of {}", args.out.display()))?;
    let graph_secs = graph_started.map(|t| t.elapsed().as_secs_f64());
    let secs = started.elapsed().as_secs_f64() - graph_secs.unwrap_or(0.0);
    let made = report.rows - report.resumed - report.from_shards;
    let into = match args.shard {
        Some(shard) => format!(
            "{}/dense.shards (shard {shard}; `index --dense` without --shard puts the shards together)",
            args.out.display()
        ),
        None => format!("{}/dense", args.out.display()),
    };
    eprintln!(
        "index: {} passages {} in {secs:.1} s ({} passages/s; {} kept from an earlier build, {} from finished shards), {} values each → {into}",
        HumanCount(made),
        if args.faiss.is_some() {
            "taken from faiss"
        } else {
            "embedded"
        },
        HumanCount((made as f64 / secs.max(1e-3)) as u64),
        HumanCount(report.resumed),
        HumanCount(report.from_shards),
        report.dim,
    );
    if let (Some(secs), Some(graph)) = (graph_secs, &config.graph) {
        eprintln!(
            "index: HNSW graph of {} rows (M {}, efConstruction {}, ef {}) built in {secs:.1} s, {} rows added again that a search for their own values missed{} → {into}/graph.usearch",
            HumanCount(report.rows),
            graph.connectivity,
            graph.ef_construction,
            graph.ef_search,
            HumanCount(report.repair.added_again),
            match report.repair.unreached {
                0 => String::new(),
                n => format!(", {} that it still misses", HumanCount(n)),
            },
        );
    }
    Ok(())
}

/// The build error with what it means for the user's files and what to do.
fn explain(e: index::IndexError, args: &Args) -> anyhow::Error {
    let out = args.out.display();
    match e {
        index::IndexError::Exists { .. } => {
            anyhow!("{e}\n  hint: pass --overwrite to replace it once the new index is complete")
        }
        index::IndexError::Input(_) => {
            let kept = if args.out.exists() {
                format!("the index at {out} is unchanged")
            } else {
                format!("nothing was written to {out}")
            };
            anyhow!(
                "{e}\n  the build was abandoned; {kept}\n  hint: pass --skip-bad to skip and count malformed lines"
            )
        }
        other => anyhow::Error::new(other).context(format!("building the index {out}")),
    }
}
