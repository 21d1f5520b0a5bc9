//! Eval pages: the report `masksearch eval` writes (tables and charts), then every question with
//! each method's score, and one question across methods with the transcripts.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use askama::Template;
use axum::{
    Router,
    extract::{self, Query, State},
    response::Html,
    routing::get,
};
use eval::{Prediction, Summary, report::ReportOptions};
use serde::Deserialize;

use crate::{FileRef, Shared, UiError, error::PageError, form::encode, render};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/eval", get(files))
        .route("/eval/{file}", get(overview))
        .route("/eval/{file}/report", get(report))
        .route("/eval/{file}/question", get(question))
}

/// Questions per page of the question table.
const PAGE: usize = 50;
/// Token recalls (0–1) that differ by this much make a disagreement, as the report counts them.
const SPREAD: f64 = 0.5;

/// A predictions file, read whole (eval files hold one line per method and question).
pub(crate) struct Predictions {
    pub path: PathBuf,
    pub records: Vec<Prediction>,
}

impl Predictions {
    pub fn load(path: &Path) -> Result<Predictions, UiError> {
        let records = formats::read_jsonl(path)?.collect::<Result<_, _>>()?;
        Ok(Predictions {
            path: path.to_path_buf(),
            records,
        })
    }

    /// The files, for the pages that list them.
    pub fn refs(files: &[Predictions]) -> Vec<FileRef> {
        files
            .iter()
            .enumerate()
            .map(|(index, p)| FileRef {
                index,
                name: p.path.display().to_string(),
                lines: p.records.len(),
            })
            .collect()
    }

    /// `(dataset, id)` → that question's predictions, in the summary's method order.
    fn questions(&self, summary: &Summary) -> BTreeMap<(String, String), Vec<&Prediction>> {
        let mut out: BTreeMap<(String, String), Vec<&Prediction>> = BTreeMap::new();
        for p in &self.records {
            out.entry((p.dataset.clone(), p.id.clone()))
                .or_default()
                .push(p);
        }
        let rank = |m: &str| summary.methods.iter().position(|x| x == m);
        for answers in out.values_mut() {
            answers.sort_by_key(|p| rank(&p.method));
        }
        out
    }
}

fn predictions(state: &Shared, n: usize) -> Result<&Predictions, PageError> {
    state.eval.get(n).ok_or_else(|| {
        PageError::NotFound(format!(
            "no predictions file {n}: the UI was started with {}",
            state.eval.len()
        ))
    })
}

async fn files(State(state): State<Shared>) -> Result<Html<String>, PageError> {
    render(&crate::files::Files {
        what: "Eval",
        base: "/eval",
        files: Predictions::refs(&state.eval),
        flag: "--eval predictions.jsonl",
    })
}

/// The report as `masksearch eval` writes it, for the frame of the overview page.
async fn report(
    State(state): State<Shared>,
    extract::Path(n): extract::Path<usize>,
) -> Result<Html<String>, PageError> {
    let p = predictions(&state, n)?;
    let options = ReportOptions {
        title: format!("Eval: {}", p.path.display()),
        max_disagreements: 25,
        ..ReportOptions::default()
    };
    Ok(Html(eval::report::html(&p.records, &options)))
}

#[derive(Debug, Default, Deserialize)]
struct Filter {
    #[serde(default)]
    from: usize,
    #[serde(default)]
    dataset: String,
    /// Only questions whose methods' token recalls differ by [`SPREAD`] or more.
    #[serde(default)]
    disagree: Option<String>,
}

struct Cell {
    recall: String,
    prediction: String,
    failed: bool,
}

struct QuestionRow {
    dataset: String,
    id: String,
    link: String,
    question: String,
    golds: String,
    cells: Vec<Option<Cell>>,
}

#[derive(Template)]
#[template(path = "eval.html")]
struct Overview {
    file: usize,
    name: String,
    methods: Vec<String>,
    datasets: Vec<String>,
    dataset: String,
    disagree: bool,
    rows: Vec<QuestionRow>,
    matching: usize,
    from: usize,
    next: Option<String>,
}

