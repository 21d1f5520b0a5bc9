//! Opening inputs as byte streams: `.bz2` decompressed on the fly, every byte read counted for
//! progress, a folder's size added up. Knows nothing of formats.

use std::{
    fs::File,
    io::{self, BufReader, Read},
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::CorpusError;

/// Bytes of input read so far (compressed bytes for `.bz2`), shared with the progress display.
pub(crate) type BytesRead = Arc<AtomicU64>;

/// A reader that adds what it reads to a shared counter.
struct Counting<R> {
    inner: R,
    progress: BytesRead,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn is_bz2(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bz2"))
}

/// Opens `path` as a byte stream, decompressed if it ends in `.bz2` (multi-stream files, as
/// Wikimedia's `-multistream` dumps, included).
pub(crate) fn open_bytes(path: &Path, progress: &BytesRead) -> Result<Box<dyn Read>, CorpusError> {
    let file = File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let counting = Counting {
        inner: file,
        progress: Arc::clone(progress),
    };
    Ok(if is_bz2(path) {
        Box::new(bzip2::read::MultiBzDecoder::new(BufReader::with_capacity(
            1 << 16,
            counting,
        )))
    } else {
        Box::new(counting)
    })
}

/// Total size in bytes of the input (a directory's files added up), for a progress bar.
pub(crate) fn input_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
