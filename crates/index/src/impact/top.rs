//! Block-max MaxScore (Turtle & Flood's MaxScore, with the block bounds of Ding & Suel, in
//! windows as Lucene's `MaxScoreBulkScorer` runs it). The query's lists — a title list and a
//! text list per term — are ordered by the most they can add to a document. The weakest ones,
//! whose bounds together cannot lift a document above the k-th best score found so far, are not
//! walked: they only answer for documents found in the others, the "essential" lists. Those
//! are added up a window of 4,096 documents at a time into a dense array; then each document of the
//! window has its bound refined list by list — with the largest score of the block it would be
//! in — and is dropped as soon as the bound falls to the k-th best. The probed lists' bounds
//! in that first check are their blocks' over the window, not their whole lists': at 1M
//! passages that probes 29% fewer documents.
//!
//! Title and text stay separate lists because a term's title postings are few but score high (a
//! short field): summed with the text, every list's bound would be a title's, and no list would
//! ever stop being walked.
//!
//! Exact: a document is left out only when its best possible score is at most the k-th best
//! (a later document that ties loses to the earlier one), with a margin for the rounding of
//! float sums. A document that is kept is scored from all its lists, summed as the exhaustive
//! engine sums (title plus text per term, terms in query order), so scores are bit-identical.

use std::ops::Range;

use search::{Scored, TopK};

use super::{BLOCK, List, Lists, TEXT, TITLE};

/// Bounds are summed in another order than scores: a bound is trusted only with this much room.
const MARGIN: f32 = 1.0 + 1e-4;

/// No more documents in a list.
const END: u32 = u32::MAX;

/// The best `k` global document numbers in `docs` for the query's `lists` with their scores,
/// best first.
pub(super) fn top(lists: &Lists, k: usize, docs: Range<u32>) -> Vec<Scored<u32>> {
    let sequence = &lists.terms.sequence;
    let mut cursors: Vec<Cursor> = Vec::new();
    for (slot, pair) in lists.of.iter().enumerate() {
        let count = lists.terms.count(slot) as f32;
        for (field, list) in pair.iter().enumerate() {
            if let Some(list) = *list {
                let mut cursor = Cursor::new(list, count, slot, field);
                cursor.skip_to(docs.start);
                cursors.push(cursor);
            }
        }
    }
    if cursors.is_empty() || k == 0 {
        return Vec::new();
    }
    cursors.sort_by(|a, b| a.bound.total_cmp(&b.bound));
    // below[i]: the most the lists before i can add together.
    let mut below = vec![0.0f32; cursors.len() + 1];
    for (i, c) in cursors.iter().enumerate() {
        below[i + 1] = below[i] + c.bound;
    }

    let mut near = vec![0.0f32; cursors.len() + 1];
    let mut best = TopK::new(k);
    let mut hits = vec![[0.0f32; 2]; lists.of.len()];
    // Lists before `essential` are only probed.
    let mut essential = 0;
    let mut window = Window::default();
    loop {
        while essential < cursors.len() && below[essential + 1] * MARGIN <= best.floor() {
            essential += 1;
        }
        let Some(start) = cursors[essential..]
            .iter()
            .map(Cursor::doc)
            .min()
            .filter(|&d| d < docs.end)
        else {
            break;
        };
        let end = start.saturating_add(WINDOW as u32).min(docs.end);
        // The essential lists' postings in [start, end), added up list by list.
        for c in &mut cursors[essential..] {
            c.add_until(end, |doc, score| window.add((doc - start) as usize, score));
        }
        // near[i]: the most the lists before i can add to a document of this window: tighter
        // than their whole lists' bounds, so fewer documents are probed.
        for i in 0..essential {
            near[i + 1] = near[i] + cursors[i].window_bound(start, end);
        }
        // Then document by document, in order: the probed lists' bounds, then their scores.
        for w in 0..WINDOW / 64 {
            let mut bits = std::mem::take(&mut window.set[w]);
            while bits != 0 {
                let offset = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let mut partial = std::mem::take(&mut window.sums[offset]);
                let doc = start + offset as u32;
                if (partial + near[essential]) * MARGIN <= best.floor() {
                    continue;
                }
                let mut possible = true;
                for i in (0..essential).rev() {
                    if (partial + near[i + 1]) * MARGIN <= best.floor() {
                        possible = false;
                        break;
                    }
                    let c = &mut cursors[i];
                    let block = c.block_bound(doc);
                    if (partial + near[i] + block) * MARGIN <= best.floor() {
                        continue;
                    }
                    if c.seek(doc) == doc {
                        partial += c.score() * c.count;
                    }
                }
                if !possible || partial * MARGIN <= best.floor() {
                    continue;
                }
                // Summed as the exhaustive engine sums: each term's title and text, then term by
                // term in query order.
                for c in &mut cursors {
                    hits[c.slot][c.field] = c.score_at(doc);
                }
                let score = sequence.iter().fold(0.0f32, |sum, &slot| {
                    sum + (hits[slot][TITLE] + hits[slot][TEXT])
                });
                best.offer(score, doc);
            }
        }
    }
    best.into_sorted()
}

