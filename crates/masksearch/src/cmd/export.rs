//! `masksearch export sft|rl`: training data out — LLaMA-Factory sharegpt (with its
//! `dataset_info.json` entries) from accepted trajectories, verl parquet in Search-R1's schema
//! from RAMP samples and questions.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use export::{
    Curriculum, Progress, RlConfig, Selection, SftConfig, Skips, Style, Template, export_rl,
    export_sft,
};
use formats::Teacher;
use indicatif::HumanCount;

use crate::progress;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(clap::Subcommand)]
enum Kind {
    /// LLaMA-Factory sharegpt from accepted trajectories (`masksearch trajectories` output),
    /// with the dataset_info.json entries: point LLaMA-Factory's dataset_dir at --out.
    Sft(SftArgs),
    /// verl parquet in Search-R1's schema from RAMP samples and questions (FlashRAG
    /// `golden_answers` or HotpotQA `answer`).
    Rl(RlArgs),
}

#[derive(clap::Args)]
struct SftArgs {
    /// Trajectory files (JSONL), read in the order given: of several trajectories of one
    /// sample, the first that passes the filters is kept.
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// The folder for the data files, dataset_info.json and the manifest.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// tags: the student format's plain <search>/<information> text, the same prompt as
    /// `export rl`, what `eval --methods agent`, `evolve` and the verl integration speak;
    /// tools: the original's record (thought, structured web_search call, observation).
    #[arg(long, default_value = "tags", value_parser = |s: &str| s.parse::<Style>())]
    style: Style,
    /// The dataset's name in dataset_info.json [default: masksearch_<style>].
    #[arg(long)]
    name: Option<String>,
    /// Keep only trajectories the verdict calls correct (the judge's word when asked, else
    /// every mask recovered / an exact match).
    #[arg(long)]
    only_correct: bool,
    /// Keep only trajectories of these teachers (multi-agent, agent, rule).
    #[arg(long, value_parser = parse_teacher)]
    teacher: Vec<Teacher>,
    /// Keep only trajectories of these self-evolution rounds.
    #[arg(long)]
    round: Vec<u32>,
    /// Keep only trajectories with at most this many searches.
    #[arg(long)]
    max_turns: Option<usize>,
    /// Share of sample ids held out as the validation dataset (<name>_val).
    #[arg(long, default_value_t = 0.05)]
    val_share: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The first user turn of --style tags, with {question} [default: the student instruction].
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RlArgs {
    /// RAMP samples and/or question files (JSONL).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// The folder for train.parquet, test.parquet and the manifest.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The user prompt, with {question} [default: the student instruction].
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// none (input order), easy-to-hard (train ordered by mask count; set verl's
    /// data.shuffle=False) or buckets (train.mask<k>.parquet per mask count).
    #[arg(long, default_value = "none", value_parser = |s: &str| s.parse::<Curriculum>())]
    curriculum: Curriculum,
    /// Share of ids held out as test.parquet.
    #[arg(long, default_value_t = 0.05)]
    test_share: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// data_source of every row [default: ramp for RAMP samples, qa for questions].
    #[arg(long)]
    data_source: Option<String>,
}

fn parse_teacher(s: &str) -> Result<Teacher, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown teacher {s:?}; expected multi-agent, agent or rule"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.kind {
        Kind::Sft(args) => sft(args),
        Kind::Rl(args) => rl(args),
    }
}

/// The prompt template at `path` (checked for its `{question}`), else the student instruction.
pub(crate) fn template(path: Option<&Path>) -> anyhow::Result<Template> {
    let Some(path) = path else {
        return Ok(Template::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the template {}", path.display()))?;
    Template::new(&text).with_context(|| format!("template {}", path.display()))
}

fn share(name: &str, value: f64) -> anyhow::Result<f64> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&value),
        "{name} must be between 0 and 1 (got {value})"
    );
    Ok(value)
}

/// Runs `export` with a record counter on stderr.
fn with_bar<T>(export: impl FnOnce(&dyn Fn(&Progress)) -> T) -> T {
    let bar = progress::bar(None, "records");
    let show = |p: &Progress| {
        bar.set_position(p.read);
        bar.set_message(format!(
            "{} written, {} skipped",
            HumanCount(p.written),
            HumanCount(p.skipped)
        ));
    };
    let result = export(&show);
    bar.finish_and_clear();
    result
}

fn print_skips(skips: &Skips) {
    for example in skips.examples() {
        eprintln!("skipped {example}");
    }
}

fn sft(args: SftArgs) -> anyhow::Result<()> {
    let style = args.style;
    let config = SftConfig {
        style,
        name: args
            .name
            .clone()
            .unwrap_or_else(|| SftConfig::default_name(style)),
        selection: Selection {
            only_correct: args.only_correct,
            teachers: args.teacher.clone(),
            rounds: args.round.clone(),
            max_turns: args.max_turns,
        },
        val_share: share("--val-share", args.val_share)?,
        seed: args.seed,
        template: template(args.template.as_deref())?,
    };
    let report = with_bar(|show| export_sft(&args.input, &args.out, &config, show))
        .with_context(|| format!("exporting SFT data to {}", args.out.display()))?;
    print_skips(&report.skips);
    eprintln!(
        "export sft: {} read, {} train + {} validation ({} style, dataset {}), skipped: {} → {}",
        HumanCount(report.read),
        HumanCount(report.train),
        HumanCount(report.validation),
        style.as_str(),
        config.name,
        report.skips,
        report.dataset_info.display(),
    );
    Ok(())
}

fn rl(args: RlArgs) -> anyhow::Result<()> {
    let config = RlConfig {
        template: template(args.template.as_deref())?,
        test_share: share("--test-share", args.test_share)?,
        seed: args.seed,
        curriculum: args.curriculum,
        data_source: args.data_source.clone(),
    };
    let report = with_bar(|show| export_rl(&args.input, &args.out, &config, show))
        .with_context(|| format!("exporting RL data to {}", args.out.display()))?;
    print_skips(&report.skips);
    let by_masks: Vec<String> = report
        .train_by_masks
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    let files: Vec<String> = report
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    eprintln!(
        "export rl: {} read ({} RAMP samples, {} questions), {} train{} + {} test, skipped: {} → {}",
        HumanCount(report.read),
        HumanCount(report.ramp),
        HumanCount(report.questions),
        HumanCount(report.train),
        if by_masks.is_empty() {
            String::new()
        } else {
            format!(" [by mask count {}]", by_masks.join(", "))
        },
        HumanCount(report.test),
        report.skips,
        files.join(", "),
    );
    Ok(())
}
