//! Model flags and wiring shared by every command that talks to a model: a local GGUF file run
//! in-process, or OpenAI-compatible endpoints, behind an optional response cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::llm::{Accounting, CacheConfig, CachePolicy, CachedModel, ClientConfig, OpenAiClient};
use anyhow::{Context as _, bail};
use chat::{ChatModel, TokenScorer};

/// The embedded default model, relative to the current directory (fetched by scripts/setup.sh).
const DEFAULT_MODEL: &str = "assets/models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The local GGUF model and how to run it.
#[derive(clap::Args, Debug, Clone)]
pub struct LocalArgs {
    /// GGUF model run in-process [default: assets/models/SmolLM2-135M-Instruct.Q4_1.gguf].
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Local model: CPU threads per worker [default: the cores shared among the workers].
    #[arg(long, env = "MASKSEARCH_THREADS", value_name = "N")]
    pub threads: Option<usize>,
    /// Local model: context window in tokens (prompt + completion).
    #[arg(long, default_value_t = 4096)]
    pub context_size: u32,
}

/// Which model answers: OpenAI-compatible endpoints when `--base-url` is given, else the local
/// GGUF model (which also scores difficulty where a command asks for it).
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    #[command(flatten)]
    pub local: LocalArgs,
    /// OpenAI-compatible base URL (e.g. http://127.0.0.1:8001/v1); repeat for round-robin.
    #[arg(long = "base-url", alias = "llm-base-url", value_name = "URL")]
    pub base_urls: Vec<String>,
    /// Model name sent to the endpoints (e.g. qwen-max).
    #[arg(long, alias = "llm-model", value_name = "NAME", requires = "base_urls")]
    pub model_name: Option<String>,
    /// Name of the environment variable that holds the API key (e.g. DASHSCOPE_API_KEY).
    #[arg(long, value_name = "VAR", requires = "base_urls")]
    pub api_key_env: Option<String>,
    /// Model requests in flight at once.
    #[arg(long, alias = "llm-concurrency", default_value_t = 8)]
    pub concurrency: usize,
    /// Seconds one request to an endpoint may take, from sending it to the answer's last byte; a
    /// timed-out request is retried. Time in the endpoint's queue counts, but an endpoint that
    /// says how many requests it answers at once (`llm serve` does) is sent no more than that:
    /// the others wait here, their clocks not started. A slow model given long prompts (a CPU
    /// behind `llm serve`) needs more.
    #[arg(long, value_name = "SECS", default_value_t = 120.0, value_parser = positive_secs)]
    pub request_timeout: f64,
}

fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() => Ok(secs),
        _ => Err(format!("{text:?} is not a number of seconds above 0")),
    }
}

/// What a command asked for: a chat model, a token scorer, or both (one local model serves
/// both when no endpoint is given).
pub struct Models {
    pub chat: Option<Arc<dyn ChatModel>>,
    pub scorer: Option<Arc<dyn TokenScorer>>,
    pub accounting: Arc<Accounting>,
}

/// The model endpoints' part of a summary line: requests sent, retries, and calls that failed
/// after every attempt with their share; empty when no request went to an endpoint (the local
/// model, or every answer from the response cache).
pub fn endpoint_summary(accounting: &Accounting) -> String {
    let s = accounting.snapshot();
    if s.http_requests == 0 {
        return String::new();
    }
    let calls = s.http_requests.saturating_sub(s.retries).max(1);
    format!(
        "; endpoints: {} requests, {} retries, {} of {} calls failed ({:.1}%)",
        s.http_requests,
        s.retries,
        s.failed_calls,
        calls,
        100.0 * s.failed_calls as f64 / calls as f64
    )
}

/// Where a long run keeps its response cache: `--cache` if given, else `default` beside its
/// output; `overwrite` when the run starts over (see [`run_cache`]).
pub struct RunCache<'a> {
    pub given: Option<&'a Path>,
    pub default: PathBuf,
    pub overwrite: bool,
}

/// A long run's models: [`Models`] with the chat model behind the run's response cache, and
/// the requests to keep in flight.
pub struct RunModels {
    pub models: Models,
    /// One at a time per local worker (more would only queue); `--concurrency` for endpoints.
    pub concurrency: usize,
}

impl ModelArgs {
    /// Opens what the command needs: a chat model (endpoints, or the local model) and/or a
    /// scorer (always the local model). `workers` local requests decode at once.
    pub fn open(&self, chat: bool, scorer: bool, workers: usize) -> anyhow::Result<Models> {
        let accounting = Arc::new(Accounting::default());
        let remote = !self.base_urls.is_empty();
        let local = if scorer || (chat && !remote) {
            Some(self.local.load(workers, None, &accounting)?)
        } else {
            None
        };
        let chat_model: Option<Arc<dyn ChatModel>> = if !chat {
            None
        } else if remote {
            Some(Arc::new(self.client(&accounting)?))
        } else {
            local.as_ref().map(Local::chat)
        };
        Ok(Models {
            chat: chat_model,
            scorer: local.filter(|_| scorer).as_ref().map(Local::scorer),
            accounting,
        })
    }

    /// [`ModelArgs::open`] for a long run (`ramp`, `trajectories`, `evolve`, `eval`): the chat
    /// model, when asked for, answers through the run's response cache.
    pub fn for_run(
        &self,
        chat: bool,
        scorer: bool,
        cache: RunCache<'_>,
    ) -> anyhow::Result<RunModels> {
        let mut models = self.open(chat, scorer, 1)?;
        if let Some(model) = models.chat.take() {
            let path = run_cache(cache.given, cache.default, cache.overwrite)?;
            let cached = with_cache(
                model,
                &path,
                CachePolicy::Deterministic,
                &models.accounting,
                true,
            )?;
            models.chat = Some(cached);
        }
        let concurrency = if self.base_urls.is_empty() && chat {
            1
        } else {
            self.concurrency
        };
        Ok(RunModels {
            models,
            concurrency,
        })
    }