/// Documents per window: the essential lists are added up a window at a time into a dense
/// array, as Lucene's MaxScore bulk scorer does, instead of merging them document by document.
const WINDOW: usize = 4096;

/// The running sums of one window and which of them are set.
struct Window {
    sums: Box<[f32; WINDOW]>,
    set: [u64; WINDOW / 64],
}

impl Default for Window {
    fn default() -> Self {
        Window {
            sums: Box::new([0.0; WINDOW]),
            set: [0; WINDOW / 64],
        }
    }
}

impl Window {
    fn add(&mut self, offset: usize, score: f32) {
        self.sums[offset] += score;
        self.set[offset / 64] |= 1 << (offset % 64);
    }
}

/// A position in one list: a block, decoded, and a posting in it.
struct Cursor<'a> {
    list: List<'a>,
    /// The most this list adds to a document: its largest score, as often as the query has it.
    bound: f32,
    count: f32,
    /// The term's place among the query's distinct terms.
    slot: usize,
    field: usize,
    /// The current block (`list.blocks()` once past the end) and posting in it.
    block: usize,
    at: usize,
    here: Decoded,
    /// The block the document last asked about would be in: never before `block`.
    probe: usize,
    /// Where exact scores are read: candidates come in order, so it only moves on.
    exact: Decoded,
}

/// One decoded block of a list; its scores decoded only when asked for.
struct Decoded {
    block: usize,
    docs: [u32; BLOCK],
    scores: [f32; BLOCK],
    scored: bool,
}

impl Decoded {
    fn new() -> Self {
        Decoded {
            block: usize::MAX,
            docs: [END; BLOCK],
            scores: [0.0; BLOCK],
            scored: false,
        }
    }

    fn load(&mut self, list: &List, block: usize) {
        if self.block != block {
            list.decode_docs(block, &mut self.docs);
            self.block = block;
            self.scored = false;
        }
    }

    fn scores(&mut self, list: &List) -> &[f32; BLOCK] {
        self.postings(list).1
    }

    /// The block's documents and scores.
    fn postings(&mut self, list: &List) -> (&[u32; BLOCK], &[f32; BLOCK]) {
        if !self.scored {
            list.decode_scores(self.block, &mut self.scores);
            self.scored = true;
        }
        (&self.docs, &self.scores)
    }
}

impl<'a> Cursor<'a> {
    fn new(list: List<'a>, count: f32, slot: usize, field: usize) -> Self {
        let mut here = Decoded::new();
        here.load(&list, 0);
        Cursor {
            bound: list.max * count,
            count,
            slot,
            field,
            block: 0,
            at: 0,
            here,
            probe: 0,
            exact: Decoded::new(),
            list,
        }
    }

    fn doc(&self) -> u32 {
        if self.block < self.list.blocks() {
            self.here.docs[self.at]
        } else {
            END
        }
    }

    fn score(&mut self) -> f32 {
        self.here.scores(&self.list)[self.at]
    }

