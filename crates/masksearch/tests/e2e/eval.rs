//! End to end: `masksearch eval` on slices of the five shipped benchmarks (R1-Searcher and
//! FlashRAG shape) with direct, RAG-PE and Agent-PE, against the real local model behind the
//! real `masksearch llm serve` and a real index; a run killed with SIGKILL and resumed;
//! `--rescore` on FlashRAG- and R1-Searcher-style prediction files; the HTML report rendered by
//! headless Chromium. The small model scores low: these tests check structure, counts and
//! resume, never accuracy.

use std::{
    collections::HashSet,
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use crate::common::{Browser, Served, build_index, masksearch, run_ok, testdata};

/// The five shipped benchmarks, three questions each (copies of `../shared/data/benchmarks`).
const BENCHMARKS: [&str; 5] = [
    "benchmarks/hotpotqa_500.first3.jsonl",
    "benchmarks/2wiki_500.first3.jsonl",
    "benchmarks/musique_500.first3.jsonl",
    "benchmarks/bamboogle.first3.jsonl",
    "benchmarks/nq-sample.first3.jsonl",
];

fn predictions(dir: &Path) -> Vec<serde_json::Value> {
    let path = dir.join("predictions.jsonl");
    if !path.exists() {
        return Vec::new();
    }
    fs::read_to_string(path)
        .expect("predictions")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a prediction ({e}): {l}")))
        .collect()
}

fn key(p: &serde_json::Value) -> (String, String, String) {
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    (s("method"), s("dataset"), s("id"))
}

fn eval_args<'a>(index: &'a Path, out: &'a Path, served: &'a str) -> Vec<&'a std::ffi::OsStr> {
    vec![
        "eval".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
        "--index".as_ref(),
        index.as_os_str(),
        "--base-url".as_ref(),
        served.as_ref(),
        "--model-name".as_ref(),
        "smollm2".as_ref(),
        "--limit".as_ref(),
        "1".as_ref(),
        "--today".as_ref(),
        "2026-11-27".as_ref(),
        // The served model decodes one request at a time: more in flight only wait in its
        // queue, and the wait counts against each request's timeout.
        "--concurrency".as_ref(),
        "1".as_ref(),
    ]
}

