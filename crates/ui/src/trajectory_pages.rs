//! Trajectory pages: a paged, filtered list; one trajectory as a timeline (planner, rewritten
//! queries, retrieved documents, observer, answer, verdict and why); and the same sample side by
//! side under every teacher and round the UI was given.

use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    response::Html,
    routing::get,
};
use formats::{Step, StepKind, Trajectory};
use serde::Deserialize;
use student::observation::{ShownDoc, shown_docs};

use crate::{
    FileRef, Shared,
    error::PageError,
    files::{file, record},
    form::{empty_is_none, encode},
    render,
};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/trajectories", get(files))
        .route("/trajectories/compare", get(compare))
        .route("/trajectories/{file}", get(list))
        .route("/trajectories/{file}/{line}", get(one))
}

/// Trajectories per list page.
const PAGE: usize = 25;
/// Trajectories side by side at most.
const COMPARED: usize = 4;

async fn files(State(state): State<Shared>) -> Result<Html<String>, PageError> {
    render(&crate::files::Files {
        what: "Trajectories",
        base: "/trajectories",
        files: FileRef::list(&state.trajectories),
        flag: "--trajectories FILE",
    })
}

#[derive(Debug, Default, Deserialize)]
struct Filter {
    #[serde(default)]
    from: usize,
    /// `accepted` or `rejected`; anything else keeps both.
    #[serde(default)]
    status: String,
    /// A rejection reason (`judge`, `format`, `max_turns`, …).
    #[serde(default)]
    reason: String,
    /// `multi-agent`, `agent` or `rule`.
    #[serde(default)]
    teacher: String,
    #[serde(default, deserialize_with = "empty_is_none")]
    round: Option<u32>,
    /// Searches made.
    #[serde(default, deserialize_with = "empty_is_none")]
    searches: Option<u64>,
}

impl Filter {
    fn keeps(&self, t: &Trajectory) -> bool {
        let status = match self.status.as_str() {
            "accepted" => t.accepted,
            "rejected" => !t.accepted,
            _ => true,
        };
        status
            && (self.reason.is_empty() || t.rejection.is_some_and(|r| r.as_str() == self.reason))
            && (self.teacher.is_empty() || t.teacher.as_str() == self.teacher)
            && self.round.is_none_or(|r| t.round == r)
            && self.searches.is_none_or(|s| t.search.calls == s)
    }

    fn link(&self, from: usize) -> String {
        format!(
            "from={from}&status={}&reason={}&teacher={}&round={}&searches={}",
            encode(&self.status),
            encode(&self.reason),
            encode(&self.teacher),
            self.round.map(|r| r.to_string()).unwrap_or_default(),
            self.searches.map(|s| s.to_string()).unwrap_or_default(),
        )
    }
}

struct Row {
    line: usize,
    t: Trajectory,
}

#[derive(Template)]
#[template(path = "trajectory_list.html")]
struct List {
    file: usize,
    name: String,
    total: usize,
    filter: Filter,
    round: String,
    searches: String,
    reasons: Vec<&'static str>,
    rows: Vec<Row>,
    bad: usize,
    scanned: usize,
    next: Option<String>,
}

