//! The worker threads and their queue: jobs in, answers out on each job's own channel, and no
//! more chat requests waiting than configured.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

use chat::{ChatError, ChatRequest, LogProb};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::worker::Worker;
use super::{ChatResult, LocalConfig};
use crate::Accounting;

/// What a busy pool asks callers to wait before they try again: about one short answer.
const RETRY_AFTER_SECS: u64 = 1;

/// One unit of work for a worker; the answer goes back on `reply`.
pub(super) enum Job {
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

/// Why a job was not queued.
pub(super) enum Refused {
    /// Every worker is busy and the queue is full.
    Busy { retry_after_secs: u64 },
    /// No worker is left to take it.
    Stopped,
}

/// The weights and template, shared read-only by all workers.
pub(super) struct Loaded {
    pub llama: LlamaModel,
    pub template: LlamaChatTemplate,
    pub default_max_tokens: u32,
    /// Tokens a request may use, prompt and completion together. llama.cpp may give a context
    /// more room (it rounds up); this is what is promised.
    pub context_size: u32,
}

pub(super) struct Pool {
    jobs: Sender<Job>,
    /// Jobs queued or running.
    in_flight: Arc<AtomicUsize>,
    /// Chat jobs are refused once this many jobs are queued or running (`None`: never).
    capacity: Option<usize>,
}

/// llama.cpp's backend may be initialised once per process.
pub(super) fn backend() -> Result<&'static LlamaBackend, String> {
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

impl Pool {
    /// Loads the weights and starts `config.workers` threads, each with its own context.
    /// Returns the pool and the context size every worker got.
    pub(super) fn start(config: &LocalConfig) -> Result<(Pool, u32), String> {
        let backend = backend()?;
        let llama =
            LlamaModel::load_from_file(backend, &config.model_path, &LlamaModelParams::default())
                .map_err(|e| e.to_string())?;
        let template = match llama.chat_template(None) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(model = %config.model_path.display(), "no chat template in the GGUF ({e}); using ChatML");
                LlamaChatTemplate::new("chatml").map_err(|e| e.to_string())?
            }
        };
        let context_size = config.context_size.min(llama.n_ctx_train()).max(16);
        let threads = config
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, 512) as i32;
        let loaded = Arc::new(Loaded {
            llama,
            template,
            default_max_tokens: config.default_max_tokens,
            context_size,
        });
        let workers = config.workers.max(1);
        let (jobs, queue) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let in_flight = Arc::new(AtomicUsize::new(0));
        // Contexts are created one after the other: llama.cpp's context creation mutates the
        // model and must not run concurrently.
        for i in 0..workers {
            let (ready_tx, ready_rx) = mpsc::sync_channel(1);
            let (loaded, queue, in_flight) = (
                Arc::clone(&loaded),
                Arc::clone(&queue),
                Arc::clone(&in_flight),
            );
            std::thread::Builder::new()
                .name(format!("llm-local-{i}"))
                .spawn(move || {
                    let params = context_params(context_size, threads);
                    run(&loaded, params, &queue, &in_flight, ready_tx)
                })
                .map_err(|e| format!("starting worker thread: {e}"))?;
            ready_rx
                .recv()
                .map_err(|_| "worker thread died while starting".to_string())??;
        }
        let pool = Pool {
            jobs,
            in_flight,
            capacity: config.max_waiting.map(|waiting| workers + waiting),
        };
        Ok((pool, context_size))
    }

    /// Queues a chat job unless every worker is busy and the queue is full.
    pub(super) fn submit_chat(&self, job: Job) -> Result<(), Refused> {
        self.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                self.capacity.is_none_or(|c| n < c).then_some(n + 1)
            })
            .map_err(|_| Refused::Busy {
                retry_after_secs: RETRY_AFTER_SECS,
            })?;
        self.send(job)
    }

    /// Queues a job however long the queue is (scoring callers block and wait their turn).
    pub(super) fn submit_score(&self, job: Job) -> Result<(), Refused> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.send(job)
    }

    fn send(&self, job: Job) -> Result<(), Refused> {
        self.jobs.send(job).map_err(|_| {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Refused::Stopped
        })
    }
}

/// Each worker's context: `size` tokens, evaluated in batches of up to 512 on `threads`
/// threads. (Built on the worker's thread: the parameters are not `Send`.)
fn context_params(size: u32, threads: i32) -> LlamaContextParams {
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(size))
        .with_n_batch(size.min(512))
        .with_n_ubatch(size.min(512))
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
}

/// One worker thread: creates its context, says whether that worked, then takes jobs until
/// the pool is dropped.
fn run(
    loaded: &Loaded,
    params: LlamaContextParams,
    queue: &Mutex<Receiver<Job>>,
    in_flight: &AtomicUsize,
    ready: SyncSender<Result<(), String>>,
) {
    let mut worker = match Worker::new(loaded, params) {
        Ok(worker) => worker,
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
        worker.run(job, || {
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}
