//! The encoder's speed on real passages: the title and text of the first `N` (default 2,000)
//! lines of a JSONL file (default the demo's passages, `work/passages.jsonl`, written by `make
//! demo`), encoded as the index build encodes them (`encode_sorted`, batches of 8) with the
//! set-up's MiniLM, on every core, after the binary's `prepare_process`: passages/s.
//!
//!     cargo bench -p dense --bench encode [-- FILE N]

use std::path::{Path, PathBuf};
use std::time::Instant;

use dense::Encoder;

#[allow(unsafe_code)]
fn main() {
    // SAFETY: first thing in `main`, before any thread starts; as the binary does.
    unsafe { dense::prepare_process() };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(2_000);
    let file = args
        .iter()
        .find(|a| a.parse::<usize>().is_err())
        .map_or_else(|| root.join("work/passages.jsonl"), PathBuf::from);
    let lines = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `make demo`, or name a JSONL file)",
            file.display()
        )
    });
    let texts: Vec<String> = lines
        .lines()
        .take(n)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            dense::passage_text(
                "",
                v["title"].as_str().unwrap(),
                v["text"].as_str().unwrap(),
            )
        })
        .collect();
    let encoder = Encoder::load(&root.join("assets/models/all-MiniLM-L6-v2")).unwrap();
    let started = Instant::now();
    let vectors = encoder.encode_sorted(&texts, 8).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(vectors.len(), texts.len());
    println!(
        "{} passages of {} in {seconds:.1} s: {:.1} passages/s",
        texts.len(),
        file.display(),
        texts.len() as f64 / seconds
    );
}
