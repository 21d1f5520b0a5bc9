//! Opening inputs as byte streams: `.bz2` decompressed on the fly (the streams of a multi-stream
//! file on every core, `multistream`), every byte read counted for progress, a folder's size
//! added up. Knows nothing of formats.

mod multistream;

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
    bytes_read: BytesRead,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Whether work handed to rayon's pool, to be waited for, gains over doing it in line: not with
/// one thread in the pool (`RAYON_NUM_THREADS=1` works in line, as before the pool was used),
/// and a thread of the pool must not wait for the pool.
pub(crate) fn hand_to_pool() -> bool {
    rayon::current_num_threads() > 1 && rayon::current_thread_index().is_none()
}

fn is_bz2(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bz2"))
}

/// Opens `path` as a byte stream, decompressed if it ends in `.bz2` (multi-stream files, as
/// Wikimedia's `-multistream` dumps, included: their streams are decoded on rayon's pool).
pub(crate) fn open_bytes(
    path: &Path,
    bytes_read: &BytesRead,
) -> Result<Box<dyn Read>, CorpusError> {
    let file = File::open(path).map_err(|e| CorpusError::io(path, e))?;
    let counting = Counting {
        inner: file,
        bytes_read: Arc::clone(bytes_read),
    };
    if !is_bz2(path) {
        return Ok(Box::new(counting));
    }
    Ok(if hand_to_pool() {
        Box::new(multistream::ParallelBz2::new(
            counting,
            multistream::Limits::for_pool(),
        ))
    } else {
        Box::new(bzip2::read::MultiBzDecoder::new(BufReader::with_capacity(
            1 << 16,
            counting,
        )))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bz2_is_decompressed_and_compressed_bytes_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.jsonl");
        let packed = dir.path().join("a.jsonl.BZ2");
        let text = "{\"id\": \"0\"}\n".repeat(1000);
        std::fs::write(&plain, &text).unwrap();
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        std::io::Write::write_all(&mut encoder, text.as_bytes()).unwrap();
        std::fs::write(&packed, encoder.finish().unwrap()).unwrap();
        for path in [&plain, &packed] {
            let counted = BytesRead::default();
            let mut read = String::new();
            open_bytes(path, &counted)
                .unwrap()
                .read_to_string(&mut read)
                .unwrap();
            assert_eq!(read, text, "{}", path.display());
            assert_eq!(counted.load(Ordering::Relaxed), input_size(path));
        }
        assert!(input_size(&packed) < input_size(&plain) / 10);
    }

    #[test]
    fn a_folder_size_adds_up_its_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("A"), "12345").unwrap();
        std::fs::write(dir.path().join("B.txt"), "123").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub").join("C"), "ignored").unwrap();
        assert_eq!(input_size(dir.path()), 8);
        assert_eq!(input_size(&dir.path().join("missing")), 0);
        let err = open_bytes(&dir.path().join("missing"), &BytesRead::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
