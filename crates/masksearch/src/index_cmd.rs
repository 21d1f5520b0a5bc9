//! `masksearch index`: build a BM25 index from passages JSONL.

use std::{path::PathBuf, time::Instant};

use anyhow::{Context, bail};
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
    language: ::index::Language,
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
    let mut reader = formats::read_jsonl::<Passage>(&args.passages)
        .with_context(|| "cannot read passages; create them with `masksearch ingest`")?;
    let defaults = ::index::BuildConfig::default();
    let config = ::index::BuildConfig {
        language: args.language,
        threads: args.threads.unwrap_or(defaults.threads),
        source: args.passages.display().to_string(),
        overwrite: args.overwrite,
        ..defaults
    };
    let bar = progress::bar(None, "passages");
    let mut skipped = 0u64;
    let mut fatal: Option<FormatError> = None;
    let passages = std::iter::from_fn(|| {
        loop {
            match reader.next()? {
                Ok(p) => return Some(p),
                Err(e @ FormatError::BadLine { .. }) if args.skip_bad => {
                    tracing::warn!("skipped: {e}");
                    skipped += 1;
                }
                Err(e) => {
                    fatal = Some(e);
                    return None;
                }
            }
        }
    });
    let report = ::index::build(&args.out, passages, &config, |n| bar.set_position(n))?;
    bar.finish_and_clear();
    if let Some(e) = fatal {
        bail!("{e} (pass --skip-bad to skip malformed lines; the index was not written)");
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "index: {} passages indexed in {secs:.1} s ({} passages/s), {skipped} malformed lines skipped → {}",
        HumanCount(report.passages),
        HumanCount((report.passages as f64 / secs.max(1e-3)) as u64),
        args.out.display()
    );
    Ok(())
}
