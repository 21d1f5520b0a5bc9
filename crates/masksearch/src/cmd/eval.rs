//! `masksearch eval`: answer benchmark questions with each method (direct, RAG-PE, Agent-PE, a
//! trained agent, the multi-agent system), score them and write the predictions and a report
//! (Markdown and HTML, laid out like the paper's Table 2); `--rescore` scores predictions
//! written before, ours or other tools'.

use std::{path::PathBuf, sync::Arc};

use agent::{Prompts, RuntimeConfig};
use anyhow::Context as _;
use eval::{
    Benchmark, EvalConfig, EvalOptions, FieldMap, Method, Prediction, Tally, report::ReportOptions,
};
use formats::Shard;
use indicatif::HumanCount;

use crate::{models, progress, search_backend::SearchArgs, student_args::StudentArgs};

#[derive(clap::Args)]
pub struct Args {
    /// Benchmark files, each `PATH` or `NAME=PATH`: FlashRAG / R1-Searcher / MuSiQue JSONL, the
    /// native HotpotQA, 2Wiki or FanoutQA dev JSON, FreshQA or Bamboogle CSV (the shape is read
    /// from the content; the name from the file unless given).
    #[arg(value_name = "BENCHMARK", required_unless_present = "rescore")]
    benchmarks: Vec<String>,
    /// Score predictions files written earlier (ours, FlashRAG's intermediate_data.json,
    /// R1-Searcher's eval JSONL, …) instead of answering; one report over all of them.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with = "benchmarks")]
    rescore: Vec<PathBuf>,
    /// The methods, comma-separated: direct, rag-pe, agent-pe, agent, multi-agent.
    #[arg(long, value_delimiter = ',', default_value = "direct,rag-pe,agent-pe")]
    methods: Vec<Method>,
    /// The output folder: predictions.jsonl (with its manifest), report.md, report.html.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Only the first N questions of each benchmark.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    #[command(flatten)]
    search: SearchArgs,
    #[command(flatten)]
    model: models::ModelArgs,
    /// Ask the model, as an LLM judge, whether each answer is correct (ACC_L).
    #[arg(long)]
    judge: bool,
    /// How the agents search and the `agent` method's model is talked to (`--topk` is also the
    /// documents RAG-PE retrieves).
    #[command(flatten)]
    student: StudentArgs,
    /// The `agent` method's prompt, a file with `{question}` [default: the student instruction].
    #[arg(long, value_name = "FILE")]
    agent_prompt: Option<PathBuf>,
    /// Token limit of an agent turn (500 as Search-R1) or a multi-agent reply.
    #[arg(long, default_value_t = student::MAX_TOKENS_PER_TURN)]
    max_tokens: u32,
    /// Token limit of a direct or RAG-PE answer.
    #[arg(long, default_value_t = 32)]
    answer_max_tokens: u32,
    /// Sampling temperature (0 is greedy; every request is seeded, so a rerun replays it from the
    /// response cache).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    #[command(flatten)]
    report: ReportArgs,
    /// Only the questions of shard i of n (by a stable hash of benchmark and question id);
    /// `masksearch merge` puts the shards' outputs together.
    #[arg(long, value_name = "i/n")]
    shard: Option<Shard>,
    /// Start over instead of resuming what --out holds.
    #[arg(long)]
    overwrite: bool,
    /// Response cache [default: OUT/llm-cache.redb, so a resumed run replays answers].
    #[arg(long, value_name = "PATH")]
    cache: Option<PathBuf>,
    /// --rescore: the field holding the question (a dotted path, e.g. `output.question`).
    #[arg(long, value_name = "FIELD", requires = "rescore")]
    question_field: Option<String>,
    /// --rescore: the field holding the gold answer(s) (a string or a list).
    #[arg(long, value_name = "FIELD", requires = "rescore")]
    gold_field: Option<String>,
    /// --rescore: the field holding the prediction (its last `<answer>` when it has one).
    #[arg(long, value_name = "FIELD", requires = "rescore")]
    prediction_field: Option<String>,
    /// --rescore: the field holding the question id.
    #[arg(long, value_name = "FIELD", requires = "rescore")]
    id_field: Option<String>,
    /// --rescore: the method label of every record [default: the record's, else the file stem].
    #[arg(long, value_name = "LABEL", requires = "rescore")]
    method_label: Option<String>,
    /// --rescore: the dataset of every record [default: the record's, else the file's name].
    #[arg(long, value_name = "NAME", requires = "rescore")]
    dataset_label: Option<String>,
    /// --rescore: score under this normalisation: squad, or r1-searcher (R1-Searcher's own, so
    /// its files give its EM, F1 and ACC_R) [default: squad].
    #[arg(long, value_name = "NAME", requires = "rescore")]
    normalization: Option<eval::Normalization>,
}

