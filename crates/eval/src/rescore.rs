//! Re-scoring predictions written earlier — ours, or other tools' (FlashRAG's
//! `intermediate_data.json`, R1-Searcher's eval JSONL, …) with their field names mapped — so
//! published prediction files can be compared with ours under one set of metrics, and under a
//! named [`Normalization`] so a peer's own figures can be reproduced from its files.

use std::path::Path;

use agent::Prompts;
use chat::ChatModel;
use futures_util::{StreamExt, stream};
use metrics::Normalization;
use serde_json::Value;

use crate::{EvalError, bench, prediction::Prediction};

/// Where a foreign record keeps each field: a key, or a dotted path into nested objects
/// (`output.pred`). `None` tries the usual names in order.
#[derive(Debug, Clone, Default)]
pub struct FieldMap {
    pub question: Option<String>,
    pub golds: Option<String>,
    pub prediction: Option<String>,
    pub id: Option<String>,
    /// The method label of every record [default: the record's `method`, else the file stem].
    pub method: Option<String>,
    /// The dataset of every record [default: the record's `dataset` / `data_source`, else the
    /// file's name].
    pub dataset: Option<String>,
}

/// Field names tried when none is given: ours first, then FlashRAG's, then R1-Searcher's.
const QUESTION: &[&str] = &["question", "query"];
const GOLDS: &[&str] = &["golds", "golden_answers", "answer", "answers", "gold"];
const PREDICTION: &[&str] = &["prediction", "output.pred", "pred", "pred_ans", "response"];
const ID: &[&str] = &["id", "idx", "_id"];

/// Reads a predictions file (JSONL or a JSON array) and scores every record again under `how`.
/// Returns the predictions and the number of records lacking a question, gold or prediction
/// field.
pub fn rescore(
    path: &Path,
    map: &FieldMap,
    how: Normalization,
) -> Result<(Vec<Prediction>, u64), EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    let records = crate::bench::json_records(path, &text)?;
    let stem = path
        .file_name()
        .map(|f| {
            f.to_string_lossy()
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default();
    let dataset = map.dataset.clone().unwrap_or_else(|| {
        let by_file = bench::dataset_name(path);
        match path.parent().and_then(Path::file_name) {
            Some(dir) if by_file == stem => {
                let by_dir = bench::dataset_name(Path::new(dir));
                if by_dir == dir.to_string_lossy().to_lowercase() {
                    by_file
                } else {
                    by_dir
                }
            }
            _ => by_file,
        }
    });
    let mut out = Vec::new();
    let mut skipped = 0;
    for (n, record) in records.iter().enumerate() {
        let read = record
            .as_ref()
            .and_then(|r| read(r, n as u64 + 1, map, &stem, &dataset));
        match read {
            Some(mut p) => {
                p.score_with(how);
                out.push(p);
            }
            None => skipped += 1,
        }
    }
    if out.is_empty() && skipped > 0 {
        return Err(EvalError::UnknownShape {
            path: path.to_path_buf(),
            message: format!(
                "no record has a question, a gold answer and a prediction (tried {} / {} / {}); name the fields",
                QUESTION.join(","),
                GOLDS.join(","),
                PREDICTION.join(",")
            ),
        });
    }
    Ok((out, skipped))
}

/// One record as a prediction: ours as written (re-scored), a foreign one through `map`.
fn read(
    record: &Value,
    line: u64,
    map: &FieldMap,
    stem: &str,
    dataset: &str,
) -> Option<Prediction> {
    let ours = map.golds.is_none() && map.prediction.is_none() && record.get("scores").is_some();
    if ours && let Ok(mut p) = serde_json::from_value::<Prediction>(record.clone()) {
        if let Some(m) = &map.method {
            p.method = m.clone();
        }
        if let Some(d) = &map.dataset {
            p.dataset = d.clone();
        }
        return Some(p);
    }
    let question = text(field(record, map.question.as_deref(), QUESTION)?)?;
    let golds = golds(field(record, map.golds.as_deref(), GOLDS)?);
    let raw = text(field(record, map.prediction.as_deref(), PREDICTION)?)?;
    if golds.is_empty() {
        return None;
    }
    // A field without an `<answer>` is kept as written, spaces and all: R1-Searcher maps only an
    // answer that is exactly `True` / `False` to yes / no, and its files hold " False ".
    let prediction = metrics::extract_answer(&raw).unwrap_or(&raw).to_string();
    let id = field(record, map.id.as_deref(), ID)
        .and_then(text)
        .unwrap_or_else(|| line.to_string());
    let label = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_string);
    let method = map
        .method
        .clone()
        .or_else(|| label("method"))
        .unwrap_or_else(|| stem.to_string());
    let dataset = map
        .dataset
        .clone()
        .or_else(|| label("dataset"))
        .or_else(|| label("data_source"))
        .unwrap_or_else(|| dataset.to_string());
    let mut p = Prediction::answer(&method, &dataset, &id, &question, golds, &prediction);
    if raw != prediction {
        p.transcript = raw;
    }
    p.searches = ["search_count", "searches"]
        .iter()
        .find_map(|k| record.get(*k)?.as_u64())
        .unwrap_or(0);
    p.end = label("stop_reason_final").unwrap_or_default();
    p.model = label("model").unwrap_or_default();
    Some(p)
}

