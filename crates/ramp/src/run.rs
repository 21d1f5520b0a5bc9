//! The corpus-scale run: streaming, parallel, sharded, deterministic and resumable.
//!
//! Passages are read in chunks. Per chunk: LLM answers are fetched concurrently (bounded), the
//! candidates of every passage are found and filtered on all cores (rayon), levels are
//! assigned in input order ([`LevelMix`]), masks are drawn on all cores, and the samples are
//! appended in input order, then committed (flushed and synced) before the manifest records
//! how far the input was consumed.
//!
//! Determinism: each passage draws from its own ChaCha8 stream seeded by the run seed and the
//! passage id, and levels depend only on the samples before it, so the output does not depend
//! on the chunk size or the number of threads. A `--shard i/n` run writes the passages whose id
//! hash falls in shard i; its levels follow the mix within the shard.
//!
//! Resume (the default): the manifest says how many input records (`input_records`) produced
//! how many output records (`samples`) at the last chunk boundary it saw. The output may hold
//! more records than that (killed after a commit, before the manifest save, or in the middle
//! of a chunk); [`formats::RunLog`] has already cut a torn last line. The run skips the
//! consumed input, then reprocesses the rest; a passage whose record is already in the file is
//! recognised by its id, in order, and not written again. With a deterministic model (every
//! offline source, a greedy LLM behind a cache) the result is byte for byte the output of an
//! uninterrupted run. Passage ids are assumed unique, as `ingest` makes them.

use std::{
    collections::{HashSet, VecDeque},
    path::{Path, PathBuf},
    sync::Arc,
};

use chat::{ChatError, ChatModel, TokenScorer};
use formats::{FormatError, Passage, PassageSource, RampSample, RunLog, RunManifest, Shard};
use rand::SeedableRng;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::{
    Lang, RampError,
    curriculum::LevelMix,
    difficulty, extract,
    mask::{self, MaskConfig, Outcome, Prepared, Skip},
    spans::{self, Gazetteer, Span, SpanKind, SpanSet},
    stats::{RampStats, counter},
};

/// The settings that decide the output (recorded in the manifest; a resume must match them).
#[derive(Debug, Clone)]
pub struct RampConfig {
    pub spans: SpanSet,
    pub seed: u64,
    pub levels: LevelMix,
    /// Score spans with the `TokenScorer` (`--difficulty ppl`).
    pub difficulty: bool,
    pub lang: Lang,
    /// `ext.source`.
    pub source: String,
    pub shard: Shard,
}

impl RampConfig {
    /// `ext.strategy`: the span sources, `+`-joined, then `+ppl` with difficulty scoring.
    pub fn strategy(&self) -> String {
        let mut parts: Vec<&str> = self.spans.kinds().map(SpanKind::flag).collect();
        if self.difficulty {
            parts.push("ppl");
        }
        parts.join("+")
    }
}

/// How to run: where to write, with what models, and how to report progress.
pub struct RunOptions<'a> {
    pub out: PathBuf,
    /// Keep what `out` already holds and go on (the default); `false` starts over.
    pub resume: bool,
    /// Passages per chunk (per commit).
    pub chunk_size: usize,
    /// Needed when `spans` include `llm`; its name goes into the manifest.
    pub model: Option<Arc<dyn ChatModel>>,
    /// Needed with `difficulty`.
    pub scorer: Option<Arc<dyn TokenScorer>>,
    /// LLM requests in flight at once.
    pub llm_concurrency: usize,
    /// Called after every chunk with the stats so far.
    pub progress: &'a (dyn Fn(&RampStats) + Sync),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Counters of the whole output (including what an earlier, resumed run wrote).
    pub stats: RampStats,
    /// Records already in the output when this run started.
    pub resumed_records: u64,
    /// Records this run appended.
    pub appended: u64,
    pub manifest: PathBuf,
}

/// A record already in the output that the manifest does not account for yet.
struct Written {
    passage_id: String,
    mask_num: usize,
}

/// Where a resumed run starts.
struct ResumeState {
    skip_input: u64,
    pending: VecDeque<Written>,
    stats: RampStats,
    records: u64,
    mix: LevelMix,
}

