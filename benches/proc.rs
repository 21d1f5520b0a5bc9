//! What this process holds in memory, read from Linux's `/proc/self`: the Rust benches' one
//! copy, each bench taking it in with `#[path = "…/benches/proc.rs"] mod proc;` (no library
//! crate exports bench helpers). Reads that fail give zeros: a bench prints them, asserts nothing.

// Each bench uses some of these.
#![allow(dead_code)]

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::{self, JoinHandle},
    time::Duration,
};

/// A field of `/proc/self/status` in MiB: `VmRSS` (resident now), `VmHWM` (the peak), `RssAnon`…
pub fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map_or(0.0, kib_to_mib)
}

/// The most anonymous memory (`RssAnon`: the heap and stacks, not the pages of mapped files)
/// this process held while a [`PeakAnon`] lived, sampled every 50 ms. `VmHWM` counts the pages
/// of the files a process maps too, which the kernel can drop when memory runs short.
pub struct PeakAnon {
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<f64>,
}

impl PeakAnon {
    pub fn start() -> PeakAnon {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let sampler = thread::spawn(move || {
            let mut peak = 0.0f64;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(status_mib("RssAnon"));
                thread::sleep(Duration::from_millis(50));
            }
            peak.max(status_mib("RssAnon"))
        });
        PeakAnon { stop, sampler }
    }

    /// The peak in MiB.
    pub fn finish(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().unwrap_or(0.0)
    }
}

/// MiB resident of every file this process maps, by path (`/proc/self/smaps`), largest first.
pub fn mapped_files() -> Vec<(String, f64)> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut files: Vec<(String, f64)> = Vec::new();
    let mut current: Option<String> = None;
    for line in smaps.lines() {
        if let Some(kib) = line.strip_prefix("Rss:") {
            let Some(path) = &current else { continue };
            match files.iter_mut().find(|(p, _)| p == path) {
                Some((_, mib)) => *mib += kib_to_mib(kib),
                None => files.push((path.clone(), kib_to_mib(kib))),
            }
        } else if line.split_whitespace().next().is_some_and(|range| {
            range.contains('-') && range.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
        }) {
            // A mapping's header: address range, permissions, offset, device, inode, path.
            current = line.split_whitespace().nth(5).map(str::to_string);
        }
    }
    files.sort_by(|a, b| b.1.total_cmp(&a.1));
    files
}

/// MiB resident of each file mapped from `dir`, named relative to it, largest first.
pub fn resident_files(dir: &Path) -> Vec<(String, f64)> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    mapped_files()
        .into_iter()
        .filter_map(|(path, mib)| {
            let rel = Path::new(&path).strip_prefix(&dir).ok()?;
            Some((rel.display().to_string(), mib))
        })
        .collect()
}

/// MiB resident of the mapped files whose path ends with `name`.
pub fn mapped_mib(name: &str) -> f64 {
    mapped_files()
        .iter()
        .filter(|(path, _)| path.ends_with(name))
        .map(|(_, mib)| mib)
        .sum()
}

fn kib_to_mib(field: &str) -> f64 {
    field
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<f64>()
        .map_or(0.0, |kib| kib / 1024.0)
}
