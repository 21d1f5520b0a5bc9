//! `/reward` on a batch of 1,024 Search-R1-style rollouts (the goal: < 10 ms on one core).
//!
//! `cargo bench -p server --bench reward`. Each rollout thinks, searches once, holds an
//! `<information>` block of three real wiki-18 passages (~2 KB in all) and answers a real
//! HotpotQA question (right, wrong, malformed or not at all, in turn). Measured: the scoring
//! alone on one thread (`masksearch-hybrid`, parsed items), and the HTTP round trip — the body
//! sent, parsed, scored and answered — with the server on a single-threaded tokio runtime (one
//! core) and the client on another thread. Asserts nothing about speed.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use metrics::reward::{Preset, RewardItem};
use serde_json::{Value, json};

const BATCH: usize = 1024;

fn testdata(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn field(line: &str, name: &str) -> String {
    let v: Value = serde_json::from_str(line).expect("a JSON line");
    v[name].as_str().expect("a string field").to_string()
}

/// 1,024 rollouts as `/reward` items.
fn items() -> Vec<Value> {
    let questions = testdata("hotpotqa_500.jsonl");
    let questions: Vec<(String, String)> = questions
        .lines()
        .map(|l| (field(l, "question"), field(l, "answer")))
        .collect();
    let passages = testdata("wiki18-sample-1000.jsonl");
    let passages: Vec<String> = passages.lines().map(|l| field(l, "contents")).collect();
    (0..BATCH)
        .map(|i| {
            let (question, gold) = &questions[i % questions.len()];
            let docs: String = (0..3)
                .map(|k| {
                    let p = &passages[(i * 3 + k) % passages.len()];
                    let (title, text) = p.split_once('\n').unwrap_or(("", p));
                    format!("Doc {}(Title: {}) {}\n", k + 1, title.trim_matches('"'), text)
                })
                .collect();
            let answer = match i % 4 {
                0 => format!("<answer> {gold} </answer>"),
                1 => "<answer>Paris</answer>".to_string(),
                2 => format!("<answer>the {gold}</answer> done"),
                _ => String::new(),
            };
            let response = format!(
                "<think>I need to find out: {question}</think>\n<search> {question} </search>\n\n\
                 <information>{docs}</information>\n\n<think>The documents say it.</think>\n{answer}"
            );
            json!({"data_source": "hotpotqa", "solution_str": response,
                   "ground_truth": {"target": [gold]}, "extra_info": {"split": "test", "index": i}})
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let items = items();
    let body = serde_json::to_vec(&json!({"items": items, "preset": "masksearch-hybrid"}))
        .expect("a body");
    eprintln!(
        "reward bench: {BATCH} rollouts, {:.1} KiB request body",
        body.len() as f64 / 1024.0
    );
    let parsed: Vec<RewardItem> = items
        .iter()
        .map(|v| serde_json::from_value(v.clone()).expect("an item"))
        .collect();

    let mut group = c.benchmark_group("reward");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("score_batch_1024_one_thread", |b| {
        b.iter(|| metrics::reward::score_batch(black_box(&parsed), Preset::Hybrid).expect("scores"))
    });

    // The server: one thread, one single-threaded runtime.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let app = server::app(
                [server::reward::router(server::RewardConfig::default())],
                server::DEFAULT_BODY_LIMIT,
            );
            let (listener, addr) = server::bind("127.0.0.1:0".parse().expect("an address"))
                .await
                .expect("bound");
            addr_tx.send(addr).expect("address sent");
            axum::serve(listener, app).await.expect("served");
        });
    });
    let url = format!(
        "http://{}/reward",
        addr_rx.recv().expect("the server's address")
    );
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = reqwest::Client::new();
    let post = || async {
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("sent");
        assert!(response.status().is_success());
        response.bytes().await.expect("a body")
    };
    let answer: Value = serde_json::from_slice(&client_runtime.block_on(post())).expect("JSON");
    assert_eq!(answer["scores"].as_array().map(Vec::len), Some(BATCH));
    group.bench_function("http_round_trip_1024_one_server_thread", |b| {
        b.iter(|| client_runtime.block_on(post()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
