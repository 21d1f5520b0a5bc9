//! A JSONL file read by line number without reading it all: an index of line offsets, built by
//! one scan for newlines and extended when the file grows (a run still writing it).
//!
//! Only complete lines (ending in `\n`) count, so a record being written is not shown half.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read, Seek, SeekFrom},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

/// A file of lines and the offsets of their starts.
#[derive(Debug)]
pub struct LineFile {
    path: PathBuf,
    starts: Mutex<Vec<u64>>,
}

/// One page of a filtered scan.
#[derive(Debug)]
pub struct Scan<T> {
    /// `(line number, record)` of the matches, in file order.
    pub hits: Vec<(usize, T)>,
    /// Where the next page starts, when the scan stopped before the end of the file.
    pub next: Option<usize>,
    /// Lines looked at.
    pub scanned: usize,
}

/// A scan reads at most this many lines, or for at most [`SCAN_BUDGET`], per page: a filter
/// that rarely matches then pages through the file instead of holding the request.
impl<T> Scan<T> {
    fn empty() -> Self {
        Scan {
            hits: Vec::new(),
            next: None,
            scanned: 0,
        }
    }
}

const SCAN_LINES: usize = 200_000;
const SCAN_BUDGET: Duration = Duration::from_millis(400);

impl LineFile {
    /// Indexes `path` (one pass over the file for newlines).
    pub fn open(path: &Path) -> io::Result<LineFile> {
        let file = LineFile {
            path: path.to_path_buf(),
            starts: Mutex::new(vec![0]),
        };
        file.refresh()?;
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Complete lines in the file, after taking in what was appended since the last call.
    pub fn len(&self) -> io::Result<usize> {
        self.refresh()?;
        Ok(self.starts().len() - 1)
    }

    fn starts(&self) -> std::sync::MutexGuard<'_, Vec<u64>> {
        self.starts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Extends the index over bytes appended since the last scan; starts over when the file
    /// shrank (it was replaced).
    fn refresh(&self) -> io::Result<()> {
        let mut file = File::open(&self.path)?;
        let size = file.metadata()?.len();
        let mut starts = self.starts();
        if size < *starts.last().unwrap_or(&0) {
            *starts = vec![0];
        }
        let from = *starts.last().unwrap_or(&0);
        if size == from {
            return Ok(());
        }
        file.seek(SeekFrom::Start(from))?;
        let mut reader = BufReader::with_capacity(1 << 20, file.take(size - from));
        let mut offset = from;
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            starts.extend(memchr::memchr_iter(b'\n', buf).map(|i| offset + i as u64 + 1));
            let n = buf.len();
            offset += n as u64;
            reader.consume(n);
        }
        Ok(())
    }

    /// Line `n` (0-based) without its newline; `None` past the end.
    pub fn line(&self, n: usize) -> io::Result<Option<String>> {
        self.refresh()?;
        let (start, end) = {
            let starts = self.starts();
            match (starts.get(n), starts.get(n + 1)) {
                (Some(&s), Some(&e)) => (s, e - 1),
                _ => return Ok(None),
            }
        };
        let mut buf = vec![0; (end - start) as usize];
        File::open(&self.path)?.read_exact_at(&mut buf, start)?;
        String::from_utf8(buf)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Up to `limit` lines from line `from` on that `keep` turns into a record, reading the file
    /// sequentially from there; stops early at the scan budget and says where to go on.
    /// [`LineFile::scan`] for records of type `T` that `keep` accepts; also how many lines
    /// were not records of that type.
    pub fn scan_records<T: serde::de::DeserializeOwned>(
        &self,
        from: usize,
        limit: usize,
        keep: impl Fn(&T) -> bool,
    ) -> io::Result<(Scan<T>, usize)> {
        let mut bad = 0;
        let scan = self.scan(from, limit, |line| match serde_json::from_str::<T>(line) {
            Ok(record) => keep(&record).then_some(record),
            Err(_) => {
                bad += 1;
                None
            }
        })?;
        Ok((scan, bad))
    }

    pub fn scan<T>(
        &self,
        from: usize,
        limit: usize,
        mut keep: impl FnMut(&str) -> Option<T>,
    ) -> io::Result<Scan<T>> {
        self.refresh()?;
        let (start, total) = {
            let starts = self.starts();
            match starts.get(from) {
                Some(&s) => (s, starts.len() - 1),
                None => return Ok(Scan::empty()),
            }
        };
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(start))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut scan = Scan::empty();
        let started = Instant::now();
        let mut line = String::new();
        let mut n = from;
        while n < total {
            if scan.hits.len() == limit
                || scan.scanned >= SCAN_LINES
                || (scan.scanned % 1024 == 0 && started.elapsed() > SCAN_BUDGET)
            {
                scan.next = Some(n);
                break;
            }
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            if let Some(record) = keep(line.trim_end_matches(['\n', '\r'])) {
                scan.hits.push((n, record));
            }
            scan.scanned += 1;
            n += 1;
        }
        Ok(scan)
    }

    /// Every line that contains `needle`, read through the whole file.
    pub fn find(&self, needle: &[u8]) -> io::Result<Vec<(usize, String)>> {
        let finder = memchr::memmem::Finder::new(needle);
        self.refresh()?;
        let total = self.starts().len() - 1;
        let mut reader = BufReader::with_capacity(1 << 20, File::open(&self.path)?);
        let mut found = Vec::new();
        let mut line = Vec::new();
        for n in 0..total {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if finder.find(&line).is_some() {
                let text = String::from_utf8_lossy(&line);
                found.push((n, text.trim_end_matches(['\n', '\r']).to_string()));
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn reads_lines_by_number_and_follows_a_growing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, "a\nbb\nccc\npartial").unwrap();
        let file = LineFile::open(&path).unwrap();
        assert_eq!(
            file.len().unwrap(),
            3,
            "the unfinished last line is not a line"
        );
        assert_eq!(file.line(1).unwrap().as_deref(), Some("bb"));
        assert_eq!(file.line(3).unwrap(), None);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b" line\nd\n")
            .unwrap();
        assert_eq!(file.len().unwrap(), 5);
        assert_eq!(file.line(3).unwrap().as_deref(), Some("partial line"));
        assert_eq!(file.line(4).unwrap().as_deref(), Some("d"));
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(
            file.line(0).unwrap().as_deref(),
            Some("new"),
            "a replaced file is read again"
        );
        assert_eq!(file.len().unwrap(), 1);
    }

    #[test]
    fn scans_pages_of_matches_and_says_where_to_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let text: String = (0..10).map(|i| format!("{i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let file = LineFile::open(&path).unwrap();
        let even = |l: &str| l.parse::<u32>().ok().filter(|n| n % 2 == 0);
        let page = file.scan(1, 2, even).unwrap();
        assert_eq!(page.hits, vec![(2, 2), (4, 4)]);
        assert_eq!(page.next, Some(5));
        let last = file.scan(5, 10, even).unwrap();
        assert_eq!(last.hits, vec![(6, 6), (8, 8)]);
        assert_eq!(last.next, None);
        assert!(file.scan(99, 10, even).unwrap().hits.is_empty());
        let found = file.find(b"1").unwrap();
        // "1" alone: line 1 (line 10 does not exist).
        assert_eq!(found, vec![(1, "1".to_string())]);
    }
}
