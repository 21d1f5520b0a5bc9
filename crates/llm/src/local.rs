//! A GGUF model run in-process on CPU by llama.cpp (feature `local`).
//!
//! The model is loaded once and shared; each worker thread owns one llama.cpp context and takes
//! jobs from a queue, so async callers only await a channel and never block the runtime.
//! Tokenizer and chat template come from the GGUF file itself.

use std::fmt;
use std::num::NonZeroU32;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use chat::{
    ChatError, ChatModel, ChatRequest, ChatResponse, FinishReason, LogProb, PieceSink, TokenScorer,
    Usage,
};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use crate::{Accounting, LlmError};

/// How to load and run a local GGUF model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalConfig {
    pub model_path: PathBuf,
    /// CPU threads per worker; `None` means every available core.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Context window in tokens (prompt + completion), capped at the model's training context.
    #[serde(default = "default_context_size")]
    pub context_size: u32,
    /// Requests decoded at the same time, each in its own context. Keep
    /// `workers × threads` at or below the number of cores.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Completion length when a request gives no `max_tokens`.
    #[serde(default = "default_max_tokens")]
    pub default_max_tokens: u32,
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
            default_max_tokens: default_max_tokens(),
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
/// Decoding is greedy when `temperature` is `None` or 0, otherwise temperature sampling seeded
/// by `seed` (random when absent), so a fixed seed reproduces a sample.
pub struct LocalModel {
    name: String,
    jobs: Sender<Job>,
    context_size: u32,
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

enum Job {
    Chat {
        request: ChatRequest,
        tokens: Option<UnboundedSender<String>>,
        reply: oneshot::Sender<ChatResult>,
    },
    Score {
        context: String,
        continuation: String,
        reply: SyncSender<Result<LogProb, ChatError>>,
    },
}

/// The weights and template, shared read-only by all workers.
struct Loaded {
    llama: LlamaModel,
    template: LlamaChatTemplate,
    default_max_tokens: u32,
}

/// llama.cpp's backend may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs every tensor at load; route it through `tracing` (target
            // `llama.cpp` / `ggml`) so it is quiet unless a filter asks for it.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| format!("initialising llama.cpp: {e}"))
}

impl LocalModel {
    /// Loads the GGUF file and starts the worker threads.
    pub fn load(config: LocalConfig) -> Result<Self, LlmError> {
        let path = &config.model_path;
        if !path.is_file() {
            return Err(LlmError::ModelNotFound { path: path.clone() });
        }
        let load_error = |message: String| LlmError::ModelLoad {
            path: path.clone(),
            message,
        };
        let backend = backend().map_err(load_error)?;
        let llama = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| load_error(e.to_string()))?;
        let template = match llama.chat_template(None) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(model = %path.display(), "no chat template in the GGUF ({e}); using ChatML");
                LlamaChatTemplate::new("chatml").map_err(|e| load_error(e.to_string()))?
            }
        };
        let context_size = config.context_size.min(llama.n_ctx_train()).max(16);
        let threads = config
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, 512) as i32;
        let name = path
            .file_stem()
            .map_or_else(|| "local".to_string(), |s| s.to_string_lossy().into_owned());
        let loaded = Arc::new(Loaded {
            llama,
            template,
            default_max_tokens: config.default_max_tokens,
        });
        let (jobs, queue) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        // Contexts are created one after the other: llama.cpp's context creation mutates the
        // model and must not run concurrently.
        for i in 0..config.workers.max(1) {
            let (ready_tx, ready_rx) = mpsc::sync_channel(1);
            let (loaded, queue) = (Arc::clone(&loaded), Arc::clone(&queue));
            std::thread::Builder::new()
                .name(format!("llm-local-{i}"))
                .spawn(move || run_worker(&loaded, context_size, threads, &queue, ready_tx))
                .map_err(|e| load_error(format!("starting worker thread: {e}")))?;
            ready_rx
                .recv()
                .map_err(|_| load_error("worker thread died while starting".into()))?
                .map_err(load_error)?;
        }
        Ok(LocalModel {
            name,
            jobs,
            context_size,
            accounting: Arc::default(),
        })
    }

    /// Count tokens into `accounting` instead of a private one.
    pub fn with_accounting(mut self, accounting: Arc<Accounting>) -> Self {
        self.accounting = accounting;
        self
    }

    pub fn accounting(&self) -> &Arc<Accounting> {
        &self.accounting
    }

    /// The context window each request gets (prompt + completion).
    pub fn context_size(&self) -> u32 {
        self.context_size
    }

    /// Generates a reply and says how long prompt evaluation and generation took.
    pub async fn chat_timed(&self, request: &ChatRequest) -> ChatResult {
        self.submit(request, None).await
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
        let (reply, mut answer) = oneshot::channel();
        let (tokens, mut pieces) = tokio::sync::mpsc::unbounded_channel();
        self.jobs
            .send(Job::Chat {
                request: request.clone(),
                tokens: sink.is_some().then_some(tokens),
                reply,
            })
            .map_err(|_| self.failed("all worker threads have stopped"))?;
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
        let result = result.map_err(|_| self.failed("worker thread dropped the request"))?;
        if let Ok((response, _)) = &result {
            self.accounting.tokens(response.usage);
        }
        result
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
    /// (or `spawn_blocking`), not from an async task.
    ///
    /// Trailing whitespace of `context` is moved onto the continuation (BPE tokenizers attach a
    /// space to the word after it). A context longer than the window loses its oldest tokens.
    fn continuation_logprob(
        &self,
        context: &str,
        continuation: &str,
    ) -> Result<LogProb, ChatError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job::Score {
            context: context.to_string(),
            continuation: continuation.to_string(),
            reply,
        };
        self.jobs
            .send(job)
            .map_err(|_| self.failed("all worker threads have stopped"))?;
        answer
            .recv()
            .map_err(|_| self.failed("worker thread dropped the request"))?
    }
}

