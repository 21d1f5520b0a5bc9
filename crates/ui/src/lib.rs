//! The masksearch web UI: search the index, browse RAMP samples and trajectories, read an eval
//! report question by question, and watch an agent search live.
//!
//! Pages are rendered on the server from templates checked at compile time (askama), with a
//! little plain JavaScript; every asset is compiled into the binary, so the UI works offline.
//! The UI reads only the files it was started with, named on the page by their position in
//! that list — nothing a page sends is a path. Large JSONL files are read through an index of
//! line offsets ([`lines::LineFile`]), never loaded whole.
//!
//! `ui` sees search and models only through the `search::Searcher` and `chat::ChatModel`
//! traits; the binary opens the index and the models and mounts [`router`] on its server.

mod error;
mod eval_pages;
mod highlight;
mod lines;
mod live;
mod ramp_pages;
mod search_pages;
mod trajectory_pages;

use std::{path::PathBuf, sync::Arc};

use askama::Template;
use axum::{
    Router,
    http::header,
    response::{Html, IntoResponse},
    routing::get,
};
use chat::ChatModel;
use search::Searcher;

use error::PageError;
pub use error::UiError;
use lines::LineFile;

/// What the UI shows: each part is optional and its page says how to add it when missing.
#[derive(Default)]
pub struct UiConfig {
    /// The index the search page queries (the same ranking `/retrieve` serves).
    pub searcher: Option<Arc<dyn Searcher>>,
    /// RAMP sample files (JSONL).
    pub ramp: Vec<PathBuf>,
    /// Trajectory files (JSONL), accepted or rejected, from any teacher or round.
    pub trajectories: Vec<PathBuf>,
    /// Eval predictions files (JSONL, as `masksearch eval` writes them).
    pub eval: Vec<PathBuf>,
    pub live: LiveConfig,
}

/// The models and search backends the live agent page offers.
#[derive(Default)]
pub struct LiveConfig {
    /// `(label, model)`, the first chosen by default.
    pub models: Vec<(String, Arc<dyn ChatModel>)>,
    /// `(label, backend)`, the first chosen by default.
    pub searchers: Vec<(String, Arc<dyn Searcher>)>,
    /// How the agent runs (turns, top-k, template); the page may lower turns and top-k.
    pub runtime: agent::RuntimeConfig,
}

struct State {
    searcher: Option<Arc<dyn Searcher>>,
    ramp: Vec<LineFile>,
    trajectories: Vec<LineFile>,
    eval: Vec<eval_pages::Predictions>,
    live: LiveConfig,
}

type Shared = Arc<State>;

/// The UI's routes, ready to merge into a server (`/`, `/search`, `/passage`, `/ramp…`,
/// `/trajectories…`, `/eval…`, `/agent…`, `/static/…`). Indexes the JSONL files and reads the
/// predictions files first.
pub fn router(config: UiConfig) -> Result<Router, UiError> {
    let open = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| LineFile::open(p).map_err(|error| UiError::io(p, error)))
            .collect::<Result<Vec<_>, _>>()
    };
    let state = Arc::new(State {
        searcher: config.searcher,
        ramp: open(&config.ramp)?,
        trajectories: open(&config.trajectories)?,
        eval: config
            .eval
            .iter()
            .map(|p| eval_pages::Predictions::load(p))
            .collect::<Result<_, _>>()?,
        live: config.live,
    });
    Ok(Router::new()
        .route("/", get(home))
        .route("/static/{file}", get(asset))
        .merge(search_pages::routes())
        .merge(ramp_pages::routes())
        .merge(trajectory_pages::routes())
        .merge(eval_pages::routes())
        .merge(live::routes())
        .with_state(state))
}

/// A file the UI was started with, for the pages that list them.
struct FileRef {
    index: usize,
    name: String,
    lines: usize,
}

impl FileRef {
    fn list(files: &[LineFile]) -> Vec<FileRef> {
        files
            .iter()
            .enumerate()
            .map(|(index, f)| FileRef {
                index,
                name: f.path().display().to_string(),
                lines: f.len().unwrap_or(0),
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    index: Option<String>,
    ramp: Vec<FileRef>,
    trajectories: Vec<FileRef>,
    eval: Vec<FileRef>,
    models: Vec<String>,
}

async fn home(axum::extract::State(state): axum::extract::State<Shared>) -> impl IntoResponse {
    render(&Home {
        index: state.searcher.as_ref().map(|s| s.name()),
        ramp: FileRef::list(&state.ramp),
        trajectories: FileRef::list(&state.trajectories),
        eval: eval_pages::Predictions::refs(&state.eval),
        models: state.live.models.iter().map(|(l, _)| l.clone()).collect(),
    })
}

/// Renders a page; a template that fails to render is a 500 with the reason.
fn render(page: &impl Template) -> Result<Html<String>, PageError> {
    page.render()
        .map(Html)
        .map_err(|e| PageError::Internal(e.to_string()))
}

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/live.js"),
    ),
];

/// The stylesheet and scripts, compiled into the binary.
async fn asset(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Result<impl IntoResponse, PageError> {
    let (_, mime, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| PageError::NotFound(format!("no asset {file}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, *mime),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        *body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::get;

    #[tokio::test]
    async fn serves_its_own_assets_and_nothing_else_by_name() {
        let app = router(UiConfig::default()).unwrap();
        let (status, css) = get(&app, "/static/app.css").await;
        assert_eq!(status, 200);
        assert!(css.contains("mark.mask"));
        for uri in [
            "/static/..%2F..%2FCargo.toml",
            "/static/%2Fetc%2Fpasswd",
            "/static/lib.rs",
            "/ramp/0",
            "/trajectories/0/0",
            "/eval/0",
        ] {
            let (status, page) = get(&app, uri).await;
            assert_eq!(status, 404, "{uri}: {page}");
        }
        let (status, home) = get(&app, "/").await;
        assert_eq!(status, 200);
        assert!(home.contains("start with --ramp FILE"), "{home}");
    }

    #[test]
    fn a_file_that_cannot_be_read_stops_the_start_with_its_path() {
        let Err(err) = router(UiConfig {
            ramp: vec!["/no/such/ramp.jsonl".into()],
            ..UiConfig::default()
        }) else {
            panic!("started without its file");
        };
        assert!(err.to_string().contains("/no/such/ramp.jsonl"), "{err}");
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Requests against the router without a socket.

    use axum::{Router, body::Body, http::Request};
    use tower::ServiceExt;

    /// `GET uri`: the status and the body as text.
    pub async fn get(app: &Router, uri: &str) -> (u16, String) {
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }
}
