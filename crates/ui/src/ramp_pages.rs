//! RAMP sample pages: a paged, filtered list read from the file by line offsets; one sample
//! with the masked and the original text side by side, masks numbered; the file's statistics
//! (`ramp stats`) as charts.

use askama::Template;
use axum::{
    Router,
    extract::{Path, Query, State},
    response::Html,
    routing::get,
};
use eval::report::chart::{Series, bars};
use formats::{MASK, RampSample};
use serde::Deserialize;

use crate::{
    FileRef, Shared,
    error::PageError,
    files::{Files, file, record},
    form::{empty_is_none, encode},
    render,
};

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/ramp", get(files))
        .route("/ramp/{file}", get(list))
        .route("/ramp/{file}/stats", get(stats))
        .route("/ramp/{file}/{line}", get(sample))
}

/// Samples per list page.
const PAGE: usize = 20;

async fn files(State(state): State<Shared>) -> Result<Html<String>, PageError> {
    render(&Files {
        what: "RAMP samples",
        base: "/ramp",
        files: FileRef::list(&state.ramp),
        flag: "--ramp FILE",
    })
}

/// List filters; empty fields filter nothing.
#[derive(Debug, Default, Deserialize)]
struct Filter {
    #[serde(default)]
    from: usize,
    /// Exact mask count.
    #[serde(default, deserialize_with = "empty_is_none")]
    masks: Option<usize>,
    /// Part of the span strategy (`anchor`, `llm`, `date`, …).
    #[serde(default)]
    strategy: String,
    /// Part of the title, any case.
    #[serde(default)]
    title: String,
    #[serde(default, deserialize_with = "empty_is_none")]
    min_difficulty: Option<f64>,
    #[serde(default, deserialize_with = "empty_is_none")]
    max_difficulty: Option<f64>,
}

impl Filter {
    fn keeps(&self, s: &RampSample) -> bool {
        self.masks.is_none_or(|m| s.ext.mask_num == m)
            && (self.strategy.is_empty() || s.ext.strategy.contains(self.strategy.trim()))
            && (self.title.is_empty()
                || s.ext
                    .title
                    .to_lowercase()
                    .contains(&self.title.trim().to_lowercase()))
            && self
                .min_difficulty
                .is_none_or(|d| s.ext.difficulty.is_some_and(|x| x >= d))
            && self
                .max_difficulty
                .is_none_or(|d| s.ext.difficulty.is_some_and(|x| x <= d))
    }

    /// The query string of this filter starting at `from`.
    fn link(&self, from: usize) -> String {
        let opt = |v: Option<String>| v.unwrap_or_default();
        format!(
            "from={from}&masks={}&strategy={}&title={}&min_difficulty={}&max_difficulty={}",
            opt(self.masks.map(|m| m.to_string())),
            encode(&self.strategy),
            encode(&self.title),
            opt(self.min_difficulty.map(|d| d.to_string())),
            opt(self.max_difficulty.map(|d| d.to_string())),
        )
    }
}

/// A run of sample text: plain, or mask number `n` (1-based).
pub(crate) struct Span {
    pub text: String,
    pub mask: Option<usize>,
}

/// The masked passage and the original, each cut into plain text and numbered masks. The
/// original is rebuilt from the masked passage and the masks (it equals the answer for every
/// sample masksearch writes); `None` when the counts disagree.
fn sides(s: &RampSample) -> (Vec<Span>, Option<Vec<Span>>) {
    let masked = s
        .query
        .rsplit_once("\n\n")
        .map_or(s.query.as_str(), |(m, _)| m);
    let parts: Vec<&str> = masked.split(MASK).collect();
    let mut left = Vec::new();
    let mut right = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        left.push(Span {
            text: part.to_string(),
            mask: None,
        });
        right.push(Span {
            text: part.to_string(),
            mask: None,
        });
        if i + 1 < parts.len() {
            left.push(Span {
                text: MASK.to_string(),
                mask: Some(i + 1),
            });
            right.push(Span {
                text: s.ext.masks.get(i).cloned().unwrap_or_default(),
                mask: Some(i + 1),
            });
        }
    }
    let whole = parts.len() == s.ext.masks.len() + 1;
    (left, whole.then_some(right))
}

struct Row {
    line: usize,
    id: String,
    title: String,
    masks: usize,
    strategy: String,
    difficulty: Option<f64>,
    masked: Vec<Span>,
}

#[derive(Template)]
#[template(path = "ramp_list.html")]
struct List {
    file: usize,
    name: String,
    total: usize,
    filter_masks: String,
    filter_strategy: String,
    filter_title: String,
    filter_min: String,
    filter_max: String,
    rows: Vec<Row>,
    bad: usize,
    scanned: usize,
    from: usize,
    next: Option<String>,
}