/// The value at `given` (a dotted path), or at the first of `defaults` that exists.
fn field<'v>(record: &'v Value, given: Option<&str>, defaults: &[&str]) -> Option<&'v Value> {
    let at = |path: &str| path.split('.').try_fold(record, |v, key| v.get(key));
    match given {
        Some(path) => at(path),
        None => defaults.iter().find_map(|p| at(p)),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn golds(v: &Value) -> Vec<String> {
    let all = match v {
        Value::Array(items) => items.iter().filter_map(text).collect(),
        other => text(other).into_iter().collect::<Vec<_>>(),
    };
    all.into_iter().filter(|g| !g.trim().is_empty()).collect()
}

/// The judge of a rescoring: the model, its prompts, the run seed, and the calls in flight.
pub struct Judging<'a> {
    pub model: &'a dyn ChatModel,
    pub prompts: &'a Prompts,
    pub seed: u64,
    pub concurrency: usize,
}

/// What [`rescore_files`] did.
#[derive(Debug, Clone, Default)]
pub struct Rescored {
    pub predictions: Vec<Prediction>,
    /// Records lacking a question, gold or prediction field.
    pub skipped: u64,
    /// Tokens the judge used (0 when no judge was asked).
    pub judge_tokens: u64,
}

/// The `eval --rescore` pipeline: every file of `paths` read and scored under `how` (and judged,
/// when asked), then written whole to `out` in our predictions shape. `out` may not be one of
/// the inputs.
pub async fn rescore_files(
    paths: &[std::path::PathBuf],
    out: &Path,
    map: &FieldMap,
    how: Normalization,
    judge: Option<Judging<'_>>,
) -> Result<Rescored, EvalError> {
    let mut done = Rescored::default();
    for path in paths {
        if path == out {
            return Err(EvalError::RescoreOverInput { path: path.clone() });
        }
        let (read, bad) = rescore(path, map, how)?;
        done.predictions.extend(read);
        done.skipped += bad;
    }
    if let Some(j) = judge {
        done.judge_tokens = judge_all(
            &mut done.predictions,
            j.model,
            j.prompts,
            j.seed,
            j.concurrency,
        )
        .await;
    }
    let mut lines = formats::StagedLines::create(out)?;
    for p in &done.predictions {
        lines.write(p)?;
    }
    lines.finish()?.commit()?;
    Ok(done)
}