fn run_worker(
    loaded: &Loaded,
    context_size: u32,
    threads: i32,
    queue: &Mutex<Receiver<Job>>,
    ready: SyncSender<Result<(), String>>,
) {
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(context_size))
        .with_n_batch(context_size.min(512))
        .with_n_ubatch(context_size.min(512))
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let created = backend().and_then(|backend| {
        loaded
            .llama
            .new_context(backend, params)
            .map_err(|e| format!("creating a llama.cpp context: {e}"))
    });
    let mut ctx = match created {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        match job {
            Job::Chat {
                request,
                tokens,
                reply,
            } => {
                let listening =
                    || !reply.is_closed() && tokens.as_ref().is_none_or(|t| !t.is_closed());
                let result =
                    guarded(|| generate(&mut ctx, loaded, &request, tokens.as_ref(), &listening));
                let _ = reply.send(result);
            }
            Job::Score {
                context,
                continuation,
                reply,
            } => {
                let result = guarded(|| score(&mut ctx, loaded, &context, &continuation));
                let _ = reply.send(result);
            }
        }
    }
}

/// Turns a panic inside llama-cpp-2 into an error for that one request; the worker lives on
/// (its context is cleared before every job).
fn guarded<T>(f: impl FnOnce() -> Result<T, ChatError>) -> Result<T, ChatError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(local_err("llama.cpp worker panicked")(what))
    })
}

fn local_err(what: &str) -> impl Fn(String) -> ChatError + '_ {
    move |e| ChatError::Failed {
        backend: "local model".to_string(),
        message: format!("{what}: {e}"),
    }
}

