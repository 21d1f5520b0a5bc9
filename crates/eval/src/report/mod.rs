//! Reports of a set of predictions: Markdown and one self-contained HTML page (inline CSS and
//! SVG, nothing fetched). Both hold the paper's Table 2 layout (methods × datasets, token
//! recall ×100, the paper's rows for a named backbone beside ours), every metric per dataset,
//! how the numbers were computed, and the questions the methods disagree on; the HTML page adds
//! charts and the transcripts.

pub mod chart;
mod html;
mod markdown;

use metrics::Normalization;

use crate::{
    bench::PAPER_DATASETS,
    method::Method,
    paper::{self, PaperRow},
    prediction::Prediction,
    summary::{Cell, Summary},
};

pub use html::html;
pub use markdown::markdown;

/// Writes both reports of `predictions` into `dir` (`report.md`, `report.html`), each whole;
/// returns their paths.
pub fn write(
    dir: &std::path::Path,
    predictions: &[Prediction],
    options: &ReportOptions,
) -> Result<(std::path::PathBuf, std::path::PathBuf), crate::EvalError> {
    let (md, page) = (dir.join("report.md"), dir.join("report.html"));
    formats::write_whole(&md, markdown(predictions, options).as_bytes())?;
    formats::write_whole(&page, html(predictions, options).as_bytes())?;
    Ok((md, page))
}

/// What a report says besides the predictions.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub title: String,
    /// Lines about the run (model, search backend, …) printed under the title.
    pub about: Vec<String>,
    /// Show the paper's rows for this backbone (`qwen2.5-1.5b`, `qwen2.5-3b`, `qwen2.5-7b`).
    pub paper_rows: Option<(String, &'static [PaperRow])>,
    /// At most this many disagreements are listed.
    pub max_disagreements: usize,
}

impl ReportOptions {
    /// Options with the paper's rows for `backbone`, checked.
    pub fn with_paper_rows(mut self, backbone: Option<&str>) -> Result<Self, crate::EvalError> {
        self.paper_rows = match backbone {
            Some(b) => Some((b.to_string(), paper::rows(b)?)),
            None => None,
        };
        Ok(self)
    }
}

/// How the numbers were computed, as both reports state it, for scores compared under
/// `normalizations` (SQuAD's when there are none).
pub fn methodology(normalizations: &[Normalization]) -> Vec<String> {
    let r1_only = normalizations == [Normalization::R1Searcher];
    let mut lines: Vec<String> = normalizations
        .iter()
        .copied()
        .chain(normalizations.is_empty().then_some(Normalization::Squad))
        .map(|n| match n {
            Normalization::Squad => "Normalisation (`squad`, the SQuAD / HotpotQA official scripts'): lower-case; remove punctuation; remove the articles a, an, the; collapse whitespace.",
            Normalization::R1Searcher => "Normalisation (`r1-searcher`, R1-Searcher's evaluation/metric_calc_rule.py): a whole answer `True` / `False` reads yes / no; lower-case; punctuation (ASCII, and the quote marks ‘ ’ ´) and underscores become spaces; remove the articles a, an, the; collapse whitespace. Precision and recall come from the alias with the best F1.",
        }.to_string())
        .collect();
    if normalizations.len() > 1 {
        lines.push("These predictions were scored under different normalisations; each prediction's `scores.normalization` says which.".to_string());
    }
    lines.push("Every score is the maximum over the gold aliases, then the mean over the questions of a dataset, ×100. A question that failed (model or search error) is kept and scores 0.".to_string());
    lines.push(format!(
        "Token recall (headline, the paper's metric): the share of the gold answer's tokens found in the prediction (multiset overlap). EM: normalised prediction equals an alias. F1: token F1 with FlashRAG's yes/no rule. {} ACC_L: share of judged answers the LLM judge called correct.",
        if r1_only {
            "ACC_R: R1-Searcher's cover_em_1 (its ACC_R, computed its way): every token of an alias occurs among the prediction's tokens. Cover-EM 2: R1-Searcher's cover_em_2, the alias's tokens contiguous in the prediction or the alias a substring of it (sub-EM under this normalisation)."
        } else {
            "Cover-EM: every token of an alias occurs among the prediction's tokens — R1-Searcher's cover_em_1 rule, but not its ACC_R unless scored under the `r1-searcher` normalisation (on R1-Searcher's own files the two differ by up to a point). Sub-EM: the normalised alias is a substring of the normalised prediction (FlashRAG's acc, Search-R1's subem_check)."
        }
    ));
    lines.push("Avg.: the mean of the dataset scores in the row (over the datasets that row was run on). The paper's rows are copied from its Table 2 as published.".to_string());
    lines.push("FanoutQA's structured answers are one gold string, one `entity - value` per line (FanoutQA's own `str_answer`); FreshQA's answer_0…answer_9 are aliases and its false-premise questions are marked.".to_string());
    lines
}

/// The Table 2 layout: columns, then our rows and the paper's.
struct Table {
    columns: Vec<String>,
    rows: Vec<Row>,
}

struct Row {
    label: String,
    paper: bool,
    values: Vec<Option<f64>>,
    avg: Option<f64>,
}

