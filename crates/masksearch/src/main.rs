//! The `masksearch` command line: parses arguments, shows progress and wires the library crates
//! together. No domain logic lives here.
//!
//! Each subcommand is a module with an `Args` struct (clap) and a `run` function.

mod cmd;
mod models;
mod progress;
mod search_backend;
mod student_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "masksearch", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Stream corpus files (Wikipedia dumps, JSONL, KILT, page folders) into passages JSONL.
    Ingest(cmd::ingest::Args),
    /// Build a BM25 index from passages JSONL.
    Index(cmd::index::Args),
    /// Query an index and print ranked hits.
    Search(cmd::search::Args),
    /// Serve an index over the Search-R1 `/retrieve` API.
    Serve(cmd::serve::Args),
    /// Talk to a model, or serve the local model over the OpenAI chat API.
    Llm(cmd::llm::Args),
    /// Generate RAMP samples (masked passages) from passages JSONL; `ramp stats FILE` for stats.
    Ramp(cmd::ramp::Args),
    /// Make verified search trajectories (multi-agent, agent or rule teacher) from RAMP samples
    /// or questions.
    Trajectories(cmd::trajectories::Args),
    /// Answer benchmark questions with each method (direct, RAG-PE, Agent-PE, agent,
    /// multi-agent), score them, and write predictions and a report laid out like the paper's
    /// Table 2; `--rescore FILE` scores predictions written before, ours or other tools'.
    Eval(Box<cmd::eval::Args>),
    /// Put the outputs of a `ramp`, `trajectories` or `eval` run split with `--shard i/n` back
    /// together, checked to be every shard of one run and complete, in the unsplit run's order.
    Merge(cmd::merge::Args),
    /// Self-evolving rounds: round 0's teacher, then students trained on the merged accepted
    /// trajectories, each on a fresh batch; the rounds table.
    Evolve(cmd::evolve::Args),
    /// Training data out: `export sft` (LLaMA-Factory sharegpt + dataset_info.json from
    /// trajectories), `export rl` (verl parquet in Search-R1's schema from RAMP samples and
    /// questions).
    Export(cmd::export::Args),
    /// Score RL rollouts (JSONL in, one score line out per item) with the presets /reward
    /// serves: search-r1, masksearch-hybrid, one score alone, or an LLM judge.
    Reward(cmd::reward::Args),
    /// The web UI: search the index, browse RAMP samples, trajectories and eval reports, and
    /// watch an agent search live (the demo's outputs when no file is named).
    Ui(cmd::ui::Args),
}

