//! Building an index from a stream of passages, all or nothing.

use std::path::{Path, PathBuf};

use formats::Passage;
use tantivy::{
    Index, IndexSettings, IndexSortByField, Order, TantivyDocument, indexer::NoMergePolicy,
};

use crate::{
    Analyzer, IndexError, impact,
    meta::IndexMeta,
    schema::{Fields, ORD, schema},
};

/// How to build an index.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    pub analyzer: Analyzer,
    /// Indexing threads (tantivy segments are built in parallel).
    pub threads: usize,
    /// Memory budget per indexing thread, in MiB.
    pub memory_mb: usize,
    /// Recorded in the index metadata as where the passages came from (e.g. their file).
    pub origin: String,
    /// Replace an existing index at the destination (only once the new one is complete).
    pub overwrite: bool,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            analyzer: Analyzer::En,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mb: 128,
            origin: String::new(),
            overwrite: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildReport {
    pub passages: u64,
}

/// Builds an index in `dir` from `passages`, calling `progress` with the running count.
///
/// All or nothing: the index is written to `<dir>.partial` and moved to `dir` only after every
/// passage was read without error. The first `Err` from `passages` abandons the build: the
/// staging folder is removed and whatever was at `dir` (a previous index) is left untouched.
/// A build killed midway leaves only `<dir>.partial`, which the next build clears.
pub fn build<E>(
    dir: &Path,
    passages: impl IntoIterator<Item = Result<Passage, E>>,
    config: &BuildConfig,
    mut progress: impl FnMut(u64),
) -> Result<BuildReport, IndexError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if dir.exists() && !config.overwrite {
        return Err(IndexError::Exists {
            path: dir.to_path_buf(),
        });
    }
    let staging = Staging::create(dir)?;
    let count = write(&staging.path, passages, config, &mut progress)?;
    IndexMeta {
        passages: count,
        analyzer: config.analyzer,
        origin: config.origin.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
    .save(&staging.path)?;
    staging.replace(dir)?;
    Ok(BuildReport { passages: count })
}

/// Adds every passage to a new index in `path`; stops at the first input error.
fn write<E>(
    path: &Path,
    passages: impl IntoIterator<Item = Result<Passage, E>>,
    config: &BuildConfig,
    progress: &mut impl FnMut(u64),
) -> Result<u64, IndexError>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let settings = IndexSettings {
        sort_by_field: Some(IndexSortByField {
            field: ORD.into(),
            order: Order::Asc,
        }),
        ..IndexSettings::default()
    };
    let index = Index::builder()
        .schema(schema(config.analyzer))
        .settings(settings)
        .create_in_dir(path)?;
    config.analyzer.register(&index);
    let fields = Fields::of(&index.schema())?;
    let threads = config.threads.max(1);
    let mut writer = index.writer_with_num_threads::<TantivyDocument>(
        threads,
        threads * config.memory_mb.max(16) * 1024 * 1024,
    )?;
    // Segments are merged once, at the end: a merge started by the default policy meanwhile
    // would take segments away from that final merge (a failed build at 5M passages).
    writer.set_merge_policy(Box::new(NoMergePolicy));
    let mut count = 0u64;
    let written = (|| {
        for passage in passages {
            // Dropping the writer without a commit discards what it buffered.
            let passage = passage.map_err(|e| IndexError::Input(e.into()))?;
            writer.add_document(document(&passage, count, fields))?;
            count += 1;
            if count.is_multiple_of(1024) {
                progress(count);
            }
        }
        writer.commit()?;
        // One segment per index: a query then looks each term up once, not once per segment.
        let segments = index.searchable_segment_ids()?;
        if segments.len() > 1 {
            writer.merge(&segments).wait()?;
        }
        Ok::<_, IndexError>(())
    })();
    // Failed or not, the writer's threads are done with the folder before it is removed: a merge
    // that failed on a full disk could otherwise still write into it, or delete from it, while
    // the staging folder is being removed, and leave files behind (seen once in CI).
    let joined = writer.wait_merging_threads();
    written?;
    joined?;
    let searcher = index.reader()?.searcher();
    impact::write(
        &searcher,
        [fields.title, fields.text],
        &path.join(impact::FILE),
    )?;
    progress(count);
    Ok(count)
}

fn document(passage: &Passage, ord: u64, fields: Fields) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    if let Some(field) = fields.ord {
        doc.add_u64(field, ord);
    }
    doc.add_text(fields.id, &passage.id);
    doc.add_text(fields.title, &passage.title);
    doc.add_text(fields.text, &passage.text);
    if let (Some(field), Some(contents)) = (fields.contents, &passage.original_contents) {
        doc.add_text(field, contents);
    }
    doc
}

/// The `<dir>.partial` folder a build writes into; removed on drop unless it became the index.
struct Staging {
    path: PathBuf,
    done: bool,
}

impl Staging {
    /// Clears what an earlier, interrupted build left and creates the folder.
    fn create(dir: &Path) -> Result<Staging, IndexError> {
        let path = sibling(dir, ".partial");
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| IndexError::io(&path, e))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| IndexError::io(&path, e))?;
        Ok(Staging { path, done: false })
    }

    /// Moves the finished index to `dir` (see [`replace_folder`]).
    fn replace(mut self, dir: &Path) -> Result<(), IndexError> {
        replace_folder(&self.path, dir)?;
        self.done = true;
        Ok(())
    }
}