/// Direct, RAG-PE and Agent-PE on one question of each shipped benchmark: every answer
/// written once with its scores and transcript, the report written, a rerun resumes it all.
/// Then a `direct` run killed with SIGKILL mid-way and rerun loses and duplicates nothing.
#[test]
fn direct_rag_pe_and_agent_pe_on_the_shipped_benchmarks_with_the_local_model() {
    let served = Served::llm();
    let v1 = served.v1();
    let dir = tempfile::tempdir().expect("temp dir");
    let index = build_index(&testdata("wiki18-sample-1000.jsonl"), dir.path());
    let out = dir.path().join("eval");
    let files: Vec<PathBuf> = BENCHMARKS.iter().map(|b| testdata(b)).collect();
    let mut args = eval_args(&index, &out, &v1);
    args.extend(
        [
            "--max-turns",
            "1",
            "--max-tokens",
            "48",
            "--paper-rows",
            "qwen2.5-1.5b",
        ]
        .map(std::ffi::OsStr::new),
    );
    args.extend(files.iter().map(|f| f.as_os_str()));
    let (_, stderr) = run_ok(&args);
    let ps = predictions(&out);
    assert_eq!(ps.len(), 5 * 3, "{stderr}");
    let keys: HashSet<_> = ps.iter().map(key).collect();
    assert_eq!(keys.len(), ps.len(), "each answer once");
    let datasets: HashSet<&str> = ps.iter().filter_map(|p| p["dataset"].as_str()).collect();
    assert_eq!(
        datasets,
        HashSet::from(["HotpotQA", "2Wiki", "MuSiQue", "Bamboogle", "NQ"])
    );
    for p in &ps {
        assert!(p["failed"].is_null(), "{p}");
        assert_eq!(p["model"], "smollm2");
        for score in ["em", "f1", "token_recall", "cover_em"] {
            let v = p["scores"][score].as_f64().expect("score");
            assert!((0.0..=1.0).contains(&v), "{p}");
        }
        let (searches, turns) = (
            p["searches"].as_u64().unwrap(),
            p["turns"].as_u64().unwrap(),
        );
        match p["method"].as_str().unwrap() {
            "direct" => assert_eq!((searches, turns), (0, 1), "{p}"),
            "rag-pe" => {
                assert_eq!((searches, turns), (1, 1), "{p}");
                assert!(
                    p["transcript"].as_str().unwrap().contains("Doc 1(Title:"),
                    "{p}"
                );
            }
            "agent-pe" => {
                assert!(searches <= 1 && (1..=2).contains(&turns), "{p}");
                assert!(
                    p["transcript"].as_str().is_some_and(|t| !t.is_empty()),
                    "{p}"
                );
            }
            other => panic!("unexpected method {other}"),
        }
        assert!(p["prompt_tokens"].as_u64().unwrap() > 0, "{p}");
    }
    assert!(
        stderr.contains("eval: 15 answers (0 failed) over 5 benchmarks"),
        "{stderr}"
    );
    let md = fs::read_to_string(out.join("report.md")).expect("report.md");
    assert!(
        md.contains(
            "| Method | HotpotQA | FanoutQA | MuSiQue | 2Wiki | Bamboogle | FreshQA | NQ | Avg. |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| *RAG-PE — paper, Qwen2.5-1.5B* | 29.45 |"),
        "{md}"
    );
    for row in ["| **Direct** |", "| **RAG-PE** |", "| **Agent-PE** |"] {
        assert!(md.contains(row), "{row}: {md}");
    }
    assert!(out.join("report.html").exists());

    // Everything is written: a rerun resumes it all and asks the model nothing.
    let before = fs::read_to_string(out.join("predictions.jsonl")).unwrap();
    let (_, stderr) = run_ok(&args);
    assert!(stderr.contains("resumed: 15 answers"), "{stderr}");
    assert!(stderr.contains("0 model calls"), "{stderr}");
    assert_eq!(
        fs::read_to_string(out.join("predictions.jsonl")).unwrap(),
        before
    );

    // Killed mid-run, then rerun: what was written stays, the rest is added, nothing twice.
    let killed = dir.path().join("killed");
    let mut args = eval_args(&index, &killed, &v1);
    args.extend(["--methods", "direct"].map(std::ffi::OsStr::new));
    args.extend(files.iter().map(|f| f.as_os_str()));
    let mut child = masksearch()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let waited = Instant::now();
    let written = || {
        fs::read_to_string(killed.join("predictions.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
            .count()
    };
    while written() < 2 {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "nothing written"
        );
        assert!(
            child.try_wait().expect("status").is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let prefix = fs::read_to_string(killed.join("predictions.jsonl")).unwrap();
    let whole_lines = prefix
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        .count();
    let (_, stderr) = run_ok(&args);
    assert!(
        stderr.contains(&format!("resumed: {whole_lines} answers")),
        "{stderr}"
    );
    let after = fs::read_to_string(killed.join("predictions.jsonl")).unwrap();
    let kept: String = prefix
        .lines()
        .take(whole_lines)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        after.starts_with(&kept),
        "the answers written before the kill are kept as written"
    );
    let ps = predictions(&killed);
    let keys: HashSet<_> = ps.iter().map(key).collect();
    assert_eq!((ps.len(), keys.len()), (5, 5), "{after}");
}

/// A FlashRAG `intermediate_data.json` and an R1-Searcher eval JSONL, scored again, in one
/// report; then the R1-Searcher file with its fields named on the command line.
#[test]
fn rescore_reads_flashrag_and_r1_searcher_predictions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flashrag = testdata("predictions/hotpotqa/intermediate_data.json");
    let r1 = testdata("predictions/musique_500-qwen-7b_temp0.0.jsonl");
    let (_, stderr) = run_ok(&[
        "eval".as_ref(),
        "--rescore".as_ref(),
        flashrag.as_os_str(),
        r1.as_os_str(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert!(
        stderr.contains("eval: 6 predictions rescored from 2 files (0 records"),
        "{stderr}"
    );
    let ps = predictions(dir.path());
    assert_eq!(ps.len(), 6);
    let recalls: Vec<f64> = ps
        .iter()
        .map(|p| p["scores"]["token_recall"].as_f64().unwrap())
        .collect();
    assert_eq!(recalls, [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]);
    let md = fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        md.contains("| Method | HotpotQA | MuSiQue | Avg. |"),
        "{md}"
    );
    assert!(
        md.contains("| **intermediate_data** | 66.67 | – | 66.67 |"),
        "{md}"
    );
    assert!(
        md.contains("| **musique_500-qwen-7b_temp0** | – | 66.67 | 66.67 |"),
        "{md}"
    );

    let mapped = dir.path().join("mapped");
    let (_, stderr) = run_ok(&[
        "eval".as_ref(),
        "--rescore".as_ref(),
        r1.as_os_str(),
        "--prediction-field".as_ref(),
        "gen_text_store".as_ref(),
        "--method-label".as_ref(),
        "R1-Searcher".as_ref(),
        "--out".as_ref(),
        mapped.as_os_str(),
    ]);
    assert!(
        stderr.contains("2 predictions rescored from 1 files (1 records without"),
        "{stderr}"
    );
    let ps = predictions(&mapped);
    assert!(ps.iter().all(|p| p["method"] == "R1-Searcher"));
    assert_eq!(
        ps[0]["prediction"],
        "Academy Award for Best Live Action Short Film"
    );
}

/// A file whose question, gold and id fields have other names, mapped by flags: the mapped
/// fields are read even where a field with a usual name holds something else.
#[test]
fn rescore_reads_the_question_gold_and_id_fields_named_by_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bamboogle-run.jsonl");
    let records = [
        serde_json::json!({
            "id": "row-1", "qid": "b7", "question": "decoy", "answer": "Christopher Marlowe",
            "input": {"text": "Who wrote Hamlet?"}, "truth": ["William Shakespeare", "Shakespeare"],
            "prediction": "<answer> Shakespeare </answer>",
        }),
        serde_json::json!({
            "id": "row-2", "qid": "b8", "question": "decoy", "answer": "William Shakespeare",
            "input": {"text": "Who wrote Doctor Faustus?"}, "truth": ["Christopher Marlowe"],
            "prediction": "Marlowe",
        }),
    ];
    let lines: Vec<String> = records.iter().map(|r| r.to_string() + "\n").collect();
    fs::write(&file, lines.concat()).unwrap();
    let out = dir.path().join("out");
    let (_, stderr) = run_ok(&[
        "eval".as_ref(),
        "--rescore".as_ref(),
        file.as_os_str(),
        "--question-field".as_ref(),
        "input.text".as_ref(),
        "--gold-field".as_ref(),
        "truth".as_ref(),
        "--id-field".as_ref(),
        "qid".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        stderr.contains("2 predictions rescored from 1 files (0 records without"),
        "{stderr}"
    );
    let ps = predictions(&out);
    let read: Vec<(&str, &str, f64, f64)> = ps
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["question"].as_str().unwrap(),
                p["scores"]["token_recall"].as_f64().unwrap(),
                p["scores"]["em"].as_f64().unwrap(),
            )
        })
        .collect();
    // The best alias counts: "Shakespeare" is all of one gold; "Marlowe" half of the other.
    assert_eq!(
        read,
        [
            ("b7", "Who wrote Hamlet?", 1.0, 1.0),
            ("b8", "Who wrote Doctor Faustus?", 0.5, 0.0)
        ]
    );
    assert_eq!(
        ps[0]["golds"],
        serde_json::json!(["William Shakespeare", "Shakespeare"])
    );
    let md = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| **bamboogle-run** | 75.00 | 75.00 |"), "{md}");
}

