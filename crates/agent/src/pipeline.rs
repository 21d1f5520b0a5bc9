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

use std::{
    collections::{BTreeMap, HashSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use chat::ChatModel;
use formats::{
    RampSample, Rejection, RunLog, RunManifest, Shard, Task, TaskKind, Teacher, TokenUse,
    Trajectory, Verdict,
};
use futures_util::{StreamExt, stream};
use search::Searcher;
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    AgentError, Prompts,
    attempt::End,
    chatml,
    multi::{self, MultiAgentConfig},
    rule::{self, RuleConfig},
    runtime::{self, RuntimeConfig},
    verify::{self, VerifyConfig},
};

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
            ("other_shards".to_string(), self.other_shards),
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
        counts
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub tally: Tally,
    pub manifest: PathBuf,
    pub elapsed_secs: f64,
}

/// One input record, ready to run.
pub(crate) struct Job {
    pub(crate) id: String,
    task: Task,
    /// The input's `ext` (kept in the chatml record).
    ext: Value,
    /// RAMP: the page title (the rule teacher searches with it).
    title: String,
    /// RAMP: the id of the passage the sample was cut from.
    source_id: String,
}

/// A record read from the input: a job, or why it is not one.
enum Item {
    Job(Box<Job>),
    Bad,
    Duplicate,
    OtherShard,
    /// Already in the outputs.
    Done,
    /// A question given to the rule teacher, which fills masks only.
    NotRamp(u64),
    /// The input cannot be read on (an I/O error): the run stops.
    Unreadable(formats::FormatError),
}

/// What the `record`-th line of the input is.
fn classify(
    line: Result<Value, formats::FormatError>,
    record: u64,
    teacher: Teacher,
    shard: Shard,
    done: &HashSet<String>,
    seen: &mut HashSet<String>,
) -> Item {
    let value = match line {
        Ok(value) => value,
        Err(formats::FormatError::BadLine { .. }) => return Item::Bad,
        Err(e) => return Item::Unreadable(e),
    };
    let Some(job) = job(&value, record) else {
        return Item::Bad;
    };
    if teacher == Teacher::Rule && job.task.kind != TaskKind::Ramp {
        return Item::NotRamp(record);
    }
    if done.contains(&job.id) {
        return Item::Done;
    }
    if !seen.insert(job.id.clone()) {
        return Item::Duplicate;
    }
    if !shard.contains(&job.id) {
        return Item::OtherShard;
    }
    Item::Job(Box::new(job))
}

