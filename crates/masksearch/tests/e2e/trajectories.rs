//! End to end: `masksearch trajectories` on real RAMP samples (made by `masksearch ramp` from
//! the demo corpus of Wikipedia summaries) and real benchmark questions, with the real index,
//! and — for the model teachers — the real local model behind the real `masksearch llm serve`.
//! The small model's answers are usually wrong: these tests check structure, accounting,
//! rejection reasons and resume, never accuracy.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use crate::common::{
    Served, asset, head, index_and_samples, kill_while_reading, masksearch, run_ok, testdata,
};
use formats::{Rejection, StepKind, Teacher, Trajectory};

/// The demo corpus (10,033 Wikipedia lead summaries) as passages, an index over them, and the
/// first 300 RAMP samples made from them.
struct Data {
    _dir: tempfile::TempDir,
    index: PathBuf,
    ramp: PathBuf,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let (index, all) = index_and_samples(&asset("corpus/wiki-summaries.jsonl"), dir.path());
        let ramp = head(&all, &dir.path().join("ramp.jsonl"), 300);
        Data {
            _dir: dir,
            index,
            ramp,
        }
    })
}

fn read(path: &Path) -> Vec<Trajectory> {
    if !path.exists() {
        return Vec::new();
    }
    fs::read_to_string(path)
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a trajectory ({e}): {l}")))
        .collect()
}

fn trajectories(input: &Path, out: &Path, extra: &[&str]) -> (String, String) {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "trajectories".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--index".as_ref(),
        data().index.as_os_str(),
        "--today".as_ref(),
        "2026-11-27".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    run_ok(&args)
}

/// Every record, accepted or not, is whole and consistent.
fn check_record(t: &Trajectory) {
    assert_eq!(t.accepted, t.rejection.is_none(), "{}", t.id);
    let roles: Vec<&str> = t.chatml.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(&roles[..2], ["system", "user"], "{}", t.id);
    assert!(t.chatml.messages[0].content.contains("Current time:"));
    assert_eq!(t.chatml.messages[1].content, t.task.query);
    assert!(t.chatml.ext.get("response_acc").is_some(), "{}", t.id);
    let searched: u64 = t
        .steps
        .iter()
        .filter(|s| matches!(s.kind, StepKind::Search | StepKind::Rule))
        .count() as u64;
    assert_eq!(t.search.calls, searched, "{}", t.id);
    let tokens: u64 = t
        .steps
        .iter()
        .map(|s| s.prompt_tokens + s.completion_tokens)
        .sum();
    assert_eq!(
        t.usage.prompt_tokens + t.usage.completion_tokens,
        tokens,
        "{}",
        t.id
    );
    if t.accepted {
        assert!(t.answer.is_some(), "{}", t.id);
    } else {
        assert!(!t.detail.is_empty(), "{}: a rejection says why", t.id);
    }
}

