//! Aggregation: per method and dataset, the mean of every score over the questions (×100),
//! the mean searches, turns, tokens and latency; the paper's "Avg" (mean over datasets); score
//! by number of searches; and the questions on which methods disagree.

use std::collections::{BTreeMap, HashMap};

use metrics::Normalization;

use crate::{bench::PAPER_DATASETS, method::Method, prediction::Prediction};

/// One method on one dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub questions: u64,
    pub failed: u64,
    /// Mean token recall ×100 — the paper's headline.
    pub token_recall: f64,
    pub em: f64,
    pub f1: f64,
    /// Cover-EM ×100: R1-Searcher's ACC_R when scored under its normalisation.
    pub cover_em: f64,
    /// Sub-EM ×100: R1-Searcher's `cover_em_2` when scored under its normalisation.
    pub sub_em: f64,
    /// Share of judged answers the judge called correct ×100 (ACC_L); `None` when none was judged.
    pub judge: Option<f64>,
    pub judged: u64,
    pub searches: f64,
    pub turns: f64,
    pub tokens: f64,
    pub seconds: f64,
    /// FreshQA: questions resting on a false premise.
    pub false_premise: u64,
}

/// Every cell of a set of predictions, with the row (method) and column (dataset) order.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Known methods in the paper's order, then the others as first seen.
    pub methods: Vec<String>,
    /// The paper's datasets in Table 2's order, then the others as first seen.
    pub datasets: Vec<String>,
    pub cells: BTreeMap<(String, String), Cell>,
    /// The normalisations the scores were compared under, in [`Normalization::ALL`]'s order.
    pub normalizations: Vec<Normalization>,
}

/// A question the methods answered differently: the token recall of the best and the worst
/// answer differ by at least [`DISAGREEMENT`].
#[derive(Debug, Clone)]
pub struct Disagreement<'p> {
    pub dataset: String,
    pub id: String,
    /// Each method's answer, in row order.
    pub answers: Vec<&'p Prediction>,
    pub spread: f64,
}

/// How far apart two methods' token recall must be for a question to count as a disagreement.
pub const DISAGREEMENT: f64 = 0.5;

impl Summary {
    pub fn of(predictions: &[Prediction]) -> Summary {
        let methods = ordered(
            predictions.iter().map(|p| p.method.as_str()),
            &Method::ALL.map(Method::as_str),
        );
        let datasets = ordered(
            predictions.iter().map(|p| p.dataset.as_str()),
            &PAPER_DATASETS,
        );
        let mut groups: BTreeMap<(String, String), Vec<&Prediction>> = BTreeMap::new();
        for p in predictions {
            groups
                .entry((p.method.clone(), p.dataset.clone()))
                .or_default()
                .push(p);
        }
        let cells = groups
            .into_iter()
            .map(|(key, ps)| (key, cell(&ps)))
            .collect();
        let normalizations = Normalization::ALL
            .into_iter()
            .filter(|n| predictions.iter().any(|p| p.scores.normalization == *n))
            .collect();
        Summary {
            methods,
            datasets,
            cells,
            normalizations,
        }
    }

    pub fn cell(&self, method: &str, dataset: &str) -> Option<&Cell> {
        self.cells.get(&(method.to_string(), dataset.to_string()))
    }