fn render_prompt(loaded: &Loaded, request: &ChatRequest) -> Result<String, ChatError> {
    let messages = request
        .messages
        .iter()
        .map(|m| {
            LlamaChatMessage::new(m.role.as_str().to_string(), m.content.clone())
                .map_err(|e| ChatError::Invalid(format!("message content: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    loaded
        .llama
        .apply_chat_template(&loaded.template, &messages, true)
        .map_err(|e| local_err("applying the chat template")(e.to_string()))
}

/// Feeds `tokens` (positions from 0) in batches; asks for logits where `want_logits(pos)` and
/// hands each such position and its logits to `on_logits` before the next batch overwrites them.
fn decode_tokens(
    ctx: &mut LlamaContext<'_>,
    tokens: &[LlamaToken],
    want_logits: impl Fn(usize) -> bool,
    mut on_logits: impl FnMut(usize, &[f32]),
) -> Result<(), ChatError> {
    let n_batch = (ctx.n_batch() as usize).max(1);
    let mut batch = LlamaBatch::new(n_batch, 1);
    for (chunk_index, chunk) in tokens.chunks(n_batch).enumerate() {
        batch.clear();
        let start = chunk_index * n_batch;
        for (j, &token) in chunk.iter().enumerate() {
            batch
                .add(token, (start + j) as i32, &[0], want_logits(start + j))
                .map_err(|e| local_err("batch")(e.to_string()))?;
        }
        ctx.decode(&mut batch)
            .map_err(|e| local_err("decode")(e.to_string()))?;
        for j in 0..chunk.len() {
            if want_logits(start + j) {
                on_logits(start + j, ctx.get_logits_ith(j as i32));
            }
        }
    }
    Ok(())
}

fn sampler(request: &ChatRequest) -> LlamaSampler {
    match request.temperature {
        Some(t) if t > 0.0 => {
            let seed = request
                .seed
                .map_or_else(rand::random::<u32>, |s| (s ^ (s >> 32)) as u32);
            LlamaSampler::chain_simple([LlamaSampler::temp(t), LlamaSampler::dist(seed)])
        }
        _ => LlamaSampler::greedy(),
    }
}

fn generate(
    ctx: &mut LlamaContext<'_>,
    loaded: &Loaded,
    request: &ChatRequest,
    tokens: Option<&UnboundedSender<String>>,
    listening: &dyn Fn() -> bool,
) -> ChatResult {
    ctx.clear_kv_cache();
    let prompt = render_prompt(loaded, request)?;
    let vocab = loaded.llama.vocab();
    let prompt_tokens = vocab.tokenize(prompt.as_bytes(), true, true);
    let n_ctx = ctx.n_ctx() as usize;
    if prompt_tokens.is_empty() || prompt_tokens.len() >= n_ctx {
        return Err(ChatError::Invalid(format!(
            "the prompt is {} tokens; the model's context holds {n_ctx}",
            prompt_tokens.len()
        )));
    }
    let max_tokens = request.max_tokens.unwrap_or(loaded.default_max_tokens) as usize;
    let budget = max_tokens.min(n_ctx - prompt_tokens.len());

    let started = Instant::now();
    let last = prompt_tokens.len() - 1;
    decode_tokens(ctx, &prompt_tokens, |pos| pos == last, |_, _| {})?;
    let prompt_secs = started.elapsed().as_secs_f64();
    // The prompt's last batch holds the logits of its last token at this index.
    let mut logits_index = (last % (ctx.n_batch() as usize).max(1)) as i32;

    let started = Instant::now();
    let mut sampler = sampler(request);
    let mut stops = StopScanner::new(&request.stop);
    let mut utf8 = Utf8Decoder::default();
    let mut batch = LlamaBatch::new(1, 1);
    let mut generated = 0;
    let mut finish = FinishReason::Length;
    let mut hit_stop_sequence = false;
    let emit = |piece: String| {
        if let (Some(tokens), false) = (tokens, piece.is_empty()) {
            let _ = tokens.send(piece);
        }
    };
    while generated < budget {
        if !listening() {
            return Err(ChatError::Cancelled);
        }
        let token = sampler.sample(ctx, logits_index);
        if vocab.is_eog(token) {
            finish = FinishReason::Stop;
            break;
        }
        generated += 1;
        let text = utf8.push(&vocab.token_to_piece(token, false, None));
        let (safe, stopped) = stops.push(&text);
        emit(safe);
        if stopped {
            finish = FinishReason::Stop;
            hit_stop_sequence = true;
            break;
        }
        if generated == budget {
            break;
        }
        batch.clear();
        let pos = (prompt_tokens.len() + generated - 1) as i32;
        batch
            .add(token, pos, &[0], true)
            .map_err(|e| local_err("batch")(e.to_string()))?;
        ctx.decode(&mut batch)
            .map_err(|e| local_err("decode")(e.to_string()))?;
        logits_index = 0;
    }
    if !hit_stop_sequence {
        let (safe, _) = stops.push(&utf8.finish());
        emit(safe);
    }
    emit(stops.flush());
    let timings = LocalTimings {
        prompt_tokens: prompt_tokens.len(),
        prompt_secs,
        generated_tokens: generated,
        generation_secs: started.elapsed().as_secs_f64(),
    };
    let response = ChatResponse {
        text: stops.into_text(),
        usage: Usage {
            prompt_tokens: prompt_tokens.len() as u64,
            completion_tokens: generated as u64,
        },
        finish_reason: finish,
    };
    Ok((response, timings))
}

fn score(
    ctx: &mut LlamaContext<'_>,
    loaded: &Loaded,
    context: &str,
    continuation: &str,
) -> Result<LogProb, ChatError> {
    ctx.clear_kv_cache();
    let vocab = loaded.llama.vocab();
    let head = context.trim_end();
    let tail = format!("{}{continuation}", &context[head.len()..]);
    let mut context_tokens = vocab.tokenize(head.as_bytes(), true, false);
    if context_tokens.is_empty() {
        context_tokens.push(vocab.bos());
    }
    let continuation_tokens = vocab.tokenize(tail.as_bytes(), false, false);
    if continuation_tokens.is_empty() {
        return Ok(LogProb::default());
    }
    let n_ctx = ctx.n_ctx() as usize;
    if continuation_tokens.len() >= n_ctx {
        return Err(ChatError::Invalid(format!(
            "the continuation is {} tokens; the model's context holds {n_ctx}",
            continuation_tokens.len()
        )));
    }
    let keep = n_ctx - continuation_tokens.len();
    if context_tokens.len() > keep {
        context_tokens.drain(..context_tokens.len() - keep);
    }
    let first = context_tokens.len() - 1;
    let all: Vec<LlamaToken> = context_tokens
        .into_iter()
        .chain(continuation_tokens)
        .collect();
    let mut total = 0.0;
    decode_tokens(
        ctx,
        &all,
        |pos| pos >= first && pos + 1 < all.len(),
        |pos, logits| total += log_softmax_at(logits, all[pos + 1].0 as usize),
    )?;
    Ok(LogProb {
        sum: total,
        tokens: all.len() - 1 - first,
    })
}

/// `ln p(index)` under the softmax of `logits`.
fn log_softmax_at(logits: &[f32], index: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    logits
        .get(index)
        .map_or(f64::NEG_INFINITY, |&l| l as f64 - max - sum.ln())
}

/// Reassembles UTF-8 characters that a tokenizer split across tokens.
#[derive(Default)]
struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        match std::str::from_utf8(&self.pending) {
            Ok(text) => {
                let text = text.to_string();
                self.pending.clear();
                text
            }
            // Incomplete character at the end: keep its bytes for the next token.
            Err(e) if e.error_len().is_none() => {
                let rest = self.pending.split_off(e.valid_up_to());
                let text = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending = rest;
                text
            }
            Err(_) => self.finish(),
        }
    }

    fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

/// Finds stop sequences in generated text and holds back any tail that might be the start of
/// one, so a streamed stop sequence is never shown.
struct StopScanner<'a> {
    stops: &'a [String],
    text: String,
    emitted: usize,
}

impl<'a> StopScanner<'a> {
    fn new(stops: &'a [String]) -> Self {
        StopScanner {
            stops,
            text: String::new(),
            emitted: 0,
        }
    }

    /// Adds a piece; returns the text now safe to show and whether a stop sequence was hit
    /// (the text is then cut before it).
    fn push(&mut self, piece: &str) -> (String, bool) {
        self.text.push_str(piece);
        let hit = self
            .stops
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.text[self.emitted..].find(s.as_str()))
            .min();
        if let Some(at) = hit {
            self.text.truncate(self.emitted + at);
            return (self.flush(), true);
        }
        let held = self
            .stops
            .iter()
            .map(|s| partial_suffix(&self.text, s))
            .max()
            .unwrap_or(0);
        let end = (self.text.len() - held).max(self.emitted);
        let safe = self.text[self.emitted..end].to_string();
        self.emitted = end;
        (safe, false)
    }

    /// Everything not yet shown.
    fn flush(&mut self) -> String {
        let rest = self.text[self.emitted..].to_string();
        self.emitted = self.text.len();
        rest
    }

    fn into_text(self) -> String {
        self.text
    }
}

/// Length of the longest proper prefix of `stop` that `text` ends with.
fn partial_suffix(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .filter(|&k| stop.is_char_boundary(k))
        .find(|&k| text.ends_with(&stop[..k]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `pieces` through a scanner; returns the streamed pieces joined with `|`, the final
    /// text and whether it stopped.
    fn check(stops: &[&str], pieces: &[&str], expect: (&str, &str, bool)) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut scanner = StopScanner::new(&stops);
        let mut shown = Vec::new();
        let mut stopped = false;
        for piece in pieces {
            let (safe, hit) = scanner.push(piece);
            shown.push(safe);
            if hit {
                stopped = true;
                break;
            }
        }
        shown.push(scanner.flush());
        let streamed = shown.concat();
        let text = scanner.into_text();
        assert_eq!(streamed, text, "streamed pieces must add up to the text");
        assert_eq!((text.as_str(), stopped), (expect.1, expect.2));
        assert_eq!(shown.join("|"), expect.0);
    }

    #[test]
    fn stop_sequences() {
        check(&[], &["a", "b"], ("a|b|", "ab", false));
        check(
            &["</search>"],
            &["q ", "</sea", "rch> more"],
            ("q |||", "q ", true),
        );
        check(
            &["</search>"],
            &["q ", "</sea", "t"],
            ("q ||</seat|", "q </seat", false),
        );
        check(&["\n\n"], &["x\n", "\ny"], ("x||", "x", true));
        check(&["END", "STOP"], &["aSTOPbEND"], ("a|", "a", true));
        check(&["é!"], &["caf", "é"], ("caf||é", "café", false));
    }

    #[test]
    fn utf8_split_across_tokens_is_rejoined() {
        let bytes = "é€".as_bytes();
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(&bytes[..1]), "");
        assert_eq!(d.push(&bytes[1..3]), "é");
        assert_eq!(d.push(&bytes[3..]), "€");
        assert_eq!(d.push(&[0xff, b'a']), "\u{fffd}a");
    }

    #[test]
    fn log_softmax_is_normalised() {
        let logits = [1.0f32, 2.0, 3.0];
        let total: f64 = (0..3).map(|i| log_softmax_at(&logits, i).exp()).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!(log_softmax_at(&logits, 2) > log_softmax_at(&logits, 0));
    }
}