/// Each mask of a rule-teacher trajectory is filled from a quoted sentence, and that sentence is
/// in the document the thinking names, in the information block right before it; the answer
/// is the passage filled with those spans, and `masks_recovered` is computed from it.
fn check_grounded(t: &Trajectory) {
    // Each thinking after an information block, with that block.
    let pieces: Vec<&str> = t.transcript.split("</information>").collect();
    let mut claimed = vec![false; t.task.masks.len()];
    for (before, after) in pieces.iter().zip(&pieces[1..]) {
        let block = &before[before.rfind("<information>").expect("an opening tag")..];
        let docs = student::observation::shown_docs(block);
        let thinking = after.split("<information>").next().unwrap_or("");
        for claim in thinking.split("Doc ").skip(1) {
            let Some((n, rest)) = claim.split_once(" reads \"") else {
                continue;
            };
            let (quote, rest) = rest.split_once("\", which matches ").expect("a claim");
            let (_, mask) = rest.split_once("so mask ").expect("the mask it fills");
            let (m, span) = mask.split_once(" is \"").expect("its span");
            let span = &span[..span.find('"').expect("a closing quote")];
            let (n, m): (usize, usize) = (n.parse().expect("doc"), m.parse().expect("mask"));
            let doc = &docs[n - 1];
            let quoted = quote.trim_start_matches("… ").trim_end_matches(" …");
            assert!(
                doc.text.contains(quoted),
                "{}: doc {n} lacks {quote:?}",
                t.id
            );
            assert!(quoted.contains(span), "{}: {span:?} not in {quote:?}", t.id);
            assert_eq!(span, t.task.masks[m - 1], "{}: mask {m}", t.id);
            claimed[m - 1] = true;
        }
    }
    assert!(claimed.iter().all(|&c| c), "{}: {:?}", t.id, t.transcript);
    let answer = t.answer.as_deref().expect("an answer");
    let scored = metrics::score_masks_aligned(&t.task.masks, &t.task.query, answer);
    let recovered: Vec<bool> = scored.masks.iter().map(|m| m.recovered).collect();
    assert_eq!(recovered, t.verdict.masks_recovered, "{}", t.id);
}

#[test]
fn the_rule_teacher_makes_grounded_trajectories_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("rule.jsonl");
    let (_, stderr) = trajectories(&data().ramp, &out, &["--teacher", "rule"]);
    let accepted = read(&out);
    let rejected = read(&dir.path().join("rule.rejected.jsonl"));
    let samples = fs::read_to_string(&data().ramp)
        .expect("ramp")
        .lines()
        .count();
    assert_eq!(
        accepted.len() + rejected.len(),
        samples,
        "every sample is written once"
    );
    assert!(
        accepted.len() * 10 >= samples * 8,
        "{} of {samples} accepted: {stderr}",
        accepted.len()
    );
    assert!(
        stderr.contains(&format!("trajectories: {} accepted", accepted.len())),
        "{stderr}"
    );
    for t in &accepted {
        check_record(t);
        assert_eq!(t.teacher, Teacher::Rule);
        assert!(t.verdict.masks_recovered.iter().all(|&r| r), "{}", t.id);
        assert!(
            metrics::check_format(&t.transcript).is_ok(),
            "{}",
            t.transcript
        );
        check_grounded(t);
        assert!(t.search.backend.starts_with("bm25:"));
        assert!(!t.search.simulated);
    }
    for t in &rejected {
        check_record(t);
        assert_eq!(
            t.rejection,
            Some(Rejection::NotGrounded),
            "{}: {}",
            t.id,
            t.detail
        );
    }
    let manifest = formats::RunManifest::load(&formats::RunManifest::path_for(&out))
        .expect("manifest")
        .expect("written");
    assert!(manifest.complete);
    assert_eq!(manifest.counts["accepted"], accepted.len() as u64);
    // Shards put together equal the whole run, for a deterministic teacher.
    let mut union = BTreeSet::new();
    for shard in ["0/2", "1/2"] {
        let o = dir.path().join(format!("shard{}.jsonl", &shard[..1]));
        trajectories(&data().ramp, &o, &["--teacher", "rule", "--shard", shard]);
        for t in read(&o) {
            assert!(
                union.insert(
                    serde_json::to_string(&Trajectory {
                        ms: 0,
                        steps: vec![],
                        ..t
                    })
                    .unwrap()
                )
            );
        }
    }
    let whole: BTreeSet<String> = accepted
        .into_iter()
        .map(|t| {
            serde_json::to_string(&Trajectory {
                ms: 0,
                steps: vec![],
                ..t
            })
            .unwrap()
        })
        .collect();
    assert_eq!(union, whole);
}