/// The HTML report opened in headless Chromium and measured after layout, as a reader sees it:
/// the paper's table drawn with its rows, and the three charts drawn with marks of real size; a
/// screenshot is kept under target/ for a human to look at.
#[tokio::test(flavor = "multi_thread")]
async fn the_html_report_lays_out_its_table_and_charts_in_headless_chromium() {
    let dir = tempfile::tempdir().expect("temp dir");
    run_ok(&[
        "eval".as_ref(),
        "--rescore".as_ref(),
        testdata("predictions/hotpotqa/intermediate_data.json").as_os_str(),
        testdata("predictions/musique_500-qwen-7b_temp0.0.jsonl").as_os_str(),
        "--paper-rows".as_ref(),
        "qwen2.5-7b".as_ref(),
        "--out".as_ref(),
        dir.path().as_os_str(),
    ]);
    let b = Browser::start().await;
    b.goto(&format!(
        "file://{}",
        dir.path().join("report.html").display()
    ))
    .await;
    let rows = b.wait_for("table.booktabs.table2 tbody tr", 10).await;
    assert!(
        rows.iter()
            .any(|r| r.contains("Agent-PE — paper, Qwen2.5-7B")),
        "{rows:?}"
    );
    let layout = b
        .client
        .execute(
            "const box = e => e.getBoundingClientRect(); \
             const table = document.querySelector('table.booktabs.table2'); \
             const rows = [...table.querySelectorAll('tbody tr')].map(r => box(r).height); \
             const charts = [...document.querySelectorAll('svg.chart')].map(c => { \
               const bars = [...c.querySelectorAll('.bar, circle')].map(b => [box(b).width, box(b).height]); \
               return [box(c).width, box(c).height, bars]; }); \
             return [box(table).width, rows, charts];",
            vec![],
        )
        .await
        .expect("layout");
    type Chart = (f64, f64, Vec<(f64, f64)>);
    let (width, rows, charts): (f64, Vec<f64>, Vec<Chart>) =
        serde_json::from_value(layout).expect("numbers");
    assert!(width > 400.0, "the table is drawn: {width}");
    assert!(
        rows.len() >= 4 && rows.iter().all(|h| *h > 10.0),
        "{rows:?}"
    );
    assert_eq!(charts.len(), 3, "{charts:?}");
    for (w, h, bars) in &charts {
        assert!(*w > 200.0 && *h > 100.0, "a chart drawn: {w} × {h}");
        assert!(!bars.is_empty(), "{charts:?}");
        // Bars, or the points of the recall-by-searches chart. A bar of a zero value (rescored
        // answers made no search) has no height, but a width.
        assert!(
            bars.iter()
                .all(|(bw, bh)| *bw > 1.0 && (0.0..*h).contains(bh)),
            "bars inside their chart: {bars:?}"
        );
    }
    let drawn = charts.iter().flat_map(|c| &c.2).filter(|(_, bh)| *bh > 1.0);
    assert!(drawn.count() >= 4, "bars of real size: {charts:?}");
    b.screenshot("eval-report").await;
    b.stop().await;
}

