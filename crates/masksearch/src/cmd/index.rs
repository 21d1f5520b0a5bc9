//! `masksearch index`: build a BM25 index from passages JSONL.

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
}

pub fn run(args: Args) -> anyhow::Result<()> {
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
    let report = built.map_err(|e| explain(e, &args))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "index: {} passages indexed in {secs:.1} s ({} passages/s), {skipped} malformed lines skipped → {}",
        HumanCount(report.passages),
        HumanCount((report.passages as f64 / secs.max(1e-3)) as u64),
        args.out.display()
    );
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
