//! [`CorpusReader`]: one input read as a stream of passages, with the counts of what it read.

use std::{
    collections::VecDeque,
    panic::{self, AssertUnwindSafe},
    path::{Path, PathBuf},
    sync::{Arc, atomic::Ordering, mpsc},
    thread,
};

use formats::Passage;
use rayon::prelude::*;

use crate::{
    Config, CorpusError, Format, PageSkip, Split, Tally,
    chunk::chunk,
    detect, dump,
    input::{self, BytesRead},
    jsonl,
    page::{Link, Page, Paragraph, Record, Records},
    pagedir,
};

/// Opens one input (file or page folder) as a stream of passages.
///
/// Fails at once if the input is missing or its format cannot be told.
pub fn open(path: &Path, config: &Config) -> Result<CorpusReader, CorpusError> {
    let format = match config.format {
        Some(f) => f,
        None => detect::detect(path)?,
    };
    let bytes_read = BytesRead::default();
    let records: Records = match format {
        Format::Xml => Box::new(dump::DumpReader::open(path, &bytes_read)?),
        Format::Dir => Box::new(pagedir::PageDir::open(path, &bytes_read)?),
        _ => jsonl::open(path, format, &bytes_read)?,
    };
    // Passages kept as they come (wiki-18's) are taken on the reading thread, one at a time:
    // they cost less than handing them to other threads (a quarter more time on the pool).
    let whole_passages = format.is_passages() && config.split != Split::Always;
    Ok(CorpusReader {
        on_pool: !whole_passages && input::hand_to_pool(),
        path: path.to_path_buf(),
        format,
        records,
        config: Arc::new(config.clone()),
        pending: VecDeque::new(),
        converting: VecDeque::new(),
        tally: Tally::default(),
        bytes_read,
        total_bytes: input::input_size(path),
        done: false,
    })
}

/// An input read as passages: an iterator of `Result<Passage, CorpusError>`.
///
/// Skipped records (redirects, other namespaces, empty pages) are only counted. Bad records
/// are counted too, and without [`Config::skip_bad`] each is also yielded as an `Err`; the
/// iteration can go on after it. An `Err` from I/O ends the iteration.
pub struct CorpusReader {
    path: PathBuf,
    format: Format,
    records: Records,
    config: Arc<Config>,
    /// Whether batches are turned into passages on rayon's pool, or on the reading thread.
    on_pool: bool,
    /// Records read and turned into passages, not all handed out yet.
    pending: VecDeque<Taken>,
    /// The batches read after them, being turned into passages meanwhile.
    converting: VecDeque<Batch>,
    tally: Tally,
    bytes_read: BytesRead,
    total_bytes: u64,
    done: bool,
}

impl CorpusReader {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format read (detected or given).
    pub fn format(&self) -> Format {
        self.format
    }

    /// Counts so far; final once the iterator has returned `None`.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Input bytes consumed so far (compressed bytes for `.bz2`), for progress bars.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Size of the input in bytes (a folder's files added up).
    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Hands out the next records: read and taken here, one at a time, when the pool is not
    /// used; else the first batch being converted, having read the next ones and started their
    /// conversion first, so that the reading thread reads, and then hands out passages, while
    /// the pool converts the batches after them.
    fn fill(&mut self) {
        if !self.on_pool {
            let (records, failed) = self.read(1);
            let config = &self.config;
            (self.pending).extend(records.into_iter().map(|r| Taken::of(r, config)));
            self.pending.extend(failed.map(Taken::failed));
            return;
        }
        while !self.done && self.converting.len() < IN_FLIGHT {
            let (records, failed) = self.read(BATCH);
            let result = Taken::on_pool(records, Arc::clone(&self.config));
            self.converting.push_back(Batch { result, failed });
        }
        if let Some(batch) = self.converting.pop_front() {
            self.pending.extend(batch.wait());
        }
    }

    /// Reads up to `len` records, and the error that ended the input after them if one did.
    fn read(&mut self, len: usize) -> (Vec<Record>, Option<CorpusError>) {
        let mut records = Vec::with_capacity(len);
        while records.len() < len {
            match self.records.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return (records, Some(e));
                }
                Some(Ok(record)) => records.push(record),
            }
        }
        (records, None)
    }
}

/// A batch of records being turned into passages on the pool (on every core: the wikitext of a
/// dump's pages is converted there, pages are cut there).
struct Batch {
    result: mpsc::Receiver<thread::Result<Vec<Taken>>>,
    /// The error that ended the input after the batch's records.
    failed: Option<CorpusError>,
}