/// How the reports look.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Show the paper's Table 2 rows for this backbone beside ours.
    #[arg(long, value_name = "BACKBONE", value_parser = clap::builder::PossibleValuesParser::new(eval::paper::BACKBONES))]
    paper_rows: Option<String>,
    /// The report's title.
    #[arg(long, default_value = "Search agent evaluation")]
    title: String,
    /// At most this many disagreements between methods are listed in the reports.
    #[arg(long, default_value_t = 40)]
    max_disagreements: usize,
}

impl ReportArgs {
    /// Writes `report.md` and `report.html` of `predictions` into `out`, `about` the run; the
    /// summary line's end: the mean token recall per method and where everything went.
    pub fn write(
        &self,
        out: &std::path::Path,
        predictions: &[Prediction],
        about: Vec<String>,
    ) -> anyhow::Result<String> {
        let options = ReportOptions {
            title: self.title.clone(),
            about,
            max_disagreements: self.max_disagreements,
            ..ReportOptions::default()
        }
        .with_paper_rows(self.paper_rows.as_deref())?;
        let (md, html) = eval::report::write(out, predictions, &options)
            .with_context(|| format!("writing the reports in {}", out.display()))?;
        let summary = eval::Summary::of(predictions);
        let scores: Vec<String> = summary
            .methods
            .iter()
            .filter_map(|m| {
                Some(format!(
                    "{m} {:.1}",
                    summary.average(m, |c| c.token_recall)?
                ))
            })
            .collect();
        Ok(format!(
            "token recall ×100 (mean over datasets): {} → {}, {} and {}",
            scores.join(", "),
            out.join("predictions.jsonl").display(),
            md.display(),
            html.display(),
        ))
    }
}

/// The report's lines about an answering run: its model and methods, and its search.
pub fn about(model: &str, methods: &[&str], search: Option<&str>, topk: u64) -> Vec<String> {
    let mut about = vec![format!("model: {model} · methods: {}", methods.join(", "))];
    if let Some(search) = search {
        about.push(format!("search: {search} · top {topk}"));
    }
    about
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(eval(args))
}

async fn eval(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let predictions_path = args.out.join("predictions.jsonl");
    let needs_model = args.judge || args.rescore.is_empty();
    let opened = args.model.for_run(
        needs_model,
        false,
        models::RunCache {
            given: args.cache.as_deref(),
            default: args.out.join("llm-cache.redb"),
            overwrite: args.overwrite,
        },
    )?;
    let accounting = Arc::clone(&opened.models.accounting);
    let (model, concurrency) = (opened.models.chat, opened.concurrency);
    let mut about = Vec::new();
    let (predictions, line) = if args.rescore.is_empty() {
        let model = model.context("answering needs a model")?;
        answer(&args, model, concurrency, &predictions_path, &mut about).await?
    } else {
        rescore(&args, model, concurrency, &predictions_path, &mut about).await?
    };
    let written = args.report.write(&args.out, &predictions, about)?;
    eprintln!(
        "eval: {line}{}; {written}",
        models::endpoint_summary(&accounting),
    );
    Ok(())
}

/// The benchmark `spec` names, `PATH` or `NAME=PATH` (as a manifest records it), its first
/// `limit` questions.
pub fn benchmark(spec: &str, limit: Option<usize>) -> anyhow::Result<Benchmark> {
    let (name, path) = match spec.split_once('=') {
        Some((name, path)) if !std::path::Path::new(spec).exists() => (Some(name), path),
        _ => (None, spec),
    };
    eval::load(path.as_ref(), name, limit).with_context(|| format!("reading benchmark {path}"))
}

