//! Self-evolving rounds, the paper's iterative distillation: round 0's teacher (the multi-agent
//! system, or the rule teacher for an offline cold start) works on a batch of samples; in every
//! later round a student trained on the merged accepted trajectories of the rounds before acts
//! as a single search agent on a fresh batch; each round's accepted trajectories are merged
//! into the data, one per sample.
//!
//! The output folder holds `round-<k>/` for every round — `samples.jsonl` (its batch),
//! `trajectories.jsonl` and `rejected.jsonl` (with the pipeline's manifest), `merged.jsonl` (the
//! accepted trajectories of rounds ≤ k, deduplicated by sample id), `round.json` (its line of
//! the table, written last: a round with it is done) and, for a trained student,
//! `train.log` and `student.json` — plus `rounds.json` and `rounds.md` (the table) and the run's
//! manifest. A killed run resumes inside the round it was in (the pipeline skips what is
//! written) and never redoes a finished round; asking for more rounds later adds them.

mod batches;
mod merge;
mod student;
mod table;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use chat::ChatModel;
use formats::{RunManifest, Shard, Teacher};
use search::Searcher;
use serde_json::{Value, json};

pub use batches::Batches;
pub use merge::{Merged, merge};
pub use student::{Endpoint, Student, StudentSource};
pub use table::{RoundRow, markdown};

use crate::{AgentError, RunOptions, Tally, TrajectoryConfig, pipeline};

/// The settings of an evolve run (recorded in its manifest; a resume must match them, except
/// the number of rounds, which may grow).
#[derive(Debug, Clone)]
pub struct EvolveConfig {
    /// How every round's teacher works; its `teacher`, `round` and `shard` are set per round.
    pub trajectory: TrajectoryConfig,
    /// `today` was given rather than defaulted (a resume keeps the day the run started on).
    pub today_given: bool,
    /// Round 0's teacher.
    pub round0: Teacher,
    pub rounds: u32,
    /// Samples per round.
    pub batch: usize,
    pub student: StudentSource,
}

/// Makes a chat model of a round's student endpoint; the round's folder holds its cache.
pub type Connect<'a> = dyn Fn(&Endpoint, &Path) -> Result<Arc<dyn ChatModel>, String> + Sync + 'a;

/// Where to read and write, with what, and how to report progress.
pub struct EvolveOptions<'a> {
    pub input: PathBuf,
    pub out: PathBuf,
    /// Delete the round folders and start over instead of resuming.
    pub overwrite: bool,
    /// Round 0's teacher model (multi-agent) and the judge of every round.
    pub model: Option<Arc<dyn ChatModel>>,
    pub searcher: Arc<dyn Searcher>,
    /// Attempts in flight in round 0 and in the student rounds.
    pub concurrency: usize,
    pub student_concurrency: usize,
    pub connect: &'a Connect<'a>,
    pub progress: &'a (dyn Fn(Event<'_>) + Sync),
}