/// Runs the teacher of `config` over every record of `options.input`.
pub async fn run(
    config: &TrajectoryConfig,
    options: &RunOptions<'_>,
) -> Result<Report, AgentError> {
    let started = Instant::now();
    if config.teacher != Teacher::Rule && options.model.is_none() {
        return Err(AgentError::NoModel {
            teacher: config.teacher.as_str(),
        });
    }
    let manifest_path = RunManifest::path_for(&options.out);
    let mut manifest = RunManifest {
        command: "trajectories".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        inputs: vec![options.input.display().to_string()],
        config: manifest_config(config, options),
        counts: BTreeMap::new(),
        complete: false,
    };
    let previous = if options.resume {
        RunManifest::load(&manifest_path)?
    } else {
        None
    };
    match &previous {
        Some(previous) => manifest.check_resumable(previous, &options.out)?,
        None if options.resume && has_records(&options.out) => {
            return Err(AgentError::Resume {
                path: options.out.clone(),
                message: "holds records but no manifest beside it says how they were made".into(),
            });
        }
        None => {}
    }
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
    manifest.counts = tally.counts();
    manifest.save(&manifest_path)?;

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
                if written.is_multiple_of(16) {
                    manifest.counts = tally.counts();
                    manifest.save(&manifest_path)?;
                }
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
    manifest.counts = tally.counts();
    manifest.complete = true;
    manifest.save(&manifest_path)?;
    Ok(Report {
        tally,
        manifest: manifest_path,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// Whether `path` holds anything.
fn has_records(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// Adds the ids and outcomes of an output written earlier.
fn read_done(path: &Path, seen: &mut HashSet<String>, tally: &mut Tally) -> Result<(), AgentError> {
    if !path.exists() {
        return Ok(());
    }
    // A torn last line (a kill mid-write) is cut off when the log is reopened; skip it here.
    for trajectory in formats::read_jsonl::<Trajectory>(path)?.flatten() {
        seen.insert(trajectory.id.clone());
        tally.add(&trajectory);
    }
    Ok(())
}

fn manifest_config(config: &TrajectoryConfig, options: &RunOptions<'_>) -> Value {
    let model = options.model.as_ref().map(|m| m.name().to_string());
    let judge = options
        .judge
        .as_ref()
        .or(options.model.as_ref())
        .map(|m| m.name().to_string());
    let mut settings = settings(config);
    settings.extend([
        ("teacher".into(), json!(config.teacher.as_str())),
        ("model".into(), json!(model)),
        ("judge".into(), json!(judge)),
        ("search".into(), json!(options.searcher.name())),
        ("round".into(), json!(config.round)),
        ("shard".into(), json!(config.shard.to_string())),
        (
            "rejected".into(),
            json!(options.rejected.display().to_string()),
        ),
    ]);
    Value::Object(settings)
}

/// The settings of `config` that shape every attempt whatever its teacher, round or shard (a
/// resume must match them).
pub(crate) fn settings(config: &TrajectoryConfig) -> serde_json::Map<String, Value> {
    let runtime = &config.runtime;
    [
        ("seed", json!(config.seed)),
        ("today", json!(config.today.to_string())),
        ("accept", json!(config.verify.policy.as_str())),
        ("threshold", json!(config.verify.threshold)),
        ("prompts", json!(config.prompts.fingerprint())),
        ("max_turns", json!(runtime.max_turns)),
        ("topk", json!(runtime.topk)),
        ("mode", json!(runtime.mode.as_str())),
        ("student_style", json!(runtime.style.as_str())),
        ("stops", json!(runtime.stops)),
        (
            "template",
            json!(format!(
                "{:016x}",
                formats::stable_hash(runtime.template.text())
            )),
        ),
        ("max_rounds", json!(config.multi.max_rounds)),
        ("teacher_topk", json!([config.multi.topk, config.rule.topk])),
        ("exclude_source", json!(config.exclude_source)),
        ("temperature", json!(runtime.temperature)),
        (
            "teacher_sampling",
            json!([config.multi.temperature, config.multi.top_p]),
        ),
        ("planner_may_answer", json!(config.multi.planner_may_answer)),
        (
            "max_tokens",
            json!([config.multi.max_tokens, runtime.max_tokens_per_turn]),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The task in a record: a RAMP sample (`query`, `answer`, `ext.masks`) or a question in any
/// shape [`formats::QaExample`] reads. `record` is the 1-based record number, the id of a
/// record without one.
pub(crate) fn job(value: &Value, record: u64) -> Option<Job> {
    let is_ramp =
        value.get("query").is_some() && value.get("ext").and_then(|e| e.get("masks")).is_some();
    if is_ramp {
        let sample: RampSample = serde_json::from_value(value.clone()).ok()?;
        let id = if sample.id.is_empty() {
            record.to_string()
        } else {
            sample.id.clone()
        };
        let ext = value.get("ext").cloned().unwrap_or(Value::Null);
        let source_id = if sample.ext.passage_id.is_empty() {
            id.clone()
        } else {
            sample.ext.passage_id.clone()
        };
        return Some(Job {
            id,
            source_id,
            title: sample.ext.title.clone(),
            task: Task {
                kind: TaskKind::Ramp,
                query: sample.query,
                golds: vec![sample.answer],
                masks: sample.ext.masks,
            },
            ext,
        });
    }
    let qa = formats::QaExample::from_record(value, record)?;
    Some(Job {
        ext: json!({ "golden_answer": qa.golden_answers[0], "golden_answers": qa.golden_answers }),
        id: qa.id,
        title: String::new(),
        source_id: String::new(),
        task: Task {
            kind: TaskKind::Qa,
            query: qa.question,
            golds: qa.golden_answers,
            masks: Vec::new(),
        },
    })
}

/// One task through the configured teacher and the verifier.
async fn attempt(config: &TrajectoryConfig, options: &RunOptions<'_>, job: &Job) -> Trajectory {
    let started = Instant::now();
    let sample_seed = formats::seed_for(config.seed, &job.id);
    let system = chatml::system_message(config.today, sample_seed);
    let searcher = options.searcher.as_ref();
    let model = options.model.as_deref();
    let seed = Some(sample_seed);
    let exclude = match (config.exclude_source, job.task.kind) {
        (true, TaskKind::Ramp) => vec![job.source_id.clone()],
        _ => Vec::new(),
    };
    let ask = runtime::Ask {
        question: &job.task.query,
        exclude: &exclude,
    };
    let produced = match (config.teacher, model) {
        (Teacher::MultiAgent, Some(model)) => {
            let prompts = &config.prompts;
            multi::run(model, searcher, prompts, &system, ask, &config.multi, seed).await
        }
        (Teacher::Agent, Some(model)) => {
            runtime::rollout(model, searcher, ask, &config.runtime, seed).await
        }
        (Teacher::Rule, _) | (_, None) => {
            rule::run(searcher, &job.task, &job.title, &exclude, &config.rule).await
        }
    };
    let mut judged = verdict(config, options, job, &produced, sample_seed).await;
    let chatml = chatml::record(
        &system,
        &job.task.query,
        &produced.rounds,
        produced.final_text.as_deref(),
        &job.ext,
        judged.response_acc,
    );
    if judged.rejection.is_none() {
        // The original's check of its record (multi-agent), then the student format's grammar
        // on the transcript a student will be trained on (every teacher).
        let check = match config.teacher {
            Teacher::MultiAgent => chatml::format_check(&chatml),
            Teacher::Agent | Teacher::Rule => Ok(()),
        }
        .and_then(|()| {
            metrics::check_format(&produced.transcript)
                .map_err(|e| format!("student transcript: {e}"))
        });
        if let Err(why) = check {
            judged.rejection = Some(Rejection::Format);
            judged.detail = why;
        }
    }
    let mut usage = produced.usage;
    if let Some(step) = &judged.step {
        usage.model_calls += 1;
        usage.prompt_tokens += step.prompt_tokens;
        usage.completion_tokens += step.completion_tokens;
    }
    let mut steps = produced.steps;
    steps.extend(judged.step);
    Trajectory {
        id: job.id.clone(),
        teacher: config.teacher,
        round: config.round,
        model: model.map_or_else(String::new, |m| m.name().to_string()),
        task: job.task.clone(),
        accepted: judged.rejection.is_none(),
        rejection: judged.rejection,
        detail: judged.detail,
        answer: judged.answer,
        transcript: produced.transcript,
        chatml,
        steps,
        search: produced.search,
        verdict: judged.verdict,
        usage,
        ms: started.elapsed().as_millis() as u64,
    }
}

/// The verification of one attempt.
struct Judged {
    rejection: Option<Rejection>,
    detail: String,
    /// The original's `ext.response_acc`: the judge's verdict, `"Max_turn"`, or whether the
    /// metric passed when no judge was asked.
    response_acc: Value,
    answer: Option<String>,
    verdict: Verdict,
    /// The judge's step, when it was asked.
    step: Option<formats::Step>,
}

/// Scores and judges an attempt by how it ended.
async fn verdict(
    config: &TrajectoryConfig,
    options: &RunOptions<'_>,
    job: &Job,
    produced: &crate::Attempt,
    seed: u64,
) -> Judged {
    let end = &produced.end;
    let mut judged = Judged {
        rejection: None,
        detail: String::new(),
        response_acc: json!(false),
        answer: None,
        verdict: Verdict::default(),
        step: None,
    };
    let answer = match end {
        End::Answered(answer) => answer.clone(),
        End::MaxTurns => {
            judged.rejection = Some(Rejection::MaxTurns);
            judged.detail = "no answer within the search budget".into();
            judged.response_acc = json!("Max_turn");
            return judged;
        }
        End::SearchFailed(why) => {
            judged.rejection = Some(Rejection::SearchFailure);
            judged.detail = why.clone();
            return judged;
        }
        End::ModelFailed(why) => {
            judged.rejection = Some(Rejection::ModelError);
            judged.detail = why.clone();
            return judged;
        }
        End::Malformed(why) => {
            judged.rejection = Some(Rejection::Format);
            judged.detail = why.clone();
            return judged;
        }
        End::NotGrounded(why) => {
            judged.rejection = Some(Rejection::NotGrounded);
            judged.detail = why.clone();
            return judged;
        }
    };
    let metric = verify::score(&job.task, &answer, &mut judged.verdict);
    judged.answer = Some(answer.clone());
    // The rule teacher has no model to judge with: its answers are grounded by construction.
    let judge_model = options.judge.as_deref().or(options.model.as_deref());
    let policy = match (config.teacher, judge_model) {
        (Teacher::Rule, _) | (_, None) => verify::AcceptPolicy::Metric,
        _ => config.verify.policy,
    };
    if let (true, Some(judge)) = (policy.needs_judge(), judge_model) {
        // The judge reads the final reply, thinking included, as the original's does.
        let response = produced.final_text.as_deref().unwrap_or(&answer);
        let asked = verify::judge(
            judge,
            &config.prompts,
            &job.task,
            response,
            Some(seed),
            &mut judged.verdict,
        )
        .await;
        match asked {
            Ok(step) => judged.step = Some(step),
            Err(e) => {
                judged.rejection = Some(Rejection::ModelError);
                judged.detail = format!("judge: {e}");
                return judged;
            }
        }
    }
    let effective = VerifyConfig {
        policy,
        ..config.verify.clone()
    };
    judged.response_acc = match judged.verdict.judge {
        Some(correct) => json!(correct),
        None => json!(metric >= effective.threshold),
    };
    if let Err(rejection) = verify::accepts(&effective, &judged.verdict, metric) {
        judged.detail = match rejection {
            Rejection::Judge => format!("judge: {:?}", judged.verdict.judge_reply.trim()),
            _ => format!("metric {metric:.3} below {}", effective.threshold),
        };
        judged.rejection = Some(rejection);
    }
    judged
}
