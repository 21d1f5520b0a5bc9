//! `masksearch merge`: the outputs of a `ramp`, `trajectories` or `eval` run split with
//! `--shard i/n` put back together, in the unsplit run's order, with its manifest (and, for
//! eval, its reports).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use formats::{FormatError, Shards};
use serde_json::Value;

use super::eval::ReportArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Every shard's output: the `--out` of each `ramp` or `trajectories` shard (a file), or of
    /// each `eval` shard (a folder). Any order; each shard exactly once.
    #[arg(value_name = "SHARD_OUT", required = true)]
    shards: Vec<PathBuf>,
    /// The merged output: a file for ramp and trajectories (their rejected trajectories go
    /// beside it as `.rejected.jsonl`), a folder for eval. Replaced whole.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// eval: how the merged report looks.
    #[command(flatten)]
    report: ReportArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let eval = args.shards.iter().all(|s| s.is_dir());
    let outputs: Vec<PathBuf> = if eval {
        args.shards
            .iter()
            .map(|s| s.join("predictions.jsonl"))
            .collect()
    } else {
        args.shards.clone()
    };
    let mut shards = Shards::open(&outputs, &["rejected"]).context("checking the shards")?;
    let manifest = shards.manifest().clone();
    let command = manifest.command.as_str();
    let input = |i: usize| {
        manifest
            .inputs
            .get(i)
            .map(PathBuf::from)
            .with_context(|| format!("the {command} manifest names no input"))
    };
    let (files, main, rows) = match command {
        "ramp" => {
            let source = super::ramp::passage_source(&input(0)?)?;
            let ids = source.open()?.filter_map(|p| match p {
                Ok(p) => Some(Ok(p.id)),
                Err(FormatError::BadLine { .. }) => None,
                Err(e) => Some(Err(e)),
            });
            let out = args.out.clone();
            let (merged, rows) = shards.merge_file(shards.outputs(), ids, ramp_input, &out)?;
            (vec![merged], out, format!("{rows} samples"))
        }
        "trajectories" => {
            // Each shard's rejected trajectories are where its manifest says.
            let rejected: Vec<PathBuf> = shards
                .manifests()
                .iter()
                .map(|m| m.config["rejected"].as_str().map(PathBuf::from))
                .collect::<Option<_>>()
                .context("a trajectories manifest without its rejected file")?;
            let merged_rejected = super::trajectories::rejected_beside(&args.out);
            let mut files = Vec::new();
            let mut rows = Vec::new();
            for (from, out) in [
                (shards.outputs(), &args.out),
                (&rejected[..], &merged_rejected),
            ] {
                let ids = agent::pipeline::input_ids(&input(0)?)?;
                let (merged, n) = shards.merge_file(from, ids, record_id, out)?;
                files.push(merged);
                rows.push(n);
            }
            shards.manifest_mut().config["rejected"] = merged_rejected.display().to_string().into();
            let rows = format!("{} accepted and {} rejected trajectories", rows[0], rows[1]);
            (files, args.out.clone(), rows)
        }
        "eval" => {
            std::fs::create_dir_all(&args.out)
                .with_context(|| format!("creating {}", args.out.display()))?;
            let benchmarks = manifest
                .inputs
                .iter()
                .map(|spec| super::eval::benchmark(spec, None))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let ids = benchmarks.iter().flat_map(|b| {
                b.questions
                    .iter()
                    .map(|q| Ok(eval::run::question_key(&b.name, &q.id)))
            });
            let out = args.out.join("predictions.jsonl");
            let (merged, rows) =
                shards.merge_file(shards.outputs(), ids, prediction_input, &out)?;
            (vec![merged], out, format!("{rows} answers"))
        }
        other => bail!("{other} runs are not sharded; merge takes ramp, trajectories and eval"),
    };
    formats::commit_all(
        files,
        [],
        shards.manifest().clone(),
        &formats::RunManifest::path_for(&main),
    )?;
    let mut line = format!(
        "merge: {} shards of `{command}` → {} in {}",
        shards.count(),
        rows,
        main.display()
    );
    if command == "eval" {
        let predictions = eval::run::read_predictions(&main)?;
        let config = &manifest.config;
        let methods: Vec<&str> = config["methods"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let about = super::eval::about(
            config["model"].as_str().unwrap_or_default(),
            &methods,
            config["search"].as_str(),
            config["rag_topk"].as_u64().unwrap_or_default(),
        );
        line = format!(
            "{line}; {}",
            args.report.write(&args.out, &predictions, about)?
        );
    }
    eprintln!("{line}");
    Ok(())
}

/// The fields of an output line that say which input record it came from (the rest of the line
/// is skipped, not parsed).
#[derive(serde::Deserialize)]
struct Source {
    id: Option<String>,
    ext: Option<SourceExt>,
    dataset: Option<String>,
}

#[derive(serde::Deserialize)]
struct SourceExt {
    passage_id: Option<String>,
}

fn source(line: &str) -> Option<Source> {
    serde_json::from_str(line).ok()
}

/// The passage a RAMP sample was cut from.
fn ramp_input(line: &str) -> Option<String> {
    let s = source(line)?;
    s.ext.and_then(|e| e.passage_id).or(s.id)
}

/// The input record a trajectory answers: its id.
fn record_id(line: &str) -> Option<String> {
    source(line)?.id
}

/// The question a prediction answers.
fn prediction_input(line: &str) -> Option<String> {
    let s = source(line)?;
    Some(eval::run::question_key(&s.dataset?, &s.id?))
}
