//! `masksearch ui` (and `serve --ui`): the web UI over an index, RAMP, trajectory and eval files,
//! with a live agent on the local model or an endpoint.

use std::{path::PathBuf, sync::Arc};

use search::Searcher;

use crate::models;

/// The files the UI shows. With none named, `masksearch ui` shows the demo's outputs in work/.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Files {
    /// RAMP samples to browse (repeatable).
    #[arg(long, value_name = "FILE")]
    pub ramp: Vec<PathBuf>,
    /// Trajectory files, accepted or rejected, any teacher or round (repeatable).
    #[arg(long, value_name = "FILE")]
    pub trajectories: Vec<PathBuf>,
    /// Eval predictions (repeatable).
    #[arg(long, value_name = "FILE")]
    pub eval: Vec<PathBuf>,
}

/// What the demo writes, in the order the UI lists it.
const DEMO: &[(&str, &str)] = &[
    ("ramp", "work/ramp.jsonl"),
    ("trajectories", "work/trajectories.jsonl"),
    ("trajectories", "work/trajectories.rejected.jsonl"),
    ("eval", "work/eval/predictions.jsonl"),
];

impl Files {
    fn is_empty(&self) -> bool {
        self.ramp.is_empty() && self.trajectories.is_empty() && self.eval.is_empty()
    }

    /// The demo's outputs that exist.
    fn demo() -> Files {
        let mut files = Files::default();
        for (kind, path) in DEMO {
            let path = PathBuf::from(path);
            if !path.is_file() {
                continue;
            }
            match *kind {
                "ramp" => files.ramp.push(path),
                "trajectories" => files.trajectories.push(path),
                _ => files.eval.push(path),
            }
        }
        files
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The index the search page and the live agent search [default: work/index when it exists].
    #[arg(long, value_name = "DIR")]
    index: Option<PathBuf>,
    #[command(flatten)]
    retriever: crate::search_backend::RetrieverArgs,
    #[command(flatten)]
    files: Files,
    /// Address to bind; use 0.0.0.0 only behind a trusted network.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Port (0 picks a free one; the address is printed on the first line of stdout).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The live agent's model: the local GGUF model, or --base-url endpoints.
    #[command(flatten)]
    model: models::ModelArgs,
    /// Offer a Search-R1 /retrieve server as a search backend to the live agent.
    #[arg(long, value_name = "URL")]
    search_url: Option<String>,
    /// No live agent (no model is loaded).
    #[arg(long)]
    no_agent: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let index = match &args.index {
        Some(dir) => Some(dir.clone()),
        None => Some(PathBuf::from("work/index")).filter(|d| d.is_dir()),
    };
    let searcher: Option<Arc<dyn Searcher>> = match &index {
        Some(dir) => Some(args.retriever.open(dir, index::QueryMode::Words)?),
        None => None,
    };
    let files = if args.files.is_empty() {
        Files::demo()
    } else {
        args.files.clone()
    };
    let model = if args.no_agent {
        None
    } else {
        Some(&args.model)
    };
    let config = config(searcher, &files, model, args.search_url.as_deref())?;
    let app = server::app([ui::router(config)?], server::DEFAULT_BODY_LIMIT);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(crate::listen_and_serve(args.host, args.port, app, || {
        eprintln!(
            "ui: {} · {} RAMP, {} trajectory, {} eval files (Ctrl-C to stop)",
            index.map_or("no index".into(), |d| format!("index {}", d.display())),
            files.ramp.len(),
            files.trajectories.len(),
            files.eval.len(),
        );
    }))
}

/// The UI's configuration: `searcher` for the search page (and the live agent's first backend),
/// the files, the live agent's model when `model` is given and loads (a model that does not
/// load is reported and the other pages still work), and a remote search backend.
pub fn config(
    searcher: Option<Arc<dyn Searcher>>,
    files: &Files,
    model: Option<&models::ModelArgs>,
    search_url: Option<&str>,
) -> anyhow::Result<ui::UiConfig> {
    let mut live = ui::LiveConfig::default();
    if let Some(searcher) = &searcher {
        live.searchers.push((searcher.name(), Arc::clone(searcher)));
    }
    if let Some(url) = search_url {
        let remote = ::backends::Remote::new(&::backends::RemoteConfig::new(url.to_string()))?;
        live.searchers
            .push((format!("remote: {url}"), Arc::new(remote)));
    }
    if let Some(args) = model {
        match args.open(true, false, 1) {
            Ok(models::Models {
                chat: Some(chat), ..
            }) => {
                let label = match &args.model_name {
                    Some(name) => format!("{name} at {}", args.base_urls.join(", ")),
                    None => {
                        let path = args.local.path()?;
                        let name = path.file_name().unwrap_or(path.as_os_str());
                        format!("local: {}", name.to_string_lossy())
                    }
                };
                live.searchers.push((
                    "simulated (the model writes the documents)".into(),
                    Arc::new(::backends::Simulated::new(
                        Arc::clone(&chat),
                        ::backends::SimulatedConfig::default(),
                    )),
                ));
                live.models.push((label, chat));
            }
            Ok(_) => {}
            Err(e) => eprintln!("ui: no live agent: {e:#}"),
        }
    }
    Ok(ui::UiConfig {
        searcher,
        ramp: files.ramp.clone(),
        trajectories: files.trajectories.clone(),
        eval: files.eval.clone(),
        live,
    })
}