/// The LLM judge on the real local model: with `--judge` every answered question is graded by a
/// model call (its tokens counted in the manifest), and the verdict, when the small model gives
/// a clear one, is recorded; without `--judge` no call is made.
#[test]
fn the_judge_grades_answers_with_the_real_local_model() {
    let served = Served::llm();
    let v1 = served.v1();
    let dir = tempfile::tempdir().expect("temp dir");
    let index = build_index(&testdata("wiki18-sample-1000.jsonl"), dir.path());
    let benchmark = testdata(BENCHMARKS[0]);
    let mut tokens = Vec::new();
    for judged in [false, true] {
        let out = dir.path().join(format!("judged-{judged}"));
        let mut args = eval_args(&index, &out, &v1);
        args.extend(["--methods", "direct", "--max-tokens", "24"].map(std::ffi::OsStr::new));
        if judged {
            args.push("--judge".as_ref());
        }
        args.push(benchmark.as_os_str());
        run_ok(&args);
        let manifest: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(out.join("predictions.jsonl.manifest.json")).expect("manifest"),
        )
        .expect("JSON");
        tokens.push(
            manifest["counts"]["judge_tokens"]
                .as_u64()
                .expect("judge tokens"),
        );
        for p in predictions(&out) {
            let answered = !p["prediction"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .is_empty();
            if !judged {
                assert!(p["judge"].is_null(), "{p}");
            } else if !answered {
                assert_eq!(
                    p["judge"], false,
                    "an empty answer is incorrect unasked: {p}"
                );
            }
        }
    }
    assert_eq!(tokens[0], 0, "no judge without --judge");
    assert!(tokens[1] > 0, "the judge was asked: {tokens:?}");
}

/// An endpoint that answers 200 with garbage: every answer is a counted, named failure, the run
/// goes on to its end, and the summary line gives the endpoint's requests, retries and failure
/// rate.
#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_answering_garbage_fails_each_answer_by_name_and_the_summary_says_how_often() {
    let garbage = retry::stand_in::StandIn::always("<html>not a completion</html>").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("eval");
    let base_url = format!("{}/v1", garbage.url);
    let bench = testdata("benchmarks/hotpotqa_500.first3.jsonl");
    let run = masksearch()
        .args(["eval".as_ref(), bench.as_os_str()])
        .args(["--methods", "direct", "--limit", "2", "--model-name", "x"])
        .args(["--base-url", &base_url])
        .args(["--out".as_ref(), out.as_os_str()])
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let answers = predictions(&out);
    assert_eq!(answers.len(), 2);
    for a in &answers {
        let why = a["failed"].as_str().unwrap_or_default();
        assert!(why.contains(&garbage.url) && why.contains("JSON"), "{a}");
    }
    assert!(stderr.contains("2 answers (2 failed)"), "{stderr}");
    // Four attempts per call, the first three retried.
    assert!(
        stderr.contains("endpoints: 8 requests, 6 retries, 2 of 2 calls failed (100.0%)"),
        "{stderr}"
    );
    assert_eq!(garbage.received().len(), 8);
}
