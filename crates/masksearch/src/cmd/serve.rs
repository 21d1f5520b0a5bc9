//! `masksearch serve`: the Search-R1-compatible retrieval server, with `/reward` for RL trainers.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;
use server::{RetrieveConfig, RewardConfig};

use crate::models;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "work/index")]
    index: PathBuf,
    /// Address to bind; use 0.0.0.0 only behind a trusted network.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port (0 picks a free one; the address is printed on the first line of stdout).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// `topk` for requests that omit it or send 0.
    #[arg(long, default_value_t = 3)]
    topk: usize,
    #[arg(long, default_value_t = 1000)]
    max_topk: usize,
    #[arg(long, default_value_t = 4096)]
    max_queries: usize,
    /// The fields each /retrieve document carries, comma-separated: the default is the union of
    /// Search-R1's two shapes; `id,contents` is all that Search-R1's and verl's clients read.
    #[arg(long, value_name = "FIELDS", default_value_t = search::DocFields::ALL)]
    doc_fields: search::DocFields,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = server::DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// Requests served at once; one more is answered 503 with Retry-After at once, so an
    /// overloaded server sheds load instead of slowing every answer (GET /health is exempt).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Read queries as tantivy query syntax ("phrases", title:x, +must, -not) instead of as
    /// bags of words; a query that does not parse is then answered 400.
    #[arg(long)]
    query_syntax: bool,
    #[command(flatten)]
    retriever: crate::search_backend::RetrieverArgs,
    /// Serve the judge preset on /reward, judging with the model of --model (local GGUF) or
    /// --base-url (endpoints); without it /reward answers the rule presets only.
    #[arg(long)]
    judge: bool,
    #[command(flatten)]
    model: models::ModelArgs,
    /// A folder whose judge.txt replaces the built-in judge prompt.
    #[arg(long, value_name = "DIR")]
    prompts: Option<PathBuf>,
    /// Serve the web UI beside the API (search over this index, the files below, a live agent
    /// on the model of --model / --base-url).
    #[arg(long)]
    ui: bool,
    #[command(flatten)]
    ui_files: super::ui::Files,
}

/// `--query-syntax` as an index query mode.
pub fn query_mode(query_syntax: bool) -> index::QueryMode {
    if query_syntax {
        index::QueryMode::Syntax
    } else {
        index::QueryMode::Words
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let passages = index::IndexMeta::load(&args.index)
        .with_context(|| format!("opening index {}", args.index.display()))?
        .passages;
    let index = args
        .retriever
        .open(&args.index, query_mode(args.query_syntax))?;
    let ranking = index.name();
    let ranking = ranking.split(':').next().unwrap_or_default().to_owned();
    let config = RetrieveConfig {
        default_topk: args.topk,
        max_topk: args.max_topk,
        max_queries: args.max_queries,
        doc_fields: args.doc_fields,
        ..RetrieveConfig::default()
    };
    let judge = if args.judge {
        args.model.open(true, false, 1)?.chat
    } else {
        None
    };
    let reward = RewardConfig {
        judge_concurrency: args.model.concurrency,
        prompts: match &args.prompts {
            Some(dir) => agent::Prompts::load(dir)?,
            None => agent::Prompts::default(),
        },
        judge,
        ..RewardConfig::default()
    };
    let mut routes = vec![
        server::retrieve::router(Arc::clone(&index), config),
        server::reward::router(reward),
    ];
    if args.ui {
        let ui = super::ui::config(Some(index), &args.ui_files, Some(&args.model), None)?;
        routes.push(ui::router(ui)?);
    }
    let app = server::cap_in_flight(server::app(routes, args.body_limit), args.max_in_flight);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(crate::listen_and_serve(args.host, args.port, app, || {
        eprintln!(
            "serve: {passages} passages from {} ({}); POST /retrieve, POST /reward{}, GET /health{} (Ctrl-C to stop)",
            args.index.display(),
            ranking,
            if args.judge { " (judge preset on)" } else { "" },
            if args.ui { ", the web UI at /" } else { "" }
        );
    }))
}
