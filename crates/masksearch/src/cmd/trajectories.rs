//! `masksearch trajectories`: run a teacher (the multi-agent system, one model in the student
//! format, or the offline rule teacher) over RAMP samples or questions, verify each attempt, and
//! write accepted and rejected trajectories.

use std::{path::PathBuf, sync::Arc};

use agent::{AcceptPolicy, Prompts, RunOptions, Tally, TrajectoryConfig, VerifyConfig};
use anyhow::Context as _;
use formats::{Rejection, Shard, Teacher};
use indicatif::HumanCount;
use search::Searcher;

use crate::{models, progress, search_backend::SearchArgs, student_args::StudentArgs};

#[derive(clap::Args)]
pub struct Args {
    /// RAMP samples (`masksearch ramp` output) or questions (FlashRAG `question` /
    /// `golden_answers`, or `question` / `answer`), JSONL.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Accepted trajectories (JSONL); its manifest is written beside it.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Rejected trajectories, with their reason [default: OUT with `.rejected.jsonl`].
    #[arg(long, value_name = "FILE")]
    rejected: Option<PathBuf>,
    /// multi-agent (Planner, Rewriter, search, Observer), agent (one model in the Search-R1
    /// format), or rule (offline, RAMP samples only).
    #[arg(long, default_value = "multi-agent", value_parser = parse_teacher)]
    teacher: Teacher,
    #[command(flatten)]
    teaching: TeacherArgs,
    /// The self-evolution round recorded in each trajectory.
    #[arg(long, default_value_t = 0)]
    round: u32,
    /// Only the records of shard i of n (by a stable hash of the record id).
    #[arg(long, value_name = "i/n")]
    shard: Option<Shard>,
    /// Start over instead of resuming what --out and the rejected file hold.
    #[arg(long)]
    overwrite: bool,
    /// Response cache [default: OUT with `.llm-cache.redb`, so a resumed run replays answers].
    #[arg(long, value_name = "PATH")]
    cache: Option<PathBuf>,
}

/// How a teacher works and is judged, and what it searches — shared with `evolve`.
#[derive(clap::Args)]
pub struct TeacherArgs {
    #[command(flatten)]
    pub search: SearchArgs,
    #[command(flatten)]
    pub model: models::ModelArgs,
    /// Accept by the LLM judge (judge), the metric (metric: token recall for questions, masks
    /// recovered for RAMP samples) or both.
    #[arg(long, default_value = "judge")]
    pub accept: AcceptPolicy,
    /// The metric an answer must reach with --accept metric|both.
    #[arg(long, default_value_t = 1.0)]
    threshold: f64,
    /// Leave out the passage a RAMP sample was cut from, so every mask must be found elsewhere
    /// in the corpus (every teacher; a student must then be run with the same).
    #[arg(long)]
    exclude_source: bool,
    /// How searches are run and answered, the student's format, the seed and the day.
    #[command(flatten)]
    pub student: StudentArgs,
    /// Token limit of one generation (a Planner / Observer reply, an agent turn)
    /// [default: 768 for the multi-agent teacher, 500 for the agent, as Search-R1].
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Agent teacher: a text that ends a generation, besides the closing </search> and
    /// </answer> (repeatable).
    #[arg(long, value_name = "TEXT", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    stop: Vec<String>,
    /// Agent teacher: the user prompt, with {question} [default: the student instruction,
    /// Search-R1's plus one sentence on several queries].
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// Sampling temperature of the teacher; 0 is greedy. Sampled answers are seeded per sample,
    /// so a rerun replays them from the response cache [default: 0.7 with top-p 0.8 for the
    /// multi-agent teacher, the original's qwen-max defaults; 0 for the agent teacher].
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Multi-agent teacher: let the Planner answer without any search, as the original did.
    #[arg(long)]
    planner_may_answer: bool,
    /// A folder with prompt files (planner.txt, rewriter.txt, observer.txt, judge.txt) that
    /// replace the built-in ones.
    #[arg(long, value_name = "DIR")]
    prompts: Option<PathBuf>,
}

