//! One term's postings in one field, as the impact file keeps them: blocks of 128 postings,
//! each block's documents delta-encoded and bit-packed, each posting's score an index into the
//! list's table of distinct scores (a field's BM25 score depends only on the document's
//! quantised length and the term's frequency in it, so a list has few distinct scores), also
//! bit-packed. Scores stay exact f32 values; a block takes 16 bytes per bit of width, about
//! two bytes a posting where raw documents and scores took eight. A short last block is kept
//! as plain words.

use bitpacking::{BitPacker, BitPacker4x};

/// Postings per block: the bit-packer's block.
pub(crate) const BLOCK: usize = BitPacker4x::BLOCK_LEN;

/// A block's record, kept apart from the packed bytes so that a list can be skipped a block at
/// a time without reading them: its last document, its largest score (as bits), where its
/// bytes start among the list's packed bytes, and the bit widths of its documents (low byte)
/// and score indexes (next byte).
pub(crate) type Record = [u32; 4];

/// A term's postings in a field.
#[derive(Clone, Copy)]
pub(crate) struct List<'a> {
    pub len: usize,
    /// The largest score in the list.
    pub max: f32,
    /// The distinct scores, ascending.
    pub scores: &'a [f32],
    pub records: &'a [Record],
    /// The blocks' bytes (and whatever follows them in the file).
    pub packed: &'a [u8],
}

impl List<'_> {
    pub fn blocks(&self) -> usize {
        self.records.len()
    }

    pub fn last(&self, block: usize) -> u32 {
        self.records[block][0]
    }

    pub fn block_max(&self, block: usize) -> f32 {
        f32::from_bits(self.records[block][1])
    }

    /// Postings in `block`: 128 but in the last block.
    pub fn block_len(&self, block: usize) -> usize {
        if block + 1 == self.blocks() {
            self.len - block * BLOCK
        } else {
            BLOCK
        }
    }

    /// The first block at or after `from` whose last document is at least `target`
    /// (`blocks()` if none): exponential steps, then a binary search.
    pub fn block_of(&self, from: usize, target: u32) -> usize {
        let n = self.blocks();
        if from >= n || self.last(from) >= target {
            return from;
        }
        let mut step = 1;
        while from + step < n && self.last(from + step) < target {
            step *= 2;
        }
        let (mut lo, mut hi) = (from + step / 2 + 1, (from + step + 1).min(n));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.last(mid) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The documents of `block`, into `docs` (its first `block_len` are valid).
    pub fn decode_docs(&self, block: usize, docs: &mut [u32; BLOCK]) {
        let [_, _, at, bits] = self.records[block];
        let len = self.block_len(block);
        if len < BLOCK {
            let raw = &self.packed[at as usize..][..4 * len];
            for (doc, bytes) in docs.iter_mut().zip(raw.chunks_exact(4)) {
                *doc = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
            }
            return;
        }
        let initial = if block == 0 { 0 } else { self.last(block - 1) };
        BitPacker4x::new().decompress_sorted(
            initial,
            &self.packed[at as usize..],
            docs,
            bits as u8,
        );
    }

    /// The scores of `block`, into `scores`.
    pub fn decode_scores(&self, block: usize, scores: &mut [f32; BLOCK]) {
        let mut ids = [0u32; BLOCK];
        self.decode_score_ids(block, &mut ids);
        for (score, id) in scores.iter_mut().zip(ids) {
            *score = self.scores[id as usize];
        }
    }

    /// The scores of `block` as indexes into [`List::scores`], into `ids`.
    pub fn decode_score_ids(&self, block: usize, ids: &mut [u32; BLOCK]) {
        let [_, _, at, bits] = self.records[block];
        let len = self.block_len(block);
        if len < BLOCK {
            let raw = &self.packed[at as usize + 4 * len..][..4 * len];
            for (id, bytes) in ids.iter_mut().zip(raw.chunks_exact(4)) {
                *id = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
            }
            return;
        }
        let doc_bytes = 16 * (bits & 0xff) as usize;
        BitPacker4x::new().decompress(
            &self.packed[at as usize + doc_bytes..],
            ids,
            (bits >> 8) as u8,
        );
    }
}

/// Encodes lists: the table of distinct scores, then the blocks.
#[derive(Default)]
pub(crate) struct Encoder {
    table: Vec<f32>,
    packed: Vec<u8>,
}