/// Asks `judge` about every prediction, `concurrency` at a time; returns the tokens it used.
pub async fn judge_all(
    predictions: &mut [Prediction],
    judge: &dyn ChatModel,
    prompts: &Prompts,
    seed: u64,
    concurrency: usize,
) -> u64 {
    stream::iter(predictions.iter_mut())
        .map(|p| async move {
            let seed = formats::seed_for(seed, &format!("{}/{}", p.dataset, p.id));
            p.ask_judge(judge, prompts, seed).await
        })
        .buffer_unordered(concurrency.max(1))
        .fold(0, |sum, t| async move { sum + t })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::tests::{echo, prompts};

    fn testdata(name: &str) -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/predictions")
            .join(name)
    }

    #[test]
    fn flashrag_intermediate_data_is_read_with_its_nested_prediction() {
        let (ps, skipped) = rescore(
            &testdata("hotpotqa/intermediate_data.json"),
            &FieldMap::default(),
            Normalization::Squad,
        )
        .unwrap();
        assert_eq!((ps.len(), skipped), (3, 0));
        assert!(
            ps.iter()
                .all(|p| p.dataset == "HotpotQA" && p.method == "intermediate_data")
        );
        let p = &ps[0];
        assert_eq!(p.golds, ["yes"]);
        assert_eq!(p.prediction, "Yes");
        assert_eq!((p.scores.em, p.scores.token_recall), (1.0, 1.0));
        // FlashRAG's own metric_score agrees with ours on every record.
        let raw: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(testdata("hotpotqa/intermediate_data.json")).unwrap(),
        )
        .unwrap();
        for (p, r) in ps.iter().zip(&raw) {
            let theirs = &r["output"]["metric_score"];
            assert_eq!(p.scores.em, theirs["em"].as_f64().unwrap(), "{}", p.id);
            assert!(
                (p.scores.f1 - theirs["f1"].as_f64().unwrap()).abs() < 1e-9,
                "{}",
                p.id
            );
            assert_eq!(p.scores.acc, theirs["acc"].as_f64().unwrap(), "{}", p.id);
        }
    }

    #[test]
    fn r1_searcher_eval_output_and_mapped_fields() {
        let path = testdata("musique_500-qwen-7b_temp0.0.jsonl");
        let (ps, skipped) = rescore(&path, &FieldMap::default(), Normalization::Squad).unwrap();
        assert_eq!((ps.len(), skipped), (3, 0));
        assert_eq!(ps[0].dataset, "MuSiQue");
        assert_eq!(ps[0].id, "1");
        assert_eq!(
            ps[0].golds,
            ["Academy Award for Best Live Action Short Film"]
        );
        let covered: Vec<f64> = ps.iter().map(|p| p.scores.cover_em).collect();
        assert_eq!(covered, [1.0, 0.0, 1.0]);
        assert_eq!(ps[2].end, "finished");
        let mapped = FieldMap {
            prediction: Some("gen_text_store".into()),
            method: Some("R1-Searcher".into()),
            dataset: Some("mine".into()),
            ..FieldMap::default()
        };
        let (ps, _) = rescore(&path, &mapped, Normalization::Squad).unwrap();
        assert_eq!(
            (ps[0].method.as_str(), ps[0].dataset.as_str()),
            ("R1-Searcher", "mine")
        );
        // The last `<answer>` of the whole generation is the prediction.
        assert_eq!(
            ps[0].prediction,
            "Academy Award for Best Live Action Short Film"
        );
        let wrong = FieldMap {
            prediction: Some("nowhere".into()),
            ..FieldMap::default()
        };
        assert!(matches!(
            rescore(&path, &wrong, Normalization::Squad),
            Err(EvalError::UnknownShape { .. })
        ));
    }

    #[tokio::test]
    async fn the_judge_grades_rescored_predictions_and_an_empty_one_is_incorrect_unasked() {
        let (mut ps, _) = rescore(
            &testdata("hotpotqa/intermediate_data.json"),
            &FieldMap::default(),
            Normalization::Squad,
        )
        .unwrap();
        ps[1].prediction.clear();
        let judge = echo();
        let tokens = judge_all(&mut ps, judge.as_ref(), &prompts(), 1, 2).await;
        let verdicts: Vec<Option<bool>> = ps.iter().map(|p| p.judge).collect();
        // "Yes" for yes; nothing; "the Home Rule League party" for The Home Rule League.
        assert_eq!(verdicts, [Some(true), Some(false), Some(true)]);
        assert_eq!((judge.calls(), tokens), (2, 10));
        let summary = crate::Summary::of(&ps);
        let cell = summary.cell("intermediate_data", "HotpotQA").unwrap();
        assert_eq!(cell.judged, 3);
        assert!((cell.judge.unwrap() - 200.0 / 3.0).abs() < 1e-9, "{cell:?}");
    }

    #[test]
    fn our_own_predictions_keep_their_fields() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = crate::summary::tests::prediction("rag-pe", "NQ", "1", "Paris", "Paris");
        p.searches = 3;
        p.scores = Default::default();
        let path = dir.path().join("p.jsonl");
        std::fs::write(&path, serde_json::to_string(&p).unwrap() + "\n").unwrap();
        let (ps, _) = rescore(&path, &FieldMap::default(), Normalization::Squad).unwrap();
        assert_eq!(
            (ps[0].searches, ps[0].scores.em, ps[0].method.as_str()),
            (3, 1.0, "rag-pe")
        );
        // Rescoring under another normalisation scores our own predictions again under it.
        let (ps, _) = rescore(&path, &FieldMap::default(), Normalization::R1Searcher).unwrap();
        assert_eq!(ps[0].scores.normalization, Normalization::R1Searcher);
    }
}
