//! `masksearch llm`: ask a model one question (`chat`) or serve the local GGUF model over the
//! OpenAI chat API (`serve`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ::llm::{
    Accounting, CacheConfig, CachePolicy, CachedModel, ChatModel, ChatRequest, ClientConfig,
    Message, OpenAiClient,
};
use anyhow::{Context as _, bail};
use clap::Subcommand;

/// The embedded default model, relative to the current directory (fetched by scripts/setup.sh).
const DEFAULT_MODEL: &str = "assets/models/SmolLM2-135M-Instruct.Q4_1.gguf";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: LlmCommand,
}

#[derive(Subcommand)]
enum LlmCommand {
    /// Send one prompt and print the reply (streamed when the model is local).
    Chat(ChatArgs),
    /// Serve the local model as an OpenAI-compatible /v1/chat/completions and /v1/models.
    Serve(ServeArgs),
}

/// Which model answers: a local GGUF file, or OpenAI-compatible endpoints.
#[derive(clap::Args)]
struct ModelArgs {
    /// GGUF model run in-process [default: assets/models/SmolLM2-135M-Instruct.Q4_1.gguf].
    #[arg(long, value_name = "PATH", conflicts_with = "base_urls")]
    model: Option<PathBuf>,
    /// OpenAI-compatible base URL (e.g. http://127.0.0.1:8001/v1); repeat for round-robin.
    #[arg(long = "base-url", value_name = "URL")]
    base_urls: Vec<String>,
    /// Model name sent to the endpoints (e.g. qwen-max).
    #[arg(long, value_name = "NAME", requires = "base_urls")]
    model_name: Option<String>,
    /// Name of the environment variable that holds the API key (e.g. DASHSCOPE_API_KEY).
    #[arg(long, value_name = "VAR", requires = "base_urls")]
    api_key_env: Option<String>,
    /// Local model: CPU threads [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Local model: context window in tokens.
    #[arg(long, default_value_t = 4096)]
    context_size: u32,
}

#[derive(clap::Args)]
struct ChatArgs {
    prompt: String,
    #[command(flatten)]
    model: ModelArgs,
    /// A system message before the prompt.
    #[arg(long)]
    system: Option<String>,
    #[arg(long, default_value_t = 256)]
    max_tokens: u32,
    /// 0 is greedy decoding (and cached).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    #[arg(long)]
    seed: Option<u64>,
    /// Stop sequence; repeat for several.
    #[arg(long)]
    stop: Vec<String>,
    /// Response cache file [default: $XDG_CACHE_HOME/masksearch/llm-responses.redb].
    #[arg(long, value_name = "PATH", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Also cache answers sampled at temperature > 0 (opt-in: a re-run then replays them
    /// instead of sampling anew).
    #[arg(long, conflicts_with = "no_cache")]
    cache_sampled: bool,
    /// Neither read nor write the response cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// GGUF model to serve [default: assets/models/SmolLM2-135M-Instruct.Q4_1.gguf].
    #[arg(long, value_name = "PATH")]
    model: Option<PathBuf>,
    /// Address to bind; use 0.0.0.0 only behind a trusted network.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// 0 picks a free port (printed on the first line of stdout).
    #[arg(long, default_value_t = 8001)]
    port: u16,
    /// CPU threads per worker [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Requests decoded at the same time (each needs its own context memory).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[arg(long, default_value_t = 4096)]
    context_size: u32,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match args.command {
        LlmCommand::Chat(args) => runtime.block_on(chat(args)),
        LlmCommand::Serve(args) => runtime.block_on(serve(args)),
    }
}

async fn chat(args: ChatArgs) -> anyhow::Result<()> {
    let accounting = Arc::new(Accounting::default());
    let model = open_model(&args.model, 1, &accounting)?;
    let model = with_cache(model, &args, &accounting);
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(Message::system(system.clone()));
    }
    messages.push(Message::user(args.prompt.clone()));
    let request = ChatRequest {
        messages,
        temperature: Some(args.temperature),
        max_tokens: Some(args.max_tokens),
        stop: args.stop.clone(),
        seed: args.seed,
    };
    let started = Instant::now();
    let (tokens, mut pieces) = tokio::sync::mpsc::unbounded_channel::<String>();
    let printer = tokio::spawn(async move {
        let mut stdout = std::io::stdout();
        while let Some(piece) = pieces.recv().await {
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        }
    });
    let response = model.chat_stream(&request, tokens).await;
    let _ = printer.await;
    let response = response.with_context(|| format!("asking {}", model.name()))?;
    println!();
    let stats = accounting.snapshot();
    eprintln!(
        "[{}: {} prompt + {} completion tokens, finish_reason {}, {:.2}s{}]",
        model.name(),
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
        response.finish_reason,
        started.elapsed().as_secs_f64(),
        if stats.cache_hits > 0 {
            ", from cache"
        } else {
            ""
        },
    );
    Ok(())
}