async fn list(
    State(state): State<Shared>,
    Path(n): Path<usize>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, PageError> {
    let f = file(&state.trajectories, n)?;
    let (scan, bad) = f.scan_records(filter.from, PAGE, |t: &Trajectory| filter.keeps(t))?;
    render(&List {
        file: n,
        name: f.path().display().to_string(),
        total: f.len()?,
        round: filter.round.map(|r| r.to_string()).unwrap_or_default(),
        searches: filter.searches.map(|s| s.to_string()).unwrap_or_default(),
        reasons: formats::Rejection::ALL.iter().map(|r| r.as_str()).collect(),
        rows: scan
            .hits
            .into_iter()
            .map(|(line, t)| Row { line, t })
            .collect(),
        bad,
        scanned: scan.scanned,
        next: scan.next.map(|next| filter.link(next)),
        filter,
    })
}

/// One step of the timeline, ready to show.
pub(crate) struct StepView {
    pub kind: &'static str,
    pub step: Step,
    /// Search steps: their documents; the text is shown as is otherwise.
    pub docs: Vec<ShownDoc>,
}

impl StepView {
    fn of(step: Step) -> StepView {
        let kind = match step.kind {
            StepKind::Planner => "planner",
            StepKind::Rewriter => "rewriter",
            StepKind::Search => "search",
            StepKind::Observer => "observer",
            StepKind::Judge => "judge",
            StepKind::Model => "model",
            StepKind::Rule => "rule",
        };
        // Search steps, and rule steps that searched, hold an information block.
        let docs = if step.kind == StepKind::Search
            || step.text.trim_start().starts_with("<information>")
        {
            shown_docs(&step.text)
        } else {
            Vec::new()
        };
        StepView { kind, step, docs }
    }

    pub fn notes(&self) -> String {
        self.step
            .notes
            .iter()
            .map(|n| {
                serde_json::to_value(n)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
            })
            .map(Option::unwrap_or_default)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A trajectory with its timeline.
pub(crate) struct TrajectoryView {
    pub t: Trajectory,
    pub file: usize,
    pub line: usize,
    pub steps: Vec<StepView>,
    pub scores: Vec<(String, String)>,
}

impl TrajectoryView {
    fn new(t: Trajectory, file: usize, line: usize) -> Self {
        let steps = t.steps.iter().cloned().map(StepView::of).collect();
        let scores = t
            .verdict
            .scores
            .iter()
            .map(|(k, v)| (k.clone(), format!("{v:.3}")))
            .collect();
        TrajectoryView {
            t,
            file,
            line,
            steps,
            scores,
        }
    }

    pub fn recovered(&self) -> String {
        let r = &self.t.verdict.masks_recovered;
        if r.is_empty() {
            return String::new();
        }
        format!(
            "{} of {} masks recovered",
            r.iter().filter(|&&x| x).count(),
            r.len()
        )
    }
}

#[derive(Template)]
#[template(path = "trajectory.html")]
struct One {
    v: TrajectoryView,
    total: usize,
    name: String,
}

async fn one(
    State(state): State<Shared>,
    Path((n, line)): Path<(usize, usize)>,
) -> Result<Html<String>, PageError> {
    let t: Trajectory = record(&state.trajectories, n, line, "a trajectory")?;
    let f = file(&state.trajectories, n)?;
    render(&One {
        v: TrajectoryView::new(t, n, line),
        total: f.len()?,
        name: f.path().display().to_string(),
    })
}

#[derive(Deserialize)]
struct CompareQuery {
    id: String,
}

#[derive(Template)]
#[template(path = "trajectory_compare.html")]
struct Compare {
    id: String,
    views: Vec<TrajectoryView>,
    more: usize,
}

/// Every trajectory of one sample in the files the UI was given, side by side.
async fn compare(
    State(state): State<Shared>,
    Query(query): Query<CompareQuery>,
) -> Result<Html<String>, PageError> {
    let id = query.id;
    // Only lines holding `"id":"<id>"` are parsed; the parsed id must then be the one asked.
    let needle = format!(
        "\"id\":{}",
        serde_json::to_string(&id).map_err(|e| PageError::Internal(e.to_string()))?
    );
    let found = {
        let (state, id) = (state.clone(), id.clone());
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            for (n, f) in state.trajectories.iter().enumerate() {
                for (line, text) in f.find(needle.as_bytes())? {
                    if let Ok(t) = serde_json::from_str::<Trajectory>(&text)
                        && t.id == id
                    {
                        found.push(TrajectoryView::new(t, n, line));
                    }
                }
            }
            Ok::<_, std::io::Error>(found)
        })
        .await
        .map_err(|e| PageError::Internal(e.to_string()))??
    };
    if found.is_empty() {
        return Err(PageError::NotFound(format!(
            "no trajectory of sample {id:?}"
        )));
    }
    let more = found.len().saturating_sub(COMPARED);
    render(&Compare {
        id,
        views: found.into_iter().take(COMPARED).collect(),
        more,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::{UiConfig, router, test_support::get};

    /// A trajectory record of one search, accepted or rejected by the judge.
    pub(crate) fn trajectory(
        id: &str,
        teacher: &str,
        round: u32,
        accepted: bool,
    ) -> serde_json::Value {
        let info = "\n\n<information>Doc 1(Title: \"Mona Lisa\") The Mona Lisa is a portrait by Leonardo.</information>\n\n";
        serde_json::json!({
            "id": id, "teacher": teacher, "round": round, "model": "m",
            "task": {"kind": "qa", "query": "Who painted the Mona Lisa?", "golds": ["Leonardo"]},
            "accepted": accepted,
            "rejection": if accepted { None } else { Some("judge") },
            "detail": if accepted { "" } else { "the judge said incorrect" },
            "answer": "Leonardo",
            "transcript": format!("<think>t</think><search> mona lisa </search>{info}<answer> Leonardo </answer>"),
            "chatml": {"type": "chatml", "messages": [], "functions": [], "ext": {}},
            "steps": [
                {"kind": "planner", "ms": 3, "text": "Find the painter."},
                {"kind": "rewriter", "ms": 2, "queries": ["mona lisa painter", "mona lisa", "leonardo"]},
                {"kind": "search", "ms": 1, "queries": ["mona lisa"], "doc_ids": ["7"], "text": info},
                {"kind": "observer", "ms": 4, "text": "Answer: Leonardo"},
                {"kind": "judge", "ms": 1, "text": "correct"}
            ],
            "search": {"backend": "bm25:x", "simulated": false, "calls": 1, "queries": 3},
            "verdict": {"judge": accepted, "scores": {"recall": 1.0}},
            "usage": {"model_calls": 3, "prompt_tokens": 10, "completion_tokens": 5},
            "ms": 11
        })
    }

    /// `a`: 30 multi-agent trajectories `q{i}`, rejected when `i % 3 == 0`, of round `i % 2`,
    /// with `i % 4` searches; `b`: `q4` under the rule teacher; `c`: `q5` in round 2.
    fn app(dir: &std::path::Path) -> axum::Router {
        let a: PathBuf = dir.join("a.jsonl");
        let b: PathBuf = dir.join("b.jsonl");
        let c: PathBuf = dir.join("c.jsonl");
        let mut text = String::new();
        for i in 0..30 {
            let mut t = trajectory(&format!("q{i}"), "multi-agent", i % 2, i % 3 != 0);
            t["search"]["calls"] = serde_json::json!(i % 4);
            text.push_str(&t.to_string());
            text.push('\n');
        }
        std::fs::write(&a, text).unwrap();
        std::fs::write(&b, trajectory("q4", "rule", 0, true).to_string() + "\n").unwrap();
        std::fs::write(
            &c,
            trajectory("q5", "multi-agent", 2, true).to_string() + "\n",
        )
        .unwrap();
        router(UiConfig {
            trajectories: vec![a, b, c],
            ..UiConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn lists_and_filters_trajectories() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let (status, page) = get(&app, "/trajectories/0").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page.matches(r#"class="trajectory""#).count(), PAGE);
        let (_, page) = get(&app, "/trajectories/0?status=rejected&reason=judge").await;
        assert_eq!(page.matches(r#"class="trajectory""#).count(), 10, "{page}");
        let (_, page) = get(&app, "/trajectories/0?teacher=rule").await;
        assert_eq!(page.matches(r#"class="trajectory""#).count(), 0);
    }

    #[tokio::test]
    async fn shows_a_timeline_with_collapsible_documents_and_the_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let (status, page) = get(&app, "/trajectories/0/0").await;
        assert_eq!(status, 200, "{page}");
        for kind in ["planner", "rewriter", "search", "observer", "judge"] {
            assert!(
                page.contains(&format!("class=\"step {kind}\"")),
                "{kind}: {page}"
            );
        }
        assert!(page.contains("<details class=\"doc\">"));
        assert!(page.contains("mona lisa painter"));
        assert!(
            page.contains("the judge said incorrect"),
            "rejected, and why"
        );
        let (status, page) = get(&app, "/trajectories/compare?id=q4").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            page.matches(r#"class="timeline""#).count(),
            2,
            "both teachers"
        );
        let (status, _) = get(&app, "/trajectories/compare?id=nope").await;
        assert_eq!(status, 404);
        let (status, _) = get(&app, "/trajectories/3/0").await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn filters_trajectories_by_round_and_by_searches_made() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let ids = |page: &str| -> Vec<usize> {
            (0..30)
                .filter(|i| page.contains(&format!(r#"<td class="mono">q{i}</td>"#)))
                .collect()
        };
        let (status, page) = get(&app, "/trajectories/0?round=1&searches=").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids(&page), (1..30).step_by(2).collect::<Vec<_>>(), "{page}");
        assert!(page.contains(r#"name="round" min="0" value="1""#));
        let (_, page) = get(&app, "/trajectories/0?searches=2").await;
        assert_eq!(ids(&page), [2, 6, 10, 14, 18, 22, 26]);
        let (_, page) = get(&app, "/trajectories/0?round=0&searches=0&status=rejected").await;
        assert_eq!(ids(&page), [0, 12, 24]);
        let (_, page) = get(&app, "/trajectories/0?round=0&searches=3").await;
        assert!(ids(&page).is_empty(), "three searches only in odd rounds");
        for uri in ["/trajectories/0?round=-1", "/trajectories/0?searches=many"] {
            assert_eq!(get(&app, uri).await.0, 400, "{uri}");
        }
    }

    #[tokio::test]
    async fn shows_one_sample_side_by_side_under_two_rounds() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let (status, page) = get(&app, "/trajectories/compare?id=q5").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page.matches(r#"class="timeline""#).count(), 2, "{page}");
        let round_1 = page.find("<h2>multi-agent, round 1</h2>").expect("round 1");
        let round_2 = page.find("<h2>multi-agent, round 2</h2>").expect("round 2");
        assert!(round_1 < round_2, "in the order of the files");
        assert!(page.contains(r#"href="/trajectories/0/5""#));
        assert!(page.contains(r#"href="/trajectories/2/0""#));
    }
}