/// Runs the methods over the benchmarks; returns every prediction and the summary's counts.
async fn answer(
    args: &Args,
    model: Arc<dyn chat::ChatModel>,
    concurrency: usize,
    out: &std::path::Path,
    about: &mut Vec<String>,
) -> anyhow::Result<(Vec<Prediction>, String)> {
    let benchmarks = args
        .benchmarks
        .iter()
        .map(|spec| benchmark(spec, args.limit))
        .collect::<anyhow::Result<Vec<Benchmark>>>()?;
    let searcher = if args.methods.iter().any(|m| m.searches()) {
        Some(args.search.open(Some(&model))?)
    } else {
        None
    };
    let methods: Vec<&str> = args.methods.iter().map(|m| m.as_str()).collect();
    about.extend(self::about(
        model.name(),
        &methods,
        searcher.as_ref().map(|s| s.name()).as_deref(),
        args.student.topk as u64,
    ));
    let config = config(args)?;
    let bar = progress::bar(Some(0), "answers");
    let show = |t: &Tally| {
        bar.set_length(t.total);
        bar.set_position(t.written);
        bar.set_message(format!(
            "{} failed, {} searches, {} tokens",
            t.failed,
            HumanCount(t.searches),
            HumanCount(t.tokens)
        ));
    };
    let options = EvalOptions {
        benchmarks,
        out: out.to_path_buf(),
        resume: !args.overwrite,
        model,
        judge: None,
        searcher,
        concurrency,
        progress: &show,
    };
    let report = eval::run(&config, &options).await.context("evaluating")?;
    bar.finish_and_clear();
    let t = &report.tally;
    if t.resumed > 0 {
        eprintln!("resumed: {} answers were already written", t.resumed);
    }
    let predictions = eval::run::read_predictions(out)?;
    let line = format!(
        "{} answers ({} failed) over {} benchmarks ({} bad records, {} duplicates{}); {} model calls, {} tokens, {} searches; {:.1} s",
        HumanCount(t.written),
        t.failed,
        options.benchmarks.len(),
        t.bad_records,
        t.duplicates,
        if t.other_shards > 0 {
            format!(", {} for other shards", t.other_shards)
        } else {
            String::new()
        },
        HumanCount(t.model_calls),
        HumanCount(t.tokens + t.judge_tokens),
        HumanCount(t.searches),
        report.elapsed_secs
    );
    Ok((predictions, line))
}

/// Reads and scores predictions files (judging them when asked) and writes them in our shape.
async fn rescore(
    args: &Args,
    model: Option<Arc<dyn chat::ChatModel>>,
    concurrency: usize,
    out: &std::path::Path,
    about: &mut Vec<String>,
) -> anyhow::Result<(Vec<Prediction>, String)> {
    let map = FieldMap {
        question: args.question_field.clone(),
        golds: args.gold_field.clone(),
        prediction: args.prediction_field.clone(),
        id: args.id_field.clone(),
        method: args.method_label.clone(),
        dataset: args.dataset_label.clone(),
    };
    let judge = model.as_deref().filter(|_| args.judge);
    let prompts = Prompts::default();
    let judging = judge.map(|model| eval::Judging {
        model,
        prompts: &prompts,
        seed: args.student.seed,
        concurrency,
    });
    let done = eval::rescore_files(
        &args.rescore,
        out,
        &map,
        args.normalization.unwrap_or_default(),
        judging,
    )
    .await
    .context("rescoring")?;
    if let Some(judge) = judge {
        about.push(format!("judge: {}", judge.name()));
    }
    about.push(format!(
        "rescored: {}",
        args.rescore
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let (predictions, skipped, judged) = (done.predictions, done.skipped, done.judge_tokens);
    let line = format!(
        "{} predictions rescored from {} files ({skipped} records without a question, gold or prediction){}",
        HumanCount(predictions.len() as u64),
        args.rescore.len(),
        if args.judge {
            format!("; judge used {} tokens", HumanCount(judged))
        } else {
            String::new()
        }
    );
    Ok((predictions, line))
}

fn config(args: &Args) -> anyhow::Result<EvalConfig> {
    let today = args.student.day()?;
    // Agent-PE: the prompted model, in the default mode and style.
    let runtime = RuntimeConfig {
        max_tokens_per_turn: args.max_tokens,
        temperature: Some(args.temperature),
        mode: RuntimeConfig::default().mode,
        style: RuntimeConfig::default().style,
        ..args.student.runtime()?
    };
    // `agent`: the trained model, in the mode and style it was trained on.
    let mut agent_runtime = RuntimeConfig {
        max_tokens_per_turn: args.max_tokens,
        temperature: Some(args.temperature),
        ..args.student.runtime()?
    };
    if let Some(path) = &args.agent_prompt {
        agent_runtime.template = super::export::template(Some(path))?;
    }
    Ok(EvalConfig {
        methods: args.methods.clone(),
        runtime,
        agent_runtime,
        multi: agent::multi::MultiAgentConfig {
            max_rounds: args.student.max_turns,
            topk: args.student.topk,
            max_tokens: args.max_tokens,
            temperature: Some(args.temperature),
            top_p: None,
            ..Default::default()
        },
        prompts: Prompts::default(),
        rag_topk: args.student.topk,
        answer_max_tokens: args.answer_max_tokens,
        judge: args.judge,
        seed: args.student.seed,
        today,
        shard: args.shard.unwrap_or(Shard::ALL),
    })
}
