//! The impact engine for bag-of-words queries: every posting's BM25 contribution is computed
//! once, when the index is built, and kept in `impacts.bin` beside tantivy's files — one list
//! per term and field, with the largest score of the list and of every block of 128 postings —
//! so a query adds up precomputed scores: every posting of its lists ([`sum`] for a small index,
//! held decoded; [`scan`] over the compressed lists of a large one), or, when its lists are long,
//! all but those of the documents that cannot reach the top k (block-max MaxScore, [`top`]).
//! Exact: the top k is the exhaustive sum's, bit for bit, whichever engine finds it.
//!
//! Scores are tantivy's own: each posting is scored with `Bm25Weight::score` from the same
//! statistics its `TermQuery` would use (document frequency and average field length over the
//! whole index, the quantised field norm of the document), and the title and text
//! contributions of a term are added, as the `BooleanQuery` of [`crate::QueryMode::Words`] adds
//! its clauses. Ties are broken by ascending document address, as `TopDocs` does.
//!
//! The file is mapped, not read: a server starts at once and holds in memory only the pages its
//! queries touched.

mod list;
mod scan;
mod sum;
mod top;
mod write;

use std::{fs::File, ops::Range, path::Path};

use memmap2::{Mmap, MmapMut};
use search::Scored;
use tantivy::{DocAddress, Searcher};

use crate::IndexError;
pub(crate) use list::List;
use list::{BLOCK, Record};

pub(crate) use write::write;

/// Indexes of at most this many documents are small: a query sums every posting of its lists
/// (faster there than skipping), takes tens of microseconds, and an index built before impact
/// files has them computed when it opens.
pub(crate) const MAX_DOCS: u32 = 250_000;

/// Indexes of at least this many documents search a query that comes alone in two halves,
/// one per core: at 10M passages a query takes milliseconds.
const SPLIT_DOCS: u32 = 1_000_000;

/// A query whose words have, on average, fewer postings (title and text lists together) than the
/// documents divided by this is summed whole instead of searched by skipping. Both engines timed
/// on each of the 1,642 shipped questions at 1M, 5M and 10M synthetic passages: summing whole
/// costs about 1.5 ns a posting and wins for most questions; skipping wins for those whose lists
/// are long, where it passes over long runs of them. Of the cut-offs tried (a sixth to a
/// twentieth), a tenth was best at 1M, a twelfth at 5M, a fourteenth at 10M; a twelfth is within
/// 1 % of the best at each size.
const SCAN_SHARE: usize = 12;

/// The impact file in an index folder.
pub(crate) const FILE: &str = "impacts.bin";

/// The last bytes of the file: where each part starts, and what the file was made from.
const FOOTER: usize = 8 * 8;
const MAGIC: &[u8; 8] = b"MSIMPCT1";

/// An index folder's impact file, mapped.
pub(crate) struct Impacts {
    bytes: Mmap,
    /// Byte offsets of the parts: postings, blocks, term entries, term bytes (and their end).
    blocks_at: usize,
    entries_at: usize,
    keys_at: usize,
    keys_end: usize,
    terms: usize,
    postings: u64,
    /// The first global document number of each segment.
    bases: Vec<u32>,
    /// Documents in all segments, deleted ones included.
    max_doc: u32,
    /// A small index's postings, decoded and summed per term.
    eager: Option<sum::Eager>,
}

/// One list's entry: where its table and blocks are, how many postings, its largest score.
const ENTRY: usize = 40;