async fn list(
    State(state): State<Shared>,
    Path(n): Path<usize>,
    Query(filter): Query<Filter>,
) -> Result<Html<String>, PageError> {
    let f = file(&state.ramp, n)?;
    let total = f.len()?;
    let (scan, bad) = f.scan_records(filter.from, PAGE, |s: &RampSample| filter.keeps(s))?;
    let rows = scan
        .hits
        .into_iter()
        .map(|(line, s)| {
            let masked = sides(&s).0;
            Row {
                line,
                id: s.id,
                title: s.ext.title,
                masks: s.ext.mask_num,
                strategy: s.ext.strategy,
                difficulty: s.ext.difficulty,
                masked,
            }
        })
        .collect();
    let show = |v: Option<String>| v.unwrap_or_default();
    render(&List {
        file: n,
        name: f.path().display().to_string(),
        total,
        filter_masks: show(filter.masks.map(|m| m.to_string())),
        filter_strategy: filter.strategy.clone(),
        filter_title: filter.title.clone(),
        filter_min: show(filter.min_difficulty.map(|d| d.to_string())),
        filter_max: show(filter.max_difficulty.map(|d| d.to_string())),
        rows,
        bad,
        scanned: scan.scanned,
        from: filter.from,
        next: scan.next.map(|next| filter.link(next)),
    })
}

struct MaskRow {
    n: usize,
    text: String,
    kind: String,
    difficulty: Option<f64>,
}

#[derive(Template)]
#[template(path = "ramp_sample.html")]
struct Sample {
    file: usize,
    line: usize,
    total: usize,
    sample: RampSample,
    masked: Vec<Span>,
    original: Option<Vec<Span>>,
    masks: Vec<MaskRow>,
    instruction: String,
}

async fn sample(
    State(state): State<Shared>,
    Path((n, line)): Path<(usize, usize)>,
) -> Result<Html<String>, PageError> {
    let sample: RampSample = record(&state.ramp, n, line, "a RAMP sample")?;
    let (masked, original) = sides(&sample);
    let masks = sample
        .ext
        .masks
        .iter()
        .enumerate()
        .map(|(i, m)| MaskRow {
            n: i + 1,
            text: m.clone(),
            kind: sample.ext.mask_kinds.get(i).cloned().unwrap_or_default(),
            difficulty: sample.ext.mask_difficulty.get(i).copied(),
        })
        .collect();
    let instruction = sample
        .query
        .rsplit_once("\n\n")
        .map(|(_, i)| i.to_string())
        .unwrap_or_default();
    render(&Sample {
        file: n,
        line,
        total: file(&state.ramp, n)?.len()?,
        sample,
        masked,
        original,
        masks,
        instruction,
    })
}

#[derive(Template)]
#[template(path = "ramp_stats.html")]
struct Stats {
    file: usize,
    name: String,
    charts: Vec<String>,
    table: String,
}