/// Generates RAMP samples for every passage of `source` into `options.out`.
pub fn run(
    config: &RampConfig,
    source: &dyn PassageSource,
    options: &RunOptions<'_>,
) -> Result<RunReport, RampError> {
    check_models(config, options)?;
    let out = options.out.as_path();
    let manifest_path = RunManifest::path_for(out);
    let mut manifest = RunManifest {
        command: "ramp".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: vec![source.name()],
        config: manifest_config(config, options),
        counts: Default::default(),
        complete: false,
    };
    let previous = if options.resume {
        RunManifest::load(&manifest_path)?
    } else {
        None
    };
    if let Some(previous) = &previous {
        manifest.check_resumable(previous, out)?;
    } else if options.resume && std::fs::metadata(out).is_ok_and(|m| m.len() > 0) {
        return Err(RampError::Resume {
            path: out.display().to_string(),
            message: "exists but has no manifest beside it, so it cannot be resumed; use --overwrite or another --out".into(),
        });
    }
    let mut log = if options.resume {
        RunLog::resume(out)?
    } else {
        RunLog::create(out)?
    };
    let mut state = resume_state(out, previous.as_ref(), config)?;
    manifest.counts = state.stats.run.clone();
    manifest.save(&manifest_path)?;

    let gazetteer = if config.spans.contains(SpanKind::Title) {
        Some(build_gazetteer(source)?)
    } else {
        None
    };
    let runtime = match options.model {
        Some(_) => Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| RampError::Config(format!("cannot start the LLM runtime: {e}")))?,
        ),
        None => None,
    };
    let chunker = Chunker {
        config,
        options,
        gazetteer: gazetteer.as_ref(),
        runtime: runtime.as_ref(),
        mask: MaskConfig {
            lang: config.lang,
            source: config.source.clone(),
            strategy: config.strategy(),
        },
    };
    let resumed_records = state.records;
    let mut input = source.open()?.skip(state.skip_input as usize);
    let chunk_size = options.chunk_size.max(1);
    loop {
        let chunk: Vec<_> = input.by_ref().take(chunk_size).collect();
        if chunk.is_empty() {
            break;
        }
        let consumed = chunk.len() as u64;
        chunker.process(chunk, &mut state, &mut log)?;
        log.commit()?;
        state.stats.count(counter::INPUT_RECORDS, consumed);
        state
            .stats
            .run
            .insert(counter::SAMPLES_WRITTEN.into(), state.records);
        manifest.counts = state.stats.run.clone();
        manifest.save(&manifest_path)?;
        (options.progress)(&state.stats);
    }
    manifest.complete = true;
    manifest.save(&manifest_path)?;
    Ok(RunReport {
        stats: state.stats,
        resumed_records,
        appended: log.appended(),
        manifest: manifest_path,
    })
}

fn check_models(config: &RampConfig, options: &RunOptions<'_>) -> Result<(), RampError> {
    if config.spans.contains(SpanKind::Llm) && options.model.is_none() {
        return Err(RampError::Config(
            "--spans llm needs a model (--llm-base-url/--llm-model or --model)".into(),
        ));
    }
    if config.difficulty && options.scorer.is_none() {
        return Err(RampError::Config(
            "--difficulty ppl needs a local model (--model)".into(),
        ));
    }
    Ok(())
}

fn manifest_config(config: &RampConfig, options: &RunOptions<'_>) -> Value {
    json!({
        "spans": config.spans.to_string(),
        "seed": config.seed,
        "levels": config.levels.to_string(),
        "difficulty": if config.difficulty { "ppl" } else { "none" },
        "lang": config.lang.to_string(),
        "source": config.source,
        "shard": config.shard.to_string(),
        "llm_model": options.model.as_ref().map(|m| m.name().to_string()),
    })
}

/// Reads what an earlier run left in `out` and decides where to go on.
fn resume_state(
    out: &Path,
    previous: Option<&RunManifest>,
    config: &RampConfig,
) -> Result<ResumeState, RampError> {
    let mut state = ResumeState {
        skip_input: 0,
        pending: VecDeque::new(),
        stats: RampStats::default(),
        records: 0,
        mix: config.levels.clone(),
    };
    let Some(previous) = previous else {
        return Ok(state);
    };
    let counted = previous
        .counts
        .get(counter::SAMPLES_WRITTEN)
        .copied()
        .unwrap_or(0);
    state.skip_input = previous
        .counts
        .get(counter::INPUT_RECORDS)
        .copied()
        .unwrap_or(0);
    state.stats.run = previous.counts.clone();
    let corrupt = |message: String| RampError::Resume {
        path: out.display().to_string(),
        message,
    };
    for record in formats::read_jsonl::<Value>(out)? {
        let record = record?;
        let sample: RampSample = serde_json::from_value(record.clone()).map_err(|e| {
            corrupt(format!(
                "record {} is not a RAMP sample: {e}",
                state.records + 1
            ))
        })?;
        state.stats.add_record(&record);
        if state.records < counted {
            state.mix.record(sample.ext.mask_num);
        } else {
            state.pending.push_back(Written {
                passage_id: sample.ext.passage_id,
                mask_num: sample.ext.mask_num,
            });
        }
        state.records += 1;
    }
    if state.records < counted {
        return Err(corrupt(format!(
            "holds {} records but its manifest counted {counted}; it was changed by hand — use --overwrite",
            state.records
        )));
    }
    Ok(state)
}