    /// The mean of `value` over the datasets `method` was run on (the paper's "Avg").
    pub fn average(&self, method: &str, value: impl Fn(&Cell) -> f64) -> Option<f64> {
        let values: Vec<f64> = self
            .datasets
            .iter()
            .filter_map(|d| self.cell(method, d))
            .map(value)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// `(searches, answers, mean token recall ×100)` points, by number of searches.
pub type Curve = Vec<(u64, u64, f64)>;

/// Mean token recall ×100 and the number of answers, by number of searches (the last bucket
/// holds `cap` searches and more), per method in row order.
pub fn by_searches(
    predictions: &[Prediction],
    methods: &[String],
    cap: u64,
) -> Vec<(String, Curve)> {
    methods
        .iter()
        .map(|m| {
            let mut buckets: BTreeMap<u64, (u64, f64)> = BTreeMap::new();
            for p in predictions.iter().filter(|p| &p.method == m) {
                let b = buckets.entry(p.searches.min(cap)).or_default();
                b.0 += 1;
                b.1 += p.scores.token_recall;
            }
            let points = buckets
                .into_iter()
                .map(|(s, (n, sum))| (s, n, 100.0 * sum / n as f64))
                .collect();
            (m.clone(), points)
        })
        .collect()
}

/// The questions answered by two methods or more whose token recalls differ by at least
/// [`DISAGREEMENT`], widest spread first.
pub fn disagreements<'p>(
    predictions: &'p [Prediction],
    summary: &Summary,
) -> Vec<Disagreement<'p>> {
    let mut by_question: HashMap<(&str, &str), Vec<&Prediction>> = HashMap::new();
    for p in predictions {
        by_question
            .entry((p.dataset.as_str(), p.id.as_str()))
            .or_default()
            .push(p);
    }
    let rank = |list: &[String], x: &str| list.iter().position(|y| y == x).unwrap_or(usize::MAX);
    let mut out: Vec<Disagreement> = by_question
        .into_iter()
        .filter(|(_, answers)| answers.len() >= 2)
        .filter_map(|((dataset, id), mut answers)| {
            let recalls = answers.iter().map(|p| p.scores.token_recall);
            let (lo, hi) = recalls.fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
            answers.sort_by_key(|p| rank(&summary.methods, &p.method));
            (hi - lo >= DISAGREEMENT).then(|| Disagreement {
                dataset: dataset.to_string(),
                id: id.to_string(),
                answers,
                spread: hi - lo,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.spread
            .total_cmp(&a.spread)
            .then(rank(&summary.datasets, &a.dataset).cmp(&rank(&summary.datasets, &b.dataset)))
            .then(a.id.cmp(&b.id))
    });
    out
}

/// `known` names first (those present, in that order), then the others as first seen.
fn ordered<'a>(seen: impl Iterator<Item = &'a str>, known: &[&str]) -> Vec<String> {
    let mut others: Vec<String> = Vec::new();
    let mut present = Vec::new();
    for name in seen {
        if known.contains(&name) {
            if !present.contains(&name) {
                present.push(name);
            }
        } else if !others.iter().any(|o| o == name) {
            others.push(name.to_string());
        }
    }
    known
        .iter()
        .filter(|k| present.contains(k))
        .map(|k| k.to_string())
        .chain(others)
        .collect()
}

fn cell(ps: &[&Prediction]) -> Cell {
    let n = ps.len() as f64;
    let mean = |f: &dyn Fn(&Prediction) -> f64| ps.iter().map(|p| f(p)).sum::<f64>() / n;
    let judged: Vec<bool> = ps.iter().filter_map(|p| p.judge).collect();
    Cell {
        questions: ps.len() as u64,
        failed: ps.iter().filter(|p| p.failed.is_some()).count() as u64,
        token_recall: 100.0 * mean(&|p| p.scores.token_recall),
        em: 100.0 * mean(&|p| p.scores.em),
        f1: 100.0 * mean(&|p| p.scores.f1),
        cover_em: 100.0 * mean(&|p| p.scores.cover_em),
        sub_em: 100.0 * mean(&|p| p.scores.acc),
        judge: (!judged.is_empty())
            .then(|| 100.0 * judged.iter().filter(|j| **j).count() as f64 / judged.len() as f64),
        judged: judged.len() as u64,
        searches: mean(&|p| p.searches as f64),
        turns: mean(&|p| p.turns as f64),
        tokens: mean(&|p| (p.prompt_tokens + p.completion_tokens) as f64),
        seconds: mean(&|p| p.ms as f64 / 1000.0),
        false_premise: ps.iter().filter(|p| p.false_premise).count() as u64,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn prediction(
        method: &str,
        dataset: &str,
        id: &str,
        answer: &str,
        gold: &str,
    ) -> Prediction {
        let question = format!("question {id}?");
        let mut p = Prediction::answer(method, dataset, id, &question, vec![gold.into()], answer);
        (p.turns, p.searches) = (1, u64::from(method != "direct"));
        (p.prompt_tokens, p.completion_tokens, p.ms) = (10, 2, 500);
        (p.end, p.model) = ("answered".into(), "m".into());
        p
    }

    #[test]
    fn cells_are_means_over_questions_and_avg_is_the_mean_over_datasets() {
        let mut failed = prediction("rag-pe", "HotpotQA", "3", "", "Paris");
        failed.failed = Some("model down".into());
        let ps = vec![
            prediction("rag-pe", "NQ", "1", "Paris", "Paris"),
            prediction(
                "rag-pe",
                "HotpotQA",
                "1",
                "the Eiffel tower",
                "Eiffel Tower Paris",
            ),
            prediction("rag-pe", "HotpotQA", "2", "Paris", "Paris"),
            failed,
            prediction("direct", "HotpotQA", "1", "London", "Paris"),
        ];
        let s = Summary::of(&ps);
        assert_eq!(s.methods, ["direct", "rag-pe"]);
        assert_eq!(s.datasets, ["HotpotQA", "NQ"]);
        let c = s.cell("rag-pe", "HotpotQA").unwrap();
        assert_eq!((c.questions, c.failed), (3, 1));
        // (2/3 + 1 + 0) / 3
        assert!(
            (c.token_recall - 100.0 * (5.0 / 3.0) / 3.0).abs() < 1e-9,
            "{}",
            c.token_recall
        );
        assert!((c.em - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(c.judge, None);
        let avg = s.average("rag-pe", |c| c.token_recall).unwrap();
        assert!((avg - (c.token_recall + 100.0) / 2.0).abs() < 1e-9);
        assert_eq!(s.average("agent", |c| c.em), None);
        let d = disagreements(&ps, &s);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].id.as_str(), d[0].answers[0].method.as_str()),
            ("1", "direct")
        );
        let curve = by_searches(&ps, &s.methods, 4);
        assert_eq!(curve[0], ("direct".to_string(), vec![(0, 1, 0.0)]));
        assert_eq!(curve[1].1.len(), 1);
        assert_eq!(curve[1].1[0].1, 4);
    }
}