async fn stats(
    State(state): State<Shared>,
    Path(n): Path<usize>,
) -> Result<Html<String>, PageError> {
    let path = file(&state.ramp, n)?.path().to_path_buf();
    let stats = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || ramp::Tally::from_file(&path))
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?
            .map_err(|e| PageError::Internal(e.to_string()))?
    };
    let share = |counts: Vec<(String, u64)>| {
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let categories: Vec<String> = counts.iter().map(|(k, _)| k.clone()).collect();
        let values = counts
            .iter()
            .map(|(_, n)| Some(100.0 * *n as f64 / total.max(1) as f64))
            .collect();
        (
            categories,
            vec![Series {
                name: "share".into(),
                values,
            }],
        )
    };
    let (masks, masks_series) = share(
        stats
            .masks
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect(),
    );
    let (kinds, kinds_series) = share(
        stats
            .mask_kinds
            .iter()
            .map(|(k, n)| (k.clone(), *n))
            .collect(),
    );
    render(&Stats {
        file: n,
        name: path.display().to_string(),
        charts: vec![
            bars(
                "Masks per sample",
                "% of samples",
                &masks,
                &masks_series,
                &[],
                None,
            ),
            bars(
                "Masks by span type",
                "% of masks",
                &kinds,
                &kinds_series,
                &[],
                None,
            ),
        ],
        table: stats.render(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::{UiConfig, router, test_support::get};

    /// A RAMP sample line: `{title} is [mask] and …`, one mask per `masks`.
    pub(crate) fn sample(
        id: &str,
        title: &str,
        masks: &[&str],
        strategy: &str,
        difficulty: Option<f64>,
    ) -> String {
        let mut query = format!("{title} is");
        let mut answer = query.clone();
        for m in masks {
            query.push_str(&format!(" {MASK} and"));
            answer.push_str(&format!(" {m} and"));
        }
        serde_json::json!({
            "id": id,
            "query": format!("{query}\n\n{}", formats::RAMP_INSTRUCTION_EN),
            "answer": answer,
            "ext": {"mask_num": masks.len(), "masks": masks, "entities": masks, "source": "wiki",
                    "title": title, "passage_id": format!("{id}#0"), "strategy": strategy,
                    "difficulty": difficulty,
                    "mask_kinds": masks.iter().map(|_| "anchor").collect::<Vec<_>>()}
        })
        .to_string()
    }

    fn app(dir: &std::path::Path) -> axum::Router {
        let path: PathBuf = dir.join("ramp.jsonl");
        let mut text = String::new();
        for i in 0..45 {
            let masks: &[&str] = if i % 3 == 0 {
                &["Rome", "1900"]
            } else {
                &["Paris"]
            };
            // The even samples are scored, 0.00 to 0.44; the odd ones are not.
            let (strategy, difficulty) = if i % 2 == 0 {
                ("anchor+date", Some(i as f64 / 100.0))
            } else {
                ("llm", None)
            };
            text.push_str(&sample(
                &format!("s{i}"),
                &format!("Page {i}"),
                masks,
                strategy,
                difficulty,
            ));
            text.push('\n');
        }
        text.push_str("not json\n");
        std::fs::write(&path, text).unwrap();
        router(UiConfig {
            ramp: vec![path],
            ..UiConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn lists_pages_of_filtered_samples_with_numbered_masks() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let (status, page) = get(&app, "/ramp/0").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page.matches(r#"class="sample""#).count(), PAGE);
        assert!(
            page.contains(r#"id="next" href="/ramp/0?from=20"#),
            "a next page link: {page}"
        );
        let (_, page) = get(&app, "/ramp/0?masks=2&strategy=date").await;
        // Two masks: every third sample; anchor+date: the even ones → i = 0, 6, 12, … 42.
        assert_eq!(page.matches(r#"class="sample""#).count(), 8, "{page}");
        assert!(page.contains("Page 6<"));
        assert!(!page.contains("Page 3<"));
        let (_, page) = get(&app, "/ramp/0?title=page+44").await;
        assert_eq!(page.matches(r#"class="sample""#).count(), 1);
        assert!(page.contains("1 line that is not a RAMP sample"), "{page}");
        let (status, _) = get(&app, "/ramp/0?masks=x").await;
        assert_eq!(status, 400, "a malformed filter is a bad request");
    }

    #[tokio::test]
    async fn filters_samples_by_difficulty_both_bounds_included_and_unscored_ones_out() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let titles = |page: &str| -> Vec<usize> {
            (0..45)
                .filter(|i| page.contains(&format!(">Page {i}<")))
                .collect()
        };
        let (status, page) = get(&app, "/ramp/0?min_difficulty=0.1&max_difficulty=0.2").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(titles(&page), [10, 12, 14, 16, 18, 20], "{page}");
        assert!(page.contains(r#"<td class="num">0.10</td>"#), "{page}");
        assert!(
            page.contains(r#"name="min_difficulty" value="0.1""#),
            "the form keeps the filter"
        );
        let (_, page) = get(&app, "/ramp/0?max_difficulty=0.05&min_difficulty=").await;
        assert_eq!(titles(&page), [0, 2, 4]);
        let (_, page) = get(&app, "/ramp/0?min_difficulty=0.38").await;
        assert_eq!(titles(&page), [38, 40, 42, 44]);
        // 23 scored samples: the next page keeps the filter.
        let (_, page) = get(&app, "/ramp/0?min_difficulty=0").await;
        assert_eq!(page.matches(r#"class="sample""#).count(), PAGE);
        assert!(
            page.contains("from=39&#38;masks=&#38;strategy=&#38;title=&#38;min_difficulty=0&#38;"),
            "{page}"
        );
        let (status, _) = get(&app, "/ramp/0?max_difficulty=hard").await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn shows_one_sample_side_by_side_and_refuses_what_it_was_not_given() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let (status, page) = get(&app, "/ramp/0/3").await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains(r#"<mark class="mask" data-n="1"><sup>1</sup>[mask]</mark>"#),
            "{page}"
        );
        assert!(page.contains(r#"<mark class="mask" data-n="2"><sup>2</sup>1900</mark>"#));
        for uri in [
            "/ramp/1/0",
            "/ramp/0/99",
            "/ramp/0/..%2F..%2Fetc%2Fpasswd",
            "/ramp/..%2Fx/0",
        ] {
            let (status, _) = get(&app, uri).await;
            assert!(status == 404 || status == 400, "{uri}: {status}");
        }
        let (status, _) = get(&app, "/ramp/0/45").await;
        assert_eq!(status, 400, "a line that is not a sample");
    }

    #[tokio::test]
    async fn draws_the_files_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let (status, page) = get(&app, "/ramp/0/stats").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page.matches("<svg class=\"chart\"").count(), 2);
        assert!(page.contains("samples"), "{page}");
    }
}
