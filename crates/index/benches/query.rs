//! Index build and query cost, in-process: build time, index size, resident memory, batched
//! queries/s and one-query latency (p50 / p99) — on the demo corpus or on synthetic corpora for
//! the scale curve.
//!
//! `cargo bench -p index --bench query` builds the demo corpus into a temporary folder and
//! queries it with the shipped question sets. Phases can run alone (each in its own process, so
//! resident memory is the phase's own):
//!
//! ```text
//! cargo bench -p index --bench query -- build SOURCE DIR   # passages JSONL, iid:N or remix:N
//! cargo bench -p index --bench query -- query DIR          # batched queries/s, latency, RSS
//! cargo bench -p index --bench query -- topk DIR K OUT     # each question's top-k ids and scores
//! cargo bench -p index --bench query -- corpus SYNTH OUT   # iid:N or remix:N as passages JSONL
//! ```
//!
//! `iid:N` and `remix:N` make N synthetic passages from the demo corpus's words and passage
//! lengths (seeded, so every run makes the same corpus; see [`synthetic`]). `corpus` writes those
//! same passages as the JSONL `masksearch index --passages` reads, so engines other than this
//! one (`make bench-peers`' `SCALE`) can index exactly the corpus the `build` rows measured.
//! Prints numbers; asserts nothing about speed.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use formats::Passage;
use index::{Bm25Index, BuildConfig};

#[path = "../../../benches/proc.rs"]
mod proc;

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn demo_passages() -> Vec<Passage> {
    let path = repo("assets/corpus/wiki-summaries.jsonl");
    read_passages(&path)
}

fn read_passages(path: &Path) -> Vec<Passage> {
    formats::read_jsonl::<Passage>(path)
        .unwrap_or_else(|e| panic!("{e}: run `make setup` first"))
        .collect::<Result<_, _>>()
        .expect("valid passages")
}

/// The questions of every shipped question set (testdata and the shared benchmarks).
fn questions() -> Vec<String> {
    let mut files = vec![repo("testdata/hotpotqa_500.jsonl")];
    let shared = repo("../shared/data/benchmarks");
    for name in ["2wiki_500", "musique_500", "bamboogle", "nq-sample"] {
        let path = shared.join(format!("{name}.jsonl"));
        if path.exists() {
            files.push(path);
        }
    }
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("questions");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let record: serde_json::Value = serde_json::from_str(line).expect("json");
            out.push(record["question"].as_str().expect("question").to_string());
        }
    }
    out
}

/// A seeded xorshift generator: the same synthetic corpus on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Synthetic passages. `iid`: every word drawn from the demo corpus's word occurrences (so
/// frequencies follow the real distribution) and lengths taken from real passages — no topic
/// structure, the worst case for pruning. Otherwise each passage is a real passage (cycled) with
/// every word replaced, with probability one half, by such a random word: real co-occurrence,
/// no two passages alike.
fn synthetic(n: usize, iid: bool) -> impl Iterator<Item = Passage> {
    let real = demo_passages();
    let words: Vec<String> = real
        .iter()
        .flat_map(|p| p.text.split_whitespace().map(str::to_string))
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n).map(move |i| {
        let template = &real[(i * 7919) % real.len()];
        let mut remix = |text: &str| {
            let mut out = String::with_capacity(text.len() + 16);
            for (w, word) in text.split_whitespace().enumerate() {
                if w > 0 {
                    out.push(' ');
                }
                let random = iid || rng.next().is_multiple_of(2);
                out.push_str(if random {
                    &words[rng.below(words.len())]
                } else {
                    word
                });
            }
            out
        };
        let title = remix(&real[i % real.len()].title);
        let text = remix(&template.text);
        Passage::new(format!("synthetic-{i}"), title, text)
    })
}

/// `(N, iid)` for a source named `iid:N` or `remix:N` (`_` allowed in N); `None` for a path.
fn synthetic_spec(source: &str) -> Option<(usize, bool)> {
    [("iid:", true), ("remix:", false)]
        .into_iter()
        .find_map(|(prefix, iid)| {
            let n = source.strip_prefix(prefix)?.replace('_', "");
            Some((n.parse().expect("iid:N or remix:N"), iid))
        })
}

