//! One batch of the run: from passages (and their LLM answers) to committed samples.

use std::{path::PathBuf, sync::Arc};

use chat::{ChatError, ChatModel, TokenScorer};
use formats::{FormatError, Passage, Run, RunLog};
use rand::SeedableRng;
use rayon::prelude::*;

use super::{RampConfig, input::Batch, resume::ResumeState};
use crate::{
    RampError,
    difficulty::{self, Difficulty},
    extract,
    mask::{self, MaskConfig, Masked, Prepared, SampleSkip},
    spans::{OfflineSpans, Span},
    stats::{Tally, counter},
};

/// The output side of a run: the log, the manifest and the running state. Each batch's job
/// takes it and hands it back.
pub(super) struct Output {
    log: RunLog,
    run: Run,
    pub state: ResumeState,
}

impl Output {
    /// Saves the manifest with the counts of what `log` already holds.
    pub fn new(log: RunLog, mut run: Run, state: ResumeState) -> Result<Self, RampError> {
        run.save(state.tally.run.clone())?;
        Ok(Output { log, run, state })
    }

    /// Makes the batch durable, then records in the manifest that `consumed` more input records
    /// were done.
    pub fn commit(&mut self, consumed: u64) -> Result<(), RampError> {
        self.log.commit()?;
        let tally = &mut self.state.tally;
        tally.count(counter::INPUT_RECORDS, consumed);
        tally
            .run
            .insert(counter::SAMPLES_WRITTEN.into(), self.state.records);
        self.run.save(tally.run.clone())?;
        Ok(())
    }

    /// Marks the run complete: its tally, the records appended and where the manifest is.
    pub fn finish(self) -> Result<(Tally, u64, PathBuf), RampError> {
        let manifest = self.run.finish(self.state.tally.run.clone())?;
        Ok((self.state.tally, self.log.appended(), manifest))
    }
}

/// What every batch needs: the settings, the offline sources and the scorer.
pub(super) struct Batcher {
    config: RampConfig,
    offline: OfflineSpans,
    scorer: Option<Arc<dyn TokenScorer>>,
    mask: MaskConfig,
}

/// One passage after the parallel candidate step.
struct Found {
    prepared: Result<Prepared, SampleSkip>,
    counters: Vec<(String, u64)>,
}

/// An LLM answer for one passage; `None` when `llm` is off.
pub(super) type Answer = Option<Result<String, ChatError>>;

impl Batcher {
    pub fn new(
        config: RampConfig,
        offline: OfflineSpans,
        scorer: Option<Arc<dyn TokenScorer>>,
    ) -> Self {
        let mask = MaskConfig {
            lang: config.lang,
            source: config.source.clone(),
            strategy: config.strategy(),
        };
        Batcher {
            config,
            offline,
            scorer,
            mask,
        }
    }

    /// The passages of this shard, in order; other shards and bad lines are counted.
    pub fn select(&self, batch: Batch, stats: &mut Tally) -> Result<Vec<Passage>, RampError> {
        let mut passages = Vec::with_capacity(batch.len());
        for item in batch {
            match item {
                Ok(p) if self.config.shard.contains(&p.id) => passages.push(p),
                Ok(_) => stats.count(counter::OTHER_SHARDS, 1),
                Err(FormatError::BadLine { .. }) => stats.skip(SampleSkip::BadInputLine),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(passages)
    }

    /// Finds, levels, masks and appends the samples of `passages` (CPU work on all cores).
    pub fn process(
        &self,
        passages: Vec<Passage>,
        answers: Vec<Answer>,
        output: &mut Output,
    ) -> Result<(), RampError> {
        let found: Vec<Found> = passages
            .par_iter()
            .zip(answers.into_par_iter())
            .map(|(p, answer)| self.find(p, answer))
            .collect();
        // Levels in input order: the only sequential decision.
        let state = &mut output.state;
        let mut plan: Vec<Option<usize>> = Vec::with_capacity(found.len());
        for (p, f) in passages.iter().zip(&found) {
            for (name, n) in &f.counters {
                state.tally.count(name, *n);
            }
            plan.push(self.assign(p, f, state));
        }
        let outcomes: Vec<Option<(Masked, u64)>> = found
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
                (Masked::Sample(sample), failed) => {
                    output.log.append(&sample)?;
                    let state = &mut output.state;
                    state.records += 1;
                    state.tally.add_sample(&sample, self.offline.lexicon());
                    state.tally.count(counter::DIFFICULTY_FAILED, failed);
                }
                (Masked::Skip(reason), _) => output.state.tally.skip(reason),
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
                state.levels.record(w.mask_num);
            }
            return None;
        }
        let prepared = match &found.prepared {
            Ok(p) => p,
            Err(reason) => {
                state.tally.skip(*reason);
                return None;
            }
        };
        if !state.pending.is_empty() {
            // A passage before the last record already written, which then gave no sample:
            // giving one now would break the order.
            state.tally.skip(SampleSkip::ResumeDivergence);
            return None;
        }
        let level = state.levels.assign(prepared.capacity, &prepared.passage_id);
        if level.is_none() {
            state.tally.skip(SampleSkip::TooFewSpans);
        }
        level
    }

