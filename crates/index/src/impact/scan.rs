//! The exhaustive sum over the compressed lists, for large indexes: every posting of the
//! query's lists is decoded a block at a time and its score added to a running sum per document,
//! a segment of documents at a time so that the sums stay in the core's cache; each segment's
//! sums are then offered to the top k. Nothing is skipped: for a query whose lists are short
//! beside the index, adding every posting (about 1.5 ns each) costs less than deciding, document
//! by document, which ones to skip ([`super::top`]). `Impacts::top_in` chooses between the two.
//!
//! Scores are summed as the other engines sum them, bit for bit: each term's title and text score
//! first, then term by term in query order.

use std::{cell::RefCell, ops::Range};

use search::{Scored, TopK};

use super::{BLOCK, List, Lists, sum::collect_dense};

/// Documents a segment: their sums take 256 KiB, which a core's own cache holds.
const SEGMENT: u32 = 1 << 16;

/// The best `k` global document numbers in `docs` for the query's `lists` with their scores,
/// best first.
pub(super) fn top(lists: &Lists, k: usize, docs: Range<u32>) -> Vec<Scored<u32>> {
    in_segments(lists, k, docs, SEGMENT)
}

/// [`top`], `segment` documents at a time.
pub(super) fn in_segments(
    lists: &Lists,
    k: usize,
    docs: Range<u32>,
    segment: u32,
) -> Vec<Scored<u32>> {
    // Each word of the query in order, repeats kept (a repeated word is read again): its title
    // and text postings.
    let mut words: Vec<[Option<Stream>; 2]> = (lists.terms.sequence.iter())
        .map(|&slot| lists.of[slot].map(|list| Some(Stream::new(list?, docs.start))))
        .collect();
    if k == 0 || words.iter().flatten().all(Option::is_none) {
        return Vec::new();
    }
    let mut best = TopK::new(k);
    SCRATCH.with_borrow_mut(|scratch| {
        let Scratch { sums, title } = scratch;
        sums.resize(segment as usize, 0.0);
        for start in docs.clone().step_by(segment as usize) {
            let end = start.saturating_add(segment).min(docs.end);
            let sums = &mut sums[..(end - start) as usize];
            for [title_stream, text_stream] in &mut words {
                title.clear();
                if let Some(stream) = title_stream {
                    stream.until(end, |docs, ids, table| {
                        title.extend(
                            docs.iter()
                                .zip(ids)
                                .map(|(&d, &id)| (d - start, table[id as usize])),
                        );
                    });
                }
                // Title postings (few) are merged into the text postings: one at a document with
                // text is added with it, title first; the others on their own.
                let mut next = 0;
                let mut next_at = title.first().map_or(u32::MAX, |&(at, _)| at);
                if let Some(stream) = text_stream {
                    stream.until(end, |docs, ids, table| {
                        for (&doc, &id) in docs.iter().zip(ids) {
                            let (doc, score) = (doc - start, table[id as usize]);
                            let mut add = score;
                            if doc >= next_at {
                                while let Some(&(at, title_score)) =
                                    title.get(next).filter(|&&(at, _)| at <= doc)
                                {
                                    next += 1;
                                    if at == doc {
                                        add = title_score + score;
                                    } else {
                                        sums[at as usize] += title_score;
                                    }
                                }
                                next_at = title.get(next).map_or(u32::MAX, |&(at, _)| at);
                            }
                            sums[doc as usize] += add;
                        }
                    });
                }
                for &(at, title_score) in &title[next..] {
                    sums[at as usize] += title_score;
                }
            }
            collect_dense(sums, &mut best, start);
        }
    });
    best.into_sorted()
}

/// One list read in document order, a block at a time, its documents and score indexes decoded
/// together. (Read through the skipping engine's `Cursor`, which decodes scores only when a
/// probe asks and keeps a second block for exact scores, the scan took 8–12 % longer.)
struct Stream<'a> {
    list: List<'a>,
    block: usize,
    /// The first posting of `block` not yet handed out.
    at: usize,
    docs: [u32; BLOCK],
    /// Each posting's score as an index into the list's table of scores.
    ids: [u32; BLOCK],
}

impl<'a> Stream<'a> {
    /// The list from its first document at or after `from`.
    fn new(list: List<'a>, from: u32) -> Self {
        let mut stream = Stream {
            block: list.block_of(0, from),
            at: 0,
            docs: [0; BLOCK],
            ids: [0; BLOCK],
            list,
        };
        if stream.block < list.blocks() {
            stream.load();
            let len = list.block_len(stream.block);
            stream.at = stream.docs[..len].partition_point(|&d| d < from);
        }
        stream
    }

    fn load(&mut self) {
        self.list.decode_docs(self.block, &mut self.docs);
        self.list.decode_score_ids(self.block, &mut self.ids);
    }

    /// Hands the postings before `end` to `take`, a block's run at a time (documents, score
    /// indexes, the table of scores), and moves past them.
    fn until(&mut self, end: u32, mut take: impl FnMut(&[u32], &[u32], &[f32])) {
        while self.block < self.list.blocks() {
            let len = self.list.block_len(self.block);
            let to = if self.list.last(self.block) < end {
                len
            } else {
                self.at + self.docs[self.at..len].partition_point(|&d| d < end)
            };
            take(
                &self.docs[self.at..to],
                &self.ids[self.at..to],
                self.list.scores,
            );
            if to < len {
                self.at = to;
                return;
            }
            self.block += 1;
            self.at = 0;
            if self.block < self.list.blocks() {
                self.load();
            }
        }
    }
}

/// A per-thread segment of sums (all zeros between queries) and the title postings of one word
/// in the current segment.
#[derive(Default)]
struct Scratch {
    sums: Vec<f32>,
    title: Vec<(u32, f32)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}
