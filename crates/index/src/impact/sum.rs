//! The exhaustive sum, for small indexes: their lists are held decoded in memory, each term's
//! title and text merged into one list of sums (title + text, as a document's score adds
//! them), and a query adds up every posting of its terms into one running sum per document,
//! then takes the k best — what bm25s does with its sparse matrix. There is little to skip in
//! a small index, and plain arrays beat skipping by a few microseconds a query. It is also the
//! reference the skipping engine is tested against.

use std::cell::RefCell;

use foldhash::HashMap;

use search::{Scored, TopK};

use super::{BLOCK, Impacts, TEXT, TITLE, Terms};

/// A small index's postings, decoded: per term, documents ascending with their summed scores.
pub(super) struct Eager {
    /// Term bytes → the range of its postings in `docs` / `scores`.
    terms: HashMap<Box<[u8]>, (u32, u32)>,
    docs: Vec<u32>,
    scores: Vec<f32>,
    max_doc: u32,
}

impl Eager {
    pub(super) fn new(impacts: &Impacts) -> Eager {
        let mut eager = Eager {
            terms: HashMap::default(),
            docs: Vec::new(),
            scores: Vec::new(),
            max_doc: impacts.max_doc,
        };
        let mut title: Vec<(u32, f32)> = Vec::new();
        let mut text: Vec<(u32, f32)> = Vec::new();
        // Every term with a title list, then those with a text list only.
        let mut terms: Vec<&[u8]> = (0..impacts.terms)
            .filter_map(|i| impacts.key(i).split_first())
            .map(|(_, term)| term)
            .collect();
        terms.sort_unstable();
        terms.dedup();
        for term in terms {
            decode(impacts, TITLE, term, &mut title);
            decode(impacts, TEXT, term, &mut text);
            let start = eager.docs.len() as u32;
            let (mut a, mut b) = (title.iter().peekable(), text.iter().peekable());
            loop {
                let (doc, score) = match (a.peek(), b.peek()) {
                    (Some(&&(da, sa)), Some(&&(db, sb))) if da == db => {
                        a.next();
                        b.next();
                        (da, sa + sb)
                    }
                    (Some(&&(da, sa)), Some(&&(db, _))) if da < db => {
                        a.next();
                        (da, sa)
                    }
                    (_, Some(&&(db, sb))) => {
                        b.next();
                        (db, sb)
                    }
                    (Some(&&(da, sa)), None) => {
                        a.next();
                        (da, sa)
                    }
                    (None, None) => break,
                };
                eager.docs.push(doc);
                eager.scores.push(score);
            }
            eager
                .terms
                .insert(term.into(), (start, eager.docs.len() as u32));
        }
        eager
    }

    /// The best `k` global document numbers for `terms` with their scores, best first.
    pub(super) fn top(&self, terms: &Terms, k: usize) -> Vec<Scored<u32>> {
        let lists: Vec<_> = self.lists(terms).collect();
        let postings: usize = lists.iter().map(|(docs, _)| docs.len()).sum();
        self.top_by(&lists, k, postings >= self.max_doc as usize / DENSE)
    }

    /// The postings of each of the query's words, in query order, repeats kept.
    pub(super) fn lists<'a>(
        &'a self,
        terms: &'a Terms,
    ) -> impl Iterator<Item = (&'a [u32], &'a [f32])> {
        terms.sequence.iter().filter_map(|&slot| {
            let &(start, end) = self.terms.get(terms.distinct[slot])?;
            let range = start as usize..end as usize;
            Some((&self.docs[range.clone()], &self.scores[range]))
        })
    }

    /// The top `k` of `lists` summed, the documents reached read back from the whole array of
    /// sums in order (`dense`) or from the list of the documents reached: the same top either way.
    pub(super) fn top_by(
        &self,
        lists: &[(&[u32], &[f32])],
        k: usize,
        dense: bool,
    ) -> Vec<Scored<u32>> {
        SCRATCH.with_borrow_mut(|scratch| {
            let docs = self.max_doc as usize;
            if scratch.sums.len() < docs {
                scratch.sums.resize(docs, 0.0);
                scratch.touched.resize(docs + 1, 0);
            }
            // Slices, not the vectors: their pointers stay in registers through the loops below
            // (the vectors' fields would be read again after every store).
            let (sums, touched) = (&mut scratch.sums[..docs], &mut scratch.touched[..=docs]);
            let mut best = TopK::new(k);
            if dense {
                for &(docs, scores) in lists {
                    for (&doc, &score) in docs.iter().zip(scores) {
                        sums[doc as usize] += score;
                    }
                }
                collect_dense(sums, &mut best, 0);
                return best.into_sorted();
            }
            // Every document is noted at `touched[len]`, but `len` moves on only for the first
            // score it gets: no branch for the CPU to mispredict.
            let mut len = 0;
            for &(docs, scores) in lists {
                for (&doc, &score) in docs.iter().zip(scores) {
                    let sum = &mut sums[doc as usize];
                    touched[len] = doc;
                    len += usize::from(*sum == 0.0);
                    *sum += score;
                }
            }
            // Once there are k, a sum below the k-th best is turned away by one comparison.
            for &doc in &touched[..len] {
                let sum = std::mem::take(&mut sums[doc as usize]);
                if sum >= best.floor() {
                    best.offer(sum, doc);
                }
            }
            best.into_sorted()
        })
    }
}

/// A query whose lists hold at least one posting for every `DENSE` documents reads its sums
/// back in order: a pass over the array, many sums compared at once, then costs less than
/// visiting the documents reached one by one (on the demo's 11,701 passages, in order against
/// as reached: 1.9 against 0.9 µs a query for the fewest postings, 4.7 against 7.6 µs for the
/// most; the two are even at about a fifth).
const DENSE: usize = 5;

/// Offers every document with a sum to `best` (`sums[i]` is document `base + i`'s), clearing each
/// chunk of sums once read, while the core's first cache holds it. A chunk of sums none of which is above zero and at or above the k-th best so far is
/// passed over whole. The sums are compared as their bits: a float at or above zero orders as its
/// bits do as an integer, and integers are compared many at once on any x86-64.
pub(super) fn collect_dense(sums: &mut [f32], best: &mut TopK<u32>, base: u32) {
    const CHUNK: usize = 64;
    for (i, chunk) in sums.chunks_mut(CHUNK).enumerate() {
        // The least bits a sum must have: above zero, and the k-th best once there are k.
        let least = best.floor().max(0.0).to_bits().max(1) as i32;
        let entering = |sum: &f32| sum.to_bits() as i32 >= least;
        if chunk.iter().fold(false, |any, sum| any | entering(sum)) {
            for (j, sum) in chunk.iter().enumerate() {
                if entering(sum) {
                    best.offer(*sum, base + (i * CHUNK + j) as u32);
                }
            }
        }
        chunk.fill(0.0);
    }
}

/// The postings of `term` in `field`, decoded into `out`.
fn decode(impacts: &Impacts, field: usize, term: &[u8], out: &mut Vec<(u32, f32)>) {
    out.clear();
    let Some(list) = impacts.list(field as u8, term) else {
        return;
    };
    let (mut docs, mut scores) = ([0u32; BLOCK], [0.0f32; BLOCK]);
    for block in 0..list.blocks() {
        list.decode_docs(block, &mut docs);
        list.decode_scores(block, &mut scores);
        let n = list.block_len(block);
        out.extend(docs[..n].iter().copied().zip(scores[..n].iter().copied()));
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
