//! Retrieval throughput on the demo corpus: indexing (passages/s), batched queries (queries/s at
//! topk 3 and 10) and the `/retrieve` endpoint under concurrent clients.
//!
//! `cargo bench -p masksearch --bench retrieval` (after `make setup`). Queries are the 500 real
//! HotpotQA questions in testdata/, cycled. Prints a table; asserts nothing about speed.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use formats::Passage;
use index::{Bm25Index, BuildConfig};
use serde_json::{Value, json};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// The demo corpus: each lead summary is about one passage long (mean ~100 words).
fn passages() -> Vec<Passage> {
    let path = repo("assets/corpus/wiki-summaries.jsonl");
    formats::read_jsonl::<Passage>(&path)
        .unwrap_or_else(|e| panic!("{e}: run `make setup` first"))
        .collect::<Result<_, _>>()
        .expect("valid summaries")
}

fn questions() -> Vec<String> {
    let text = std::fs::read_to_string(repo("testdata/hotpotqa_500.jsonl")).expect("questions");
    text.lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["question"]
                .as_str()
                .expect("question")
                .to_string()
        })
        .collect()
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn bench_indexing(passages: &[Passage], dir: &Path) -> f64 {
    let runs = 3;
    let mut best = 0f64;
    for _ in 0..runs {
        let config = BuildConfig {
            overwrite: true,
            ..BuildConfig::default()
        };
        let started = Instant::now();
        index::build(
            dir,
            passages.iter().cloned().map(Ok::<_, std::io::Error>),
            &config,
            |_| {},
        )
        .expect("build");
        best = best.max(rate(passages.len(), started.elapsed()));
    }
    best
}

fn bench_batches(index: &Bm25Index, questions: &[String], k: usize) -> f64 {
    let batch: Vec<String> = questions.iter().cycle().take(512).cloned().collect();
    index.query_batch(&batch, k).expect("warm-up");
    let rounds = 8;
    let started = Instant::now();
    for _ in 0..rounds {
        index.query_batch(&batch, k).expect("search");
    }
    rate(rounds * batch.len(), started.elapsed())
}

/// `clients` concurrent clients, each sending `requests` POSTs of `batch` queries.
async fn bench_endpoint(url: &str, questions: &[String], clients: usize, batch: usize) -> f64 {
    let requests = 20;
    let http = reqwest::Client::new();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let http = http.clone();
            let url = format!("{url}/retrieve");
            let queries: Vec<String> = questions
                .iter()
                .cycle()
                .skip(c * batch)
                .take(batch)
                .cloned()
                .collect();
            tokio::spawn(async move {
                for _ in 0..requests {
                    let body = json!({"queries": queries, "topk": 3, "return_scores": true});
                    let response = http.post(&url).json(&body).send().await.expect("sent");
                    assert!(response.status().is_success());
                    let _: Value = response.json().await.expect("json");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("client");
    }
    rate(clients * requests * batch, started.elapsed())
}

/// One client, one query per request, each timed from send to the last byte of the answer:
/// (p50, p99) in milliseconds — the server's latency without a Python client's share.
async fn bench_latency(url: &str, questions: &[String]) -> (f64, f64) {
    let http = reqwest::Client::new();
    let url = format!("{url}/retrieve");
    let mut millis = Vec::with_capacity(questions.len());
    for (i, q) in questions.iter().enumerate() {
        let body = json!({"queries": [q], "topk": 3, "return_scores": true});
        let started = Instant::now();
        let response = http.post(&url).json(&body).send().await.expect("sent");
        assert!(response.status().is_success());
        response.bytes().await.expect("body");
        // The first requests open the connection and warm caches.
        if i >= 20 {
            millis.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() - 1) as f64 * q) as usize];
    (at(0.5), at(0.99))
}

fn main() {
    let passages = passages();
    let questions = questions();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("index");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "retrieval benchmark: {} passages, {} HotpotQA questions, {cores} cores",
        passages.len(),
        questions.len()
    );

    let indexing = bench_indexing(&passages, &dir);
    println!("index build            {indexing:>10.0} passages/s (best of 3)");

    let index = Arc::new(Bm25Index::open(&dir).expect("open"));
    for k in [3, 10] {
        let qps = bench_batches(&index, &questions, k);
        println!("batch_search topk={k:<3}  {qps:>10.0} queries/s (batches of 512)");
    }

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let app = server::app(
            [server::retrieve::router(index.clone(), server::RetrieveConfig::default())],
            server::DEFAULT_BODY_LIMIT,
        );
        let (listener, addr) = server::bind("127.0.0.1:0".parse().expect("addr")).await.expect("bind");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://{addr}");
        let (p50, p99) = bench_latency(&url, &questions).await;
        println!("/retrieve 1 query per request  p50 {p50:.3} ms  p99 {p99:.3} ms (Rust client, topk 3)");
        for (clients, batch) in [(1, 1), (8, 1), (8, 64), (4, 512)] {
            let qps = bench_endpoint(&url, &questions, clients, batch).await;
            println!("/retrieve {clients} clients × batch {batch:<3}  {qps:>8.0} queries/s (topk 3, scores on)");
        }
    });
}
