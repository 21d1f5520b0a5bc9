//! Writing an impact file: for the title, then the text, the terms of every segment merged in
//! byte order, each term's postings scored, written list after list. A list is keyed by its
//! field's number (0 title, 1 text) followed by the term's bytes.
//!
//! Layout (native little-endian words; the mapped reader casts them in place): per list, its
//! table of distinct scores (`f32`) and its packed blocks ([`super::list`]) · one 16-byte record
//! per block · one 40-byte entry per list (where its table starts, its first record, where its
//! key starts among the keys' bytes, its length and largest score, its table's length) · the
//! keys' bytes · a footer of eight words naming where each part starts.

#[cfg(target_endian = "big")]
compile_error!("impact files are written and mapped as little-endian words");

use std::{
    fs::File,
    io::{self, BufWriter, Write},
    path::Path,
};

use tantivy::{
    DocSet, Searcher, TERMINATED, Term,
    postings::Postings,
    query::{Bm25StatisticsProvider, Bm25Weight},
    schema::{Field, IndexRecordOption},
    termdict::TermStreamer,
};

use super::{
    ENTRY, MAGIC,
    list::{Encoder, Record},
    segments_fingerprint,
};
use crate::IndexError;

/// Writes the impact file of `searcher`'s index (its title and text `fields`) to `path`.
pub(crate) fn write(
    searcher: &Searcher,
    fields: [Field; 2],
    path: &Path,
) -> Result<(), IndexError> {
    let io_error = |e| IndexError::io(path, e);
    let mut out = BufWriter::new(File::create(path).map_err(io_error)?);
    write_to(searcher, fields, &mut out).map_err(io_error)?;
    out.into_inner()
        .map_err(|e| io_error(e.into_error()))?
        .sync_all()
        .map_err(io_error)
}

/// One field of one segment, its terms streamed in byte order.
struct Stream<'a> {
    terms: TermStreamer<'a>,
    inverted: &'a tantivy::InvertedIndexReader,
    norms: tantivy::fieldnorm::FieldNormReader,
    alive: Option<&'a tantivy::fastfield::AliveBitSet>,
    base: u32,
    live: bool,
}

pub(super) fn write_to(
    searcher: &Searcher,
    fields: [Field; 2],
    out: &mut impl Write,
) -> io::Result<()> {
    let total_docs = searcher.total_num_docs().map_err(io::Error::other)?;
    let mut lists = Lists::default();
    for (number, field) in (0u8..).zip(fields) {
        let tokens = searcher.total_num_tokens(field).map_err(io::Error::other)?;
        let average = tokens as f32 / total_docs.max(1) as f32;
        let mut readers = Vec::new();
        let mut base = 0u32;
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(field).map_err(io::Error::other)?;
            let norms = segment
                .get_fieldnorms_reader(field)
                .map_err(io::Error::other)?;
            readers.push((base, segment, inverted, norms));
            base += segment.max_doc();
        }
        // Segment by segment: a term's documents ascend.
        let mut streams = Vec::with_capacity(readers.len());
        for (base, segment, inverted, norms) in &readers {
            let mut terms = inverted.terms().stream().map_err(io::Error::other)?;
            let live = terms.advance();
            streams.push(Stream {
                terms,
                inverted,
                norms: norms.clone(),
                alive: segment.alive_bitset(),
                base: *base,
                live,
            });
        }
        let mut key = Vec::new();
        let (mut docs, mut scores) = (Vec::<u32>::new(), Vec::<f32>::new());
        while let Some(next) = streams
            .iter()
            .filter(|s| s.live)
            .map(|s| s.terms.key())
            .min()
        {
            key.clear();
            key.push(number);
            key.extend_from_slice(next);
            let term = Term::from_field_bytes(field, &key[1..]);
            let doc_freq = searcher.doc_freq(&term).map_err(io::Error::other)?;
            let weight = Bm25Weight::for_one_term_without_explain(doc_freq, total_docs, average);
            docs.clear();
            scores.clear();
            for stream in streams
                .iter_mut()
                .filter(|s| s.live && s.terms.key() == &key[1..])
            {
                let mut postings = stream.inverted.read_postings_from_terminfo(
                    stream.terms.value(),
                    IndexRecordOption::WithFreqs,
                )?;
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    if stream.alive.is_none_or(|a| a.is_alive(doc)) {
                        docs.push(stream.base + doc);
                        scores.push(
                            weight.score(stream.norms.fieldnorm_id(doc), postings.term_freq()),
                        );
                    }
                    doc = postings.advance();
                }
                stream.live = stream.terms.advance();
            }
            lists.write(out, &key, &docs, &scores)?;
        }
    }
    lists.finish(out, segments_fingerprint(searcher))
}

/// What is known of the lists written so far: their block records, entries and keys, written
/// after the last list.
#[derive(Default)]
struct Lists {
    written: u64,
    postings: u64,
    records: Vec<Record>,
    entries: Vec<[u64; 5]>,
    keys: Vec<u8>,
    encoder: Encoder,
}

impl Lists {
    fn write(
        &mut self,
        out: &mut impl Write,
        key: &[u8],
        docs: &[u32],
        scores: &[f32],
    ) -> io::Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let max = scores.iter().copied().fold(0.0f32, f32::max);
        let first = self.records.len() as u64;
        let (table, packed) = self.encoder.encode(docs, scores, &mut self.records);
        self.entries.push([
            self.written,
            first,
            self.keys.len() as u64,
            docs.len() as u64 | u64::from(max.to_bits()) << 32,
            table.len() as u64,
        ]);
        self.keys.extend_from_slice(key);
        out.write_all(bytemuck::cast_slice(table))?;
        out.write_all(packed)?;
        self.written += 4 * table.len() as u64 + packed.len() as u64;
        self.postings += docs.len() as u64;
        Ok(())
    }

    fn finish(self, out: &mut impl Write, fingerprint: u64) -> io::Result<()> {
        let Lists {
            written,
            postings,
            records,
            entries,
            keys,
            ..
        } = self;
        let blocks_at = written;
        out.write_all(bytemuck::cast_slice(&records))?;
        let entries_at = blocks_at + 16 * records.len() as u64;
        for entry in &entries {
            for word in entry {
                out.write_all(&word.to_le_bytes())?;
            }
        }
        let keys_at = entries_at + ENTRY as u64 * entries.len() as u64;
        out.write_all(&keys)?;
        let keys_end = keys_at + keys.len() as u64;
        let footer = [
            blocks_at,
            entries_at,
            keys_at,
            keys_end,
            entries.len() as u64,
            postings,
            fingerprint,
        ];
        for word in footer {
            out.write_all(&word.to_le_bytes())?;
        }
        out.write_all(MAGIC)?;
        out.flush()
    }
}