pub fn parse_teacher(s: &str) -> Result<Teacher, String> {
    match s {
        "multi-agent" => Ok(Teacher::MultiAgent),
        "agent" => Ok(Teacher::Agent),
        "rule" => Ok(Teacher::Rule),
        _ => Err(format!(
            "unknown teacher {s:?}; expected multi-agent, agent or rule"
        )),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(trajectories(args))
}

async fn trajectories(args: Args) -> anyhow::Result<()> {
    let teaching = &args.teaching;
    let config = TrajectoryConfig {
        round: args.round,
        shard: args.shard.unwrap_or(Shard::ALL),
        ..teaching.config(args.teacher)?
    };
    let needs_model = args.teacher != Teacher::Rule
        || teaching.search.search == crate::search_backend::SearchKind::Simulated;
    let opened = teaching.model.for_run(
        needs_model,
        false,
        models::RunCache {
            given: args.cache.as_deref(),
            default: sibling(&args.out, ".llm-cache.redb"),
            overwrite: args.overwrite,
        },
    )?;
    let (model, concurrency) = (opened.models.chat.clone(), opened.concurrency);
    let searcher = teaching.searcher(model.as_ref())?;
    let rejected = args
        .rejected
        .clone()
        .unwrap_or_else(|| rejected_beside(&args.out));
    let bar = progress::bar(None, "records");
    let show = |t: &Tally| show_tally(&bar, t);
    let options = RunOptions {
        input: args.input.clone(),
        out: args.out.clone(),
        rejected: rejected.clone(),
        resume: !args.overwrite,
        model: model.clone(),
        judge: None,
        searcher,
        concurrency,
        progress: &show,
    };
    let report = agent::run(&config, &options)
        .await
        .with_context(|| format!("making trajectories from {}", args.input.display()))?;
    bar.finish_and_clear();
    let t = &report.tally;
    if t.resumed > 0 {
        eprintln!("resumed: {} records were already written", t.resumed);
    }
    let reasons: Vec<String> = t
        .rejected
        .iter()
        .map(|(r, n)| format!("{} {n}", r.as_str()))
        .collect();
    eprintln!(
        "trajectories: {} accepted, {} rejected{} ({} bad records, {} duplicates, {} other shards); {} model calls ({} from the response cache){}, {} tokens, {} searches; {:.1} s → {} and {}",
        HumanCount(t.accepted),
        HumanCount(t.rejected_total()),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" [{}]", reasons.join(", "))
        },
        t.bad_records,
        t.duplicates,
        t.other_shards,
        HumanCount(t.usage.model_calls),
        HumanCount(opened.models.accounting.snapshot().cache_hits),
        models::endpoint_summary(&opened.models.accounting),
        HumanCount(t.usage.prompt_tokens + t.usage.completion_tokens),
        HumanCount(t.searches),
        report.elapsed_secs,
        args.out.display(),
        rejected.display(),
    );
    Ok(())
}

impl TeacherArgs {
    /// The search backend `--search` names (the model writes simulated documents).
    pub fn searcher(
        &self,
        model: Option<&Arc<dyn chat::ChatModel>>,
    ) -> anyhow::Result<Arc<dyn Searcher>> {
        self.search.open(model)
    }

    /// The teacher's settings (round 0, every shard).
    pub fn config(&self, teacher: Teacher) -> anyhow::Result<TrajectoryConfig> {
        let args = self;
        let today = args.student.day()?;
        let prompts = match &args.prompts {
            Some(dir) => Prompts::load(dir)?,
            None => Prompts::default(),
        };
        let mut runtime = args.student.runtime()?;
        let mut multi = agent::multi::MultiAgentConfig {
            max_rounds: args.student.max_turns,
            topk: args.student.topk,
            planner_may_answer: args.planner_may_answer,
            ..Default::default()
        };
        if let Some(t) = args.temperature {
            runtime.temperature = Some(t);
            multi.temperature = Some(t);
            multi.top_p = None;
        }
        if let Some(n) = args.max_tokens {
            runtime.max_tokens_per_turn = n;
            multi.max_tokens = n;
        }
        runtime.stops.extend(args.stop.iter().cloned());
        if let Some(path) = &args.template {
            runtime.template = super::export::template(Some(path))?;
        }
        let rule = agent::rule::RuleConfig {
            topk: args.student.topk,
            ..Default::default()
        };
        Ok(TrajectoryConfig {
            teacher,
            runtime,
            multi,
            rule,
            verify: VerifyConfig {
                policy: args.accept,
                threshold: args.threshold,
            },
            prompts,
            seed: args.student.seed,
            today,
            exclude_source: args.exclude_source,
            round: 0,
            shard: Shard::ALL,
        })
    }
}

/// Shows a trajectories run's counts on `bar`.
pub fn show_tally(bar: &indicatif::ProgressBar, t: &Tally) {
    bar.set_position(
        t.accepted + t.rejected_total() + t.bad_records + t.duplicates + t.other_shards,
    );
    bar.set_message(format!(
        "{} accepted, {} rejected, {} errors, {} tokens",
        t.accepted,
        t.rejected_total(),
        t.rejected.get(&Rejection::ModelError).copied().unwrap_or(0)
            + t.rejected
                .get(&Rejection::SearchFailure)
                .copied()
                .unwrap_or(0),
        HumanCount(t.usage.prompt_tokens + t.usage.completion_tokens)
    ));
}

/// `path` with `suffix` appended to its whole name.
pub fn sibling(path: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where rejected trajectories go by default: beside `out`, as `<out stem>.rejected.jsonl`.
pub fn rejected_beside(out: &std::path::Path) -> std::path::PathBuf {
    out.with_extension("rejected.jsonl")
}