/// What a run reports as it goes.
#[derive(Debug)]
pub enum Event<'a> {
    /// A round starts on its batch.
    Round {
        round: u32,
        teacher: Teacher,
        samples: usize,
    },
    /// A round's training command starts.
    Training { round: u32 },
    /// A round's student answers at this endpoint.
    Student { round: u32, endpoint: &'a Endpoint },
    /// The counts of the round so far.
    Progress { round: u32, tally: &'a Tally },
    /// A round was finished by an earlier run.
    Done { row: &'a RoundRow, earlier: bool },
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct EvolveReport {
    pub rows: Vec<RoundRow>,
    /// The last round's merged data.
    pub merged: PathBuf,
    pub table: PathBuf,
    pub elapsed_secs: f64,
}

/// The folder of round `round`.
pub fn round_dir(out: &Path, round: u32) -> PathBuf {
    out.join(format!("round-{round}"))
}

/// The files of one round.
struct RoundFiles {
    dir: PathBuf,
    samples: PathBuf,
    accepted: PathBuf,
    rejected: PathBuf,
    merged: PathBuf,
    row: PathBuf,
}

impl RoundFiles {
    fn new(out: &Path, round: u32) -> Self {
        let dir = round_dir(out, round);
        RoundFiles {
            samples: dir.join("samples.jsonl"),
            accepted: dir.join("trajectories.jsonl"),
            rejected: dir.join("rejected.jsonl"),
            merged: dir.join("merged.jsonl"),
            row: dir.join("round.json"),
            dir,
        }
    }
}

/// Runs (or resumes) every round of `config` over the samples of `options.input`.
pub async fn run(
    config: &EvolveConfig,
    options: &EvolveOptions<'_>,
) -> Result<EvolveReport, AgentError> {
    let started = Instant::now();
    if options.overwrite {
        clear(&options.out)?;
    }
    let batches = Batches::read(
        &options.input,
        config.trajectory.seed,
        config.batch,
        config.rounds,
    )?;
    if let Some(round) = (0..config.rounds).find(|&r| batches.size(r) == 0) {
        return Err(AgentError::TooFewSamples {
            path: options.input.clone(),
            samples: batches.available,
            round,
            batch: config.batch,
        });
    }
    if config.rounds > 1 && config.student == StudentSource::None {
        return Err(AgentError::NoStudent { round: 1 });
    }
    let mut config = config.clone();
    let manifest_path = options.out.join("evolve.manifest.json");
    let previous = RunManifest::load(&manifest_path)?;
    if let (Some(previous), false) = (&previous, config.today_given) {
        let day = previous.config.get("today").and_then(Value::as_str);
        if let Some(day) = day.and_then(parse_day) {
            config.trajectory.today = day;
        }
    }
    let mut manifest = RunManifest::new(
        "evolve",
        vec![options.input.display().to_string()],
        manifest_config(&config, options, &batches),
    );
    manifest.resumes(&manifest_path, &round_dir(&options.out, 0))?;
    std::fs::create_dir_all(&options.out).map_err(|error| AgentError::io(&options.out, error))?;
    manifest.save(&manifest_path)?;

    let mut rows: Vec<RoundRow> = Vec::new();
    for round in 0..config.rounds {
        let files = RoundFiles::new(&options.out, round);
        let row = match read_row(&files.row)? {
            Some(row) => {
                (options.progress)(Event::Done {
                    row: &row,
                    earlier: true,
                });
                row
            }
            None => {
                let row = run_round(&config, options, &batches, round, &files).await?;
                (options.progress)(Event::Done {
                    row: &row,
                    earlier: false,
                });
                row
            }
        };
        rows.push(row);
        write_table(&options.out, &rows)?;
        manifest.counts = BTreeMap::from([
            ("rounds_done".to_string(), rows.len() as u64),
            ("merged".to_string(), rows.last().map_or(0, |r| r.merged)),
        ]);
        manifest.save(&manifest_path)?;
    }
    manifest.complete = true;
    manifest.save(&manifest_path)?;
    let last = config.rounds.saturating_sub(1);
    Ok(EvolveReport {
        rows,
        merged: RoundFiles::new(&options.out, last).merged,
        table: options.out.join("rounds.md"),
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// One round: its batch, its teacher over the batch, the merge, its row.
async fn run_round(
    config: &EvolveConfig,
    options: &EvolveOptions<'_>,
    batches: &Batches,
    round: u32,
    files: &RoundFiles,
) -> Result<RoundRow, AgentError> {
    std::fs::create_dir_all(&files.dir).map_err(|error| AgentError::io(&files.dir, error))?;
    if !files.samples.exists() {
        batches.write(&options.input, round, &files.samples)?;
    }
    let teacher = if round == 0 {
        config.round0
    } else {
        Teacher::Agent
    };
    (options.progress)(Event::Round {
        round,
        teacher,
        samples: batches.size(round),
    });
    let previous = (round > 0).then(|| RoundFiles::new(&options.out, round - 1).merged);
    let finished =
        RunManifest::load(&RunManifest::path_for(&files.accepted))?.is_some_and(|m| m.complete);
    // A round killed after its last attempt only merges: its student is not trained again.
    if !finished {
        let mut trajectory = config.trajectory.clone();
        trajectory.teacher = teacher;
        trajectory.round = round;
        trajectory.shard = Shard::ALL;
        let progress = |tally: &Tally| (options.progress)(Event::Progress { round, tally });
        let mut run_options = RunOptions {
            input: files.samples.clone(),
            out: files.accepted.clone(),
            rejected: files.rejected.clone(),
            resume: true,
            model: options.model.clone().filter(|_| teacher != Teacher::Rule),
            judge: None,
            searcher: Arc::clone(&options.searcher),
            concurrency: options.concurrency,
            progress: &progress,
        };
        let student = match previous.as_deref() {
            Some(data) => Some(start_student(config, options, round, data, &files.dir).await?),
            None => None,
        };
        if let Some((_, model)) = &student {
            run_options.judge = options.model.clone();
            run_options.model = Some(Arc::clone(model));
            run_options.concurrency = options.student_concurrency;
        }
        pipeline::run(&trajectory, &run_options).await?;
        // The training command's servers stop here, before the merge.
        drop(student);
    }
    let merged = merge(previous.as_deref(), &files.accepted, &files.merged)?;
    let model_name = attempts_model(&files.accepted, &files.rejected)?;
    let mut row = RoundRow::read(
        round,
        teacher,
        &model_name,
        &[&files.accepted, &files.rejected],
    )?;
    row.merged = merged.records;
    let text = serde_json::to_string_pretty(&row).expect("a row serialises");
    formats::write_whole(&files.row, (text + "\n").as_bytes())?;
    Ok(row)
}

/// Trains (or finds) round `round`'s student on `data` and connects to it.
async fn start_student(
    config: &EvolveConfig,
    options: &EvolveOptions<'_>,
    round: u32,
    data: &Path,
    dir: &Path,
) -> Result<(Student, Arc<dyn ChatModel>), AgentError> {
    if matches!(config.student, StudentSource::Command { .. }) {
        (options.progress)(Event::Training { round });
    }
    let student = config.student.start(round, data, dir).await?;
    (options.progress)(Event::Student {
        round,
        endpoint: &student.endpoint,
    });
    let model =
        (options.connect)(&student.endpoint, dir).map_err(|message| AgentError::Student {
            round,
            base_url: student.endpoint.base_url.clone(),
            message,
        })?;
    Ok((student, model))
}

/// The model named by a round's first attempt (empty for the rule teacher or no attempt).
fn attempts_model(accepted: &Path, rejected: &Path) -> Result<String, AgentError> {
    for path in [accepted, rejected].into_iter().filter(|p| p.exists()) {
        if let Some(t) = formats::read_jsonl::<formats::Trajectory>(path)?.next() {
            return Ok(t?.model);
        }
    }
    Ok(String::new())
}

fn read_row(path: &Path) -> Result<Option<RoundRow>, AgentError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| AgentError::Resume {
                path: path.to_path_buf(),
                message: format!("not a round's row: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(AgentError::io(path, error)),
    }
}

/// Writes `rounds.json` and `rounds.md`.
fn write_table(out: &Path, rows: &[RoundRow]) -> Result<(), AgentError> {
    let json = serde_json::to_string_pretty(rows).expect("rows serialise");
    formats::write_whole(&out.join("rounds.json"), (json + "\n").as_bytes())?;
    formats::write_whole(&out.join("rounds.md"), markdown(rows).as_bytes())?;
    Ok(())
}

/// Removes what a run writes into `out`: the round folders, the table and the manifest.
fn clear(out: &Path) -> Result<(), AgentError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| AgentError::io(&path, error)
    };
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry.map_err(io(out))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let is_round = name
            .strip_prefix("round-")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_round && path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        } else if ["rounds.json", "rounds.md", "evolve.manifest.json"].contains(&name) {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// A day as the manifest writes it, `YYYY-MM-DD`.
fn parse_day(day: &str) -> Option<time::Date> {
    let mut parts = day.splitn(3, '-').map(str::parse::<i32>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    time::Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()
}

fn manifest_config(config: &EvolveConfig, options: &EvolveOptions<'_>, batches: &Batches) -> Value {
    let mut settings = pipeline::settings(&config.trajectory);
    settings.extend([
        ("round0".into(), json!(config.round0.as_str())),
        ("batch".into(), json!(config.batch)),
        ("samples".into(), json!(batches.available)),
        (
            "samples_hash".into(),
            json!(format!("{:016x}", batches.fingerprint)),
        ),
        (
            "model".into(),
            json!(options.model.as_ref().map(|m| m.name().to_string())),
        ),
        ("search".into(), json!(options.searcher.name())),
        ("student".into(), config.student.describe()),
    ]);
    Value::Object(settings)
}