fn table2(summary: &Summary, options: &ReportOptions) -> Table {
    let mut columns: Vec<String> = Vec::new();
    if options.paper_rows.is_some() {
        columns.extend(PAPER_DATASETS.iter().map(|d| d.to_string()));
    }
    for d in &summary.datasets {
        if !columns.contains(d) {
            columns.push(d.clone());
        }
    }
    let mut rows = Vec::new();
    if let Some((backbone, paper_rows)) = &options.paper_rows {
        for r in paper_rows.iter() {
            rows.push(Row {
                label: format!("{} — paper, {}", r.method, backbone_label(backbone)),
                paper: true,
                values: columns.iter().map(|c| paper::score(r, c)).collect(),
                avg: Some(r.avg),
            });
        }
    }
    for m in &summary.methods {
        rows.push(Row {
            label: Method::label(m),
            paper: false,
            values: columns
                .iter()
                .map(|d| summary.cell(m, d).map(|c| c.token_recall))
                .collect(),
            avg: summary.average(m, |c| c.token_recall),
        });
    }
    Table { columns, rows }
}

/// `qwen2.5-7b` → `Qwen2.5-7B`.
fn backbone_label(backbone: &str) -> String {
    backbone
        .to_uppercase()
        .replacen("QWEN", "Qwen", 1)
        .replace("LLAMA", "LLaMA")
}

/// The detail columns of one cell, as strings: n, failed, recall, EM, F1, cover-EM, sub-EM,
/// ACC_L, searches, turns, tokens, seconds.
fn detail(c: &Cell) -> [String; 12] {
    [
        c.questions.to_string(),
        c.failed.to_string(),
        format!("{:.2}", c.token_recall),
        format!("{:.2}", c.em),
        format!("{:.2}", c.f1),
        format!("{:.2}", c.cover_em),
        format!("{:.2}", c.sub_em),
        c.judge
            .map_or_else(|| "–".to_string(), |j| format!("{j:.2}")),
        format!("{:.2}", c.searches),
        format!("{:.2}", c.turns),
        format!("{:.0}", c.tokens),
        format!("{:.2}", c.seconds),
    ]
}

/// The headers of [`detail`]'s columns. The cover columns carry R1-Searcher's names only when
/// every score was computed its way.
fn detail_header(summary: &Summary) -> [&'static str; 12] {
    let (cover, sub) = if summary.normalizations == [Normalization::R1Searcher] {
        ("ACC_R", "Cover-EM 2")
    } else {
        ("Cover-EM", "Sub-EM")
    };
    [
        "n", "failed", "Recall", "EM", "F1", cover, sub, "ACC_L", "searches", "turns", "tokens",
        "s / q",
    ]
}

/// Counts for the header line.
fn totals(predictions: &[Prediction]) -> (usize, usize, usize) {
    let failed = predictions.iter().filter(|p| p.failed.is_some()).count();
    let questions: std::collections::HashSet<(&str, &str)> = predictions
        .iter()
        .map(|p| (p.dataset.as_str(), p.id.as_str()))
        .collect();
    (predictions.len(), questions.len(), failed)
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.2}"))
}

/// Escapes text for HTML and SVG.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::tests::prediction;

    /// Asserts that `report` states the normalisation and the aggregation behind its scores.
    pub(super) fn assert_states_the_methodology(report: &str) {
        for said in [
            "lower-case",
            "remove punctuation",
            "remove the articles a, an, the",
            "collapse whitespace",
            "maximum over the gold aliases",
            "mean over the questions",
        ] {
            assert!(report.contains(said), "{said:?} is not stated");
        }
    }

    pub(super) fn sample() -> Vec<Prediction> {
        let mut failed = prediction("agent-pe", "Bamboogle", "2", "", "Titan IIIE");
        failed.failed = Some("model: connection refused".into());
        let mut premise = prediction(
            "rag-pe",
            "FreshQA",
            "0",
            "No animal",
            "No animal has ever landed on the moon.",
        );
        premise.false_premise = true;
        vec![
            prediction("direct", "HotpotQA", "1", "London", "Paris"),
            prediction("rag-pe", "HotpotQA", "1", "Paris", "Paris"),
            prediction("agent-pe", "HotpotQA", "1", "<Paris & co>", "Paris"),
            prediction("rag-pe", "Bamboogle", "2", "Titan", "Titan IIIE"),
            failed,
            premise,
            prediction("rag-pe", "NQ", "n1", "yes", "yes"),
        ]
    }

    #[test]
    fn table2_puts_paper_columns_first_and_averages_over_run_datasets() {
        let ps = sample();
        let s = Summary::of(&ps);
        let options = ReportOptions::default()
            .with_paper_rows(Some("qwen2.5-3b"))
            .unwrap();
        let t = table2(&s, &options);
        // The paper's six in Table 2's order, then the others.
        let mut expected = crate::bench::PAPER_DATASETS.to_vec();
        expected.push("NQ");
        assert_eq!(t.columns, expected);
        assert_eq!(t.rows.len(), 8 + 3);
        assert_eq!(t.rows[0].label, "RAG-PE — paper, Qwen2.5-3B");
        assert_eq!(t.rows[0].values[0], Some(38.37));
        assert_eq!(t.rows[0].values[6], None);
        let rag = t.rows.iter().find(|r| r.label == "RAG-PE").unwrap();
        assert_eq!(rag.values[..2], [Some(100.0), None]);
        // HotpotQA 100, Bamboogle 50, FreshQA 2 of 7 gold tokens, NQ 100.
        let fresh = 100.0 * 2.0 / 7.0;
        let want = (100.0 + 50.0 + fresh + 100.0) / 4.0;
        assert!(
            (rag.avg.unwrap() - want).abs() < 1e-9,
            "{:?} vs {want}",
            rag.avg
        );
        assert!(
            ReportOptions::default()
                .with_paper_rows(Some("qwen9"))
                .is_err()
        );
    }
}
