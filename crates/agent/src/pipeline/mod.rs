//! The trajectories run: every record of an input file through one teacher, verified, written
//! in input order to an accepted and a rejected file, resumable and shardable.
//!
//! Records run `concurrency` at a time and are written in input order as they complete, each
//! committed (flushed and synced) before the next, so a run killed at any point holds a prefix
//! of the work. A resumed run reads the ids already in both outputs and skips them: nothing
//! accepted is lost or written twice. A record whose id was seen earlier in the input is
//! skipped and counted (the original wrote duplicates). `--shard i/n` keeps the records whose id
//! hashes to shard i; for the deterministic rule teacher the shards put together equal the
//! unsharded run.
//!
//! The seams, in the order a run meets them:
//! - [`input`]: each input line classified — a job, a bad record, a duplicate, another shard's,
//!   one already done — by a blocking reader that runs ahead of the work;
//! - [`resume`]: what an earlier run left in the outputs, and the manifest a resume must match;
//! - [`teach`]: one task through the configured teacher;
//! - [`verdict`]: the attempt scored, judged and accepted or rejected with its reason.

mod input;
mod resume;
mod teach;
mod verdict;

use std::{
    collections::{BTreeMap, HashSet},
    path::PathBuf,
    sync::Arc,
    time::Instant,
};

use chat::ChatModel;
use formats::{Rejection, Run, RunLog, RunManifest, Shard, Teacher, TokenUse, Trajectory};
use futures_util::{StreamExt, stream};
use search::Searcher;
use serde::Serialize;
use serde_json::Value;

use crate::{
    AgentError, Prompts, multi::MultiAgentConfig, rule::RuleConfig, runtime::RuntimeConfig,
    verify::VerifyConfig,
};

pub(crate) use input::job;
pub(crate) use resume::settings;

pub use input::input_ids;
use input::{Item, classify};
use resume::{manifest_config, read_done};
use teach::attempt;

/// The settings that decide the output (recorded in the manifest; a resume must match them).
#[derive(Debug, Clone)]
pub struct TrajectoryConfig {
    pub teacher: Teacher,
    pub runtime: RuntimeConfig,
    pub multi: MultiAgentConfig,
    pub rule: RuleConfig,
    pub verify: VerifyConfig,
    pub prompts: Prompts,
    /// Seeds every sample's own random stream (its "current time", sampling seeds).
    pub seed: u64,
    /// The day the random "current time" of the system messages counts back from.
    pub today: time::Date,
    /// Leave a RAMP sample's own passage out of every search, so each mask must be found
    /// elsewhere in the corpus (every teacher; recorded, so the student's runtime can do the same).
    pub exclude_source: bool,
    /// The self-evolution round recorded in every trajectory.
    pub round: u32,
    pub shard: Shard,
}

/// Where to read and write, with what, and how to report progress.
pub struct RunOptions<'a> {
    pub input: PathBuf,
    pub out: PathBuf,
    pub rejected: PathBuf,
    /// Go on from what the outputs hold (the default); `false` starts over.
    pub resume: bool,
    /// The teacher's model (multi-agent, agent).
    pub model: Option<Arc<dyn ChatModel>>,
    /// The judge; the teacher's model when `None`.
    pub judge: Option<Arc<dyn ChatModel>>,
    pub searcher: Arc<dyn Searcher>,
    /// Trajectories in flight at once.
    pub concurrency: usize,
    /// Called after every record with the counts so far.
    pub progress: &'a (dyn Fn(&Tally) + Sync),
}

/// Counts of a run (the resumed part included).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub accepted: u64,
    /// Rejections by reason.
    pub rejected: BTreeMap<Rejection, u64>,
    /// Records already in the outputs when the run started.
    pub resumed: u64,
    /// Input lines that are not a record of a known shape.
    pub bad_records: u64,
    /// Records whose id came earlier in the input.
    pub duplicates: u64,
    pub other_shards: u64,
    pub usage: TokenUse,
    pub searches: u64,
}

impl Tally {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    fn add(&mut self, t: &Trajectory) {
        match t.rejection {
            None => self.accepted += 1,
            Some(r) => *self.rejected.entry(r).or_default() += 1,
        }
        self.usage.model_calls += t.usage.model_calls;
        self.usage.prompt_tokens += t.usage.prompt_tokens;
        self.usage.completion_tokens += t.usage.completion_tokens;
        self.searches += t.search.calls;
    }

    fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::from([
            ("accepted".to_string(), self.accepted),
            ("rejected".to_string(), self.rejected_total()),
            ("bad_records".to_string(), self.bad_records),
            ("duplicates".to_string(), self.duplicates),
            ("model_calls".to_string(), self.usage.model_calls),
            ("prompt_tokens".to_string(), self.usage.prompt_tokens),
            (
                "completion_tokens".to_string(),
                self.usage.completion_tokens,
            ),
            ("searches".to_string(), self.searches),
        ]);
        for (reason, n) in &self.rejected {
            counts.insert(format!("rejected.{}", reason.as_str()), *n);
        }
        // Only a sharded run has it (the shards put together have none).
        if self.other_shards > 0 {
            counts.insert("other_shards".into(), self.other_shards);
        }
        counts
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct TrajectoriesReport {
    pub tally: Tally,
    pub manifest: PathBuf,
    pub elapsed_secs: f64,
}

/// Runs the teacher of `config` over every record of `options.input`.
pub async fn run(
    config: &TrajectoryConfig,
    options: &RunOptions<'_>,
) -> Result<TrajectoriesReport, AgentError> {
    let started = Instant::now();
    if config.teacher != Teacher::Rule && options.model.is_none() {
        return Err(AgentError::NoModel {
            teacher: config.teacher.as_str(),
        });
    }
    let manifest = RunManifest::new(
        "trajectories",
        vec![options.input.display().to_string()],
        manifest_config(config, options),
    );
    let (mut run, _) = Run::open(manifest, &options.out, options.resume)?;
    let mut tally = Tally::default();
    let mut seen: HashSet<String> = HashSet::new();
    if options.resume {
        for path in [&options.out, &options.rejected] {
            read_done(path, &mut seen, &mut tally)?;
        }
    }
    tally.resumed = tally.accepted + tally.rejected_total();
    let (mut accepted, mut rejected) = if options.resume {
        (
            RunLog::resume(&options.out)?,
            RunLog::resume(&options.rejected)?,
        )
    } else {
        (
            RunLog::create(&options.out)?,
            RunLog::create(&options.rejected)?,
        )
    };
    run.save(tally.counts())?;

    // Reading runs on its own thread: a slow input (a pipe, a network disk) must not stall the
    // trajectories in flight.
    let reader = formats::read_jsonl::<Value>(&options.input)?;
    let (teacher, shard) = (config.teacher, config.shard);
    let (tx, rx) = tokio::sync::mpsc::channel(options.concurrency.max(1) * 2);
    tokio::task::spawn_blocking(move || {
        let done = seen.clone();
        for (n, line) in reader.enumerate() {
            let item = classify(line, n as u64 + 1, teacher, shard, &done, &mut seen);
            let stop = matches!(item, Item::Unreadable(_));
            if tx.blocking_send(item).is_err() || stop {
                break;
            }
        }
    });
    let items = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let results = items
        .map(|item| async move {
            match item {
                Item::Job(job) => Ok(attempt(config, options, &job).await),
                other => Err(other),
            }
        })
        .buffered(options.concurrency.max(1));
    let mut results = std::pin::pin!(results);
    let mut written = 0u64;
    while let Some(result) = results.next().await {
        match result {
            Ok(trajectory) => {
                let log = if trajectory.accepted {
                    &mut accepted
                } else {
                    &mut rejected
                };
                log.append(&trajectory)?;
                log.commit()?;
                tally.add(&trajectory);
                written += 1;
                run.checkpoint(written, || tally.counts())?;
            }
            Err(Item::Bad) => tally.bad_records += 1,
            Err(Item::Duplicate) => tally.duplicates += 1,
            Err(Item::OtherShard) => tally.other_shards += 1,
            Err(Item::Unreadable(e)) => return Err(e.into()),
            Err(Item::NotRamp(record)) => {
                return Err(AgentError::NotRamp {
                    path: options.input.display().to_string(),
                    record,
                });
            }
            Err(Item::Done | Item::Job(_)) => {}
        }
        (options.progress)(&tally);
    }
    let manifest = run.finish(tally.counts())?;
    Ok(TrajectoriesReport {
        tally,
        manifest,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}
