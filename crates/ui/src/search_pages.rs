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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use search::testing::Scripted;

    use crate::{UiConfig, router, test_support::get};

    fn check(id: &str, before: Option<&str>, after: Option<&str>) {
        let (b, a) = neighbour_ids(id);
        assert_eq!(
            (b.as_deref(), a.as_deref()),
            (before, after),
            "the neighbours of {id:?}"
        );
    }

    #[test]
    fn neighbours_are_the_passages_numbered_around_it() {
        check("Mona Lisa#1", Some("Mona Lisa#0"), Some("Mona Lisa#2"));
        check("Mona Lisa#0", None, Some("Mona Lisa#1"));
        check("A#b#9", Some("A#b#8"), Some("A#b#10"));
        check("42", Some("41"), Some("43"));
        check("0", None, Some("1"));
        check("Mona Lisa#x", None, None);
        check("p1", None, None);
    }

    /// `Mona Lisa#0`–`#2` and `#4` (its `#3` missing), then wiki-18 lines 41 (Louvre), 42 and
    /// 43 (Paris).
    fn app() -> axum::Router {
        let passages = [
            ("Mona Lisa#0", "Mona Lisa", "The Mona Lisa is a portrait."),
            ("Mona Lisa#1", "Mona Lisa", "Leonardo painted it."),
            ("Mona Lisa#2", "Mona Lisa", "It hangs in the Louvre."),
            ("Mona Lisa#4", "Mona Lisa", "After a gap."),
            ("41", "Louvre", "The Louvre is a museum."),
            ("42", "Paris", "Paris is a city."),
            ("43", "Paris", "The Seine flows through Paris."),
        ];
        let searcher = Scripted::fixed(
            passages
                .iter()
                .map(|(id, title, text)| Passage::new(*id, *title, *text))
                .collect(),
        );
        router(UiConfig {
            searcher: Some(Arc::new(searcher)),
            ..UiConfig::default()
        })
        .unwrap()
    }

    /// The rows of the page's table of passages: the id, and whether it is the one shown.
    fn page_table(page: &str) -> Vec<(String, bool)> {
        let table = page.split(r#"id="page""#).nth(1).expect("the page table");
        table
            .split("<td class=\"mono\">")
            .skip(1)
            .map(|cell| {
                let cell = cell.split("</td>").next().unwrap_or_default();
                let mut id = String::new();
                let mut in_tag = false;
                for c in cell.chars() {
                    match c {
                        '<' => in_tag = true,
                        '>' => in_tag = false,
                        c if !in_tag => id.push(c),
                        _ => {}
                    }
                }
                (id, cell.starts_with("<strong>"))
            })
            .collect()
    }

    #[tokio::test]
    async fn a_passage_links_its_neighbours_and_lists_the_rest_of_its_page() {
        let app = app();
        let (status, page) = get(&app, "/passage?id=Mona%20Lisa%231").await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains(r#"<a href="/passage?id=Mona%20Lisa%230" id="previous">"#),
            "{page}"
        );
        assert!(page.contains(r#"<a href="/passage?id=Mona%20Lisa%232" id="next">"#));
        assert!(page.contains("Leonardo painted it."));
        let (_, page) = get(&app, "/passage?id=Mona%20Lisa%230").await;
        assert!(!page.contains(r#"id="previous""#), "the first passage");
        assert!(page.contains(r#"id="next""#));
        assert_eq!(
            page_table(&page),
            [
                ("Mona Lisa#0".into(), true),
                ("Mona Lisa#1".into(), false),
                ("Mona Lisa#2".into(), false),
            ],
            "the page ends where a passage is missing: {page}"
        );
        let (_, page) = get(&app, "/passage?id=42").await;
        assert!(
            page.contains(r#"id="previous">← 41</a>"#),
            "the line before, though another page's"
        );
        assert_eq!(
            page_table(&page),
            [("42".into(), true), ("43".into(), false)],
            "the page ends where the title changes: {page}"
        );
        let (_, page) = get(&app, "/passage?id=43").await;
        assert!(!page.contains(r#"id="next""#), "the last passage");
        let (status, _) = get(&app, "/passage?id=Mona%20Lisa%233").await;
        assert_eq!(status, 404);
        let bare = router(UiConfig::default()).unwrap();
        let (status, page) = get(&bare, "/passage?id=42").await;
        assert_eq!(status, 404);
        assert!(page.contains("--index DIR"), "{page}");
    }

    #[tokio::test]
    async fn search_shows_ranked_hits_with_their_scores_and_the_query_words_marked() {
        let app = app();
        let (status, page) = get(&app, "/search?q=mona+painted&k=2").await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains(r#"<p class="muted" id="hit-count">2 hits</p>"#),
            "{page}"
        );
        let first = page.find(r#"data-id="Mona Lisa#0""#).expect("hit 1");
        let second = page.find(r#"data-id="Mona Lisa#1""#).expect("hit 2");
        assert!(first < second, "ranked");
        assert!(page.contains(r#"<span class="rank">1</span>"#));
        assert!(page.contains(r#"<span class="score">1.000</span>"#));
        assert!(page.contains(r#"<span class="score">0.500</span>"#));
        assert!(page.contains("<mark>Mona</mark> Lisa"), "{page}");
        assert!(page.contains("Leonardo <mark>painted</mark> it."));
        assert!(page.contains(r#"href="/passage?id=Mona%20Lisa%231""#));
        let (_, page) = get(&app, "/search?q=mona&k=0").await;
        assert_eq!(
            page.matches(r#"class="hit""#).count(),
            1,
            "at least one hit"
        );
    }
}
