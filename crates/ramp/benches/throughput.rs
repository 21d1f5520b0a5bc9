//! Offline RAMP generation throughput (passages/s) and peak memory.
//!
//! Two runs of the real pipeline (`ramp::run` on a multi-thread tokio runtime, every offline
//! span source with its first pass over the corpus, default curriculum):
//! 1. the demo corpus, `assets/corpus/wiki-summaries.jsonl` (10,033 English Wikipedia lead
//!    sections, read as passages);
//! 2. the same corpus repeated with fresh ids until `RAMP_BENCH_PASSAGES` passages (default
//!    1,000,000), generated on the fly (streamed, never materialised), to show that memory
//!    stays flat as the input grows: peak RSS is sampled as the run goes.
//!
//! Run: `cargo bench -p ramp --bench throughput` (set `RAMP_BENCH_PASSAGES=100000` for a
//! quick look). Output goes to a temporary directory that is removed afterwards.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Instant,
};

use formats::{FormatError, JsonlPassages, Passage, PassageSource, Passages, Shard};
use ramp::{Difficulty, Lang, LevelRule, RampConfig, RunOptions, SpanSet, Tally};

#[path = "../../../benches/proc.rs"]
mod proc;

/// The demo corpus, repeated with fresh ids (`r<round>:<id>`) up to `total` passages.
struct Repeated {
    base: Vec<Passage>,
    total: usize,
}

impl PassageSource for Repeated {
    fn name(&self) -> String {
        format!("wiki-summaries x {}", self.total)
    }
    fn open(&self) -> Result<Passages<'_>, FormatError> {
        let n = self.base.len();
        Ok(Box::new((0..self.total).map(move |i| {
            let p = &self.base[i % n];
            Ok(Passage {
                id: format!("r{}:{}", i / n, p.id),
                ..p.clone()
            })
        })))
    }
}

fn config() -> RampConfig {
    RampConfig {
        spans: SpanSet::offline(),
        seed: 42,
        curriculum: LevelRule::default(),
        difficulty: Difficulty::None,
        lang: Lang::En,
        source: "wiki".into(),
        shard: Shard::ALL,
    }
}

fn bench(
    runtime: &tokio::runtime::Runtime,
    name: &str,
    source: Arc<dyn PassageSource + Send>,
    samples_every: u64,
) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let rss_log = Mutex::new(Vec::new());
    let progress = |stats: &Tally| {
        let read = stats.run.get("input_records").copied().unwrap_or(0);
        let mut log = rss_log.lock().expect("rss log");
        let due = log
            .last()
            .is_none_or(|(at, _, _)| read >= at + samples_every);
        if due {
            let (peak, now) = (proc::status_mib("VmHWM"), proc::status_mib("VmRSS"));
            log.push((read, peak, now));
        }
    };
    let options = RunOptions {
        out: dir.path().join("ramp.jsonl"),
        resume: false,
        batch_size: 1024,
        model: None,
        scorer: None,
        llm_concurrency: 1,
        progress: &progress,
    };
    let started = Instant::now();
    let report = runtime
        .block_on(ramp::run(&config(), source, &options))
        .expect("ramp run");
    let secs = started.elapsed().as_secs_f64();
    let read = report.tally.run.get("input_records").copied().unwrap_or(0);
    let bytes = std::fs::metadata(&options.out).map_or(0, |m| m.len());
    let peak = proc::status_mib("VmHWM");
    println!(
        "{name}: {read} passages -> {} samples in {secs:.1}s = {:.0} passages/s, output {:.0} MiB, peak RSS {peak:.0} MiB",
        report.tally.samples,
        read as f64 / secs,
        bytes as f64 / (1 << 20) as f64,
    );
    for (at, peak, now) in rss_log.into_inner().expect("rss log") {
        println!("  after {at:>9} passages: RSS {now:>6.0} MiB, peak {peak:>6.0} MiB");
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let demo = root.join("assets/corpus/wiki-summaries.jsonl");
    if !demo.is_file() {
        eprintln!("{} is missing: run scripts/setup.sh first", demo.display());
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    bench(
        &runtime,
        "demo corpus",
        Arc::new(JsonlPassages(demo.clone())),
        5_000,
    );
    let base: Vec<Passage> = formats::read_jsonl::<Passage>(&demo)
        .expect("demo corpus")
        .filter_map(Result::ok)
        .collect();
    let total = std::env::var("RAMP_BENCH_PASSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    bench(
        &runtime,
        "repeated corpus",
        Arc::new(Repeated { base, total }),
        total as u64 / 10,
    );
}