impl Impacts {
    /// Maps `dir`'s impact file if it was made from `searcher`'s segments; `None` if there is
    /// none (an index built before the file existed) or it belongs to other segments.
    pub(crate) fn open(dir: &Path, searcher: &Searcher) -> Result<Option<Impacts>, IndexError> {
        let path = dir.join(FILE);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(IndexError::io(&path, e)),
        };
        let bytes = map(&file, &path)?;
        let impacts = Impacts::parse(bytes, searcher).map_err(|message| IndexError::BadMeta {
            path: path.clone(),
            message,
        })?;
        Ok(impacts)
    }

    /// Computes the impacts of `searcher`'s index into memory (for an index built before the
    /// file existed).
    pub(crate) fn compute(
        searcher: &Searcher,
        fields: [tantivy::schema::Field; 2],
    ) -> Result<Impacts, IndexError> {
        let in_memory = |e| IndexError::io(Path::new("(impacts in memory)"), e);
        let mut bytes = Vec::new();
        write::write_to(searcher, fields, &mut bytes).map_err(in_memory)?;
        let mut mapped = MmapMut::map_anon(bytes.len().max(1)).map_err(in_memory)?;
        mapped[..bytes.len()].copy_from_slice(&bytes);
        let mapped = mapped.make_read_only().map_err(in_memory)?;
        let impacts =
            Impacts::parse(mapped, searcher).map_err(tantivy::TantivyError::InternalError)?;
        Ok(impacts.expect("impacts just computed"))
    }

    fn parse(bytes: Mmap, searcher: &Searcher) -> Result<Option<Impacts>, String> {
        if bytes.len() < FOOTER || bytes[bytes.len() - 8..] != MAGIC[..] {
            return Err("not an impact file (no footer)".into());
        }
        let footer = &bytes[bytes.len() - FOOTER..];
        let word = |i: usize| u64::from_le_bytes(footer[i * 8..i * 8 + 8].try_into().unwrap());
        let [
            blocks_at,
            entries_at,
            keys_at,
            keys_end,
            terms,
            postings,
            fingerprint,
        ] = std::array::from_fn(word);
        let ordered = blocks_at <= entries_at && entries_at <= keys_at && keys_at <= keys_end;
        if !ordered
            || keys_end as usize > bytes.len() - FOOTER
            || entries_at + terms * ENTRY as u64 != keys_at
            || blocks_at % 4 != 0
            || (entries_at - blocks_at) % 16 != 0
        {
            return Err("damaged impact file (its parts do not add up)".into());
        }
        if fingerprint != segments_fingerprint(searcher) {
            return Ok(None);
        }
        let mut impacts = Impacts {
            blocks_at: blocks_at as usize,
            entries_at: entries_at as usize,
            keys_at: keys_at as usize,
            keys_end: keys_end as usize,
            terms: terms as usize,
            postings,
            bases: bases(searcher),
            max_doc: searcher.segment_readers().iter().map(|s| s.max_doc()).sum(),
            eager: None,
            bytes,
        };
        if impacts.max_doc <= MAX_DOCS {
            impacts.eager = Some(sum::Eager::new(&impacts));
        }
        Ok(Some(impacts))
    }

    /// The postings of `term` in field `field` (0 title, 1 text), if any document has it.
    pub(crate) fn list(&self, field: u8, term: &[u8]) -> Option<List<'_>> {
        let (mut lo, mut hi) = (0, self.terms);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let (key_field, key_term) = self.key(mid).split_first().expect("a key has a field");
            match (key_field, key_term).cmp(&(&field, term)) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.list_at(mid)),
            }
        }
        None
    }

    /// The `i`th entry's words.
    fn entry(&self, i: usize) -> [u64; 5] {
        let at = self.entries_at + i * ENTRY;
        let e = &self.bytes[at..at + ENTRY];
        std::array::from_fn(|j| u64::from_le_bytes(e[j * 8..j * 8 + 8].try_into().unwrap()))
    }

    /// The `i`th list's key: its field's number, then the term.
    fn key(&self, i: usize) -> &[u8] {
        let start = self.entry(i)[2] as usize;
        let end = if i + 1 < self.terms {
            self.entry(i + 1)[2] as usize
        } else {
            self.keys_end - self.keys_at
        };
        &self.bytes[self.keys_at + start..self.keys_at + end]
    }

    fn list_at(&self, i: usize) -> List<'_> {
        let [data_at, first, _, len_max, table] = self.entry(i);
        let (data_at, first, table) = (data_at as usize, first as usize, table as usize);
        let len = (len_max & 0xffff_ffff) as usize;
        let records: &[Record] = bytemuck::cast_slice(&self.bytes[self.blocks_at..self.entries_at]);
        List {
            len,
            max: f32::from_bits((len_max >> 32) as u32),
            scores: bytemuck::cast_slice(&self.bytes[data_at..data_at + 4 * table]),
            records: &records[first..first + len.div_ceil(BLOCK)],
            packed: &self.bytes[data_at + 4 * table..self.blocks_at],
        }
    }

    /// The best `k` documents for `terms` (each counted as often as it is given), best first;
    /// equal scores in ascending document order. A large index searched `alone` (no other
    /// query beside it to keep the other cores busy) is searched in two halves at once.
    pub(crate) fn top<'a>(
        &self,
        terms: impl IntoIterator<Item = &'a [u8]>,
        k: usize,
        alone: bool,
    ) -> Vec<(f32, DocAddress)> {
        let terms = Terms::new(terms);
        let top = match &self.eager {
            Some(eager) => eager.top(&terms, k),
            None if alone && self.max_doc >= SPLIT_DOCS => self.in_halves(&self.lists(&terms), k),
            None => self.top_in(&self.lists(&terms), k, 0..self.max_doc),
        };
        top.into_iter()
            .map(|s| (s.score, self.address(s.position)))
            .collect()
    }

    /// The best `k` of each half of the documents, searched at once, merged.
    fn in_halves(&self, lists: &Lists, k: usize) -> Vec<Scored<u32>> {
        let middle = self.max_doc / 2;
        let (mut first, second) = rayon::join(
            || self.top_in(lists, k, 0..middle),
            || self.top_in(lists, k, middle..self.max_doc),
        );
        first.extend(second);
        first.sort_by(|a, b| b.cmp(a));
        first.truncate(k);
        first
    }

    /// The best `k` in `docs`: a query whose words have short lists is summed whole
    /// ([`scan`]), one with long lists is searched by skipping ([`top`]).
    fn top_in(&self, lists: &Lists, k: usize, docs: Range<u32>) -> Vec<Scored<u32>> {
        let postings: usize = (lists.terms.sequence.iter())
            .flat_map(|&slot| lists.of[slot].iter().flatten())
            .map(|list| list.len)
            .sum();
        if postings * SCAN_SHARE < self.max_doc as usize * lists.terms.sequence.len() {
            scan::top(lists, k, docs)
        } else {
            top::top(lists, k, docs)
        }
    }

    /// The title and text lists of each of the query's distinct terms.
    fn lists<'a>(&'a self, terms: &'a Terms<'a>) -> Lists<'a> {
        let of = (terms.distinct.iter())
            .map(|term| [TITLE, TEXT].map(|field| self.list(field as u8, term)))
            .collect();
        Lists { terms, of }
    }

    fn address(&self, doc: u32) -> DocAddress {
        let segment = self.bases.partition_point(|&base| base <= doc) - 1;
        DocAddress::new(segment as u32, doc - self.bases[segment])
    }

    /// Postings held, for `Debug`.
    pub(crate) fn postings(&self) -> u64 {
        self.postings
    }
}