    /// Candidates of one passage, filtered and (with difficulty) pre-scored.
    fn find(&self, passage: &Passage, answer: Answer) -> Found {
        let lang = self.config.lang;
        let text = passage.text.as_str();
        let mut counters = Vec::new();
        let mut spans: Vec<Span> = self.offline.find(passage);
        let only_llm = self.config.spans.kinds().count() == 1;
        if let Some(answer) = answer {
            counters.push((counter::LLM_ANSWERS.to_string(), 1));
            let answer = match answer {
                Ok(a) => a,
                Err(_) if !only_llm => String::new(),
                Err(_) => {
                    return Found {
                        prepared: Err(SampleSkip::LlmFailed),
                        counters,
                    };
                }
            };
            let e = extract::validate(&answer, text, lang);
            if !e.valid_list && only_llm {
                return Found {
                    prepared: Err(SampleSkip::LlmNotAList),
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
                counters.push((format!("{}{}", counter::CANDIDATES, c.span.kind), 1));
            }
            if let Some(scorer) = self.scorer()
                && difficulty::prescore(scorer, p).is_err()
            {
                counters.push((counter::DIFFICULTY_FAILED.to_string(), 1));
            }
        }
        Found { prepared, counters }
    }

    /// The scorer, when difficulty is scored.
    fn scorer(&self) -> Option<&dyn TokenScorer> {
        match self.config.difficulty {
            Difficulty::Ppl => self.scorer.as_deref(),
            Difficulty::None => None,
        }
    }

    /// Draws the masks of one passage at `level` and builds its record; the second value
    /// counts a failed difficulty scoring (the sample is kept, without scores).
    fn sample(&self, prepared: &Prepared, level: usize) -> (Masked, u64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(formats::seed_for(
            self.config.seed,
            &prepared.passage_id,
        ));
        let chosen = mask::choose(prepared, level, &mut rng);
        let (scores, failed) = match self.scorer() {
            Some(scorer) => match difficulty::score_chosen(scorer, prepared, &chosen) {
                Ok(s) => (s, 0),
                Err(_) => (Vec::new(), 1),
            },
            None => (Vec::new(), 0),
        };
        (mask::build(prepared, &chosen, scores, &self.mask), failed)
    }
}

/// LLM answers for `passages`, in order, at most `concurrency` requests in flight, as tasks of
/// the caller's runtime. An endpoint that stays down after its retries stops the run (resume
/// picks it up); a request the model rejects is this passage's problem.
pub(super) async fn llm_answers(
    model: &Arc<dyn ChatModel>,
    passages: &[Passage],
    config: &RampConfig,
    concurrency: usize,
) -> Result<Vec<Answer>, RampError> {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in passages.iter().enumerate() {
        let request = extract::request(&p.text, config.lang, config.seed);
        let model = Arc::clone(model);
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, model.chat(&request).await.map(|r| r.text))
        });
    }
    let mut answers: Vec<Answer> = passages.iter().map(|_| None).collect();
    while let Some(done) = tasks.join_next().await {
        let (i, answer) = match done {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime shutting down cancels a task.
            Err(_) => return Err(RampError::Model(ChatError::Cancelled)),
        };
        if let Err(
            e @ (ChatError::Unavailable { .. }
            | ChatError::Busy { .. }
            | ChatError::Failed { .. }
            | ChatError::Cancelled),
        ) = answer
        {
            return Err(RampError::Model(e));
        }
        answers[i] = Some(answer);
    }
    Ok(answers)
}
