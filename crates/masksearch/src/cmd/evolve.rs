//! `masksearch evolve`: the self-evolving teacher — round 0's teacher on a batch of samples,
//! then in every later round a student trained on the merged accepted trajectories so far
//! (an endpoint the user names, or a command that trains and serves it) on a fresh batch; the
//! rounds table printed and written beside the round folders.

use std::{path::PathBuf, sync::Mutex};

use agent::evolve::{self, Event, EvolveConfig, EvolveOptions, StudentSource};
use anyhow::{Context as _, bail};
use formats::Teacher;
use indicatif::{HumanCount, ProgressBar};
use llm::CachePolicy;

use super::trajectories;
use crate::{models, progress};

#[derive(clap::Args)]
pub struct Args {
    /// RAMP samples (`masksearch ramp` output) or questions, JSONL: every round takes a fresh
    /// batch of them (disjoint, drawn by --seed).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The run's folder: round-0/, round-1/, … (samples, trajectories, rejected, merged.jsonl),
    /// rounds.md and rounds.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Rounds in all (round 0 and the student rounds); more than a finished run had adds rounds.
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// Samples per round.
    #[arg(long, value_name = "N")]
    batch: usize,
    /// Round 0's teacher: multi-agent (the paper's) or rule (offline cold start, RAMP only).
    #[arg(long, default_value = "multi-agent", value_parser = parse_round0)]
    round0_teacher: Teacher,
    /// The student of rounds ≥ 1: an OpenAI-compatible base URL (`{round}` is replaced by the
    /// round number, e.g. http://gpu1:8000/v1 or http://ckpt-{round}:8000/v1).
    #[arg(long, value_name = "URL", conflicts_with = "train_command")]
    student_url: Option<String>,
    /// The model name the student is served under (`{round}` replaced).
    #[arg(long, value_name = "NAME", default_value = "student")]
    student_model: String,
    /// A shell command that trains the student of round {round} on {data} (the merged
    /// trajectories of the rounds before) and serves it, printing `listening on URL` on stdout
    /// once it answers; {out} is the round's folder, {port} a free port, {model} the
    /// --student-model. Its output goes to round-K/train.log; its process group is stopped
    /// when the round ends.
    #[arg(long, value_name = "TEMPLATE")]
    train_command: Option<String>,
    #[command(flatten)]
    teaching: trajectories::TeacherArgs,
    /// Delete the round folders and start over instead of resuming.
    #[arg(long)]
    overwrite: bool,
}

fn parse_round0(s: &str) -> Result<Teacher, String> {
    match trajectories::parse_teacher(s)? {
        Teacher::Agent => Err("round 0 is taught by multi-agent or rule".into()),
        teacher => Ok(teacher),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        tokio::select! {
            result = evolve(args) => result,
            // Dropping the run stops a round's training command with it.
            _ = tokio::signal::ctrl_c() => bail!("interrupted; the same command resumes the run"),
        }
    })
}

async fn evolve(args: Args) -> anyhow::Result<()> {
    let teaching = &args.teaching;
    let student = match (&args.student_url, &args.train_command) {
        (Some(url), _) => StudentSource::Endpoint {
            base_url: url.clone(),
            model: args.student_model.clone(),
        },
        (None, Some(template)) => StudentSource::Command {
            template: template.clone(),
            model: args.student_model.clone(),
        },
        (None, None) => StudentSource::None,
    };
    let config = EvolveConfig {
        trajectory: teaching.config(args.round0_teacher)?,
        today_given: teaching.student.today.is_some(),
        round0: args.round0_teacher,
        rounds: args.rounds,
        batch: args.batch,
        student,
    };
    if args.batch == 0 || args.rounds == 0 {
        bail!("--batch and --rounds must be at least 1");
    }
    // The model of round 0's multi-agent teacher and the judge of the student rounds.
    let needs_model = args.round0_teacher == Teacher::MultiAgent
        || (args.rounds > 1 && teaching.accept.needs_judge())
        || teaching.search.search == crate::search_backend::SearchKind::Simulated;
    let opened = teaching.model.for_run(
        needs_model,
        false,
        models::RunCache {
            given: None,
            default: args.out.join("llm-cache.redb"),
            overwrite: args.overwrite,
        },
    )?;
    let (model, accounting) = (opened.models.chat, opened.models.accounting);
    let searcher = teaching.searcher(model.as_ref())?;
    let connect = |endpoint: &evolve::Endpoint, dir: &std::path::Path| {
        let client = teaching
            .model
            .endpoint(&endpoint.base_url, &endpoint.model, &accounting)
            .map_err(|e| format!("{e:#}"))?;
        models::with_cache(
            std::sync::Arc::new(client),
            &dir.join("llm-cache.redb"),
            CachePolicy::Deterministic,
            &accounting,
            true,
        )
        .map_err(|e| format!("{e:#}"))
    };
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let on_event = |event: Event<'_>| show(&bar, &args.out, event);
    let options = EvolveOptions {
        input: args.input.clone(),
        out: args.out.clone(),
        overwrite: args.overwrite,
        model,
        searcher,
        concurrency: opened.concurrency,
        student_concurrency: teaching.model.concurrency,
        connect: &connect,
        progress: &on_event,
    };
    let report = evolve::run(&config, &options)
        .await
        .with_context(|| format!("evolving from {}", args.input.display()))?;
    print!("{}", evolve::markdown(&report.rows));
    let merged = report.rows.last().map_or(0, |r| r.merged);
    eprintln!(
        "evolve: {} rounds, {} merged trajectories in {}; table in {}; {:.1} s",
        report.rows.len(),
        HumanCount(merged),
        report.merged.display(),
        report.table.display(),
        report.elapsed_secs,
    );
    Ok(())
}

/// Reports one event of the run on stderr (a bar per round while it runs).
fn show(bar: &Mutex<Option<ProgressBar>>, out: &std::path::Path, event: Event<'_>) {
    let mut bar = bar.lock().unwrap_or_else(|e| e.into_inner());
    match event {
        Event::Round {
            round,
            teacher,
            samples,
        } => {
            eprintln!(
                "round {round}: the {} teacher on {samples} samples",
                teacher.as_str()
            );
            *bar = Some(progress::bar(Some(samples as u64), "samples"));
        }
        Event::Training { round } => eprintln!(
            "round {round}: training command started (output in {})",
            evolve::round_dir(out, round).join("train.log").display()
        ),
        Event::Student { round, endpoint } => eprintln!(
            "round {round}: student {} at {}",
            endpoint.model, endpoint.base_url
        ),
        Event::Progress { tally, .. } => {
            if let Some(bar) = bar.as_ref() {
                trajectories::show_tally(bar, tally);
            }
        }
        Event::Done { row, earlier } => {
            if let Some(bar) = bar.take() {
                bar.finish_and_clear();
            }
            eprintln!(
                "round {}{}: {} tried, {} accepted ({:.1}%), {:.2} turns on average, {} tokens; {} merged",
                row.round,
                if earlier { " (done earlier)" } else { "" },
                row.tried,
                row.accepted,
                100.0 * row.acceptance,
                row.mean_turns,
                HumanCount(row.tokens),
                row.merged
            );
        }
    }
}
