//! `masksearch llm`: ask a model one question (`chat`) or serve the local GGUF model over the
//! OpenAI chat API (`serve`).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use chat::{ChatRequest, Message};
use clap::Subcommand;
use llm::CachePolicy;

use crate::models::{self, LocalArgs, ModelArgs};

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
    #[command(flatten)]
    local: LocalArgs,
    /// Address to bind; use 0.0.0.0 only behind a trusted network.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// 0 picks a free port (printed on the first line of stdout).
    #[arg(long, default_value_t = 8001)]
    port: u16,
    /// Requests decoded at the same time (each needs its own context memory).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Requests that may wait for a free worker; more are answered 503 with Retry-After
    /// [default: 8 per worker, what one default client sends at once].
    #[arg(long, value_name = "N")]
    max_waiting: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match args.command {
        LlmCommand::Chat(args) => runtime.block_on(chat(args)),
        LlmCommand::Serve(args) => runtime.block_on(serve(args)),
    }
}

async fn chat(args: ChatArgs) -> anyhow::Result<()> {
    if args.model.local.model.is_some() && !args.model.base_urls.is_empty() {
        use clap::CommandFactory as _;
        crate::Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--model (a local GGUF) and --base-url (endpoints) name two models; pass one",
            )
            .exit();
    }
    let opened = args.model.open(true, false, 1)?;
    let accounting = opened.accounting;
    let mut model = opened.chat.context("no chat model")?;
    if let Some(path) = args.cache.clone().or_else(models::default_cache_path)
        && !args.no_cache
    {
        let policy = if args.cache_sampled {
            CachePolicy::All
        } else {
            CachePolicy::Deterministic
        };
        model = models::with_cache(model, &path, policy, &accounting, false)?;
    }
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
        ..ChatRequest::default()
    };
    let started = Instant::now();
    let print = |piece: &str| {
        let mut stdout = std::io::stdout();
        stdout.write_all(piece.as_bytes()).is_ok() && stdout.flush().is_ok()
    };
    let response = model.chat_stream(&request, &print).await;
    let response = response.with_context(|| format!("asking {}", model.name()))?;
    println!();
    let stats = accounting.snapshot();
    eprintln!(
        "[{}: {} prompt + {} completion tokens, finish_reason {}, {:.2}s{}]",
        model.name(),
        response.usage.prompt_tokens,
        response.usage.completion_tokens,
        response.finish_reason.as_str(),
        started.elapsed().as_secs_f64(),
        if stats.cache_hits > 0 {
            ", from cache"
        } else {
            ""
        },
    );
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let accounting = Default::default();
    let max_waiting = args.max_waiting.unwrap_or(8 * args.workers.max(1));
    let local = args
        .local
        .load(args.workers, Some(max_waiting), &accounting)?;
    let about = local.about();
    let app = server::app(
        [server::chat::router(local.chat(), Some(local.workers()))],
        server::DEFAULT_BODY_LIMIT,
    );
    crate::listen_and_serve(args.host, args.port, app, || {
        eprintln!("serving {about}; up to {max_waiting} requests wait for a worker");
    })
    .await
}
