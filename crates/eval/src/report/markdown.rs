//! The Markdown report: the Table 2 layout, every metric per dataset, the methodology and the
//! disagreements, as GitHub renders Markdown.

use std::fmt::Write as _;

use super::{ReportOptions, detail, detail_header, fmt, methodology, table2, totals};
use crate::{
    method::Method,
    prediction::Prediction,
    summary::{Summary, disagreements},
};

/// The Markdown report of `predictions`.
pub fn markdown(predictions: &[Prediction], options: &ReportOptions) -> String {
    let summary = Summary::of(predictions);
    let mut md = String::new();
    let (answers, questions, failed) = totals(predictions);
    let _ = writeln!(md, "# {}\n", options.title);
    for line in &options.about {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(
        md,
        "- {answers} answers to {questions} questions, {failed} failed\n"
    );

    let table = table2(&summary, options);
    let _ = writeln!(
        md,
        "## Token-level recall (×100), laid out as the paper's Table 2\n"
    );
    let _ = writeln!(md, "| Method | {} | Avg. |", table.columns.join(" | "));
    let _ = writeln!(md, "|---|{}---:|", "---:|".repeat(table.columns.len()));
    for row in &table.rows {
        let label = if row.paper {
            format!("*{}*", row.label)
        } else {
            format!("**{}**", row.label)
        };
        let values: Vec<String> = row.values.iter().map(|v| fmt(*v)).collect();
        let _ = writeln!(
            md,
            "| {label} | {} | {} |",
            values.join(" | "),
            fmt(row.avg)
        );
    }

    let _ = writeln!(md, "\n## Every metric, per dataset\n");
    let header = detail_header(&summary);
    for dataset in &summary.datasets {
        let _ = writeln!(md, "### {dataset}\n");
        let _ = writeln!(md, "| Method | {} |", header.join(" | "));
        let _ = writeln!(md, "|---|{}", "---:|".repeat(header.len()));
        for m in &summary.methods {
            if let Some(c) = summary.cell(m, dataset) {
                let _ = writeln!(md, "| {} | {} |", Method::label(m), detail(c).join(" | "));
            }
        }
        md.push('\n');
    }

    let _ = writeln!(md, "## How these numbers were computed\n");
    for line in methodology(&summary.normalizations) {
        let _ = writeln!(md, "- {line}");
    }

    let all = disagreements(predictions, &summary);
    let _ = writeln!(
        md,
        "\n## Where the methods disagree ({} questions)\n",
        all.len()
    );
    for d in all.iter().take(options.max_disagreements) {
        let first = d.answers[0];
        let _ = writeln!(
            md,
            "- **{}** `{}` — {}{} (gold: {})",
            d.dataset,
            d.id,
            one_line(&first.question),
            if first.false_premise {
                " *(false premise)*"
            } else {
                ""
            },
            first.golds.join(" / ")
        );
        for p in &d.answers {
            let _ = writeln!(
                md,
                "  - {}: {} — recall {:.2}{}",
                Method::label(&p.method),
                if p.prediction.is_empty() {
                    "*(no answer)*".to_string()
                } else {
                    format!("`{}`", one_line(&p.prediction).replace('`', "'"))
                },
                100.0 * p.scores.token_recall,
                p.failed
                    .as_ref()
                    .map_or_else(String::new, |f| format!(" (failed: {})", one_line(f)))
            );
        }
    }
    md
}

/// `s` on one line, at most 200 characters.
fn one_line(s: &str) -> String {
    let line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{assert_states_the_methodology, sample};

    #[test]
    fn the_markdown_report_has_the_table_the_details_the_method_and_the_disagreements() {
        let options = ReportOptions {
            title: "Eval".into(),
            about: vec!["model: smollm2".into()],
            max_disagreements: 10,
            ..ReportOptions::default()
        }
        .with_paper_rows(Some("qwen2.5-7b"))
        .unwrap();
        let md = markdown(&sample(), &options);
        assert!(
            md.starts_with("# Eval\n\n- model: smollm2\n- 7 answers to 4 questions, 1 failed\n"),
            "{md}"
        );
        assert!(md.contains(
            "| Method | HotpotQA | FanoutQA | MuSiQue | 2Wiki | Bamboogle | FreshQA | NQ | Avg. |"
        ));
        assert!(md.contains("| *Agent-PE — paper, Qwen2.5-7B* | 61.75 | 55.69 | 34.25 | 68.77 | 63.25 | 75.81 | – | 58.25 |"), "{md}");
        assert!(md.contains("| **Direct** | 0.00 | – |"), "{md}");
        assert!(md.contains("### Bamboogle\n\n| Method | n | failed | Recall |"));
        assert!(md.contains("| Agent-PE | 1 | 1 | 0.00 |"), "{md}");
        // Searches, turns, tokens and seconds are the cell's means.
        assert!(
            md.contains("| RAG-PE | 1 | 0 | 100.00 | 100.00 | 100.00 | 100.00 | 100.00 | – | 1.00 | 1.00 | 12 | 0.50 |"),
            "{md}"
        );
        assert_states_the_methodology(&md);
        assert!(
            md.contains("## Where the methods disagree (2 questions)"),
            "{md}"
        );
        assert!(md.contains("(failed: model: connection refused)"));
    }
}