    /// A client of another endpoint (a self-evolving round's student) with these flags'
    /// concurrency; no API key is sent to it.
    pub fn endpoint(
        &self,
        base_url: &str,
        name: &str,
        accounting: &Arc<Accounting>,
    ) -> anyhow::Result<OpenAiClient> {
        ModelArgs {
            base_urls: vec![base_url.to_string()],
            model_name: Some(name.to_string()),
            api_key_env: None,
            ..self.clone()
        }
        .client(accounting)
    }

    fn client(&self, accounting: &Arc<Accounting>) -> anyhow::Result<OpenAiClient> {
        let Some(name) = &self.model_name else {
            bail!("--base-url needs --model-name (the model id the endpoint serves)");
        };
        let config = ClientConfig {
            base_urls: self.base_urls.clone(),
            model: name.clone(),
            api_key_env: self.api_key_env.clone(),
            max_concurrency: self.concurrency.max(1),
            request_timeout_secs: self.request_timeout,
            accounting: Arc::clone(accounting),
            ..ClientConfig::default()
        };
        Ok(OpenAiClient::new(config)?)
    }
}

/// The response cache a run keeps beside its output: `given` (`--cache`), else `default`. A run
/// that starts over (`--overwrite`) starts its default cache over too: the answers a model served
/// earlier under the same name gave must not be replayed as this one's. A cache given by path is
/// the user's to keep.
pub fn run_cache(
    given: Option<&Path>,
    default: PathBuf,
    overwrite: bool,
) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        return Ok(path.to_path_buf());
    }
    if overwrite {
        formats::remove_if_present(&default)
            .with_context(|| format!("starting over {}", default.display()))?;
    }
    Ok(default)
}

/// Puts the response cache at `path` in front of `model`. A cache that cannot be opened (held by
/// another run) is reported and skipped when `required` is false.
pub fn with_cache(
    model: Arc<dyn ChatModel>,
    path: &Path,
    policy: CachePolicy,
    accounting: &Arc<Accounting>,
    required: bool,
) -> anyhow::Result<Arc<dyn ChatModel>> {
    let config = CacheConfig {
        path: path.to_path_buf(),
        policy,
        accounting: Arc::clone(accounting),
    };
    match CachedModel::open(Arc::clone(&model), &config) {
        Ok(cached) => Ok(Arc::new(cached)),
        Err(e) if !required => {
            tracing::warn!("{e}; continuing without the response cache");
            Ok(model)
        }
        // The error names the cache's file.
        Err(e) => Err(e.into()),
    }
}

/// The user's response cache: `$XDG_CACHE_HOME/masksearch/llm-responses.redb`.
pub fn default_cache_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("masksearch").join("llm-responses.redb"))
}

impl LocalArgs {
    /// The GGUF path to load: the one given, or the default (relative to the working
    /// directory) with a hint when it is missing.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.model {
            Some(path) if path.is_file() => Ok(path.clone()),
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
}

/// A loaded local model, seen as a chat model and as a scorer.
#[cfg(feature = "local")]
pub struct Local(Arc<::llm::LocalModel>);

/// Without the `local` feature no local model can exist.
#[cfg(not(feature = "local"))]
pub enum Local {}

#[cfg(feature = "local")]
impl LocalArgs {
    /// Loads the model with `workers` decoding at once and at most `max_waiting` chat requests
    /// queued (`None`: no limit).
    pub fn load(
        &self,
        workers: usize,
        max_waiting: Option<usize>,
        accounting: &Arc<Accounting>,
    ) -> anyhow::Result<Local> {
        let path = self.path()?;
        let config = ::llm::LocalConfig {
            threads: self.threads,
            workers: workers.max(1),
            max_waiting,
            context_size: self.context_size,
            accounting: Arc::clone(accounting),
            ..::llm::LocalConfig::new(&path)
        };
        let model = ::llm::LocalModel::load(config)?;
        Ok(Local(Arc::new(model)))
    }
}

#[cfg(feature = "local")]
impl Local {
    pub fn chat(&self) -> Arc<dyn ChatModel> {
        Arc::clone(&self.0) as Arc<dyn ChatModel>
    }

    /// How many requests it answers at once.
    pub fn workers(&self) -> usize {
        self.0.workers()
    }

    /// `NAME: W worker(s) × T thread(s), C-token context`, for a startup line.
    pub fn about(&self) -> String {
        let m = &self.0;
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        format!(
            "{}: {} × {}, {}-token context",
            ChatModel::name(m.as_ref()),
            plural(m.workers(), "worker"),
            plural(m.threads(), "thread"),
            m.context_size()
        )
    }

    pub fn scorer(&self) -> Arc<dyn TokenScorer> {
        Arc::clone(&self.0) as Arc<dyn TokenScorer>
    }
}

#[cfg(not(feature = "local"))]
impl LocalArgs {
    pub fn load(
        &self,
        _workers: usize,
        _max_waiting: Option<usize>,
        _: &Arc<Accounting>,
    ) -> anyhow::Result<Local> {
        self.path()?;
        bail!(
            "this masksearch was built without the `local` feature; use --base-url URL --model-name NAME"
        )
    }
}

#[cfg(not(feature = "local"))]
impl Local {
    pub fn chat(&self) -> Arc<dyn ChatModel> {
        match *self {}
    }

    pub fn workers(&self) -> usize {
        match *self {}
    }

    pub fn about(&self) -> String {
        match *self {}
    }

    pub fn scorer(&self) -> Arc<dyn TokenScorer> {
        match *self {}
    }
}
