//! `masksearch ramp`: generate RAMP (masked passage) samples from passages, and
//! `masksearch ramp stats FILE`: print the stats of any RAMP file.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use ::llm::{
    CacheConfig, CachePolicy, CachedModel, ChatModel, ClientConfig, OpenAiClient, TokenScorer,
};
use ::ramp::{
    JsonlPassages, LevelMix, PassageSource, RampConfig, RampError, RampStats, RunOptions, SpanSet,
};
use anyhow::{Context as _, bail};
use clap::Subcommand;
use formats::{FormatError, Passage, Shard};

use crate::progress;

/// The embedded default model, relative to the current directory (fetched by scripts/setup.sh).

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
    /// OpenAI-compatible base URL for `--spans llm` (e.g. http://127.0.0.1:8001/v1).
    #[arg(long, value_name = "URL", requires = "llm_model")]
    llm_base_url: Vec<String>,
    /// Model name sent to the endpoint.
    #[arg(long, value_name = "NAME")]
    llm_model: Option<String>,
    /// Name of the environment variable holding the endpoint's API key.
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// Local GGUF model: scores difficulty, and extracts spans when no --llm-base-url is given
    /// [default: assets/models/SmolLM2-135M-Instruct.Q4_1.gguf].
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// LLM requests in flight at once.
    #[arg(long, default_value_t = 8)]
    llm_concurrency: usize,
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
    let (model, scorer) = models(&args, &config, &out)?;
    let bar = progress::bar(None, "passages");
    let on_chunk = |stats: &RampStats| {
        bar.set_position(stats.run.get("input_records").copied().unwrap_or(0));
        bar.set_message(format!("{} samples", stats.samples));
    };
    let options = RunOptions {
        out: out.clone(),
        resume: !args.overwrite,
        chunk_size: args.chunk_size,
        model,
        scorer,
        llm_concurrency: args.llm_concurrency,
        progress: &on_chunk,
    };
    let source: Box<dyn PassageSource> = if passages.is_dir() {
        let index = ::index::Bm25Index::open(&passages)
            .with_context(|| format!("opening {} as an index", passages.display()))?;
        Box::new(IndexPassages(passages.clone(), index))
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

/// The chat model for `--spans llm` and the scorer for `--difficulty ppl`.
type Models = (Option<Arc<dyn ChatModel>>, Option<Arc<dyn TokenScorer>>);

fn models(args: &GenerateArgs, config: &RampConfig, out: &Path) -> anyhow::Result<Models> {
    let wants_llm = config.spans.kinds().any(|k| k == ::ramp::SpanKind::Llm);
    let remote = !args.llm_base_url.is_empty();
    let needs_local = config.difficulty || (wants_llm && !remote);
    let local = if needs_local {
        Some(load_local(args.model.as_deref())?)
    } else {
        None
    };
    let scorer: Option<Arc<dyn TokenScorer>> = match (&local, config.difficulty) {
        (Some(l), true) => Some(Arc::clone(&l.1)),
        _ => None,
    };
    if !wants_llm {
        return Ok((None, scorer));
    }
    let chat: Arc<dyn ChatModel> = if remote {
        let Some(name) = &args.llm_model else {
            bail!("--llm-base-url needs --llm-model NAME")
        };
        let mut client = ClientConfig {
            base_urls: args.llm_base_url.clone(),
            model: name.clone(),
            ..ClientConfig::default()
        };
        client.api_key_env = args.api_key_env.clone();
        client.max_concurrency = args.llm_concurrency.max(1);
        Arc::new(OpenAiClient::new(client)?)
    } else {
        match &local {
            Some(l) => Arc::clone(&l.0),
            None => {
                bail!("--spans llm needs --llm-base-url URL --llm-model NAME, or a local --model")
            }
        }
    };
    let cache = args.cache.clone().unwrap_or_else(|| {
        let mut name = out.as_os_str().to_owned();
        name.push(".llm-cache.redb");
        PathBuf::from(name)
    });
    let cached = CachedModel::open(
        Arc::clone(&chat),
        &CacheConfig {
            path: cache.clone(),
            policy: CachePolicy::Deterministic,
        },
    )
    .with_context(|| format!("opening the LLM response cache {}", cache.display()))?;
    Ok((Some(Arc::new(cached)), scorer))
}

#[cfg(feature = "local")]
fn load_local(path: Option<&Path>) -> anyhow::Result<(Arc<dyn ChatModel>, Arc<dyn TokenScorer>)> {
    let path = crate::llm::model_path(path)?;
    let model = ::llm::LocalModel::load(::llm::LocalConfig::new(&path))
        .with_context(|| format!("loading {}", path.display()))?;
    let model = Arc::new(model);
    Ok((
        Arc::clone(&model) as Arc<dyn ChatModel>,
        model as Arc<dyn TokenScorer>,
    ))
}

#[cfg(not(feature = "local"))]
fn load_local(path: Option<&Path>) -> anyhow::Result<(Arc<dyn ChatModel>, Arc<dyn TokenScorer>)> {
    crate::llm::model_path(path)?;
    bail!(
        "this masksearch was built without the `local` feature; use --llm-base-url URL --llm-model NAME"
    )
}

/// The passages stored in an index, as a RAMP input.
struct IndexPassages(PathBuf, ::index::Bm25Index);

impl PassageSource for IndexPassages {
    fn name(&self) -> String {
        self.0.display().to_string()
    }

    fn open(
        &self,
    ) -> Result<Box<dyn Iterator<Item = Result<Passage, FormatError>> + Send + '_>, RampError> {
        let path = self.name();
        Ok(Box::new(self.1.passages().map(move |p| {
            p.map_err(|e| FormatError::Io {
                path: path.clone(),
                error: std::io::Error::other(e),
            })
        })))
    }
}