/// Puts the response cache in front of `model` unless disabled; a cache that cannot be opened
/// (e.g. held by another run) is reported and skipped.
fn with_cache(
    model: Arc<dyn ChatModel>,
    args: &ChatArgs,
    accounting: &Arc<Accounting>,
) -> Arc<dyn ChatModel> {
    if args.no_cache {
        return model;
    }
    let Some(path) = args.cache.clone().or_else(default_cache_path) else {
        return model;
    };
    let config = CacheConfig {
        path,
        policy: if args.cache_sampled {
            CachePolicy::All
        } else {
            CachePolicy::Deterministic
        },
    };
    match CachedModel::open(Arc::clone(&model), &config) {
        Ok(cached) => Arc::new(cached.with_accounting(Arc::clone(accounting))),
        Err(e) => {
            tracing::warn!("{e}; continuing without the response cache");
            model
        }
    }
}

fn default_cache_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("masksearch").join("llm-responses.redb"))
}

fn open_model(
    args: &ModelArgs,
    workers: usize,
    accounting: &Arc<Accounting>,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    if args.base_urls.is_empty() {
        return load_local(
            args.model.as_deref(),
            args.threads,
            workers,
            args.context_size,
            accounting,
        );
    }
    let Some(name) = &args.model_name else {
        bail!("--base-url needs --model-name (the model id the endpoint serves)");
    };
    let mut config = ClientConfig {
        base_urls: args.base_urls.clone(),
        model: name.clone(),
        ..ClientConfig::default()
    };
    config.api_key_env = args.api_key_env.clone();
    let client = OpenAiClient::new(config)?.with_accounting(Arc::clone(accounting));
    Ok(Arc::new(client))
}

/// The GGUF path to load: the one given, or the default (relative to the working directory)
/// with a hint when it is missing. Shared by every command that loads the local model.
pub(crate) fn model_path(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    match given {
        Some(path) if path.is_file() => Ok(path.to_path_buf()),
        Some(path) => bail!("model file {} not found", path.display()),
        None if Path::new(DEFAULT_MODEL).is_file() => Ok(PathBuf::from(DEFAULT_MODEL)),
        None => bail!(
            "the default model {DEFAULT_MODEL} is missing (relative to {})\n\
             hint: run scripts/setup.sh from the repository root, or pass --model PATH or --base-url URL",
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        ),
    }
}

#[cfg(feature = "local")]
fn load_local(
    path: Option<&Path>,
    threads: Option<usize>,
    workers: usize,
    context_size: u32,
    accounting: &Arc<Accounting>,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    let path = model_path(path)?;
    let config = ::llm::LocalConfig {
        threads,
        workers,
        context_size,
        ..::llm::LocalConfig::new(&path)
    };
    let model =
        ::llm::LocalModel::load(config).with_context(|| format!("loading {}", path.display()))?;
    Ok(Arc::new(model.with_accounting(Arc::clone(accounting))))
}

#[cfg(not(feature = "local"))]
fn load_local(
    path: Option<&Path>,
    _: Option<usize>,
    _: usize,
    _: u32,
    _: &Arc<Accounting>,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    model_path(path)?;
    bail!(
        "this masksearch was built without the `local` feature; use --base-url URL --model-name NAME"
    )
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let accounting = Arc::new(Accounting::default());
    let model = load_local(
        args.model.as_deref(),
        args.threads,
        args.workers,
        args.context_size,
        &accounting,
    )?;
    let app = server::app([server::chat::router(model)], server::DEFAULT_BODY_LIMIT);
    crate::listen_and_serve(args.host, args.port, app, || {}).await
}
