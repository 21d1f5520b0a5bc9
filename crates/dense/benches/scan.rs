//! The exact scan at scale: `N` (default 1,000,000) random unit vectors of 384 values stored as
//! f32, f16 and i8, mapped, then 20 queries each: ms per query (p50, max), the file's size, and
//! the process's resident memory after the scans (the mapped rows count once touched).
//!
//!     cargo bench -p dense --bench scan [-- N]

#[path = "../../../benches/proc.rs"]
mod proc;
mod synthetic;

use std::time::Instant;

use dense::Storage;
use synthetic::{DIM, Unit};

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    for storage in [Storage::F32, Storage::F16, Storage::I8] {
        let dir = tempfile::tempdir().unwrap();
        let mut unit = Unit::rows();
        let vectors = synthetic::write_rows(dir.path(), storage, (0..n).map(|_| unit.next()));
        let mut times: Vec<f64> = (0..20)
            .map(|_| {
                let query = unit.next();
                let started = Instant::now();
                std::hint::black_box(vectors.nearest(&query, 10));
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let bytes = std::fs::metadata(dir.path().join("vectors.bin"))
            .unwrap()
            .len();
        println!(
            "{storage:?}: {n} rows × {DIM}, {:.0} MiB of rows; exact top-10 p50 {:.1} ms, max {:.1} ms per query; RSS {:.0} MiB ({:.0} MiB of it the rows)",
            bytes as f64 / (1 << 20) as f64,
            times[times.len() / 2],
            times[times.len() - 1],
            proc::status_mib("VmRSS"),
            proc::mapped_mib("vectors.bin"),
        );
    }
}