#[allow(unsafe_code)]
fn main() -> ExitCode {
    // SAFETY: first thing in `main`, before any thread starts.
    unsafe { dense::prepare_process() };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MASKSEARCH_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            return if usage {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            if let Some(hint) = hint(&e) {
                eprintln!("  hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: a cause whose words are already in the message (a
/// library error that shows its source in its own text) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut message = e.to_string();
    for cause in e.chain().skip(1).map(|c| c.to_string()) {
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message
}

/// The way out when `--out` holds a run that cannot be resumed.
const OUT_TAKEN: &str = "write to a new --out, or pass --overwrite to start over";

/// What the user can do about an error reading or writing the files of a run, wherever it
/// surfaced (the libraries' errors wrap it transparently).
fn format_hint(e: &formats::FormatError) -> Option<&'static str> {
    use formats::FormatError;
    match e {
        FormatError::ManifestMismatch { .. } | FormatError::NoManifest { .. } => Some(OUT_TAKEN),
        _ => None,
    }
}

/// What the user can do about an error the libraries report in their own terms.
fn hint(e: &anyhow::Error) -> Option<&'static str> {
    e.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<formats::FormatError>() {
            return format_hint(e);
        }
        if let Some(e) = cause.downcast_ref::<ramp::RampError>() {
            use ramp::RampError;
            return match e {
                RampError::Format(e) => format_hint(e),
                RampError::ChangedOutput { .. } | RampError::NotASample { .. } => {
                    Some(OUT_TAKEN)
                }
                RampError::MissingModel => Some(
                    "--spans llm needs a model: pass --base-url URL --model-name NAME, or --model PATH",
                ),
                RampError::MissingScorer => {
                    Some("--difficulty ppl scores with the local model: pass --model PATH")
                }
                _ => None,
            };
        }
        if let Some(e) = cause.downcast_ref::<agent::AgentError>() {
            use agent::AgentError;
            return match e {
                AgentError::Format(e) => format_hint(e),
                AgentError::Resume { .. } => {
                    Some(OUT_TAKEN)
                }
                AgentError::NoStudent { .. } => Some(
                    "name the student: --student-url URL [--student-model NAME], or --train-command TEMPLATE",
                ),
                AgentError::TooFewSamples { .. } => {
                    Some("lower --batch or --rounds, or give more samples")
                }
                AgentError::TrainCommand { .. } => Some(
                    "the command must keep serving the model and print `listening on URL` on stdout once it answers",
                ),
                _ => None,
            };
        }
        if let Some(e) = cause.downcast_ref::<eval::EvalError>() {
            use eval::EvalError;
            return match e {
                EvalError::Format(e) => format_hint(e),
                EvalError::RescoreOverInput { .. } => Some("pass another --out"),
                EvalError::NoSearcher { .. } => {
                    Some("pass --search bm25 --index DIR (or remote / web / simulated)")
                }
                EvalError::UnknownShape { .. } => Some(
                    "for --rescore, name the fields: --question-field, --gold-field, --prediction-field",
                ),
                _ => None,
            };
        }
        if cause.is::<student::TemplateError>() {
            return Some("put {question} where the question goes in the template file");
        }
        if let Some(e) = cause.downcast_ref::<export::ExportError>() {
            use export::ExportError;
            return match e {
                ExportError::Format(e) => format_hint(e),
                ExportError::CurriculumNeedsMasks { .. } => Some(
                    "export questions without --curriculum, or in a separate `export rl` run",
                ),
                ExportError::NotADatasetInfo { .. } => {
                    Some("export to another --out folder, or fix or remove that file")
                }
                ExportError::Empty { .. } => Some(
                    "check the input and the filters (--only-correct, --teacher, --round, --max-turns)",
                ),
                _ => None,
            };
        }
        if let Some(e) = cause.downcast_ref::<corpus::CorpusError>() {
            return match e {
                corpus::CorpusError::UnknownFormat { .. } => {
                    Some("pass --format xml|contents|passages|pages|kilt|dir")
                }
                _ => None,
            };
        }
        match cause.downcast_ref::<index::IndexError>()? {
            index::IndexError::NotAnIndex { .. } => {
                Some("build one with `masksearch index --passages FILE --out DIR`")
            }
            _ => None,
        }
    })
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Ingest(args) => cmd::ingest::run(args),
        Command::Index(args) => cmd::index::run(args),
        Command::Search(args) => cmd::search::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Llm(args) => cmd::llm::run(args),
        Command::Ramp(args) => cmd::ramp::run(args),
        Command::Trajectories(args) => cmd::trajectories::run(args),
        Command::Eval(args) => cmd::eval::run(*args),
        Command::Merge(args) => cmd::merge::run(args),
        Command::Evolve(args) => cmd::evolve::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Reward(args) => cmd::reward::run(args),
        Command::Ui(args) => cmd::ui::run(args),
    }
}

/// Binds `host:port` (port 0 picks a free port), prints `listening on http://ADDR` as the first
/// line of stdout (flushed: scripts and tests that start a server on port 0 read the port from
/// it), calls `started`, then serves `app` until Ctrl-C or SIGTERM.
async fn listen_and_serve(
    host: std::net::IpAddr,
    port: u16,
    app: axum::Router,
    started: impl FnOnce(),
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let (listener, addr) = server::bind(std::net::SocketAddr::new(host, port))
        .await
        .with_context(|| format!("binding {host}:{port}"))?;
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;
    started();
    server::serve(listener, app).await.context("serving")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let full = || std::io::Error::from_raw_os_error(28);
        // A library error that shows its source in its own text, as thiserror's often do.
        let e = anyhow::Error::new(full())
            .context(format!("out/t.jsonl: {}", full()))
            .context("writing the samples");
        assert_eq!(
            message(&e),
            format!("writing the samples: out/t.jsonl: {}", full())
        );
        let e = anyhow::Error::new(full()).context("building the index out/idx");
        assert_eq!(
            message(&e),
            format!("building the index out/idx: {}", full())
        );
    }
}
