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
mod files;
mod form;
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
    /// Live agent runs under way (`GET /agent/running`).
    running: live::Running,
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
        running: live::Running::default(),
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
    use std::collections::{HashSet, VecDeque};

    use formats::Passage;

    use super::*;
    use search::testing::Scripted;

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

    /// A UI with something on every page: an index, and a RAMP, a trajectory and an eval file.
    fn every_page(dir: &std::path::Path) -> Router {
        let write = |name: &str, lines: &[String]| {
            let path = dir.join(name);
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
            path
        };
        let ramp = write(
            "ramp.jsonl",
            &[ramp_pages::tests::sample(
                "s0",
                "Mona Lisa",
                &["Leonardo"],
                "anchor",
                Some(0.4),
            )],
        );
        let trajectories = write(
            "trajectories.jsonl",
            &[trajectory_pages::tests::trajectory("q0", "multi-agent", 0, true).to_string()],
        );
        let eval = write(
            "predictions.jsonl",
            &[
                eval_pages::tests::prediction("direct", "q1", "Michelangelo"),
                eval_pages::tests::prediction("rag-pe", "q1", "Leonardo da Vinci"),
            ],
        );
        // The trajectory's document is passage 7.
        let searcher = Scripted::fixed(vec![
            Passage::new("7", "Mona Lisa", "The Mona Lisa is a portrait by Leonardo."),
            Passage::new("8", "Mona Lisa", "It hangs in the Louvre."),
        ]);
        router(UiConfig {
            searcher: Some(Arc::new(searcher)),
            ramp: vec![ramp],
            trajectories: vec![trajectories],
            eval: vec![eval],
            ..UiConfig::default()
        })
        .unwrap()
    }

    /// What `text` makes a browser load or go to: `src`, `href` and `action` attributes, CSS
    /// `url(…)` and `@import`, script `fetch(…)` and `EventSource(…)`; HTML entities decoded.
    fn references(text: &str) -> Vec<String> {
        // ASCII lowercasing keeps byte offsets, so a match in `lower` cuts `text` at the same place.
        let lower = text.to_ascii_lowercase();
        let mut out = Vec::new();
        for marker in [
            "src=",
            "href=",
            "action=",
            "url(",
            "@import",
            "fetch(",
            "eventsource(",
        ] {
            for (at, _) in lower.match_indices(marker) {
                let rest = text[at + marker.len()..].trim_start();
                let url = match rest.chars().next() {
                    Some(quote @ ('"' | '\'' | '`')) => rest[1..].split(quote).next(),
                    _ => rest.split([' ', '>', ')', '\n']).next(),
                };
                out.push(url.unwrap_or_default().replace("&#38;", "&"));
            }
        }
        out
    }

    /// A URL on the server that sent the page: a path, a query or a fragment, never a scheme
    /// (`https:`, `data:`) or another host (`//cdn…`).
    fn on_this_server(url: &str) -> bool {
        let head = url.split(['/', '?', '#']).next().unwrap_or_default();
        !url.starts_with("//") && !head.contains(':')
    }

    #[test]
    fn tells_references_to_this_server_from_references_elsewhere() {
        let page = r#"<link href="/static/app.css"><script SRC='https://cdn.example/x.js'></script>
            <a href=//example.org/>x</a><style>b { background: url(data:image/png;base64,AA) }</style>
            <form action="/ramp/0?from=1&#38;masks=2#top">"#;
        let refs = references(page);
        assert_eq!(
            refs,
            [
                "https://cdn.example/x.js",
                "/static/app.css",
                "//example.org/",
                "/ramp/0?from=1&masks=2#top",
                "data:image/png;base64,AA",
            ]
        );
        let local: Vec<bool> = refs.iter().map(|r| on_this_server(r)).collect();
        assert_eq!(local, [false, true, false, true, false]);
        assert!(on_this_server("#questions") && on_this_server("?from=20"));
    }

    /// No CDN: the UI works offline because nothing it serves loads or links another host.
    #[tokio::test]
    async fn every_page_reachable_from_home_and_every_asset_they_load_stay_on_this_server() {
        let dir = tempfile::tempdir().unwrap();
        let app = every_page(dir.path());
        let mut queue = VecDeque::from(["/".to_string()]);
        let mut seen = HashSet::new();
        while let Some(uri) = queue.pop_front() {
            if !seen.insert(uri.clone()) {
                continue;
            }
            assert!(seen.len() < 500, "the crawl does not end: {seen:?}");
            let (status, body) = get(&app, &uri).await;
            assert_eq!(status, 200, "{uri}: {body}");
            for url in references(&body) {
                assert!(on_this_server(&url), "{uri} refers to {url}");
                // Script templates (`/agent/stream?${params}`) are filled in by the page.
                if url.starts_with('/') && !url.contains("${") {
                    let path = url.split('#').next().unwrap_or_default();
                    queue.push_back(path.to_string());
                }
            }
        }
        for page in [
            "/static/app.css",
            "/static/app.js",
            "/static/live.js",
            "/search?q=Mona%20Lisa",
            "/passage?id=7",
            "/ramp/0/0",
            "/ramp/0/stats",
            "/trajectories/0/0",
            "/trajectories/compare?id=q0",
            "/eval/0/report",
            "/agent",
        ] {
            assert!(seen.contains(page), "{page} was not reached: {seen:?}");
        }
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
