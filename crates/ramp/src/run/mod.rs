//! The corpus-scale run: streaming, parallel, sharded, deterministic and resumable, on the
//! caller's async runtime.
//!
//! The seams, in the order a run meets them:
//! - [`input`]: the first pass over the whole corpus (titles for the gazetteer, the
//!   [`Lexicon`](crate::Lexicon) of common words), then the input read in batches by a blocking
//!   reader that runs ahead of the work;
//! - [`resume`]: what an earlier run left in the output, and where to go on;
//! - [`batch`]: per batch, LLM answers are fetched concurrently (bounded), the candidates of
//!   every passage are found and filtered on all cores (rayon), levels are assigned in input
//!   order ([`Levels`]), masks are drawn on all cores, and the samples are appended in input
//!   order, then committed (flushed and synced) before the manifest records how far the input
//!   was consumed.
//!
//! Async: [`run`] is an `async fn` for a tokio runtime of any flavour, and never blocks it. The
//! LLM requests are tasks of that runtime; reading the input runs on its blocking pool; every
//! CPU-heavy or disk-heavy step (the first pass, reading back an output, each batch's candidates,
//! masks and writes) is a rayon job whose result is awaited.
//!
//! Determinism: each passage draws from its own ChaCha8 stream seeded by the run seed and the
//! passage id, the first pass sees every passage of every shard, and levels depend only on the
//! samples before it, so the output does not depend on the batch size or the number of threads.
//! A shard i/n run writes the passages whose id hash falls in shard i; with a mix curriculum its
//! levels follow the mix within the shard (with `original` or a fixed count a passage's record
//! is the same in a shard as in the whole run).
//!
//! Resume (the default): the manifest says how many input records (`input_records`) produced
//! how many output records (`samples`) at the last batch boundary it saw. The output may hold
//! more records than that (killed after a commit, before the manifest save, or in the middle
//! of a batch); [`formats::RunLog`] has already cut a torn last line. The run skips the
//! consumed input, then reprocesses the rest; a passage whose record is already in the file is
//! recognised by its id, in order, and not written again. With a deterministic model (every
//! offline source, a greedy LLM behind a cache) the result is byte for byte the output of an
//! uninterrupted run. Passage ids are assumed unique, as `ingest` makes them.

mod batch;
mod input;
mod resume;

use std::{path::PathBuf, sync::Arc};

use chat::{ChatModel, TokenScorer};
use formats::{PassageSource, Run, RunManifest, Shard};
use serde_json::{Value, json};

use crate::{
    Lang, RampError,
    curriculum::{LevelRule, Levels},
    difficulty::Difficulty,
    lexicon::COMMON_WORDS,
    spans::{SpanKind, SpanSet},
    stats::Tally,
};

/// The settings that decide the output (recorded in the manifest; a resume must match them).
#[derive(Debug, Clone)]
pub struct RampConfig {
    pub spans: SpanSet,
    pub seed: u64,
    pub curriculum: LevelRule,
    pub difficulty: Difficulty,
    pub lang: Lang,
    /// `ext.source`.
    pub source: String,
    pub shard: Shard,
}

impl RampConfig {
    /// `ext.strategy`: the span sources, `+`-joined, then `+ppl` with difficulty scoring.
    pub fn strategy(&self) -> String {
        let mut parts: Vec<&str> = self.spans.kinds().map(SpanKind::as_str).collect();
        if self.difficulty == Difficulty::Ppl {
            parts.push(Difficulty::Ppl.as_str());
        }
        parts.join("+")
    }
}

/// How to run: where to write, with what models, and how to report progress.
pub struct RunOptions<'a> {
    pub out: PathBuf,
    /// Keep what `out` already holds and go on (the default); `false` starts over.
    pub resume: bool,
    /// Passages per batch (per commit); does not change the output.
    pub batch_size: usize,
    /// Needed when `spans` include `llm`; its name goes into the manifest.
    pub model: Option<Arc<dyn ChatModel>>,
    /// Needed with [`Difficulty::Ppl`]; its name goes into the manifest.
    pub scorer: Option<Arc<dyn TokenScorer>>,
    /// LLM requests in flight at once.
    pub llm_concurrency: usize,
    /// Called after every batch with the stats so far.
    pub progress: &'a (dyn Fn(&Tally) + Sync),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RampReport {
    /// Counters of the whole output (including what an earlier, resumed run wrote).
    pub tally: Tally,
    /// Records already in the output when this run started.
    pub resumed_records: u64,
    /// Records this run appended.
    pub appended: u64,
    pub manifest: PathBuf,
}

