//! `masksearch ramp`: generate RAMP (masked passage) samples from passages, and
//! `masksearch ramp stats FILE`: print the stats of any RAMP file.

use std::path::PathBuf;

use ::llm::CachePolicy;
use ::ramp::{LevelMix, RampConfig, RampStats, RunOptions, SpanSet};
use anyhow::{Context as _, bail};
use clap::Subcommand;
use formats::{JsonlPassages, PassageSource, Shard};

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
    /// Print samples, masks per sample, masks by span type, skips and checks of a RAMP JSONL
    /// file (ours or the original gen_qa.py output).
    Stats { file: PathBuf },
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Passages JSONL (as written by `masksearch ingest`), or an index directory built by
    /// `masksearch index` (indexes store no link anchors, so `anchors` spans need the JSONL).
    #[arg(long, value_name = "FILE|DIR")]
    passages: Option<PathBuf>,
    /// Output RAMP JSONL; its manifest is written beside it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Span sources, comma-separated: anchors,titles,dates,numbers,names,llm.
    #[arg(long, default_value = "anchors,titles,dates,numbers,names")]
    spans: String,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Every sample gets exactly N masks (1-4).
    #[arg(long, value_name = "N", conflicts_with = "curriculum")]
    mask_count: Option<usize>,
    /// Shares of mask counts, e.g. 1:0.25,2:0.25,3:0.25,4:0.25 (the default).
    #[arg(long, value_name = "MIX")]
    curriculum: Option<String>,
    /// `ppl`: prefer spans the local model (--model) cannot guess, and record their scores.
    #[arg(long, value_parser = ["ppl", "none"], default_value = "none")]
    difficulty: String,
    /// Only the passages of shard i of n (by a stable hash of the passage id).
    #[arg(long, value_name = "i/n")]
    shard: Option<Shard>,
    /// Start over instead of resuming what --out already holds.
    #[arg(long)]
    overwrite: bool,
    #[arg(long, value_parser = ["en", "zh"], default_value = "en")]
    lang: String,
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
    /// Passages per chunk (one commit each); does not change the output.
    #[arg(long, default_value_t = 1024)]
    chunk_size: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Some(RampCommand::Stats { file }) => {
            let stats = RampStats::from_file(&file)
                .with_context(|| format!("reading {}", file.display()))?;
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
    let spans: SpanSet = args.spans.parse()?;
    let levels = match (args.mask_count, &args.curriculum) {
        (Some(n), _) => LevelMix::fixed(n)?,
        (None, Some(mix)) => mix.parse()?,
        (None, None) => LevelMix::uniform(),
    };
    let config = RampConfig {
        spans,
        seed: args.seed,
        levels,
        difficulty: args.difficulty == "ppl",
        lang: args.lang.parse()?,
        source: args.source.clone(),
        shard: args.shard.unwrap_or(Shard::ALL),
    };
    let models = open_models(&args, &config, &out)?;
    let bar = progress::bar(None, "passages");
    let on_chunk = |stats: &RampStats| {
        bar.set_position(stats.run.get("input_records").copied().unwrap_or(0));
        bar.set_message(format!("{} samples", stats.samples));
    };
    let options = RunOptions {
        out: out.clone(),
        resume: !args.overwrite,
        chunk_size: args.chunk_size,
        model: models.chat,
        scorer: models.scorer,
        llm_concurrency: args.model.concurrency,
        progress: &on_chunk,
    };
    let source: Box<dyn PassageSource> = if passages.is_dir() {
        Box::new(
            ::index::Bm25Index::open(&passages)
                .with_context(|| format!("opening {} as an index", passages.display()))?,
        )
    } else {
        Box::new(JsonlPassages(passages.clone()))
    };
    let report = ::ramp::run(&config, source.as_ref(), &options).with_context(|| {
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
    eprint!("{}", report.stats.render());
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
    let wants_llm = config.spans.contains(::ramp::SpanKind::Llm);
    let mut opened = args.model.open(wants_llm, config.difficulty, 1)?;
    if let Some(chat) = opened.chat.take() {
        let cache = args.cache.clone().unwrap_or_else(|| {
            let mut name = out.as_os_str().to_owned();
            name.push(".llm-cache.redb");
            PathBuf::from(name)
        });
        opened.chat = Some(models::with_cache(
            chat,
            &cache,
            CachePolicy::Deterministic,
            &opened.accounting,
            true,
        )?);
    }
    Ok(opened)
}
