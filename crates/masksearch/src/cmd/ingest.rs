//! `masksearch ingest`: stream corpus files into passages JSONL, with a progress bar, a run
//! manifest beside the output and a one-line summary of what was kept and skipped.

use std::path::PathBuf;

use anyhow::bail;
use corpus::{Config, CorpusError, Format, IngestProgress, Split};

use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    /// Corpus inputs: MediaWiki dumps (.xml, .xml.bz2), JSONL ({"id","contents"} wiki-18
    /// passages, {"id","title","text"} pages, KILT pages) or folders of one text file per page.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Passages JSONL to write ({"id","title","text","anchors"}); replaced if it exists.
    #[arg(short, long)]
    out: PathBuf,
    /// Input format: xml, contents, passages, pages, kilt or dir [default: detected per input].
    #[arg(long)]
    format: Option<Format>,
    /// When to cut records into passages: auto (pages yes, wiki-18 passages keep their ids),
    /// always, or never (one passage per page).
    #[arg(long, default_value = "auto")]
    split: Split,
    /// Target passage length in words (passages end on sentence boundaries near it).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    words: u32,
    /// Skip and count bad records (malformed lines, invalid or truncated pages) instead of
    /// stopping at the first one.
    #[arg(long)]
    skip_bad: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = Config {
        format: args.format,
        split: args.split,
        words: args.words as usize,
        skip_bad: args.skip_bad,
    };
    let bar = progress::bar(Some(0), "bytes read");
    let shown = |p: &IngestProgress| {
        bar.set_length(p.total_bytes);
        bar.set_position(p.bytes_read);
        bar.set_message(format!("{} passages", p.passages));
    };
    let result = corpus::ingest(&args.inputs, &args.out, &config, &shown);
    bar.finish_and_clear();
    let e = match result {
        Ok(report) => {
            eprintln!("ingest: {}", report.tally);
            return Ok(());
        }
        Err(e) => e,
    };
    // The summary line comes before the error, so the counts of a stopped run are seen too.
    if let CorpusError::Stopped { tally, .. } = &e {
        eprintln!("ingest: {tally}");
        if !args.skip_bad {
            bail!("{e}; pass --skip-bad to skip and count such records instead");
        }
    }
    Err(e.into())
}