/// The fields' numbers in the impact file.
const TITLE: usize = 0;
const TEXT: usize = 1;

/// A query's terms: each distinct term once, and the query as a sequence of them (a repeated
/// word counts as often as it is given).
struct Terms<'a> {
    distinct: Vec<&'a [u8]>,
    sequence: Vec<usize>,
}

impl<'a> Terms<'a> {
    fn new(terms: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut distinct: Vec<&[u8]> = Vec::new();
        let mut sequence = Vec::new();
        for term in terms {
            let slot = distinct.iter().position(|&t| t == term).unwrap_or_else(|| {
                distinct.push(term);
                distinct.len() - 1
            });
            sequence.push(slot);
        }
        Terms { distinct, sequence }
    }

    /// How often the query has its `slot`th distinct term.
    fn count(&self, slot: usize) -> usize {
        self.sequence.iter().filter(|&&s| s == slot).count()
    }
}

/// A query's lists in the impact file, looked up once for whichever engine searches them.
struct Lists<'a> {
    terms: &'a Terms<'a>,
    /// For each distinct term, its title and text list.
    of: Vec<[Option<List<'a>>; 2]>,
}

/// Maps `file`.
#[allow(unsafe_code)]
fn map(file: &File, path: &Path) -> Result<Mmap, IndexError> {
    // SAFETY: the files of a finished index are never written again: a new build writes a new
    // folder and swaps it in whole, so the mapped bytes do not change under the map.
    unsafe { Mmap::map(file) }.map_err(|e| IndexError::io(path, e))
}

/// The first global document number of each segment.
fn bases(searcher: &Searcher) -> Vec<u32> {
    let mut bases = Vec::new();
    let mut next = 0u32;
    for segment in searcher.segment_readers() {
        bases.push(next);
        next += segment.max_doc();
    }
    bases
}

/// Names the segments an impact file was made from (FNV-1a over their ids and sizes): a file
/// left beside other segments is not used.
fn segments_fingerprint(searcher: &Searcher) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for segment in searcher.segment_readers() {
        let id = segment.segment_id().uuid_string();
        for byte in id.bytes().chain(segment.max_doc().to_le_bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}
