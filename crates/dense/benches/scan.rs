//! The exact scan at scale: `N` (default 1,000,000) random unit vectors of 384 values stored as
//! f32 and as i8, mapped, then 20 queries each: ms per query (p50, max), the file's size, and
//! the process's resident memory after the scans (the mapped rows count once touched).
//!
//!     cargo bench -p dense --bench scan [-- N]

use std::time::Instant;

use dense::{Storage, Vectors};

const DIM: usize = 384;

/// A xorshift stream of unit vectors: the same for every run.
struct Unit(u64);

impl Unit {
    fn next(&mut self) -> Vec<f32> {
        let v: Vec<f32> = (0..DIM)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }
}

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    for storage in [Storage::F32, Storage::I8] {
        let dir = tempfile::tempdir().unwrap();
        let mut rows =
            std::io::BufWriter::new(std::fs::File::create(dir.path().join("vectors.bin")).unwrap());
        let mut scales = Vec::new();
        let mut unit = Unit(0x9e37_79b9_7f4a_7c15);
        let mut row = Vec::new();
        for _ in 0..n {
            row.clear();
            storage.encode(&unit.next(), &mut row, &mut scales);
            std::io::Write::write_all(&mut rows, &row).unwrap();
        }
        drop(rows);
        if storage == Storage::I8 {
            std::fs::write(dir.path().join("scales.bin"), &scales).unwrap();
        }
        let vectors = Vectors::open(dir.path(), storage, DIM, n).unwrap();
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
            "{storage:?}: {n} rows × {DIM}, {:.0} MiB of rows; exact top-10 p50 {:.1} ms, max {:.1} ms per query; RSS {} MiB",
            bytes as f64 / (1 << 20) as f64,
            times[times.len() / 2],
            times[times.len() - 1],
            rss_mib()
        );
    }
}