/// The first pass: every page title of the corpus (all shards, so shards agree).
fn build_gazetteer(source: &dyn PassageSource) -> Result<Gazetteer, RampError> {
    let mut titles = HashSet::new();
    for passage in source.open()? {
        match passage {
            Ok(p) => {
                if !titles.contains(&p.title) {
                    titles.insert(p.title);
                }
            }
            Err(FormatError::BadLine { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut titles: Vec<String> = titles.into_iter().collect();
    titles.sort_unstable();
    Gazetteer::new(titles)
}

/// One passage after the parallel candidate step.
struct Found {
    prepared: Result<Prepared, Skip>,
    counters: Vec<(String, u64)>,
}

struct Chunker<'a> {
    config: &'a RampConfig,
    options: &'a RunOptions<'a>,
    gazetteer: Option<&'a Gazetteer>,
    runtime: Option<&'a tokio::runtime::Runtime>,
    mask: MaskConfig,
}

impl Chunker<'_> {
    fn process(
        &self,
        chunk: Vec<Result<Passage, FormatError>>,
        state: &mut ResumeState,
        log: &mut RunLog,
    ) -> Result<(), RampError> {
        let mut passages = Vec::with_capacity(chunk.len());
        for item in chunk {
            match item {
                Ok(p) if self.config.shard.contains(&p.id) => passages.push(p),
                Ok(_) => state.stats.count(counter::OTHER_SHARDS, 1),
                Err(FormatError::BadLine { .. }) => state.stats.skip(Skip::BadInputLine),
                Err(e) => return Err(e.into()),
            }
        }
        let answers = self.llm_answers(&passages)?;
        let found: Vec<Found> = passages
            .par_iter()
            .zip(answers.into_par_iter())
            .map(|(p, answer)| self.find(p, answer))
            .collect();
        // Levels in input order: the only sequential decision.
        let mut plan: Vec<Option<usize>> = Vec::with_capacity(found.len());
        for (p, f) in passages.iter().zip(&found) {
            for (name, n) in &f.counters {
                state.stats.count(name, *n);
            }
            plan.push(self.assign(p, f, state));
        }
        let outcomes: Vec<Option<(Outcome, u64)>> = found
            .par_iter()
            .zip(plan.par_iter())
            .map(|(f, level)| {
                let (Ok(prepared), Some(level)) = (&f.prepared, level) else {
                    return None;
                };
                Some(self.sample(prepared, *level))
            })
            .collect();
        for outcome in outcomes.into_iter().flatten() {
            match outcome {
                (Outcome::Sample(sample), failed) => {
                    log.append(&sample)?;
                    state.records += 1;
                    state
                        .stats
                        .add_record(&serde_json::to_value(&*sample).map_err(|e| {
                            RampError::Config(format!("sample cannot be serialised: {e}"))
                        })?);
                    state.stats.count("difficulty.failed", failed);
                }
                (Outcome::Skip(reason), _) => state.stats.skip(reason),
            }
        }
        Ok(())
    }

    /// The level of one passage, or `None` (skip counted, or already written).
    fn assign(&self, passage: &Passage, found: &Found, state: &mut ResumeState) -> Option<usize> {
        if state
            .pending
            .front()
            .is_some_and(|w| w.passage_id == passage.id)
        {
            if let Some(w) = state.pending.pop_front() {
                state.mix.record(w.mask_num);
            }
            return None;
        }
        let prepared = match &found.prepared {
            Ok(p) => p,
            Err(reason) => {
                state.stats.skip(*reason);
                return None;
            }
        };
        if !state.pending.is_empty() {
            // A passage before the last record already written, which then gave no sample:
            // giving one now would break the order.
            state.stats.skip(Skip::ResumeDivergence);
            return None;
        }
        let level = state.mix.assign(prepared.capacity);
        if level.is_none() {
            state.stats.skip(Skip::TooFewSpans);
        }
        level
    }

    /// LLM answers for the passages, in order; `None` for each when `llm` is off.
    fn llm_answers(
        &self,
        passages: &[Passage],
    ) -> Result<Vec<Option<Result<String, ChatError>>>, RampError> {
        let (Some(model), Some(runtime)) = (&self.options.model, self.runtime) else {
            return Ok(passages.iter().map(|_| None).collect());
        };
        if !self.config.spans.contains(SpanKind::Llm) {
            return Ok(passages.iter().map(|_| None).collect());
        }
        let requests: Vec<_> = passages
            .iter()
            .map(|p| extract::request(&p.text, self.config.lang, self.config.seed))
            .collect();
        let limit = self.options.llm_concurrency.max(1);
        let answers = runtime.block_on(async {
            let permits = Arc::new(tokio::sync::Semaphore::new(limit));
            let mut tasks = tokio::task::JoinSet::new();
            for (i, request) in requests.into_iter().enumerate() {
                let model = Arc::clone(model);
                let permits = Arc::clone(&permits);
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    (i, model.chat(&request).await.map(|r| r.text))
                });
            }
            let mut answers: Vec<Option<Result<String, ChatError>>> =
                passages.iter().map(|_| None).collect();
            while let Some(done) = tasks.join_next().await {
                let (i, answer) =
                    done.map_err(|e| RampError::Config(format!("LLM task failed: {e}")))?;
                answers[i] = Some(answer);
            }
            Ok::<_, RampError>(answers)
        })?;
        // An endpoint that stays down after its retries stops the run (resume picks it up);
        // a request the model rejects is this passage's problem.
        for answer in answers.iter().flatten() {
            if let Err(
                e @ (ChatError::Unavailable { .. }
                | ChatError::Busy { .. }
                | ChatError::Failed { .. }
                | ChatError::Cancelled),
            ) = answer
            {
                return Err(RampError::Model(ChatError::Unavailable {
                    backend: self
                        .options
                        .model
                        .as_ref()
                        .map_or_else(String::new, |m| m.name().to_string()),
                    message: e.to_string(),
                }));
            }
        }
        Ok(answers)
    }

    /// Candidates of one passage, filtered and (with difficulty) pre-scored.
    fn find(&self, passage: &Passage, answer: Option<Result<String, ChatError>>) -> Found {
        let lang = self.config.lang;
        let text = passage.text.as_str();
        let mut counters = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        let set = &self.config.spans;
        if set.contains(SpanKind::Anchor) {
            spans.extend(spans::anchors(passage));
        }
        if let Some(g) = self.gazetteer {
            spans.extend(g.find(text));
        }
        if set.contains(SpanKind::Date) {
            spans.extend(spans::dates(text, lang));
        }
        if set.contains(SpanKind::Number) {
            spans.extend(spans::numbers(text, lang));
        }
        if set.contains(SpanKind::Name) && lang == Lang::En {
            spans.extend(spans::names(text));
        }
        if let Some(answer) = answer {
            counters.push((counter::LLM_ANSWERS.to_string(), 1));
            let answer = match answer {
                Ok(a) => a,
                Err(_) if set.kinds().count() > 1 => String::new(),
                Err(_) => {
                    return Found {
                        prepared: Err(Skip::LlmFailed),
                        counters,
                    };
                }
            };
            let e = extract::validate(&answer, text, lang);
            if !e.valid_list && set.kinds().count() == 1 {
                return Found {
                    prepared: Err(Skip::LlmNotAList),
                    counters,
                };
            }
            counters.push((
                counter::LLM_VALID_LISTS.to_string(),
                u64::from(e.valid_list),
            ));
            counters.push((counter::LLM_PROPOSED.to_string(), e.proposed as u64));
            counters.push((counter::LLM_ACCEPTED.to_string(), e.accepted as u64));
            for r in &e.rejected {
                counters.push((format!("{}{}", counter::LLM_REJECTED, r.as_str()), 1));
            }
            spans.extend(e.spans);
        }
        let mut prepared = mask::prepare(passage, spans, lang);
        if let Ok(p) = &mut prepared {
            for c in &p.candidates {
                counters.push((
                    format!("{}{}", counter::CANDIDATES, c.span.kind.as_str()),
                    1,
                ));
            }
            if let (true, Some(scorer)) = (self.config.difficulty, &self.options.scorer)
                && difficulty::prescore(scorer.as_ref(), p).is_err()
            {
                counters.push(("difficulty.failed".to_string(), 1));
            }
        }
        Found { prepared, counters }
    }

    /// Draws the masks of one passage at `level` and builds its record; the second value
    /// counts a failed difficulty scoring (the sample is kept, without scores).
    fn sample(&self, prepared: &Prepared, level: usize) -> (Outcome, u64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(formats::seed_for(
            self.config.seed,
            &prepared.passage_id,
        ));
        let chosen = mask::choose(prepared, level, &mut rng);
        let (scores, failed) = match (self.config.difficulty, &self.options.scorer) {
            (true, Some(scorer)) => {
                match difficulty::score_chosen(scorer.as_ref(), prepared, &chosen) {
                    Ok(s) => (s, 0),
                    Err(_) => (Vec::new(), 1),
                }
            }
            _ => (Vec::new(), 0),
        };
        (mask::build(prepared, &chosen, scores, &self.mask), failed)
    }
}
