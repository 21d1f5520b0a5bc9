//! `masksearch reward`: scores RL rollouts — JSONL items in (verl's reward function arguments),
//! one JSONL score line out per item, in order — with the presets `/reward` serves.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use agent::Prompts;
use agent::reward::{RewardJudge, RewardPreset, Tally};
use anyhow::Context as _;
use formats::Staged;

use crate::{models, progress};

#[derive(clap::Args)]
pub struct Args {
    /// Items, one JSON object a line: {"data_source", "solution_str", "ground_truth",
    /// "extra_info"}; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where the scores go (written whole, then moved into place) [default: standard output].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// search-r1, search-r1-format, masksearch-hybrid, em, f1, recall, cover-em, sub-em,
    /// masks, format, or judge (an LLM judge: the model of --model or --base-url).
    #[arg(long, default_value = "masksearch-hybrid")]
    preset: RewardPreset,
    #[command(flatten)]
    model: models::ModelArgs,
    /// A folder whose judge.txt replaces the built-in judge prompt.
    #[arg(long, value_name = "DIR")]
    prompts: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(reward(args))
}

async fn reward(args: Args) -> anyhow::Result<()> {
    let judge_model = if args.preset == RewardPreset::Judge {
        args.model.open(true, false, 1)?.chat
    } else {
        None
    };
    let prompts = match &args.prompts {
        Some(dir) => Prompts::load(dir)?,
        None => Prompts::default(),
    };
    let judge = judge_model.as_deref().map(|model| RewardJudge {
        model,
        prompts: &prompts,
        concurrency: args.model.concurrency,
    });
    let input: Box<dyn BufRead> = match &args.input {
        Some(path) if path != Path::new("-") => Box::new(BufReader::new(
            File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        _ => Box::new(std::io::stdin().lock()),
    };
    let bar = progress::bar(None, "items");
    let on_batch = |s: &Tally| {
        bar.set_position(s.lines);
        bar.set_message(format!("mean score {:.4}", s.means.score()));
    };
    let summary = match &args.out {
        Some(out) => {
            // Staged: a run that fails or is killed leaves an existing --out file as it was.
            let staged = Staged::create(out)?;
            let mut writer = BufWriter::new(staged.writer()?);
            let summary = agent::reward::score_lines(
                input,
                &mut writer,
                args.preset,
                judge.as_ref(),
                on_batch,
            )
            .await?;
            writer
                .flush()
                .with_context(|| format!("writing {}", out.display()))?;
            staged.commit()?;
            summary
        }
        None => {
            let stdout = std::io::stdout().lock();
            agent::reward::score_lines(input, stdout, args.preset, judge.as_ref(), on_batch).await?
        }
    };
    bar.finish_and_clear();
    report(&summary, args.preset);
    std::io::stderr().flush()?;
    Ok(())
}

/// The summary on stderr: counts, the mean score and each part's mean, the first skips.
fn report(summary: &Tally, preset: RewardPreset) {
    let parts: Vec<String> = summary
        .means
        .parts()
        .iter()
        .map(|(name, mean)| format!("{name} {mean:.4}"))
        .collect();
    eprintln!(
        "reward: {} lines, {} scored, {} skipped; {preset} mean {:.4} ({})",
        summary.lines,
        summary.means.items,
        summary.skipped,
        summary.means.score(),
        parts.join(", ")
    );
    for (line, why) in &summary.first_skips {
        eprintln!("  skipped line {line}: {why}");
    }
    if summary.skipped > summary.first_skips.len() as u64 {
        eprintln!(
            "  ... and {} more (each is a {{\"line\", \"error\"}} line in the output)",
            summary.skipped - summary.first_skips.len() as u64
        );
    }
}