/// Killed with SIGKILL after its 20th record, while it waits for more input, then resumed: the
/// outputs equal an uninterrupted run's.
#[cfg(unix)]
#[test]
fn a_killed_run_resumes_without_losing_or_duplicating() {
    let dir = tempfile::tempdir().expect("temp dir");
    let all = head(&data().ramp, &dir.path().join("all.jsonl"), 60);
    let whole = dir.path().join("whole.jsonl");
    trajectories(&all, &whole, &["--teacher", "rule"]);

    let input = dir.path().join("input.jsonl");
    let out = dir.path().join("part.jsonl");
    let mut cmd = masksearch();
    cmd.args([
        "trajectories",
        "--teacher",
        "rule",
        "--today",
        "2026-11-27",
        "--input",
    ])
    .arg(&input)
    .arg("--out")
    .arg(&out)
    .arg("--index")
    .arg(&data().index);
    let first: String = fs::read_to_string(&all)
        .expect("input")
        .lines()
        .take(20)
        .map(|l| format!("{l}\n"))
        .collect();
    let rejected = dir.path().join("part.rejected.jsonl");
    let written = || read(&out).len() + read(&rejected).len();
    kill_while_reading(cmd, &input, first.as_bytes(), || written() >= 20);
    // The same input path, now the whole file.
    fs::remove_file(&input).expect("remove fifo");
    fs::copy(&all, &input).expect("input");
    let (_, stderr) = trajectories(&input, &out, &["--teacher", "rule"]);
    assert!(stderr.contains("resumed: 20 records"), "{stderr}");
    let strip = |ts: Vec<Trajectory>| -> Vec<Trajectory> {
        ts.into_iter()
            .map(|t| Trajectory {
                ms: 0,
                steps: vec![],
                ..t
            })
            .collect()
    };
    assert_eq!(strip(read(&out)), strip(read(&whole)));
    assert_eq!(
        strip(read(&rejected)),
        strip(read(&dir.path().join("whole.rejected.jsonl")))
    );
}

