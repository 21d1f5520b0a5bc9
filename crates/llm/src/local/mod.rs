//! A GGUF model run in-process on CPU by llama.cpp (feature `local`).
//!
//! [`LocalModel`] checks a request, hands it to the [`pool`] of worker threads and awaits the
//! pieces and the answer on channels, so async callers never block the runtime. The file is
//! loaded once ([`weights`]); each worker owns one llama.cpp context and generates or scores
//! ([`worker`]); prompts are rendered with the chat template from the GGUF file ([`prompt`]).

mod pool;
mod prompt;
mod weights;
mod worker;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use async_trait::async_trait;
use chat::{ChatError, ChatModel, ChatRequest, ChatResponse, LogProb, PieceSink, TokenScorer};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc::UnboundedSender, oneshot};

use crate::{Accounting, LlmError};
use pool::{Pool, Refused};
use weights::Weights;

/// How to load and run a local GGUF model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    pub model_path: PathBuf,
    /// CPU threads per worker; `None` shares the available cores among the workers (at least
    /// one each). More threads than cores in all is slow: llama.cpp's threads spin at barriers.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Context window in tokens (prompt + completion), capped at the model's training context.
    #[serde(default = "default_context_size")]
    pub context_size: u32,
    /// Requests decoded at the same time, each in its own context; with explicit `threads`,
    /// keep `workers × threads` at or below the number of cores.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Chat requests that may wait for a free worker; more are turned away as
    /// [`ChatError::Busy`]. `None`: no limit, for callers that bound their own concurrency (a
    /// server facing unknown clients should set one).
    #[serde(default)]
    pub max_waiting: Option<usize>,
    /// Completion length when a request gives no `max_tokens`.
    #[serde(default = "default_max_tokens")]
    pub default_max_tokens: u32,
    /// Where tokens are counted, cancelled generations included.
    #[serde(skip)]
    pub accounting: Arc<Accounting>,
}

fn default_context_size() -> u32 {
    4096
}
fn default_workers() -> usize {
    1
}
fn default_max_tokens() -> u32 {
    512
}

impl LocalConfig {
    pub fn new(model_path: impl Into<PathBuf>) -> Self {
        LocalConfig {
            model_path: model_path.into(),
            threads: None,
            context_size: default_context_size(),
            workers: default_workers(),
            max_waiting: None,
            default_max_tokens: default_max_tokens(),
            accounting: Arc::default(),
        }
    }
}

/// Where the time of one local generation went.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LocalTimings {
    pub prompt_tokens: usize,
    pub prompt_secs: f64,
    pub generated_tokens: usize,
    pub generation_secs: f64,
}

/// A GGUF chat model running in this process. Implements [`ChatModel`] (streaming included)
/// and [`TokenScorer`].
///
/// Decoding is greedy when `temperature` is `None` or 0, otherwise temperature (then `top_p`)
/// sampling seeded by `seed` (random when absent), so a fixed seed reproduces a sample. A
/// completion ends at `max_tokens` or when the context is full, whichever comes first
/// (`finish_reason: length`). Generation stops at the next token once nobody waits for the
/// answer (the future was dropped, or the sink said so).
///
/// Tools are written into the prompt, calls and their results into the conversation, in
/// LLaMA-Factory's default tool format (`Action:` / `Action Input:` lines; what its `smollm`
/// template trains on). With `tools`, the calls the generated text makes come back as
/// [`ChatResponse::tool_calls`] with fresh ids and the text before them as the answer's text
/// (only that text is streamed); a call with bad JSON leaves the whole text as text, and a
/// turn cut short (`finish_reason: length`) makes no call.
pub struct LocalModel {
    name: String,
    pool: Pool,
    context_size: u32,
    workers: usize,
    threads: usize,
    accounting: Arc<Accounting>,
}

impl fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &self.name)
            .field("context_size", &self.context_size)
            .finish()
    }
}

type ChatResult = Result<(ChatResponse, LocalTimings), ChatError>;

impl LocalModel {
    /// Loads the GGUF file and starts the worker threads.
    pub fn load(config: LocalConfig) -> Result<Self, LlmError> {
        let path = &config.model_path;
        if !path.is_file() {
            return Err(LlmError::ModelNotFound { path: path.clone() });
        }
        let load_error = |message| LlmError::ModelLoad {
            path: path.clone(),
            message,
        };
        let weights = Arc::new(Weights::load(&config).map_err(load_error)?);
        let workers = config.workers.max(1);
        let threads = config
            .threads
            .unwrap_or_else(|| {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                cores / workers
            })
            .clamp(1, 512);
        let pool =
            Pool::start(&weights, threads, workers, config.max_waiting).map_err(load_error)?;
        let name = path
            .file_stem()
            .map_or_else(|| "local".to_string(), |s| s.to_string_lossy().into_owned());
        Ok(LocalModel {
            name,
            pool,
            context_size: weights.context_size,
            workers,
            threads,
            accounting: Arc::clone(&config.accounting),
        })
    }