impl Batch {
    /// The batch's records as taken, in order, then its error; waits for the pool.
    fn wait(self) -> impl Iterator<Item = Taken> {
        let taken = match self
            .result
            .recv()
            .expect("the conversion job always answers")
        {
            Ok(taken) => taken,
            // A conversion that panicked panics here, on the reading thread, as it would have
            // in line.
            Err(panic) => panic::resume_unwind(panic),
        };
        taken.into_iter().chain(self.failed.map(Taken::failed))
    }
}

/// Pages read ahead and turned into passages at once. Small enough that a stopped run has
/// read little past its stop; the pages read ahead are counted only as their passages are
/// handed out.
const BATCH: usize = 256;

/// Batches being converted while the reading thread reads and hands out passages: with more
/// than one, a thread of the pool that finished its part of a batch starts on the next one.
const IN_FLIGHT: usize = 2;

/// What one record gave: passages, or a skip, or an error to hand out after its passages.
struct Taken {
    /// Counts as a page read (not yet added to the tally).
    page: bool,
    skip: Option<PageSkip>,
    passages: std::vec::IntoIter<Passage>,
    error: Option<CorpusError>,
}

impl Taken {
    /// Starts turning `records` into passages on rayon's pool, on every core.
    fn on_pool(
        records: Vec<Record>,
        config: Arc<Config>,
    ) -> mpsc::Receiver<thread::Result<Vec<Taken>>> {
        let (send, result) = mpsc::sync_channel(1);
        rayon::spawn(move || {
            // Caught: a panic on the pool would abort the process.
            let taken = panic::catch_unwind(AssertUnwindSafe(|| {
                (records.into_par_iter())
                    .map(|record| Taken::of(record, &config))
                    .collect()
            }));
            // Nobody waits any more when the reader was dropped.
            let _ = send.send(taken);
        });
        result
    }

    /// The error that ended the input, handed out after the records before it.
    fn failed(error: CorpusError) -> Taken {
        Taken {
            page: false,
            skip: None,
            passages: Vec::new().into_iter(),
            error: Some(error),
        }
    }

    fn of(record: Record, config: &Config) -> Taken {
        let words = match config.split {
            Split::Never => None,
            _ => Some(config.words),
        };
        let mut taken = Taken {
            page: true,
            skip: None,
            passages: Vec::new().into_iter(),
            error: None,
        };
        let passages = match record {
            Record::Deferred(record) => return Taken::of(record.make(), config),
            Record::Page(page) => passages_of(page, words),
            Record::Passage(p) if config.split == Split::Always => {
                let page = Page {
                    paragraphs: vec![paragraph_of(&p)],
                    id: p.id,
                    title: p.title,
                };
                passages_of(page, words)
            }
            Record::Passage(p) if p.text.trim().is_empty() => Vec::new(),
            Record::Passage(p) => vec![p],
            Record::Skipped(reason) => {
                taken.skip = Some(reason);
                return taken;
            }
            Record::Bad(reason, error) => {
                taken.skip = Some(reason);
                taken.error = (!config.skip_bad).then_some(error);
                return taken;
            }
        };
        if passages.is_empty() {
            taken.skip = Some(PageSkip::Empty);
        }
        taken.passages = passages.into_iter();
        taken
    }
}

fn passages_of(page: Page, words: Option<usize>) -> Vec<Passage> {
    let chunks = chunk(&page.paragraphs, words);
    let whole = words.is_none();
    (chunks.into_iter().enumerate())
        .map(|(n, c)| {
            let id = if whole {
                page.id.clone()
            } else {
                format!("{}#{n}", page.id)
            };
            let mut passage = Passage::new(id, page.title.clone(), c.text);
            passage.anchors = c.anchors;
            passage
        })
        .collect()
}

/// A passage as one paragraph with byte-offset links (anchors that do not fit are dropped).
fn paragraph_of(p: &Passage) -> Paragraph {
    let links = p
        .anchors
        .iter()
        .filter_map(|a| {
            let r = a.byte_range(&p.text)?;
            Some(Link {
                start: r.start,
                end: r.end,
                target: a.target.clone(),
            })
        })
        .collect();
    Paragraph {
        text: p.text.clone(),
        links,
    }
}

impl Iterator for CorpusReader {
    type Item = Result<Passage, CorpusError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(front) = self.pending.front_mut() else {
                if self.done && self.converting.is_empty() {
                    return None;
                }
                self.fill();
                continue;
            };
            if std::mem::take(&mut front.page) {
                self.tally.pages += 1;
                if let Some(reason) = front.skip {
                    self.tally.skip(reason);
                }
            }
            if let Some(p) = front.passages.next() {
                self.tally.passages += 1;
                return Some(Ok(p));
            }
            let error = front.error.take();
            self.pending.pop_front();
            if let Some(e) = error {
                return Some(Err(e));
            }
        }
    }
}