    fn move_to_block(&mut self, block: usize) {
        self.block = block;
        self.at = 0;
        if block < self.list.blocks() {
            self.here.load(&self.list, block);
        }
    }

    /// Hands every posting before `end` to `add`, with its score as often as the query has
    /// the term, and moves past them.
    fn add_until(&mut self, end: u32, mut add: impl FnMut(u32, f32)) {
        while self.block < self.list.blocks() {
            let len = self.list.block_len(self.block);
            let from = self.at;
            let to = from + self.here.docs[from..len].partition_point(|&d| d < end);
            let count = self.count;
            let (docs, scores) = self.here.postings(&self.list);
            for (&doc, &score) in docs[from..to].iter().zip(&scores[from..to]) {
                add(doc, score * count);
            }
            if to < len {
                self.at = to;
                return;
            }
            self.move_to_block(self.block + 1);
        }
    }

    /// Moves to the first document at or after `target` (never back).
    fn skip_to(&mut self, target: u32) {
        if self.doc() < target {
            self.advance(self.list.block_of(self.block, target), target);
        }
    }

    /// Moves to the first document at or after `target`, which is in `block` or later (never
    /// back).
    fn advance(&mut self, block: usize, target: u32) {
        if self.doc() >= target {
            return;
        }
        if block != self.block {
            self.move_to_block(block);
        }
        if self.block < self.list.blocks() {
            let len = self.list.block_len(self.block);
            self.at += self.here.docs[self.at..len].partition_point(|&d| d < target);
        }
    }

    /// The most this list adds to `target` if it has it: the largest score of the block
    /// `target` would be in, as often as the query has the term.
    fn block_bound(&mut self, target: u32) -> f32 {
        self.probe = self.list.block_of(self.probe.max(self.block), target);
        if self.probe < self.list.blocks() {
            self.list.block_max(self.probe) * self.count
        } else {
            0.0
        }
    }

    /// The most this list adds to a document in `start..end`: the largest score of the blocks
    /// that span it.
    fn window_bound(&mut self, start: u32, end: u32) -> f32 {
        self.probe = self.list.block_of(self.probe.max(self.block), start);
        let last = self
            .list
            .block_of(self.probe, end - 1)
            .min(self.list.blocks() - 1);
        (self.probe..=last)
            .map(|b| self.list.block_max(b))
            .fold(0.0f32, f32::max)
            * self.count
    }

    /// Moves to the first document at or after `target` (never back) and returns it; after
    /// [`Cursor::block_bound`] for the same `target`, which found its block.
    fn seek(&mut self, target: u32) -> u32 {
        self.advance(self.probe, target);
        self.doc()
    }