/// A RAMP sample and a benchmark question in one file, through the paper's multi-agent
/// teacher and through one model in the student format (both ways of talking to it), on the
/// real local model: each role's prompt reaches the model (the multi-agent teacher's sampled
/// calls, seeded per sample, as the default), and a second run is answered wholly from the
/// first run's response cache — no model call is sent — with the same transcripts.
#[test]
fn model_teachers_run_on_the_real_local_model() {
    let served = Served::llm();
    let dir = tempfile::tempdir().expect("temp dir");
    let mixed = dir.path().join("mixed.jsonl");
    let ramp = fs::read_to_string(&data().ramp).expect("ramp");
    let question = fs::read_to_string(testdata("hotpotqa_500.jsonl")).expect("questions");
    fs::write(
        &mixed,
        format!(
            "{}\n{}\n",
            ramp.lines().next().unwrap(),
            question.lines().next().unwrap()
        ),
    )
    .expect("write");
    let base = served.v1();
    let model = [
        "--base-url",
        &base,
        "--model-name",
        "smollm2",
        "--max-turns",
        "2",
        "--max-tokens",
        "48",
    ];
    let runs = [
        ("multi-agent", "turns"),
        ("agent", "continuation"),
        ("agent", "turns"),
    ];
    for (teacher, mode) in runs {
        let out = dir.path().join(format!("{teacher}-{mode}.jsonl"));
        let mut args = vec![
            "--teacher",
            teacher,
            "--mode",
            mode,
            "--accept",
            "both",
            "--threshold",
            "0.5",
        ];
        args.extend(model);
        let (_, stderr) = trajectories(&mixed, &out, &args);
        let rejected = out.with_extension("rejected.jsonl");
        let all: Vec<Trajectory> = read(&out).into_iter().chain(read(&rejected)).collect();
        assert_eq!(all.len(), 2, "{teacher} {mode}: {stderr}");
        for t in &all {
            check_record(t);
            assert!(
                t.usage.model_calls >= 1 && t.usage.prompt_tokens > 0,
                "{t:?}"
            );
            assert_eq!(t.model, "smollm2");
            let kinds: Vec<StepKind> = t.steps.iter().map(|s| s.kind).collect();
            match teacher {
                // The Planner, then the Rewriter on its step (a planned sub-question or not).
                "multi-agent" => assert_eq!(
                    kinds[..2],
                    [StepKind::Planner, StepKind::Rewriter],
                    "{}",
                    t.id
                ),
                _ => assert_eq!(kinds[0], StepKind::Model, "{}", t.id),
            }
            let calls = kinds
                .iter()
                .filter(|k| !matches!(k, StepKind::Search | StepKind::Rule))
                .count() as u64;
            assert_eq!(
                t.usage.model_calls, calls,
                "one call per model step: {}",
                t.id
            );
            if let Some(rejection) = t.rejection {
                assert!(
                    matches!(
                        rejection,
                        Rejection::Format
                            | Rejection::MaxTurns
                            | Rejection::Judge
                            | Rejection::Metric
                            | Rejection::ModelError
                    ),
                    "{rejection:?}"
                );
            }
            for step in t.steps.iter().filter(|s| s.kind == StepKind::Search) {
                assert!(step.queries.iter().all(|q| !q.trim().is_empty()));
                assert!(step.text.contains("<information>"));
            }
        }
        // A second run with the first run's response cache replays it exactly.
        let again = dir.path().join(format!("again-{teacher}-{mode}.jsonl"));
        let cache = format!("{}.llm-cache.redb", out.display());
        let mut args = vec![
            "--teacher",
            teacher,
            "--mode",
            mode,
            "--accept",
            "both",
            "--threshold",
            "0.5",
            "--cache",
            &cache,
        ];
        args.extend(model);
        let (_, again_err) = trajectories(&mixed, &again, &args);
        let calls: u64 = all.iter().map(|t| t.usage.model_calls).sum();
        assert!(
            again_err.contains(&format!(
                "; {calls} model calls ({calls} from the response cache)"
            )),
            "{teacher} {mode}: {again_err}"
        );
        let transcripts = |main: &Path| -> Vec<(String, String)> {
            read(main)
                .into_iter()
                .chain(read(&main.with_extension("rejected.jsonl")))
                .map(|t| (t.id, t.transcript))
                .collect()
        };
        assert_eq!(transcripts(&out), transcripts(&again), "{teacher} {mode}");
    }
    // Starting over starts the run's own cache over: nothing is replayed (the answers of a model
    // served earlier under the same name must not pass for this one's).
    let out = dir.path().join("agent-turns.jsonl");
    let mut args = vec!["--teacher", "agent", "--overwrite"];
    args.extend(model);
    let (_, stderr) = trajectories(&mixed, &out, &args);
    assert!(stderr.contains("(0 from the response cache)"), "{stderr}");
}

/// `--stop` and `--template` are settings of an agent run: the manifest records them and a
/// resume with another template is refused; a template without {question} is refused before
/// anything is written. (An empty input: the endpoint is never called.)
#[test]
fn stop_sequences_and_the_prompt_template_are_settings_of_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.jsonl");
    fs::write(&empty, "").expect("input");
    let template = dir.path().join("template.txt");
    fs::write(&template, "Search, then answer.\nQuestion: {question}\n").expect("template");
    let template = template.to_str().expect("a UTF-8 path");
    let agent = [
        "--teacher",
        "agent",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model-name",
        "unused",
        "--stop",
        "\nUser:",
        "--stop",
        "###",
    ];
    let out = dir.path().join("agent.jsonl");
    trajectories(
        &empty,
        &out,
        &[&agent[..], &["--template", template]].concat(),
    );
    let manifest = formats::RunManifest::load(&formats::RunManifest::path_for(&out))
        .expect("manifest")
        .expect("written");
    assert_eq!(
        manifest.config["stops"],
        serde_json::json!(["</search>", "</answer>", "\nUser:", "###"])
    );
    let fails = |out: &Path, extra: &[&str]| -> String {
        let output = masksearch()
            .args(["trajectories", "--today", "2026-11-27", "--input"])
            .arg(&empty)
            .arg("--out")
            .arg(out)
            .arg("--index")
            .arg(&data().index)
            .args(agent)
            .args(extra)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        stderr
    };
    let stderr = fails(&out, &[]);
    assert!(
        stderr.contains("different settings (template: was"),
        "{stderr}"
    );

    let bad = dir.path().join("bad.txt");
    fs::write(&bad, "Answer the question.").expect("template");
    let fresh = dir.path().join("bad.jsonl");
    let stderr = fails(&fresh, &["--template", bad.to_str().expect("a UTF-8 path")]);
    assert!(stderr.contains("bad.txt"), "{stderr}");
    assert!(stderr.contains("no {question} placeholder"), "{stderr}");
    assert!(!fresh.exists());
}