fn dir_mb(dir: &Path) -> f64 {
    let bytes: u64 = std::fs::read_dir(dir)
        .expect("index dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    bytes as f64 / 1_048_576.0
}

fn build(source: &str, dir: &Path) {
    let config = BuildConfig {
        overwrite: true,
        origin: source.into(),
        ..BuildConfig::default()
    };
    let started = Instant::now();
    let anon = proc::PeakAnon::start();
    let report = if let Some((n, iid)) = synthetic_spec(source) {
        index::build(
            dir,
            synthetic(n, iid).map(Ok::<_, std::io::Error>),
            &config,
            |_| {},
        )
    } else {
        let passages = formats::read_jsonl::<Passage>(Path::new(source)).expect("passages");
        index::build(dir, passages, &config, |_| {})
    }
    .expect("build");
    let secs = started.elapsed().as_secs_f64();
    let (peak, anon) = (proc::status_mib("VmHWM"), anon.finish());
    println!(
        "build {source}: {} passages in {secs:.1} s ({:.0} passages/s), index {:.0} MB, peak RSS {peak:.0} MB (anonymous at most {anon:.0} MB; the rest the index's own file pages)",
        report.passages,
        report.passages as f64 / secs,
        dir_mb(dir)
    );
}

/// Writes the synthetic corpus `source` names to `out` as passages JSONL, whole or not at all.
fn corpus(source: &str, out: &Path) {
    let (n, iid) = synthetic_spec(source).expect("corpus takes iid:N or remix:N");
    let started = Instant::now();
    let mut lines = formats::StagedLines::create(out).expect("create the corpus file");
    for passage in synthetic(n, iid) {
        lines.write(&passage).expect("write a passage");
    }
    lines
        .finish()
        .and_then(formats::Staged::commit)
        .expect("commit the corpus file");
    let mb = std::fs::metadata(out).map_or(0.0, |m| m.len() as f64 / 1_048_576.0);
    println!(
        "corpus {source}: {n} passages, {mb:.0} MB, written to {} in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn query(dir: &Path) {
    let questions = questions();
    let opened = Instant::now();
    let index = Bm25Index::open(dir).expect("open");
    let open_ms = opened.elapsed().as_secs_f64() * 1e3;
    // One query at a time on this thread: the server-side latency of a one-query request.
    for q in &questions {
        index.query(q, 3).expect("search");
    }
    let mut times = Vec::with_capacity(questions.len() * 2);
    for _ in 0..2 {
        for q in &questions {
            let started = Instant::now();
            index.query(q, 3).expect("search");
            times.push(started.elapsed());
        }
    }
    times.sort();
    let seq_qps = times.len() as f64 / times.iter().sum::<Duration>().as_secs_f64();
    // Batches of 256 on the rayon pool, as `/retrieve` runs them.
    let batches: Vec<Vec<String>> = questions.chunks(256).map(<[String]>::to_vec).collect();
    let mut done = 0usize;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        for batch in &batches {
            index.query_batch(batch, 3).expect("search");
            done += batch.len();
        }
    }
    let batch_qps = done as f64 / started.elapsed().as_secs_f64();
    let (rss, peak) = (proc::status_mib("VmRSS"), proc::status_mib("VmHWM"));
    println!(
        "query {}: {} questions, topk 3 — batched {batch_qps:.0} queries/s, one thread {seq_qps:.0} queries/s, \
         p50 {:.3} ms, p99 {:.3} ms, open {open_ms:.0} ms, RSS {rss:.0} MB (peak {peak:.0} MB)",
        dir.display(),
        questions.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
    );
    let files = proc::resident_files(dir);
    let mapped: f64 = files.iter().map(|(_, mb)| mb).sum();
    let parts: Vec<String> = files
        .iter()
        .filter(|(_, mb)| *mb >= 1.0)
        .map(|(name, mb)| format!("{name} {mb:.0}"))
        .collect();
    println!(
        "  resident of the index's files: {mapped:.0} MB ({})",
        parts.join(", ")
    );
}

fn topk(dir: &Path, k: usize, out: &Path) {
    let index = Bm25Index::open(dir).expect("open");
    let mut text = String::new();
    for q in questions() {
        let hits = index.query(&q, k).expect("search");
        let ids: Vec<&str> = hits.iter().map(|h| h.passage.id.as_str()).collect();
        let scores: Vec<f64> = hits.iter().map(|h| h.score).collect();
        let line = serde_json::json!({"question": q, "ids": ids, "scores": scores});
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(out, text).expect("write");
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["build", source, dir] => build(source, Path::new(dir)),
        ["query", dir] => query(Path::new(dir)),
        ["topk", dir, k, out] => topk(Path::new(dir), k.parse().expect("k"), Path::new(out)),
        ["corpus", source, out] => corpus(source, Path::new(out)),
        [] => {
            let tmp = tempfile::tempdir().expect("temp dir");
            let dir = tmp.path().join("index");
            let source = repo("assets/corpus/wiki-summaries.jsonl");
            build(source.to_str().expect("utf-8 path"), &dir);
            query(&dir);
        }
        other => panic!("unknown arguments {other:?}: see the file's header"),
    }
}
