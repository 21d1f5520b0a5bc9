//! The eager-scored engine for bag-of-words queries on indexes that fit in memory: every
//! posting's BM25 contribution is computed once, when the index is opened, so a query only adds
//! up precomputed scores of its terms (what bm25s does with its sparse matrix).
//!
//! Scores are tantivy's own: each posting is scored with `Bm25Weight::score` from the same
//! statistics its `TermQuery` would use (document frequency and average field length over the
//! whole index, the quantised field norm of the document), and the title and text
//! contributions of a term are added, as the `BooleanQuery` of [`crate::QueryMode::Words`] adds
//! its clauses. Ties are broken by ascending document address, as `TopDocs` does.

use std::{
    cell::RefCell,
    cmp::{Ordering, Reverse},
    collections::{BinaryHeap, HashMap},
};

use tantivy::{
    DocAddress, DocSet, Searcher, TERMINATED, Term,
    postings::Postings,
    query::{Bm25StatisticsProvider, Bm25Weight},
    schema::{Field, IndexRecordOption},
};

/// Indexes with at most this many documents are scored eagerly (their impacts take about
/// 8 bytes per posting, ~60 postings per passage: ~120 MB at the limit); larger ones are
/// searched by tantivy's block-WAND, whose memory stays in the page cache.
pub(crate) const MAX_DOCS: u32 = 250_000;

/// Precomputed BM25 contributions, one posting list per analysed term (title and text merged).
pub(crate) struct Impacts {
    /// Term bytes → the range of its postings in `docs` / `scores`.
    terms: HashMap<Box<[u8]>, (u32, u32)>,
    /// Global document numbers (segment base + document id), ascending within a term.
    docs: Vec<u32>,
    scores: Vec<f32>,
    /// The first global document number of each segment.
    bases: Vec<u32>,
    max_doc: u32,
}

impl Impacts {
    /// Scores every posting of `fields` in `searcher`'s segments.
    pub(crate) fn compute(searcher: &Searcher, fields: &[Field]) -> tantivy::Result<Impacts> {
        let mut bases = Vec::new();
        let mut max_doc = 0u32;
        for segment in searcher.segment_readers() {
            bases.push(max_doc);
            max_doc += segment.max_doc();
        }
        let total_docs = searcher.total_num_docs()?;
        let mut lists: HashMap<Box<[u8]>, Vec<(u32, f32)>> = HashMap::new();
        for &field in fields {
            let average = searcher.total_num_tokens(field)? as f32 / total_docs.max(1) as f32;
            let mut weights: HashMap<Box<[u8]>, Bm25Weight> = HashMap::new();
            for (segment, &base) in searcher.segment_readers().iter().zip(&bases) {
                let inverted = segment.inverted_index(field)?;
                let norms = segment.get_fieldnorms_reader(field)?;
                let alive = segment.alive_bitset();
                let mut terms = inverted.terms().stream()?;
                while terms.advance() {
                    let key = terms.key();
                    let weight = match weights.get(key) {
                        Some(w) => w.clone(),
                        None => {
                            let term = Term::from_field_bytes(field, key);
                            let doc_freq = searcher.doc_freq(&term)?;
                            let w = Bm25Weight::for_one_term_without_explain(
                                doc_freq, total_docs, average,
                            );
                            weights.insert(key.into(), w.clone());
                            w
                        }
                    };
                    let mut postings = inverted
                        .read_postings_from_terminfo(terms.value(), IndexRecordOption::WithFreqs)?;
                    let list = lists.entry(key.into()).or_default();
                    let mut doc = postings.doc();
                    while doc != TERMINATED {
                        if alive.is_none_or(|a| a.is_alive(doc)) {
                            let score = weight.score(norms.fieldnorm_id(doc), postings.term_freq());
                            list.push((base + doc, score));
                        }
                        doc = postings.advance();
                    }
                }
            }
        }
        let total: usize = lists.values().map(Vec::len).sum();
        let mut impacts = Impacts {
            terms: HashMap::with_capacity(lists.len()),
            docs: Vec::with_capacity(total),
            scores: Vec::with_capacity(total),
            bases,
            max_doc,
        };
        for (key, mut list) in lists {
            // Field by field, each ascending: a stable sort keeps the first field's
            // contribution first, so a term's fields are added in clause order.
            list.sort_by_key(|&(doc, _)| doc);
            let start = impacts.docs.len() as u32;
            for (doc, score) in list {
                if impacts.docs.len() > start as usize && impacts.docs.last() == Some(&doc) {
                    *impacts.scores.last_mut().expect("a posting") += score;
                } else {
                    impacts.docs.push(doc);
                    impacts.scores.push(score);
                }
            }
            impacts
                .terms
                .insert(key, (start, impacts.docs.len() as u32));
        }
        Ok(impacts)
    }

    /// The best `k` documents for `terms` (each counted as often as it is given), best first;
    /// equal scores in ascending document order.
    pub(crate) fn top<'a>(
        &self,
        terms: impl IntoIterator<Item = &'a [u8]>,
        k: usize,
    ) -> Vec<(f32, DocAddress)> {
        SCRATCH.with_borrow_mut(|scratch| {
            let Scratch { sums, touched } = scratch;
            if sums.len() < self.max_doc as usize {
                sums.resize(self.max_doc as usize, 0.0);
                touched.resize(self.max_doc as usize + 1, 0);
            }
            // Every document is noted at `touched[len]`, but `len` moves on only for the first
            // score it gets: no branch for the CPU to mispredict.
            let mut len = 0;
            for term in terms {
                let Some(&(start, end)) = self.terms.get(term) else {
                    continue;
                };
                let (start, end) = (start as usize, end as usize);
                for (&doc, &score) in self.docs[start..end].iter().zip(&self.scores[start..end]) {
                    let sum = &mut sums[doc as usize];
                    touched[len] = doc;
                    len += usize::from(*sum == 0.0);
                    *sum += score;
                }
            }
            // The k best so far, the worst on top; once there are k, a sum below the worst's
            // is turned away by one float comparison.
            let mut best: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(k + 1);
            let mut floor = f32::NEG_INFINITY;
            for &doc in touched[..len].iter() {
                let sum = std::mem::take(&mut sums[doc as usize]);
                if sum < floor {
                    continue;
                }
                let candidate = Ranked(sum, doc);
                if best.len() < k {
                    best.push(Reverse(candidate));
                } else if best.peek().is_some_and(|worst| candidate > worst.0) {
                    best.pop();
                    best.push(Reverse(candidate));
                }
                if best.len() == k {
                    floor = best.peek().map_or(floor, |worst| worst.0.0);
                }
            }
            best.into_sorted_vec()
                .into_iter()
                .map(|Reverse(Ranked(score, doc))| (score, self.address(doc)))
                .collect()
        })
    }

    fn address(&self, doc: u32) -> DocAddress {
        let segment = self.bases.partition_point(|&base| base <= doc) - 1;
        DocAddress::new(segment as u32, doc - self.bases[segment])
    }

    /// Postings held, for `Debug`.
    pub(crate) fn postings(&self) -> usize {
        self.docs.len()
    }
}

/// A scored document, ordered from worse to better: a higher score, then a lower document.
#[derive(Clone, Copy, PartialEq)]
struct Ranked(f32, u32);

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(other.1.cmp(&self.1))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A per-thread score accumulator.
#[derive(Default)]
struct Scratch {
    /// A running sum per document, all zeros between queries.
    sums: Vec<f32>,
    /// The documents a query reached, in the order it reached them (one slot more than there
    /// are documents: the write that does not count lands in it); only a prefix is valid.
    touched: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}
