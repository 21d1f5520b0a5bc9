//! Benchmark loaders: the files people have, read into `formats::QaExample`s with every gold
//! alias kept.
//!
//! The shape is read from the content, not from flags:
//! - JSONL (one object a line): FlashRAG `{"id","question","golden_answers"}`, R1-Searcher
//!   `{"idx","question","answer"}`, MuSiQue `{"id","question","answer","answer_aliases"}`;
//! - a JSON array: the native HotpotQA and 2WikiMultihopQA dev files (`_id`, `question`,
//!   `answer`, `type`, …) and FanOutQA's dev file (`answer` a string, number, boolean, list or
//!   entity → value object, flattened as FanOutQA's own `str_answer` does);
//! - CSV: FreshQA (`answer_0`…`answer_9`, the `false_premise` column kept as
//!   `metadata.false_premise`; preamble rows before the header are skipped) or any file with a
//!   `question` and an `answer` column (Bamboogle's release).

use std::path::{Path, PathBuf};

use formats::QaExample;
use serde_json::{Map, Value, json};

use crate::EvalError;

/// The canonical names of the paper's six benchmarks, in the order of its Table 2.
pub const PAPER_DATASETS: [&str; 6] = [
    "HotpotQA",
    "FanoutQA",
    "MuSiQue",
    "2Wiki",
    "Bamboogle",
    "FreshQA",
];

/// One benchmark file, read.
#[derive(Debug, Clone)]
pub struct Benchmark {
    /// The dataset's name in reports (`HotpotQA`, `2Wiki`, … or the file's stem).
    pub name: String,
    pub path: PathBuf,
    pub questions: Vec<QaExample>,
    /// Records with no question or no answer, skipped and counted.
    pub bad_records: u64,
}

/// Reads the benchmark at `path`, named `name` (or after its file), keeping the first `limit`
/// questions.
pub fn load(path: &Path, name: Option<&str>, limit: Option<usize>) -> Result<Benchmark, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (mut questions, bad_records) = if is_csv {
        from_csv(path, &text)?
    } else {
        from_json(path, &text)?
    };
    if let Some(n) = limit {
        questions.truncate(n);
    }
    Ok(Benchmark {
        name: name.map_or_else(|| dataset_name(path), str::to_string),
        path: path.to_path_buf(),
        questions,
        bad_records,
    })
}

/// The dataset a file holds, by its name: `hotpot_dev_distractor_v1.json` → `HotpotQA`,
/// `2wiki_500.jsonl` → `2Wiki`; a file of no known benchmark keeps its stem.
pub fn dataset_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let known = [
        ("hotpot", "HotpotQA"),
        ("fanout", "FanoutQA"),
        ("musique", "MuSiQue"),
        ("2wiki", "2Wiki"),
        ("bamboogle", "Bamboogle"),
        ("fresh", "FreshQA"),
    ];
    if let Some((_, name)) = known.iter().find(|(needle, _)| file.contains(needle)) {
        return name.to_string();
    }
    let stem = file.split('.').next().unwrap_or(&file);
    if stem == "nq" || stem.starts_with("nq-") || stem.starts_with("nq_") {
        return "NQ".to_string();
    }
    stem.to_string()
}

