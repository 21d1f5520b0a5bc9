//! [`CorpusReader`]: one input read as a stream of passages, with the counts of what it read.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::atomic::Ordering,
};

use formats::Passage;

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
    Ok(CorpusReader {
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
    pending: VecDeque<Passage>,
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

    fn take(&mut self, record: Record) -> Option<CorpusError> {
        self.tally.pages += 1;
        let words = match self.config.split {
            Split::Never => None,
            _ => Some(self.config.words),
        };
        let before = self.pending.len();
        match record {
            Record::Page(page) => self.push_page(page, words),
            Record::Passage(p) if self.config.split == Split::Always => {
                let page = Page {
                    paragraphs: vec![paragraph_of(&p)],
                    id: p.id,
                    title: p.title,
                };
                self.push_page(page, words);
            }
            Record::Passage(p) => {
                if !p.text.trim().is_empty() {
                    self.pending.push_back(p);
                }
            }
            Record::Skipped(reason) => {
                self.tally.skip(reason);
                return None;
            }
            Record::Bad(reason, error) => {
                self.tally.skip(reason);
                return (!self.config.skip_bad).then_some(error);
            }
        }
        if self.pending.len() == before {
            self.tally.skip(PageSkip::Empty);
        }
        None
    }

    fn push_page(&mut self, page: Page, words: Option<usize>) {
        let chunks = chunk(&page.paragraphs, words);
        let whole = words.is_none();
        for (n, c) in chunks.into_iter().enumerate() {
            let id = if whole {
                page.id.clone()
            } else {
                format!("{}#{n}", page.id)
            };
            let mut passage = Passage::new(id, page.title.clone(), c.text);
            passage.anchors = c.anchors;
            self.pending.push_back(passage);
        }
    }
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
            if let Some(p) = self.pending.pop_front() {
                self.tally.passages += 1;
                return Some(Ok(p));
            }
            if self.done {
                return None;
            }
            match self.records.next() {
                None => self.done = true,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(record)) => {
                    if let Some(e) = self.take(record) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }
}
