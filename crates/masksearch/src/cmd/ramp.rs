//! `masksearch ramp`: generate RAMP (masked passage) samples from passages, and
//! `masksearch ramp stats FILE`: print the stats of any RAMP file.

use std::{path::PathBuf, sync::Arc};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use formats::{JsonlPassages, PassageSource, Shard};
use ramp::{Difficulty, Lang, LevelMix, LevelRule, RampConfig, RunOptions, SpanSet, Tally};

use crate::{models, progress};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<RampCommand>,
    #[command(flatten)]
    generate: GenerateArgs,
}

#[derive(Subcommand)]
enum RampCommand {
    /// Print samples, masks per sample, masks by span type, common-word masks (common words
    /// counted over the file's own answers), skips and checks of a RAMP JSONL file (ours or
    /// the original gen_qa.py output).
    Stats { file: PathBuf },
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Passages JSONL (as written by `masksearch ingest`), or an index directory built by
    /// `masksearch index` (indexes store no link anchors, so `anchor` spans need the JSONL).
    #[arg(long, value_name = "FILE|DIR")]
    passages: Option<PathBuf>,
    /// Output RAMP JSONL; its manifest is written beside it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Span sources, comma-separated: anchor,title,date,number,name,llm (plurals accepted).
    #[arg(long, default_value = "anchor,title,date,number,name")]
    spans: SpanSet,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Every sample gets exactly N masks (1-4).
    #[arg(long, value_name = "N", value_parser = mask_count, conflicts_with = "curriculum")]
    mask_count: Option<LevelMix>,
    /// How many masks each sample gets: `balanced` (equal shares of 1-4, the default),
    /// `original` (gen_qa.py's rule: 4 whenever a passage can hold 4), or shares such as
    /// 1:0.4,2:0.3,3:0.2,4:0.1.
    #[arg(long, value_name = "MIX")]
    curriculum: Option<LevelRule>,
    /// `ppl`: prefer spans the local model (--model) cannot guess, and record their scores.
    #[arg(long, default_value = "none", value_name = "none|ppl")]
    difficulty: Difficulty,
    /// Only the passages of shard i of n (by a stable hash of the passage id).
    #[arg(long, value_name = "i/n")]
    shard: Option<Shard>,
    /// Start over instead of resuming what --out already holds.
    #[arg(long)]
    overwrite: bool,
    #[arg(long, default_value = "en", value_name = "en|zh")]
    lang: Lang,
    /// `ext.source` of every record.
    #[arg(long, default_value = "wiki")]
    source: String,
    /// The model for `--spans llm` (endpoints, or the local model) and `--difficulty ppl`
    /// (always the local model).
    #[command(flatten)]
    model: models::ModelArgs,
    /// Response cache for LLM extraction [default: <out>.llm-cache.redb, so a resumed run
    /// replays the answers it already got].
    #[arg(long, value_name = "PATH")]
    cache: Option<PathBuf>,
    /// Passages per batch (one commit each); does not change the output.
    #[arg(long, default_value_t = 1024)]
    batch_size: usize,
}

/// `--mask-count N`: the mix of N masks only.
fn mask_count(n: &str) -> Result<LevelMix, Box<dyn std::error::Error + Send + Sync>> {
    Ok(LevelMix::fixed(n.parse()?)?)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Some(RampCommand::Stats { file }) => {
            let stats =
                Tally::from_file(&file).with_context(|| format!("reading {}", file.display()))?;
            print!("{}", stats.render());
            Ok(())
        }
        None => generate(args.generate),
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let (Some(passages), Some(out)) = (args.passages.clone(), args.out.clone()) else {
        bail!("masksearch ramp needs --passages FILE and --out FILE (or `ramp stats FILE`)");
    };
    let curriculum = match (&args.mask_count, &args.curriculum) {
        (Some(n), _) => LevelRule::Mix(n.clone()),
        (None, Some(c)) => c.clone(),
        (None, None) => LevelRule::default(),
    };
    let config = RampConfig {
        spans: args.spans.clone(),
        seed: args.seed,
        curriculum,
        difficulty: args.difficulty,
        lang: args.lang,
        source: args.source.clone(),
        shard: args.shard.unwrap_or(Shard::ALL),
    };
    let models = open_models(&args, &config, &out)?;
    let bar = progress::bar(None, "passages");
    let on_batch = |stats: &Tally| {
        bar.set_position(stats.run.get("input_records").copied().unwrap_or(0));
        bar.set_message(format!("{} samples", stats.samples));
    };
    let options = RunOptions {
        out: out.clone(),
        resume: !args.overwrite,
        batch_size: args.batch_size,
        model: models.chat,
        scorer: models.scorer,
        llm_concurrency: args.model.concurrency,
        progress: &on_batch,
    };
    let source = passage_source(&passages)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let report = runtime
        .block_on(ramp::run(&config, source, &options))
        .with_context(|| {
            format!(
                "generating RAMP samples from {} into {}",
                passages.display(),
                out.display()
            )
        })?;
    bar.finish_and_clear();
    if report.resumed_records > 0 {
        eprintln!(
            "resumed: {} records were already in {}, {} appended",
            report.resumed_records,
            out.display(),
            report.appended
        );
    }
    eprint!("{}", report.tally.render());
    eprintln!(
        "wrote {} (manifest {})",
        out.display(),
        report.manifest.display()
    );
    Ok(())
}

/// The chat model for `--spans llm` (behind a response cache, so a resumed run replays the
/// answers it already got) and the scorer for `--difficulty ppl`.
fn open_models(
    args: &GenerateArgs,
    config: &RampConfig,
    out: &std::path::Path,
) -> anyhow::Result<models::Models> {
    let opened = args.model.for_run(
        config.spans.contains(ramp::SpanKind::Llm),
        config.difficulty == Difficulty::Ppl,
        models::RunCache {
            given: args.cache.as_deref(),
            default: super::trajectories::sibling(out, ".llm-cache.redb"),
            overwrite: args.overwrite,
        },
    )?;
    Ok(opened.models)
}

/// The passages at `path`: an index folder, or a passages JSONL file.
pub fn passage_source(path: &std::path::Path) -> anyhow::Result<Arc<dyn PassageSource + Send>> {
    Ok(if path.is_dir() {
        Arc::new(
            index::Bm25Index::open(path)
                .with_context(|| format!("opening {} as an index", path.display()))?,
        )
    } else {
        Arc::new(JsonlPassages(path.to_path_buf()))
    })
}