/// The records of a JSON array, or of JSONL (blank lines skipped; a line that is not JSON is
/// `None`, for the caller to count).
pub(crate) fn json_records(path: &Path, text: &str) -> Result<Vec<Option<Value>>, EvalError> {
    if text.trim_start().starts_with('[') {
        let all: Vec<Value> = serde_json::from_str(text).map_err(|e| EvalError::UnknownShape {
            path: path.to_path_buf(),
            message: format!("not a JSON array of records: {e}"),
        })?;
        Ok(all.into_iter().map(Some).collect())
    } else {
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}

/// JSONL or a JSON array of records.
fn from_json(path: &Path, text: &str) -> Result<(Vec<QaExample>, u64), EvalError> {
    let records = json_records(path, text)?;
    let mut questions = Vec::new();
    let mut bad = 0;
    for (n, record) in records.iter().enumerate() {
        match record.as_ref().and_then(|r| question(r, n as u64 + 1)) {
            Some(q) => questions.push(q),
            None => bad += 1,
        }
    }
    Ok((questions, bad))
}

/// One JSON record of any known shape; `None` when it has no question or no answer.
pub fn question(record: &Value, line: u64) -> Option<QaExample> {
    let obj = record.as_object()?;
    if obj.contains_key("decomposition") {
        return fanout(obj, line);
    }
    let mut example = QaExample::from_record(record, line)?;
    if let Some(aliases) = obj.get("answer_aliases").and_then(Value::as_array) {
        for alias in aliases.iter().filter_map(Value::as_str) {
            if !alias.trim().is_empty() && !example.golden_answers.iter().any(|g| g == alias) {
                example.golden_answers.push(alias.to_string());
            }
        }
    }
    if example.metadata.is_null() {
        // Native releases: keep the small descriptive fields, never the contexts.
        let kept: Map<String, Value> = ["type", "level", "answerable"]
            .iter()
            .filter_map(|k| Some((k.to_string(), obj.get(*k)?.clone())))
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .collect();
        if !kept.is_empty() {
            example.metadata = Value::Object(kept);
        }
    }
    Some(example)
}

/// A FanOutQA record: its structured answer flattened into one gold string.
fn fanout(obj: &Map<String, Value>, line: u64) -> Option<QaExample> {
    let question = obj.get("question")?.as_str()?.trim().to_string();
    let answer = obj.get("answer")?;
    let gold = flatten(answer);
    if question.is_empty() || gold.trim().is_empty() {
        return None;
    }
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .map_or_else(|| line.to_string(), str::to_string);
    Some(QaExample {
        id,
        question,
        golden_answers: vec![gold],
        metadata: json!({ "answer": answer, "categories": obj.get("categories") }),
    })
}

/// FanOutQA's `str_answer`: list items one a line, `key - value` lines for an object (keys
/// sorted: the order does not change a token score), booleans as yes / no.
fn flatten(answer: &Value) -> String {
    match answer {
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(flatten).collect::<Vec<_>>().join("\n"),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k} - {}", flatten(v)))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// FreshQA's CSV, or any CSV with `question` and `answer` columns.
fn from_csv(path: &Path, text: &str) -> Result<(Vec<QaExample>, u64), EvalError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> =
        reader
            .records()
            .collect::<Result<_, _>>()
            .map_err(|e| EvalError::UnknownShape {
                path: path.to_path_buf(),
                message: format!("not CSV: {e}"),
            })?;
    // Sheet exports put notes above the header: the header is the first row with a question column.
    let is_header = |row: &csv::StringRecord| {
        row.iter()
            .any(|c| c.trim().eq_ignore_ascii_case("question"))
    };
    let Some(start) = rows.iter().position(is_header) else {
        return Err(EvalError::UnknownShape {
            path: path.to_path_buf(),
            message: "no header row with a `question` column".into(),
        });
    };
    let header: Vec<String> = rows[start]
        .iter()
        .map(|c| c.trim().to_lowercase())
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    let question_at = column("question").unwrap_or_default();
    let answer_columns: Vec<usize> = match column("answer") {
        Some(i) => vec![i],
        None => (0..10)
            .filter_map(|i| column(&format!("answer_{i}")))
            .collect(),
    };
    if answer_columns.is_empty() {
        return Err(EvalError::UnknownShape {
            path: path.to_path_buf(),
            message: "no `answer` or `answer_0` column".into(),
        });
    }
    let (id_at, premise_at) = (column("id"), column("false_premise"));
    let described: Vec<(usize, &String)> = ["split", "fact_type", "num_hops", "effective_year"]
        .iter()
        .filter_map(|k| Some((column(k)?, &header[column(k)?])))
        .collect();
    let mut questions = Vec::new();
    let mut bad = 0;
    for (n, row) in rows[start + 1..].iter().enumerate() {
        let cell = |i: usize| row.get(i).unwrap_or("").trim();
        let golds: Vec<String> = answer_columns
            .iter()
            .map(|&i| cell(i).to_string())
            .filter(|a| !a.is_empty())
            .collect();
        let text = cell(question_at);
        if text.is_empty() || golds.is_empty() {
            bad += u64::from(row.iter().any(|c| !c.trim().is_empty()));
            continue;
        }
        let mut metadata: Map<String, Value> = described
            .iter()
            .map(|(i, k)| (k.to_string(), Value::String(cell(*i).to_string())))
            .collect();
        if let Some(i) = premise_at {
            metadata.insert(
                "false_premise".into(),
                Value::Bool(cell(i).eq_ignore_ascii_case("true")),
            );
        }
        let id = id_at
            .map(cell)
            .filter(|id| !id.is_empty())
            .map_or_else(|| (n + 1).to_string(), str::to_string);
        questions.push(QaExample {
            id,
            question: text.to_string(),
            golden_answers: golds,
            metadata: if metadata.is_empty() {
                Value::Null
            } else {
                Value::Object(metadata)
            },
        });
    }
    Ok((questions, bad))
}

/// Whether a question is marked as resting on a false premise (FreshQA).
pub fn false_premise(example: &QaExample) -> bool {
    example
        .metadata
        .get("false_premise")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/benchmarks")
            .join(name)
    }

    /// Loads `file` and checks its name, the (id, question start, golds) of its first record
    /// and how many questions it holds.
    fn check(file: &str, name: &str, n: usize, first: (&str, &str, &[&str])) {
        let b = load(&testdata(file), None, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(b.name, name, "{file}");
        assert_eq!(b.questions.len(), n, "{file}");
        assert_eq!(b.bad_records, 0, "{file}");
        let q = &b.questions[0];
        assert_eq!(q.id, first.0, "{file}");
        assert!(q.question.starts_with(first.1), "{file}: {}", q.question);
        assert_eq!(q.golden_answers, first.2, "{file}");
    }

    #[test]
    fn reads_the_shipped_benchmarks_in_r1_searcher_and_flashrag_shape() {
        check(
            "hotpotqa_500.first3.jsonl",
            "HotpotQA",
            3,
            ("1", "In the 1973 NFL season", &["Kauffman Stadium"]),
        );
        check(
            "2wiki_500.first3.jsonl",
            "2Wiki",
            3,
            ("1", "Who is Ahmose-Henutemipet's", &["Tetisheri"]),
        );
        check(
            "musique_500.first3.jsonl",
            "MuSiQue",
            3,
            (
                "1",
                "What was the director of Addicted to Love",
                &["Academy Award for Best Live Action Short Film"],
            ),
        );
        check(
            "bamboogle.first3.jsonl",
            "Bamboogle",
            3,
            ("1", "Who was president", &["james madison"]),
        );
        check(
            "nq-sample.first3.jsonl",
            "NQ",
            3,
            (
                "test_0",
                "who got the first nobel",
                &["Wilhelm Conrad Röntgen"],
            ),
        );
    }

    #[test]
    fn reads_native_hotpotqa_and_2wiki_dev_files_without_their_contexts() {
        check(
            "hotpot_dev_distractor_v1.first2.json",
            "HotpotQA",
            2,
            (
                "5a8b57f25542995d1e6f1371",
                "Were Scott Derrickson and Ed Wood",
                &["yes"],
            ),
        );
        let b = load(
            &testdata("hotpot_dev_distractor_v1.first2.json"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            b.questions[0].metadata,
            json!({"type": "comparison", "level": "hard"})
        );
        check(
            "2wiki_dev.handwritten.json",
            "2Wiki",
            2,
            (
                "8813f87c0bdd11eba7f7acde48001122",
                "Who is the paternal grandmother",
                &["Tetisheri"],
            ),
        );
    }

    #[test]
    fn musique_keeps_its_aliases() {
        check(
            "musique_ans_dev.handwritten.jsonl",
            "MuSiQue",
            2,
            (
                "2hop__153573_109006",
                "What was the director",
                &[
                    "Academy Award for Best Live Action Short Film",
                    "Oscar for Best Live Action Short Film",
                ],
            ),
        );
    }

    #[test]
    fn fanoutqa_answers_are_flattened_like_its_str_answer() {
        let b = load(&testdata("fanout-final-dev.4.json"), None, None).unwrap();
        assert_eq!(b.name, "FanoutQA");
        let golds: Vec<&str> = b
            .questions
            .iter()
            .map(|q| q.golden_answers[0].as_str())
            .collect();
        assert_eq!(
            golds[0],
            "Corey Patterson - Left\nJD Drew - Left\nJeff Austin - Right\nMark Mulder - Left\nPat Burrell - Right"
        );
        assert!(golds[1].starts_with("Patty Murray\nMaria Cantwell\n"));
        assert_eq!(&golds[2..], ["no", "4"]);
        assert_eq!(b.questions[0].id, "7dcbbbdc7f1120cd");
        assert!(b.questions[0].metadata["answer"].is_object());
    }

    #[test]
    fn freshqa_skips_the_preamble_keeps_every_answer_and_marks_false_premises() {
        let b = load(&testdata("freshqa.handwritten.csv"), None, None).unwrap();
        assert_eq!(b.name, "FreshQA");
        let got: Vec<(&str, Vec<String>, bool)> = b
            .questions
            .iter()
            .map(|q| (q.id.as_str(), q.golden_answers.clone(), false_premise(q)))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "0",
                    vec!["No animal has ever landed on the moon.".to_string()],
                    true
                ),
                (
                    "1",
                    vec!["India".to_string(), "the Republic of India".to_string()],
                    false
                ),
                (
                    "2",
                    vec![
                        "Toni Morrison".to_string(),
                        "Chloe Anthony Wofford Morrison".to_string()
                    ],
                    false
                ),
            ]
        );
        assert_eq!(b.questions[2].question, "Who wrote the novel \"Beloved\"?");
        assert_eq!(b.questions[1].metadata["fact_type"], "slow-changing");
    }

    #[test]
    fn bamboogle_csv_and_limits() {
        let b = load(&testdata("bamboogle.handwritten.csv"), None, Some(1)).unwrap();
        assert_eq!(b.name, "Bamboogle");
        assert_eq!(b.questions.len(), 1);
        assert_eq!(b.questions[0].golden_answers, ["james madison"]);
        let named = load(&testdata("bamboogle.handwritten.csv"), Some("mine"), None).unwrap();
        assert_eq!((named.name.as_str(), named.questions.len()), ("mine", 2));
    }

    #[test]
    fn unknown_shapes_and_bad_records() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("x.csv");
        std::fs::write(&csv, "a,b\n1,2\n").unwrap();
        assert!(matches!(
            load(&csv, None, None),
            Err(EvalError::UnknownShape { .. })
        ));
        let jsonl = dir.path().join("x.jsonl");
        std::fs::write(
            &jsonl,
            "{\"question\": \"q\", \"answer\": \"a\"}\nnot json\n{\"question\": \"q\"}\n",
        )
        .unwrap();
        let b = load(&jsonl, None, None).unwrap();
        assert_eq!(
            (b.questions.len(), b.bad_records, b.name.as_str()),
            (1, 2, "x")
        );
    }
}