    /// This list's score in `doc`, 0 if it does not have it.
    fn score_at(&mut self, doc: u32) -> f32 {
        let from = if self.exact.block == usize::MAX {
            0
        } else {
            self.exact.block
        };
        let block = self.list.block_of(from, doc);
        if block >= self.list.blocks() {
            return 0.0;
        }
        self.exact.load(&self.list, block);
        let len = self.list.block_len(block);
        match self.exact.docs[..len].binary_search(&doc) {
            Ok(at) => self.exact.scores(&self.list)[at],
            Err(_) => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use formats::Passage;

    use super::*;
    use crate::{
        BuildConfig, build,
        impact::{Impacts, Terms, scan},
    };

    /// A seeded xorshift: the same corpus on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Skipping leaves the top k exactly as summing every posting would ([`super::super::sum`]),
    /// whether the documents are searched at once or in two halves: the same documents in
    /// the same order with bit-identical scores, for questions and passage-like queries (stop
    /// words, repeated words, words missing from the index) at several k, on 24,000 passages
    /// where the long lists of common words are skipped. The exhaustive sum is the same whichever
    /// way it reads its sums back, and so is the sum over the compressed lists
    /// ([`super::super::scan`]), in one segment or in many, from the first document or another.
    #[test]
    fn block_max_maxscore_equals_the_exhaustive_sum() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let real = crate::fixtures::wiki18_sample();
        let words: Vec<&str> = real
            .iter()
            .flat_map(|p| p.text.split_whitespace())
            .collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Real passages with half their words replaced by words drawn from the corpus.
        let mut remix = |text: &str| -> String {
            text.split_whitespace()
                .map(|w| {
                    if rng.below(2) == 0 {
                        w
                    } else {
                        words[rng.below(words.len())]
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let passages: Vec<Passage> = (0..24_000)
            .map(|i| {
                let p = &real[i % real.len()];
                Passage::new(format!("p{i}"), remix(&p.title), remix(&p.text))
            })
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("idx");
        build(
            &dir,
            passages.into_iter().map(Ok::<_, std::io::Error>),
            &BuildConfig::default(),
            |_| {},
        )
        .unwrap();
        let index = tantivy::Index::open_in_dir(&dir).unwrap();
        crate::Analyzer::default().register(&index);
        let searcher = index.reader().unwrap().searcher();
        let impacts = Impacts::open(&dir, &searcher)
            .unwrap()
            .expect("the build wrote one");
        let eager = impacts
            .eager
            .as_ref()
            .expect("a small index is held decoded");

        let questions = std::fs::read_to_string(root.join("testdata/hotpotqa_500.jsonl")).unwrap();
        let mut queries: Vec<String> = questions
            .lines()
            .take(150)
            .map(|l| {
                let row: serde_json::Value = serde_json::from_str(l).unwrap();
                row["question"].as_str().unwrap().to_string()
            })
            .collect();
        queries.extend(real.iter().step_by(20).map(|p| {
            let words: Vec<&str> = p.text.split_whitespace().take(14).collect();
            // A repeated word and one no passage has.
            format!("{} {} zzqxj", words.join(" "), words[0])
        }));
        let mut longest = 0;
        for query in &queries {
            // Analysed as the index is: stemmed, stop words out.
            let mut analyzer = crate::Analyzer::default().analyzer();
            let mut stream = analyzer.token_stream(query);
            let mut words = Vec::new();
            while let Some(token) = stream.next() {
                words.push(token.text.clone());
            }
            let terms: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            let parsed = Terms::new(terms.iter().copied());
            let lists = impacts.lists(&parsed);
            for k in [1, 3, 10, 50] {
                let ours = top(&lists, k, 0..24_000);
                let all = eager.top(&parsed, k);
                let decoded: Vec<_> = eager.lists(&parsed).collect();
                let (dense, sparse) = (
                    eager.top_by(&decoded, k, true),
                    eager.top_by(&decoded, k, false),
                );
                let bits = |t: &[Scored<u32>]| -> Vec<(u32, u32)> {
                    t.iter().map(|s| (s.score.to_bits(), s.position)).collect()
                };
                assert_eq!(bits(&ours), bits(&all), "{query:?}, k = {k}");
                assert_eq!(
                    bits(&dense),
                    bits(&all),
                    "{query:?} read back in order, k = {k}"
                );
                assert_eq!(
                    bits(&sparse),
                    bits(&all),
                    "{query:?} read back as reached, k = {k}"
                );
                let scanned = scan::top(&lists, k, 0..24_000);
                assert_eq!(bits(&scanned), bits(&all), "{query:?} scanned, k = {k}");
                let segments = scan::in_segments(&lists, k, 0..24_000, 1_000);
                assert_eq!(
                    bits(&segments),
                    bits(&all),
                    "{query:?} scanned 1,000 documents at a time, k = {k}"
                );
                assert_eq!(
                    bits(&scan::in_segments(&lists, k, 5_001..24_000, 1_000)),
                    bits(&top(&lists, k, 5_001..24_000)),
                    "{query:?} from document 5,001, k = {k}"
                );
                let halves = impacts.in_halves(&lists, k);
                assert_eq!(bits(&halves), bits(&all), "{query:?} in halves, k = {k}");
            }
            for t in &terms {
                longest = longest.max(impacts.list(TEXT as u8, t).map_or(0, |l| l.len));
            }
        }
        // Lists long enough that a top 10 is found without walking them.
        assert!(
            longest > 4_800,
            "the longest list a query reached: {longest}"
        );
    }
}