/// Moves the finished folder `staged` to `dir`. A previous folder there is swapped with the new
/// one in one step (Linux's `renameat2` with `RENAME_EXCHANGE`), so that a reader opening `dir`
/// meanwhile opens the old one or the new one, never nothing; then the old one is deleted. Where
/// the file system cannot swap, the old folder is moved aside to `<dir>.old` first.
pub fn replace_folder(staged: &Path, dir: &Path) -> Result<(), IndexError> {
    let old = sibling(dir, ".old");
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| IndexError::io(&old, e))?;
    }
    if !dir.exists() {
        return std::fs::rename(staged, dir).map_err(|e| IndexError::io(dir, e));
    }
    if swap(staged, dir).is_ok() {
        // The staged folder now holds the old one.
        return std::fs::remove_dir_all(staged).map_err(|e| IndexError::io(staged, e));
    }
    std::fs::rename(dir, &old).map_err(|e| IndexError::io(dir, e))?;
    if let Err(e) = std::fs::rename(staged, dir) {
        let _ = std::fs::rename(&old, dir);
        return Err(IndexError::io(dir, e));
    }
    std::fs::remove_dir_all(&old).map_err(|e| IndexError::io(&old, e))
}

/// Swaps two folders in one step.
#[cfg(target_os = "linux")]
fn swap(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn swap(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use formats::Passage;

    use super::*;
    use crate::{
        Analyzer, Bm25Index,
        fixtures::{passage, small_index},
    };

    fn ids(hits: &[search::SearchHit]) -> Vec<&str> {
        hits.iter().map(|h| h.passage.id.as_str()).collect()
    }

    #[test]
    fn refuses_to_overwrite_unless_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        small_index(&dir);
        let none = std::iter::empty::<Result<Passage, std::io::Error>>();
        let again = build(&dir, none, &BuildConfig::default(), |_| {});
        assert!(matches!(again, Err(IndexError::Exists { .. })), "{again:?}");
        let config = BuildConfig {
            overwrite: true,
            analyzer: Analyzer::Plain,
            ..BuildConfig::default()
        };
        let report = build(
            &dir,
            std::iter::once(passage("x", "Hà Nội", "thủ đô")),
            &config,
            |_| {},
        )
        .unwrap();
        assert_eq!(report.passages, 1);
        let index = Bm25Index::open(&dir).unwrap();
        assert_eq!(index.query("hà nội", 1).unwrap()[0].passage.id, "x");
    }

    /// Every file under `dir`, with its bytes.
    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push((path.clone(), std::fs::read(&path).unwrap()));
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn a_failed_build_leaves_the_previous_index_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        small_index(&dir);
        let before = snapshot(&dir);
        for overwrite in [false, true] {
            let config = BuildConfig {
                overwrite,
                ..BuildConfig::default()
            };
            let input = vec![
                passage("a", "A", "first"),
                Err(std::io::Error::other("line 2 is not JSON")),
                passage("b", "B", "never read"),
            ];
            let err = build(&dir, input, &config, |_| {}).unwrap_err();
            if overwrite {
                assert!(err.to_string().contains("line 2 is not JSON"), "{err}");
            } else {
                assert!(matches!(err, IndexError::Exists { .. }), "{err}");
            }
            assert_eq!(snapshot(&dir), before, "overwrite {overwrite}");
            assert!(!tmp.path().join("idx.partial").exists());
            assert!(!tmp.path().join("idx.old").exists());
        }
        let index = Bm25Index::open(&dir).unwrap();
        assert_eq!(ids(&index.query("Milan", 1).unwrap()), ["1"]);
    }

    #[test]
    fn a_leftover_staging_folder_does_not_stop_the_next_build() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        std::fs::create_dir_all(tmp.path().join("idx.partial/junk")).unwrap();
        small_index(&dir);
        assert!(!tmp.path().join("idx.partial").exists());
    }

    #[test]
    fn a_reader_always_finds_an_index_while_it_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        if let Err(e) = swap(&a, &b) {
            eprintln!("skipped: this file system cannot swap folders in one step ({e})");
            return;
        }
        let dir = tmp.path().join("idx");
        small_index(&dir);
        let done = std::sync::atomic::AtomicBool::new(false);
        let config = BuildConfig {
            overwrite: true,
            ..BuildConfig::default()
        };
        let (missing, looked) = std::thread::scope(|scope| {
            let watcher = scope.spawn(|| {
                let (mut missing, mut looked) = (0u64, 0u64);
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    looked += 1;
                    missing += u64::from(!dir.join("meta.json").exists());
                }
                (missing, looked)
            });
            for round in 0..20 {
                let text = format!("round {round}");
                build(&dir, [passage("r", "R", &text)], &config, |_| {}).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            watcher.join().unwrap()
        });
        assert!(looked > 0);
        assert_eq!(
            missing, 0,
            "the index was absent in {missing} of {looked} looks"
        );
        assert!(!tmp.path().join("idx.partial").exists());
        let index = Bm25Index::open(&dir).unwrap();
        assert_eq!(ids(&index.query("round 19", 1).unwrap()), ["r"]);
    }

    #[test]
    fn passages_that_tie_come_in_input_order_whatever_the_threads_did() {
        let tmp = tempfile::tempdir().unwrap();
        let config = BuildConfig {
            threads: 4,
            memory_mb: 16,
            ..BuildConfig::default()
        };
        let input = || {
            (0..20_000).map(|i| passage(&format!("p{i:05}"), "Same", "the same words everywhere"))
        };
        for round in 0..2 {
            let dir = tmp.path().join(format!("idx{round}"));
            build(&dir, input(), &config, |_| {}).unwrap();
            let index = Bm25Index::open(&dir).unwrap();
            let first = ["p00000", "p00001", "p00002", "p00003", "p00004"];
            assert_eq!(
                ids(&index.query("same words", 5).unwrap()),
                first,
                "build {round}"
            );
            let all = index.query("same words", 20_000).unwrap();
            assert_eq!(all.last().unwrap().passage.id, "p19999");
        }
    }
}