    pub fn accounting(&self) -> &Arc<Accounting> {
        &self.accounting
    }

    /// The context window each request gets (prompt + completion).
    pub fn context_size(&self) -> u32 {
        self.context_size
    }

    /// Requests decoded at the same time.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// CPU threads each worker computes on.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Generates a reply and says how long prompt evaluation and generation took.
    pub async fn chat_timed(&self, request: &ChatRequest) -> ChatResult {
        self.submit(request, None).await
    }

    fn refused(&self, refused: Refused) -> ChatError {
        match refused {
            Refused::Busy { retry_after_secs } => ChatError::Busy {
                backend: self.name.clone(),
                retry_after_secs,
            },
            Refused::Stopped => self.failed("all worker threads have stopped"),
        }
    }

    fn failed(&self, message: &str) -> ChatError {
        ChatError::Failed {
            backend: self.name.clone(),
            message: message.to_string(),
        }
    }

    /// Queues the request and waits for its answer, handing streamed pieces to `sink`. When
    /// this future is dropped (an HTTP client went away) or `sink` says nobody listens, the
    /// worker notices at its next token and stops.
    async fn submit(&self, request: &ChatRequest, sink: Option<PieceSink<'_>>) -> ChatResult {
        request.validate()?;
        let (reply, mut answer) = oneshot::channel();
        let (pieces_tx, mut pieces) = tokio::sync::mpsc::unbounded_channel();
        self.pool
            .submit_chat(Job::Chat {
                request: request.clone(),
                pieces: sink.is_some().then_some(pieces_tx),
                reply,
                accounting: Arc::clone(&self.accounting),
            })
            .map_err(|refused| self.refused(refused))?;
        let result = loop {
            tokio::select! {
                biased;
                Some(piece) = pieces.recv() => {
                    if sink.is_some_and(|sink| !sink(&piece)) {
                        // Closing the channel tells the worker to stop.
                        pieces.close();
                    }
                }
                result = &mut answer => break result,
            }
        };
        // Pieces sent just before the answer.
        while let Ok(piece) = pieces.try_recv() {
            if let Some(sink) = sink {
                sink(&piece);
            }
        }
        result.map_err(|_| self.failed("worker thread dropped the request"))?
    }
}

#[async_trait]
impl ChatModel for LocalModel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
        Ok(self.submit(request, None).await?.0)
    }

    async fn chat_stream(
        &self,
        request: &ChatRequest,
        sink: PieceSink<'_>,
    ) -> Result<ChatResponse, ChatError> {
        Ok(self.submit(request, Some(sink)).await?.0)
    }
}

impl TokenScorer for LocalModel {
    fn name(&self) -> &str {
        &self.name
    }

    /// Blocks the calling thread until a worker has scored the text; call it from plain threads
    /// (or `spawn_blocking`), not from an async task. Scoring jobs wait their turn however long
    /// the queue is.
    ///
    /// Trailing whitespace of `context` is moved onto the continuation (BPE tokenizers attach a
    /// space to the word after it). A context longer than the window loses its oldest tokens.
    fn continuation_logprob(
        &self,
        context: &str,
        continuation: &str,
    ) -> Result<LogProb, ChatError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        self.pool
            .submit_score(Job::Score {
                context: context.to_string(),
                continuation: continuation.to_string(),
                reply,
            })
            .map_err(|refused| self.refused(refused))?;
        answer
            .recv()
            .map_err(|_| self.failed("worker thread dropped the request"))?
    }
}

/// One unit of work for a worker; the answer goes back on `reply`.
pub(crate) enum Job {
    Chat {
        request: ChatRequest,
        /// Where streamed pieces go, when the caller streams.
        pieces: Option<UnboundedSender<String>>,
        reply: oneshot::Sender<ChatResult>,
        /// Counts the tokens, cancelled generations included.
        accounting: Arc<Accounting>,
    },
    Score {
        context: String,
        continuation: String,
        reply: SyncSender<Result<LogProb, ChatError>>,
    },
}

/// A failure inside llama.cpp while doing `what`.
pub(crate) fn local_err(what: &str) -> impl Fn(String) -> ChatError + '_ {
    move |e| ChatError::Failed {
        backend: "local model".to_string(),
        message: format!("{what}: {e}"),
    }
}