impl Encoder {
    /// The table of distinct scores and the packed blocks of `docs` (ascending) and their
    /// `scores`; one record per block is pushed to `records` (a block's offset counts from the
    /// first packed byte).
    pub fn encode(
        &mut self,
        docs: &[u32],
        scores: &[f32],
        records: &mut Vec<Record>,
    ) -> (&[f32], &[u8]) {
        self.table.clear();
        self.table.extend_from_slice(scores);
        self.table.sort_by(f32::total_cmp);
        self.table.dedup_by(|a, b| a.to_bits() == b.to_bits());
        self.packed.clear();
        let packer = BitPacker4x::new();
        let mut initial = 0;
        for (d, s) in docs.chunks(BLOCK).zip(scores.chunks(BLOCK)) {
            let mut ids = [0u32; BLOCK];
            for (id, score) in ids.iter_mut().zip(s) {
                *id = self
                    .table
                    .binary_search_by(|t| t.total_cmp(score))
                    .expect("every score is in the table") as u32;
            }
            let max = s.iter().copied().fold(0.0f32, f32::max);
            let last = *d.last().expect("a block is never empty");
            let at = self.packed.len() as u32;
            if d.len() < BLOCK {
                // A short last block (most lists are one) is kept as plain words: a packed block
                // would be padded to 128 postings.
                for &doc in d {
                    self.packed.extend_from_slice(&doc.to_le_bytes());
                }
                for &id in &ids[..d.len()] {
                    self.packed.extend_from_slice(&id.to_le_bytes());
                }
                records.push([last, max.to_bits(), at, 0]);
                continue;
            }
            let block_docs: &[u32; BLOCK] = d.try_into().expect("a full block");
            let doc_bits = packer.num_bits_sorted(initial, block_docs);
            let id_bits = packer.num_bits(&ids);
            let start = self.packed.len();
            self.packed.resize(
                start + 16 * usize::from(doc_bits) + 16 * usize::from(id_bits),
                0,
            );
            let written =
                packer.compress_sorted(initial, block_docs, &mut self.packed[start..], doc_bits);
            packer.compress(&ids, &mut self.packed[start + written..], id_bits);
            records.push([
                last,
                max.to_bits(),
                at,
                u32::from(doc_bits) | u32::from(id_bits) << 8,
            ]);
            initial = last;
        }
        (&self.table, &self.packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents and scores come back as they went in: across block edges, in a short last
    /// block, with gaps from 1 to millions, repeated scores and scores that differ in the
    /// last bit.
    #[test]
    fn blocks_decode_to_what_was_encoded() {
        let mut docs = Vec::new();
        let mut scores = Vec::new();
        let mut doc = 0u32;
        for i in 0..(3 * BLOCK + 17) as u32 {
            doc += 1 + (i * 7919) % if i % 50 == 0 { 3_000_000 } else { 40 };
            docs.push(doc);
            let base = 1.0 + (i % 13) as f32 / 3.0;
            scores.push(if i % 5 == 0 {
                f32::from_bits(base.to_bits() + 1)
            } else {
                base
            });
        }
        let mut encoder = Encoder::default();
        let mut records = Vec::new();
        let (table, packed) = encoder.encode(&docs, &scores, &mut records);
        assert!(table.len() < 30, "{} distinct scores", table.len());
        let list = List {
            len: docs.len(),
            max: scores.iter().copied().fold(0.0, f32::max),
            scores: table,
            records: &records,
            packed,
        };
        assert_eq!(list.blocks(), 4);
        let (mut got_docs, mut got_scores) = (Vec::new(), Vec::new());
        let (mut d, mut s) = ([0; BLOCK], [0.0; BLOCK]);
        for block in 0..list.blocks() {
            list.decode_docs(block, &mut d);
            list.decode_scores(block, &mut s);
            let len = list.block_len(block);
            got_docs.extend_from_slice(&d[..len]);
            got_scores.extend(s[..len].iter().map(|x| x.to_bits()));
            assert_eq!(list.last(block), d[len - 1]);
            let max = s[..len].iter().copied().fold(0.0, f32::max);
            assert_eq!(list.block_max(block), max);
        }
        assert_eq!(got_docs, docs);
        let bits: Vec<u32> = scores.iter().map(|x| x.to_bits()).collect();
        assert_eq!(got_scores, bits);
        assert_eq!(list.block_of(0, docs[200]), 1);
        assert_eq!(list.block_of(2, docs[200]), 2, "never goes back");
        assert_eq!(list.block_of(0, u32::MAX), 4);
    }
}
