//! The HTML report: one self-contained page (inline CSS, inline SVG charts, no script, nothing
//! fetched) with the Table 2 layout, charts, every metric per dataset, the methodology and a
//! drill-down into the questions the methods disagree on, transcripts included.

use std::fmt::Write as _;

use super::{
    ReportOptions, backbone_label, chart, detail, detail_header, esc, fmt, methodology, table2,
    totals,
};
use crate::{
    method::Method,
    prediction::Prediction,
    summary::{Summary, by_searches, disagreements},
};

const STYLE: &str = r#"
:root { --ink: #1d1d1f; --muted: #6b6b70; --rule: #1d1d1f; --hair: #d8d8dc; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; background: #fafaf8; color: var(--ink); font: 15px/1.5 Georgia, "Times New Roman", serif; }
main { max-width: 1040px; margin: 0 auto; padding: 32px 40px 64px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; font-weight: normal; letter-spacing: .2px; }
h2 { font-size: 18px; margin: 36px 0 10px; font-weight: normal; border-bottom: 1px solid var(--hair); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.about { color: var(--muted); font-size: 13px; margin: 0; }
.caption { color: var(--muted); font-size: 13px; margin: 6px 0 10px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; font-size: 13.5px; }
table.booktabs { border-top: 2px solid var(--rule); border-bottom: 2px solid var(--rule); }
table.booktabs thead th { border-bottom: 1px solid var(--rule); }
th, td { padding: 4px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { font-weight: normal; font-style: italic; }
tr.paper td { color: var(--muted); font-style: italic; }
tr.first-ours td { border-top: 1px solid var(--rule); }
td.best { font-weight: bold; }
td.avg, th.avg { border-left: 1px solid var(--hair); }
.charts { display: grid; grid-template-columns: 1fr; gap: 8px; }
table.details th:nth-child(2), table.details td:nth-child(2) { text-align: left; }
figure { margin: 12px 0; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 2px; }
svg.chart { width: 100%; height: auto; font-family: Helvetica, Arial, sans-serif; }
svg .title { font-size: 13px; font-weight: bold; fill: var(--ink); }
svg .grid { stroke: #e6e6e9; stroke-width: 1; }
svg .tick { font-size: 10px; fill: var(--muted); text-anchor: end; }
svg .category { font-size: 11px; fill: var(--ink); text-anchor: middle; }
svg .value { font-size: 9px; fill: var(--muted); text-anchor: middle; }
svg .axis-label { font-size: 10.5px; fill: var(--muted); text-anchor: middle; }
svg .legend { font-size: 11px; fill: var(--ink); }
svg .reference { stroke: #222; stroke-width: 2.5; }
svg .line { fill: none; stroke-width: 2; }
ul.method li { margin: 3px 0; }
article.q { border-top: 1px solid var(--hair); padding: 10px 0; }
article.q p { margin: 2px 0; }
.tag { display: inline-block; font: 11px Helvetica, Arial, sans-serif; padding: 1px 6px; border-radius: 3px; background: #eef3f8; color: #234; margin-right: 6px; }
.tag.warn { background: #fdecea; color: #8a1c12; }
table.answers td:nth-child(2), table.answers th:nth-child(2) { white-space: normal; text-align: left; width: 60%; }
details { margin-top: 6px; }
summary { cursor: pointer; color: var(--accent); font-size: 13px; }
pre { white-space: pre-wrap; word-break: break-word; background: #f6f6f4; border: 1px solid var(--hair); padding: 8px; font-size: 12px; max-height: 320px; overflow: auto; }
code { font-size: 12.5px; }
@media (max-width: 760px) { main { padding: 16px; } }
"#;

/// The HTML page of `predictions`.
pub fn html(predictions: &[Prediction], options: &ReportOptions) -> String {
    let summary = Summary::of(predictions);
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{t}</title><style>{STYLE}</style></head><body><main><header><h1>{t}</h1>"#,
        t = esc(&options.title)
    );
    let (answers, questions, failed) = totals(predictions);
    let mut about: Vec<String> = options.about.iter().map(|a| esc(a)).collect();
    about.push(format!(
        "{answers} answers to {questions} questions, {failed} failed"
    ));
    let _ = write!(h, r#"<p class="about">{}</p></header>"#, about.join(" · "));
    table_section(&mut h, &summary, options);
    charts(&mut h, predictions, &summary, options);
    details_section(&mut h, &summary);
    h.push_str(
        r#"<section id="method"><h2>How these numbers were computed</h2><ul class="method">"#,
    );
    for line in methodology(&summary.normalizations) {
        let _ = write!(h, "<li>{}</li>", esc(&line));
    }
    h.push_str("</ul></section>");
    disagreement_section(&mut h, predictions, &summary, options);
    h.push_str("</main></body></html>\n");
    h
}

fn table_section(h: &mut String, summary: &Summary, options: &ReportOptions) {
    let table = table2(summary, options);
    h.push_str(r#"<section id="table2"><h2>Token-level recall (×100)</h2>"#);
    let caption = match &options.paper_rows {
        Some((b, _)) => format!(
            "Laid out as the paper's Table 2. Italic rows: the paper's published numbers for {}; the rows below them are this run. Bold: the best of this run's rows per column (above 0).",
            backbone_label(b)
        ),
        None => {
            "Laid out as the paper's Table 2. Bold: the best row per column (above 0).".to_string()
        }
    };
    let _ = write!(h, r#"<p class="caption">{}</p>"#, esc(&caption));
    h.push_str(r#"<table class="booktabs table2"><thead><tr><th>Method</th>"#);
    for c in &table.columns {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str(r#"<th class="avg">Avg.</th></tr></thead><tbody>"#);
    let ours: Vec<&super::Row> = table.rows.iter().filter(|r| !r.paper).collect();
    let best = |i: Option<usize>| {
        ours.iter()
            .filter_map(|r| match i {
                Some(i) => r.values[i],
                None => r.avg,
            })
            .fold(f64::MIN, f64::max)
    };
    let mut first_ours = true;
    for row in &table.rows {
        let class = if row.paper {
            "paper"
        } else if first_ours && options.paper_rows.is_some() {
            first_ours = false;
            "first-ours"
        } else {
            ""
        };
        let _ = write!(h, r#"<tr class="{class}"><td>{}</td>"#, esc(&row.label));
        for (i, v) in row.values.iter().enumerate() {
            let bold =
                !row.paper && ours.len() > 1 && v.is_some_and(|v| v > 0.0 && v == best(Some(i)));
            let _ = write!(
                h,
                r#"<td class="{}">{}</td>"#,
                if bold { "best" } else { "" },
                fmt(*v)
            );
        }
        let bold =
            !row.paper && ours.len() > 1 && row.avg.is_some_and(|v| v > 0.0 && v == best(None));
        let _ = write!(
            h,
            r#"<td class="avg{}">{}</td></tr>"#,
            if bold { " best" } else { "" },
            fmt(row.avg)
        );
    }
    h.push_str("</tbody></table></section>");
}

/// One bar series per method (named by `labels`): `value` of each dataset's cell, and of their
/// average when `with_average`.
fn per_method(
    summary: &Summary,
    labels: &[String],
    value: impl Fn(&crate::Cell) -> f64 + Copy,
    with_average: bool,
) -> Vec<chart::Series> {
    summary
        .methods
        .iter()
        .zip(labels)
        .map(|(m, label)| chart::Series {
            name: label.clone(),
            values: summary
                .datasets
                .iter()
                .map(|d| summary.cell(m, d).map(value))
                .chain(with_average.then(|| summary.average(m, value)))
                .collect(),
        })
        .collect()
}

fn charts(h: &mut String, predictions: &[Prediction], summary: &Summary, options: &ReportOptions) {
    let labels: Vec<String> = summary.methods.iter().map(|m| Method::label(m)).collect();
    let mut categories = summary.datasets.clone();
    categories.push("Avg.".to_string());
    let series = per_method(summary, &labels, |c| c.token_recall, true);
    let references: Vec<chart::Series> = match &options.paper_rows {
        Some((backbone, rows)) => labels
            .iter()
            .map(|label| {
                let row = rows.iter().find(|r| r.method == label);
                chart::Series {
                    name: format!("paper, {}", backbone_label(backbone)),
                    values: summary
                        .datasets
                        .iter()
                        .map(|d| row.and_then(|r| crate::paper::score(r, d)))
                        .chain([row.map(|r| r.avg)])
                        .collect(),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    h.push_str(r#"<section class="charts" id="charts">"#);
    let _ = write!(
        h,
        "<figure>{}<figcaption>Token-level recall ×100 per dataset and method{}.</figcaption></figure>",
        chart::bars(
            "Token-level recall (×100) by dataset",
            "recall ×100",
            &categories,
            &series,
            &references,
            Some(100.0)
        ),
        if references.is_empty() {
            ""
        } else {
            "; dark ticks: the paper's score for the same method"
        }
    );
    let searches = per_method(summary, &labels, |c| c.searches, false);
    let _ = write!(
        h,
        "<figure>{}<figcaption>Mean searches per question (RAG-PE retrieves once; direct never).</figcaption></figure>",
        chart::bars(
            "Searches per question",
            "searches",
            &summary.datasets,
            &searches,
            &[],
            None
        )
    );
    let cap = predictions
        .iter()
        .map(|p| p.searches)
        .max()
        .unwrap_or(0)
        .clamp(1, 4);
    let curve: Vec<(String, crate::summary::Curve)> =
        by_searches(predictions, &summary.methods, cap)
            .into_iter()
            .map(|(m, points)| (Method::label(&m), points))
            .collect();
    let xs: Vec<u64> = (0..=cap).collect();
    let _ = write!(
        h,
        "<figure>{}<figcaption>Mean token recall ×100 of the answers that used a given number of searches (dot size: number of answers).</figcaption></figure>",
        chart::lines(
            "Recall by number of searches",
            "searches used",
            "recall ×100",
            &xs,
            &curve
        )
    );
    h.push_str("</section>");
}

fn details_section(h: &mut String, summary: &Summary) {
    h.push_str(r#"<section id="details"><h2>Every metric, per dataset</h2><p class="caption">Scores ×100; searches, turns (model calls), tokens (prompt + completion) and seconds are means per question; ACC_L only where a judge was asked.</p><table class="booktabs details"><thead><tr><th>Dataset</th><th>Method</th>"#);
    for c in detail_header(summary) {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>");
    for dataset in &summary.datasets {
        let mut first = true;
        for m in &summary.methods {
            let Some(c) = summary.cell(m, dataset) else {
                continue;
            };
            let name = if first { esc(dataset) } else { String::new() };
            let class = if first { "first-ours" } else { "" };
            first = false;
            let _ = write!(
                h,
                r#"<tr class="{class}"><td>{name}</td><td>{}</td>"#,
                esc(&Method::label(m))
            );
            for v in detail(c) {
                let _ = write!(h, "<td>{v}</td>");
            }
            h.push_str("</tr>");
        }
    }
    h.push_str("</tbody></table></section>");
}

fn disagreement_section(
    h: &mut String,
    predictions: &[Prediction],
    summary: &Summary,
    options: &ReportOptions,
) {
    let all = disagreements(predictions, summary);
    let _ = write!(
        h,
        r#"<section id="disagreements"><h2>Where the methods disagree</h2><p class="caption">{} questions on which the token recall of two methods differs by {:.0} points or more, widest first{}.</p>"#,
        all.len(),
        100.0 * crate::summary::DISAGREEMENT,
        if all.len() > options.max_disagreements {
            format!("; the first {} are shown", options.max_disagreements)
        } else {
            String::new()
        }
    );
    for d in all.iter().take(options.max_disagreements) {
        let q = d.answers[0];
        let _ = write!(
            h,
            r#"<article class="q"><p><span class="tag">{}</span><span class="tag">{}</span>{}<strong>{}</strong></p><p class="caption">Gold: {}</p><table class="answers"><thead><tr><th>Method</th><th>Answer</th><th>Recall</th><th>EM</th><th>Cover-EM</th><th>searches</th></tr></thead><tbody>"#,
            esc(&d.dataset),
            esc(&d.id),
            if q.false_premise {
                r#"<span class="tag warn">false premise</span>"#
            } else {
                ""
            },
            esc(&q.question),
            esc(&q.golds.join(" / "))
        );
        for p in &d.answers {
            let answer = match (&p.failed, p.prediction.is_empty()) {
                (Some(why), _) => format!("<em>failed: {}</em>", esc(why)),
                (None, true) => format!("<em>no answer ({})</em>", esc(&p.end)),
                (None, false) => esc(&p.prediction),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{answer}</td><td>{:.0}</td><td>{:.0}</td><td>{:.0}</td><td>{}</td></tr>",
                esc(&Method::label(&p.method)),
                100.0 * p.scores.token_recall,
                100.0 * p.scores.em,
                100.0 * p.scores.cover_em,
                p.searches
            );
        }
        h.push_str("</tbody></table><details><summary>Transcripts</summary>");
        for p in &d.answers {
            let _ = write!(
                h,
                "<h3>{}</h3><pre>{}</pre>",
                esc(&Method::label(&p.method)),
                esc(&p.transcript)
            );
        }
        h.push_str("</details></article>");
    }
    h.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{assert_states_the_methodology, sample};

    #[test]
    fn the_page_is_self_contained_and_holds_table_charts_and_drill_down() {
        let options = ReportOptions {
            title: "Eval <run>".into(),
            about: vec!["model: smollm2".into()],
            max_disagreements: 1,
            ..ReportOptions::default()
        }
        .with_paper_rows(Some("qwen2.5-1.5b"))
        .unwrap();
        let page = html(&sample(), &options);
        assert!(page.starts_with("<!doctype html>"));
        for banned in ["<script", "<link", "src=", "@import", "url("] {
            assert!(!page.contains(banned), "{banned}");
        }
        assert!(page.contains("<title>Eval &lt;run&gt;</title>"));
        assert_eq!(page.matches("<svg").count(), 3);
        assert!(
            page.contains(
                r#"<tr class="paper"><td>RAG-PE — paper, Qwen2.5-1.5B</td><td class="">29.45</td>"#
            ),
            "{page}"
        );
        assert!(page.contains(r#"<td class="best">100.00</td>"#));
        assert!(
            page.contains("&lt;Paris &amp; co&gt;"),
            "answers are escaped"
        );
        assert!(page.contains("the first 1 are shown"));
        assert_eq!(page.matches(r#"<article class="q">"#).count(), 1);
        assert!(page.contains("<details><summary>Transcripts</summary>"));
        assert_states_the_methodology(&page);
    }
}
