//! `masksearch ingest`: stream corpus files into passages JSONL, with a progress bar, a run
//! manifest beside the output and a one-line summary of what was kept and skipped.

use std::path::PathBuf;

use anyhow::bail;
use corpus::{Config, CorpusReader, Format, Split, Summary};
use formats::{RunLog, RunManifest};

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
    // Open every input first: a missing file or an unknown format fails before the output
    // is touched.
    let readers = args
        .inputs
        .iter()
        .map(|path| corpus::open(path, &config))
        .collect::<Result<Vec<CorpusReader>, _>>()?;
    let mut out = RunLog::create(&args.out)?;
    let mut manifest = RunManifest {
        command: "ingest".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: args
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        config: serde_json::to_value(&config)?,
        counts: Default::default(),
        complete: false,
    };
    let total_bytes = readers.iter().map(CorpusReader::total_bytes).sum();
    let bar = progress::bar(Some(total_bytes), "bytes read");
    let mut summary = Summary::default();
    let mut bytes_before = 0;
    let mut failure = None;
    for mut reader in readers {
        while let Some(item) = reader.next() {
            match item {
                Ok(passage) => out.append(&passage)?,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if out.appended() % 256 == 0 {
                bar.set_position(bytes_before + reader.bytes_read());
                bar.set_message(format!("{} passages", out.appended()));
            }
        }
        bytes_before += reader.total_bytes();
        summary.merge(reader.summary());
        if failure.is_some() {
            break;
        }
    }
    out.commit()?;
    bar.finish_and_clear();
    manifest.counts = summary.counts();
    manifest.complete = failure.is_none();
    let manifest_path = RunManifest::path_for(&args.out);
    manifest.save(&manifest_path)?;
    eprintln!("ingest: {summary}");
    if let Some(e) = failure {
        bail!(
            "{e}\n  the {} passages before it are in {}; pass --skip-bad to skip and count such records instead",
            out.appended(),
            args.out.display()
        );
    }
    Ok(())
}