/// `--search web` through a local stand-in for SerpAPI that answers with a recorded response:
/// the key travels only in the request, never into the output or the messages.
#[test]
fn web_search_goes_through_serpapi_and_keeps_the_key_secret() {
    use std::sync::{Arc, Mutex};
    let recorded = fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../backends/testdata/serpapi-google.json"),
    )
    .expect("recorded SerpAPI body");
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on({
        let seen = Arc::clone(&seen);
        async move {
            let app = axum::Router::new().route(
                "/search.json",
                axum::routing::get(move |uri: axum::http::Uri| {
                    let (seen, recorded) = (Arc::clone(&seen), recorded.clone());
                    async move {
                        seen.lock()
                            .unwrap()
                            .push(uri.query().unwrap_or_default().to_string());
                        ([("content-type", "application/json")], recorded)
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("addr"));
            tokio::spawn(async move { axum::serve(listener, app).await });
            url
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let input = head(&data().ramp, &dir.path().join("ramp2.jsonl"), 2);
    let out = dir.path().join("web.jsonl");
    let output = masksearch()
        .args([
            "trajectories",
            "--teacher",
            "rule",
            "--search",
            "web",
            "--search-url",
            &url,
        ])
        .args(["--search-key-env", "MASKSEARCH_TEST_SERPAPI_KEY", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .env("MASKSEARCH_TEST_SERPAPI_KEY", "key-that-must-not-leak-42")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let queries = seen.lock().unwrap().clone();
    assert!(!queries.is_empty());
    for q in &queries {
        assert!(
            q.contains("engine=google") && q.contains("num=10") && q.contains("q="),
            "{q}"
        );
        assert!(q.contains("api_key=key-that-must-not-leak-42"), "{q}");
    }
    let all: Vec<Trajectory> = read(&out)
        .into_iter()
        .chain(read(&out.with_extension("rejected.jsonl")))
        .collect();
    assert_eq!(all.len(), 2);
    for t in &all {
        check_record(t);
        assert!(
            t.search.backend.starts_with("web:google:"),
            "{}",
            t.search.backend
        );
        let step = &t.steps[0];
        assert!(
            step.doc_ids.iter().all(|id| id.starts_with("https://")),
            "{:?}",
            step.doc_ids
        );
        assert!(
            step.text
                .contains("Doc 1(Title: \"Pavia Cathedral - Wikipedia\")"),
            "{}",
            step.text
        );
    }
    for file in [
        out.clone(),
        out.with_extension("rejected.jsonl"),
        formats::RunManifest::path_for(&out),
    ] {
        let text = fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains("key-that-must-not-leak-42"),
            "{}",
            file.display()
        );
    }
    assert!(!stderr.contains("key-that-must-not-leak-42"));
}

/// `--search remote` against our own `/retrieve` server over the same index gives the rule
/// teacher exactly what the local index gives it.
#[test]
fn remote_search_equals_the_local_index() {
    let served = Served::start(&[
        "serve".as_ref(),
        "--index".as_ref(),
        data().index.as_os_str(),
    ]);
    let dir = tempfile::tempdir().expect("temp dir");
    let input = head(&data().ramp, &dir.path().join("ramp10.jsonl"), 10);
    let local = dir.path().join("local.jsonl");
    let remote = dir.path().join("remote.jsonl");
    trajectories(&input, &local, &["--teacher", "rule"]);
    let url = format!("{}/retrieve", served.url);
    trajectories(
        &input,
        &remote,
        &[
            "--teacher",
            "rule",
            "--search",
            "remote",
            "--search-url",
            &url,
        ],
    );
    let key = |t: Trajectory| {
        (
            t.id,
            t.accepted,
            t.transcript,
            t.steps
                .iter()
                .map(|s| s.doc_ids.clone())
                .collect::<Vec<_>>(),
        )
    };
    let a: Vec<_> = read(&local).into_iter().map(key).collect();
    let b: Vec<_> = read(&remote).into_iter().map(key).collect();
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert!(read(&remote)[0].search.backend.starts_with("remote:"));
}

/// The replay property on the demo's export, in both styles: every assistant turn of every
/// exported example, read by the runtime's own parser, asks for a search whose answer from a
/// live `masksearch serve` (`POST /observation`, the same `student::observe` the runtime and the
/// verl tool use) is byte for byte the next turn of the example; only the last turn answers.
#[tokio::test]
async fn every_exported_example_replays_through_the_runtime_and_a_live_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("rule.jsonl");
    trajectories(&data().ramp, &out, &["--teacher", "rule"]);
    let served = Served::start(&[
        "serve".as_ref(),
        "--index".as_ref(),
        data().index.as_os_str(),
    ]);
    let client = reqwest::Client::new();
    for style in ["tags", "tools"] {
        let sft = dir.path().join(style);
        run_ok(&[
            "export".as_ref(),
            "sft".as_ref(),
            "--input".as_ref(),
            out.as_os_str(),
            "--out".as_ref(),
            sft.as_os_str(),
            "--style".as_ref(),
            style.as_ref(),
            "--val-share".as_ref(),
            "0".as_ref(),
        ]);
        let file = sft.join(format!("masksearch_{style}.train.jsonl"));
        let text = fs::read_to_string(&file).expect("the export");
        let (mut examples, mut searches) = (0, 0);
        for line in text.lines() {
            let example: serde_json::Value = serde_json::from_str(line).expect("an example");
            let turns = example["conversations"].as_array().expect("turns");
            let mut thought = false;
            for (i, turn) in turns.iter().enumerate() {
                let (from, value) = (turn["from"].as_str(), turn["value"].as_str().unwrap());
                let queries = match from {
                    Some("gpt") => {
                        let read = student::parse_written(value, thought);
                        thought |= read.text.contains("<think>");
                        assert_eq!(read.text, value, "the runtime keeps the turn whole");
                        match read.action {
                            student::Action::Search(queries) => queries,
                            student::Action::Answer(_) => {
                                assert_eq!(i, turns.len() - 1, "only the last turn answers");
                                continue;
                            }
                            student::Action::Invalid => panic!("no action: {value}"),
                        }
                    }
                    Some("function_call") => {
                        let call: serde_json::Value =
                            serde_json::from_str(&value[value.find('{').unwrap()..]).unwrap();
                        student::tools::queries_of(&call["arguments"]).expect("queries")
                    }
                    _ => continue,
                };
                let answer: serde_json::Value = client
                    .post(format!("{}/observation", served.url))
                    .json(&serde_json::json!({"queries": queries, "topk": 3}))
                    .send()
                    .await
                    .expect("request sent")
                    .json()
                    .await
                    .expect("JSON");
                assert_eq!(
                    turns[i + 1]["value"],
                    answer["observation"],
                    "{style} {}: turn {}",
                    example["id"],
                    i + 1
                );
                searches += 1;
            }
            examples += 1;
        }
        assert!(
            examples >= 200 && searches >= examples,
            "{style}: {examples} examples, {searches} searches"
        );
    }
}
