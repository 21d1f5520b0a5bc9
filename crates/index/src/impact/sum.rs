//! The exhaustive sum, for small indexes: their lists are held decoded in memory, each term's
//! title and text merged into one list of sums (title + text, as a document's score adds
//! them), and a query adds up every posting of its terms into one running sum per document,
//! then takes the k best — what bm25s does with its sparse matrix. There is little to skip in
//! a small index, and plain arrays beat skipping by a few microseconds a query. It is also the
//! reference the skipping engine is tested against.

use std::{cell::RefCell, collections::HashMap};

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
            terms: HashMap::new(),
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
        SCRATCH.with_borrow_mut(|scratch| {
            let docs = self.max_doc as usize;
            if scratch.sums.len() < docs {
                scratch.sums.resize(docs, 0.0);
                scratch.touched.resize(docs + 1, 0);
            }
            // Slices, not the vectors: their pointers stay in registers through the loops below
            // (the vectors' fields would be read again after every store).
            let (sums, touched) = (&mut scratch.sums[..docs], &mut scratch.touched[..=docs]);
            // Every document is noted at `touched[len]`, but `len` moves on only for the first
            // score it gets: no branch for the CPU to mispredict.
            let mut len = 0;
            for &slot in &terms.sequence {
                let Some(&(start, end)) = self.terms.get(terms.distinct[slot]) else {
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
            // Once there are k, a sum below the k-th best is turned away by one comparison.
            let mut best = TopK::new(k);
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