async fn overview(
    State(state): State<Shared>,
    extract::Path(n): extract::Path<usize>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, PageError> {
    let p = predictions(&state, n)?;
    let summary = Summary::of(&p.records);
    let disagree = filter.disagree.is_some();
    let questions: Vec<_> = p
        .questions(&summary)
        .into_iter()
        .filter(|((dataset, _), _)| filter.dataset.is_empty() || *dataset == filter.dataset)
        .filter(|(_, answers)| !disagree || spread(answers) >= SPREAD)
        .collect();
    let matching = questions.len();
    let rows = questions
        .into_iter()
        .skip(filter.from)
        .take(PAGE)
        .map(|((dataset, id), answers)| QuestionRow {
            link: question_link(n, &dataset, &id),
            question: answers[0].question.clone(),
            golds: answers[0].golds.join(" | "),
            cells: summary
                .methods
                .iter()
                .map(|m| {
                    answers.iter().find(|a| &a.method == m).map(|a| Cell {
                        recall: format!("{:.0}", 100.0 * a.scores.token_recall),
                        prediction: a.prediction.clone(),
                        failed: a.failed.is_some(),
                    })
                })
                .collect(),
            dataset,
            id,
        })
        .collect();
    let next = (filter.from + PAGE < matching).then(|| {
        format!(
            "from={}&dataset={}{}",
            filter.from + PAGE,
            encode(&filter.dataset),
            if disagree { "&disagree=on" } else { "" }
        )
    });
    render(&Overview {
        file: n,
        name: p.path.display().to_string(),
        methods: summary.methods.clone(),
        datasets: summary.datasets.clone(),
        dataset: filter.dataset,
        disagree,
        rows,
        matching,
        from: filter.from,
        next,
    })
}

fn spread(answers: &[&Prediction]) -> f64 {
    let recalls = answers.iter().map(|p| p.scores.token_recall);
    let (lo, hi) = recalls.fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
    if answers.len() < 2 { 0.0 } else { hi - lo }
}

fn question_link(file: usize, dataset: &str, id: &str) -> String {
    format!(
        "/eval/{file}/question?dataset={}&id={}",
        encode(dataset),
        encode(id)
    )
}

#[derive(Deserialize)]
struct QuestionQuery {
    dataset: String,
    id: String,
}

struct Answer {
    p: Prediction,
    scores: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "eval_question.html")]
struct QuestionPage {
    file: usize,
    dataset: String,
    id: String,
    question: String,
    golds: Vec<String>,
    answers: Vec<Answer>,
}

async fn question(
    State(state): State<Shared>,
    extract::Path(n): extract::Path<usize>,
    Query(query): Query<QuestionQuery>,
) -> Result<Html<String>, PageError> {
    let p = predictions(&state, n)?;
    let summary = Summary::of(&p.records);
    let mut questions = p.questions(&summary);
    let answers = questions
        .remove(&(query.dataset.clone(), query.id.clone()))
        .ok_or_else(|| {
            PageError::NotFound(format!("no question {} in {}", query.id, query.dataset))
        })?;
    let first = answers[0];
    render(&QuestionPage {
        file: n,
        question: first.question.clone(),
        golds: first.golds.clone(),
        dataset: query.dataset,
        id: query.id,
        answers: answers
            .into_iter()
            .map(|a| {
                let s = &a.scores;
                let pct = |v: f64| format!("{:.0}", 100.0 * v);
                Answer {
                    scores: vec![
                        ("token recall", pct(s.token_recall)),
                        ("EM", pct(s.em)),
                        ("F1", pct(s.f1)),
                        ("cover-EM", pct(s.cover_em)),
                    ],
                    p: a.clone(),
                }
            })
            .collect(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{UiConfig, router, test_support::get};

    /// A scored prediction line of a hotpotqa question whose gold is Leonardo da Vinci.
    pub(crate) fn prediction(method: &str, id: &str, answer: &str) -> String {
        let question = format!("question {id}?");
        let gold = vec!["Leonardo da Vinci".to_string()];
        let mut p = Prediction::answer(method, "hotpotqa", id, &question, gold, answer);
        p.transcript = format!("<answer> {answer} </answer>");
        (p.turns, p.prompt_tokens, p.completion_tokens, p.ms) = (1, 1, 1, 1);
        (p.end, p.model) = ("answered".into(), "m".into());
        serde_json::to_string(&p).unwrap()
    }

    #[tokio::test]
    async fn shows_the_report_the_questions_and_one_question_across_methods() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions.jsonl");
        let lines = [
            prediction("direct", "q1", "Michelangelo"),
            prediction("rag-pe", "q1", "Leonardo da Vinci"),
            prediction("direct", "q2", "Leonardo da Vinci"),
            prediction("rag-pe", "q2", "Leonardo da Vinci"),
        ];
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let app = router(UiConfig {
            eval: vec![path],
            ..UiConfig::default()
        })
        .unwrap();
        let (status, page) = get(&app, "/eval/0").await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(r#"<iframe class="report" src="/eval/0/report""#));
        assert_eq!(page.matches(r#"class="question""#).count(), 2);
        let (_, page) = get(&app, "/eval/0?disagree=on").await;
        assert_eq!(
            page.matches(r#"class="question""#).count(),
            1,
            "only q1: {page}"
        );
        let (status, report) = get(&app, "/eval/0/report").await;
        assert_eq!(status, 200);
        assert!(report.contains("<svg class=\"chart\""));
        let (status, page) = get(&app, "/eval/0/question?dataset=hotpotqa&id=q1").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page.matches(r#"class="answer verdict"#).count(), 2);
        assert!(page.contains("Michelangelo"));
        let (status, _) = get(&app, "/eval/0/question?dataset=hotpotqa&id=q9").await;
        assert_eq!(status, 404);
        let (status, _) = get(&app, "/eval/1").await;
        assert_eq!(status, 404);
    }
}
