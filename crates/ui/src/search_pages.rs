//! The search page (a query box over the index, hits with scores and the query's words marked)
//! and the passage page (the passage, its neighbours and the rest of its page).

use askama::Template;
use axum::{
    Router,
    extract::{Query, State},
    response::Html,
    routing::get,
};
use formats::Passage;
use search::Searcher;
use serde::Deserialize;

use crate::{
    Shared,
    error::PageError,
    highlight::{Piece, pieces, query_words},
    render,
};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/search", get(search_page))
        .route("/passage", get(passage_page))
}

/// Hits a page shows at most.
const MAX_K: usize = 100;
/// Passages of one page listed at most.
const MAX_PAGE: usize = 64;

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default = "default_k")]
    k: usize,
}

fn default_k() -> usize {
    10
}

struct HitView {
    rank: usize,
    id: String,
    score: f64,
    title: Vec<Piece>,
    text: Vec<Piece>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    q: String,
    k: usize,
    backend: Option<String>,
    hits: Vec<HitView>,
    error: Option<String>,
}

async fn search_page(
    State(state): State<Shared>,
    Query(query): Query<SearchQuery>,
) -> Result<Html<String>, PageError> {
    let k = query.k.clamp(1, MAX_K);
    let mut page = SearchPage {
        q: query.q.clone(),
        k,
        backend: state.searcher.as_ref().map(|s| s.name()),
        hits: Vec::new(),
        error: None,
    };
    if let (Some(searcher), false) = (&state.searcher, query.q.trim().is_empty()) {
        match searcher.search(&query.q, k).await {
            Ok(hits) => {
                let words = query_words(&query.q);
                page.hits = hits
                    .into_iter()
                    .enumerate()
                    .map(|(i, h)| HitView {
                        rank: i + 1,
                        title: pieces(&h.passage.title, &words),
                        text: pieces(&h.passage.text, &words),
                        id: h.passage.id,
                        score: h.score,
                    })
                    .collect();
            }
            Err(e) => page.error = Some(e.to_string()),
        }
    }
    render(&page)
}

#[derive(Deserialize)]
struct PassageQuery {
    id: String,
}

struct Neighbour {
    id: String,
    start: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "passage.html")]
struct PassagePage {
    passage: Passage,
    previous: Option<String>,
    next: Option<String>,
    page: Vec<Neighbour>,
}

async fn passage_page(
    State(state): State<Shared>,
    Query(query): Query<PassageQuery>,
) -> Result<Html<String>, PageError> {
    let searcher = state
        .searcher
        .as_ref()
        .ok_or_else(|| PageError::NotFound("no index: start the UI with --index DIR".into()))?;
    let lookup = |id: String| async move { fetch(searcher.as_ref(), &id).await };
    let passage = lookup(query.id.clone())
        .await?
        .ok_or_else(|| PageError::NotFound(format!("no passage with id {:?}", query.id)))?;
    let (before, after) = neighbour_ids(&passage.id);
    let previous = match before {
        Some(id) => lookup(id).await?.map(|p| p.id),
        None => None,
    };
    let next = match after {
        Some(id) => lookup(id).await?.map(|p| p.id),
        None => None,
    };
    let page = same_page(searcher.as_ref(), &passage).await?;
    render(&PassagePage {
        passage,
        previous,
        next,
        page,
    })
}

async fn fetch(searcher: &dyn Searcher, id: &str) -> Result<Option<Passage>, PageError> {
    searcher
        .passage(id)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))
}

/// The ids before and after `id`: `page#n` → `page#n-1`, `page#n+1` (as `ingest` numbers the
/// passages of a page); a number (wiki-18 line ids) → the numbers around it.
fn neighbour_ids(id: &str) -> (Option<String>, Option<String>) {
    if let Some((page, n)) = id.rsplit_once('#')
        && let Ok(n) = n.parse::<u64>()
    {
        let before = n.checked_sub(1).map(|b| format!("{page}#{b}"));
        return (before, Some(format!("{page}#{}", n + 1)));
    }
    match id.parse::<u64>() {
        Ok(n) => (
            n.checked_sub(1).map(|b| b.to_string()),
            Some((n + 1).to_string()),
        ),
        Err(_) => (None, None),
    }
}

/// The passages of `passage`'s page in order: its neighbours on both sides while they have the
/// same title, at most [`MAX_PAGE`].
async fn same_page(
    searcher: &dyn Searcher,
    passage: &Passage,
) -> Result<Vec<Neighbour>, PageError> {
    let view = |p: &Passage, current| Neighbour {
        id: p.id.clone(),
        start: p.text.chars().take(140).collect(),
        current,
    };
    let mut before = Vec::new();
    let mut id = neighbour_ids(&passage.id).0;
    while let Some(i) = id.take() {
        match fetch(searcher, &i).await? {
            Some(p) if p.title == passage.title && before.len() < MAX_PAGE / 2 => {
                id = neighbour_ids(&p.id).0;
                before.push(view(&p, false));
            }
            _ => break,
        }
    }
    before.reverse();
    before.push(view(passage, true));
    let mut id = neighbour_ids(&passage.id).1;
    while let Some(i) = id.take() {
        match fetch(searcher, &i).await? {
            Some(p) if p.title == passage.title && before.len() < MAX_PAGE => {
                id = neighbour_ids(&p.id).1;
                before.push(view(&p, false));
            }
            _ => break,
        }
    }
    Ok(before)
}
