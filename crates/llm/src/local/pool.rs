//! The worker threads and their queue: jobs in, answers out on each job's own channel, and no
//! more chat requests waiting than configured.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;

use super::Job;
use super::weights::Weights;
use super::worker::Worker;

/// Why a job was not queued.
pub(super) enum Refused {
    /// Every worker is busy and the queue is full.
    Busy { retry_after_secs: u64 },
    /// No worker is left to take it.
    Stopped,
}

pub(super) struct Pool {
    jobs: Sender<Job>,
    /// Jobs queued or running.
    in_flight: Arc<AtomicUsize>,
    /// Chat jobs are refused once this many jobs are queued or running (`None`: never).
    capacity: Option<usize>,
    workers: usize,
    /// How long recent jobs took, in milliseconds (a moving mean; 0 before the first one).
    mean_ms: Arc<AtomicU64>,
}

impl Pool {
    /// Starts `workers` threads, each with its own context of `weights.context_size` tokens
    /// computed on `threads` threads; at most `max_waiting` chat jobs may wait for them.
    pub(super) fn start(
        weights: &Arc<Weights>,
        threads: usize,
        workers: usize,
        max_waiting: Option<usize>,
    ) -> Result<Pool, String> {
        let threads = i32::try_from(threads).unwrap_or(i32::MAX);
        let context_size = weights.context_size;
        let workers = workers.max(1);
        let (jobs, queue) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mean_ms = Arc::new(AtomicU64::new(0));
        // Contexts are created one after the other: llama.cpp's context creation mutates the
        // model and must not run concurrently.
        for i in 0..workers {
            let (ready_tx, ready_rx) = mpsc::sync_channel(1);
            let (weights, queue, in_flight, mean_ms) = (
                Arc::clone(weights),
                Arc::clone(&queue),
                Arc::clone(&in_flight),
                Arc::clone(&mean_ms),
            );
            std::thread::Builder::new()
                .name(format!("llm-local-{i}"))
                .spawn(move || {
                    let params = context_params(context_size, threads);
                    run(&weights, params, &queue, &in_flight, &mean_ms, ready_tx)
                })
                .map_err(|e| format!("starting worker thread: {e}"))?;
            ready_rx
                .recv()
                .map_err(|_| "worker thread died while starting".to_string())??;
        }
        Ok(Pool {
            jobs,
            in_flight,
            capacity: max_waiting.map(|waiting| workers + waiting),
            workers,
            mean_ms,
        })
    }

    /// Queues a chat job unless every worker is busy and the queue is full.
    pub(super) fn submit_chat(&self, job: Job) -> Result<(), Refused> {
        self.in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                self.capacity.is_none_or(|c| n < c).then_some(n + 1)
            })
            .map_err(|ahead| Refused::Busy {
                retry_after_secs: retry_after(
                    ahead,
                    self.workers,
                    self.mean_ms.load(Ordering::Relaxed),
                ),
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
    weights: &Weights,
    params: LlamaContextParams,
    queue: &Mutex<Receiver<Job>>,
    in_flight: &AtomicUsize,
    mean_ms: &AtomicU64,
    ready: SyncSender<Result<(), String>>,
) {
    let mut worker = match Worker::new(weights, params) {
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
        let started = Instant::now();
        worker.run(job, || {
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
        let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let _ = mean_ms.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |mean| {
            Some(if mean == 0 {
                took.max(1)
            } else {
                (mean * 7 + took) / 8
            })
        });
    }
}

/// What a full pool asks a caller to wait, in seconds: the time the `ahead` jobs queued or
/// running take on `workers` workers at the recent mean (`mean_ms`; one second a job before
/// any finished), from 1 s to 2 minutes.
fn retry_after(ahead: usize, workers: usize, mean_ms: u64) -> u64 {
    let mean_ms = if mean_ms == 0 { 1000 } else { mean_ms };
    let ahead = u64::try_from(ahead).unwrap_or(u64::MAX);
    let workers = u64::try_from(workers.max(1)).unwrap_or(1);
    (ahead.saturating_mul(mean_ms) / workers)
        .div_ceil(1000)
        .clamp(1, 120)
}

#[cfg(test)]
mod tests {
    use super::retry_after;

    #[test]
    fn retry_after_grows_with_the_queue_and_the_time_a_job_takes() {
        assert_eq!(
            retry_after(9, 1, 0),
            9,
            "a second a job before any finished"
        );
        assert_eq!(retry_after(9, 3, 0), 3, "workers share the queue");
        assert_eq!(retry_after(10, 1, 4_500), 45);
        assert_eq!(retry_after(2, 1, 100), 1, "at least a second");
        assert_eq!(retry_after(1_000, 1, 60_000), 120, "at most two minutes");
    }
}
