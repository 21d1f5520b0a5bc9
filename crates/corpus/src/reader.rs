//! [`CorpusReader`]: one input read as a stream of passages, with the counts of what it read.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::atomic::Ordering,
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
    // Passages kept as they come (wiki-18's) are read one at a time: they cost less than
    // handing them to other threads (a quarter more time in batches).
    let whole_passages = format.is_passages() && config.split != Split::Always;
    Ok(CorpusReader {
        batch: if whole_passages { 1 } else { BATCH },
        path: path.to_path_buf(),
        format,
        records,
        config: config.clone(),
        pending: VecDeque::new(),
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
    config: Config,
    /// Records read at a time ([`BATCH`], or 1 where there is nothing to convert or cut).
    batch: usize,
    /// Records read and turned into passages, not all handed out yet.
    pending: VecDeque<Taken>,
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

    /// Reads the next records, up to `batch`, and turns them into passages on every core (the
    /// wikitext of a dump's pages is converted there, pages are cut there), in order.
    fn fill(&mut self) {
        let mut batch = Vec::with_capacity(self.batch);
        let mut failed = None;
        while batch.len() < self.batch {
            match self.records.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Err(e)) => {
                    self.done = true;
                    failed = Some(e);
                    break;
                }
                Some(Ok(record)) => batch.push(record),
            }
        }
        let config = &self.config;
        if batch.len() > 1 {
            let taken: Vec<Taken> = (batch.into_par_iter())
                .map(|record| Taken::of(record, config))
                .collect();
            self.pending.extend(taken);
        } else {
            (self.pending).extend(batch.into_iter().map(|record| Taken::of(record, config)));
        }
        if let Some(e) = failed {
            self.pending.push_back(Taken {
                page: false,
                skip: None,
                passages: Vec::new().into_iter(),
                error: Some(e),
            });
        }
    }
}

/// Pages read ahead and turned into passages at once. Small enough that a stopped run has
/// read little past its stop; the pages read ahead are counted only as their passages are
/// handed out.
const BATCH: usize = 256;

/// What one record gave: passages, or a skip, or an error to hand out after its passages.
struct Taken {
    /// Counts as a page read (not yet added to the tally).
    page: bool,
    skip: Option<PageSkip>,
    passages: std::vec::IntoIter<Passage>,
    error: Option<CorpusError>,
}

impl Taken {
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
                if self.done {
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