/// Generates RAMP samples for every passage of `source` into `options.out`.
pub async fn run(
    config: &RampConfig,
    source: Arc<dyn PassageSource + Send>,
    options: &RunOptions<'_>,
) -> Result<RampReport, RampError> {
    let Models { chat, scorer } = models(config, options)?;
    let out = options.out.clone();
    let manifest = RunManifest::new(
        "ramp",
        vec![source.name()],
        manifest_config(config, chat.as_deref(), scorer.as_deref()),
    );
    let (run, previous) = Run::open(manifest, &out, options.resume)?;

    let offline = {
        let (config, source) = (config.clone(), Arc::clone(&source));
        on_rayon(move || input::first_pass(&config, source.as_ref())).await?
    };
    let (log, state) = {
        let (out, resume, lexicon) = (out.clone(), options.resume, offline.lexicon().cloned());
        let levels = Levels::new(&config.curriculum, config.seed);
        on_rayon(move || resume::open(&out, resume, previous.as_ref(), levels, lexicon.as_ref()))
            .await?
    };
    let resumed_records = state.records;
    let mut output = batch::Output::new(log, run, state)?;
    let batcher = Arc::new(batch::Batcher::new(config.clone(), offline, scorer));
    let mut batches = input::read_batches(source, output.state.skip_input, options.batch_size);
    while let Some(read) = batches.recv().await {
        let read = read?;
        let consumed = read.len() as u64;
        let passages = batcher.select(read, &mut output.state.tally)?;
        let answers = match &chat {
            Some(model) => {
                batch::llm_answers(model, &passages, config, options.llm_concurrency).await?
            }
            None => passages.iter().map(|_| None).collect(),
        };
        let batcher = Arc::clone(&batcher);
        output = on_rayon(move || {
            batcher.process(passages, answers, &mut output)?;
            output.commit(consumed)?;
            Ok::<_, RampError>(output)
        })
        .await?;
        (options.progress)(&output.state.tally);
    }
    let (tally, appended, manifest) = on_rayon(move || output.finish()).await?;
    Ok(RampReport {
        tally,
        resumed_records,
        appended,
        manifest,
    })
}

/// The models a run uses.
struct Models {
    chat: Option<Arc<dyn ChatModel>>,
    scorer: Option<Arc<dyn TokenScorer>>,
}

/// The models the settings need, each checked to be there (a model given but not needed is
/// not used, and not recorded).
fn models(config: &RampConfig, options: &RunOptions<'_>) -> Result<Models, RampError> {
    let chat = match (config.spans.contains(SpanKind::Llm), &options.model) {
        (false, _) => None,
        (true, Some(m)) => Some(Arc::clone(m)),
        (true, None) => return Err(RampError::MissingModel),
    };
    let scorer = match (config.difficulty, &options.scorer) {
        (Difficulty::None, _) => None,
        (Difficulty::Ppl, Some(s)) => Some(Arc::clone(s)),
        (Difficulty::Ppl, None) => return Err(RampError::MissingScorer),
    };
    Ok(Models { chat, scorer })
}

/// Every setting that changes the output, with the models that are used (by name).
fn manifest_config(
    config: &RampConfig,
    model: Option<&dyn ChatModel>,
    scorer: Option<&dyn TokenScorer>,
) -> Value {
    json!({
        "spans": config.spans.to_string(),
        "common_words": config.spans.has_word_source().then_some(COMMON_WORDS),
        "seed": config.seed,
        "curriculum": config.curriculum.to_string(),
        "difficulty": config.difficulty.as_str(),
        "difficulty_model": scorer.map(|s| s.name().to_string()),
        "llm_model": model.map(|m| m.name().to_string()),
        "lang": config.lang.as_str(),
        "source": config.source,
        "shard": config.shard.to_string(),
    })
}

/// Runs `job` on the rayon pool and waits for it without blocking the async runtime. A panic
/// in the job is a bug and resumes here.
async fn on_rayon<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)));
    });
    match result.await {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => unreachable!("a rayon job always sends its result, even a panic"),
    }
}
