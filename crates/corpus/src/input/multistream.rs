//! A multi-stream `.bz2` decoded on every core: Wikimedia's `pages-articles-multistream` dumps
//! are bzip2 streams of ~100 pages each, one after another, and each stream decodes on its own.
//! The bytes read out, and the error a cut or damaged file ends with, are those of
//! `bzip2::read::MultiBzDecoder` over the same input.
//!
//! Every stream starts byte-aligned with `BZh`, the block size digit and the first block's magic
//! `0x314159265359` (`1AY&SY`). The input is cut into *pieces* at each such header, read ahead
//! a bounded number of pieces, and each piece is decoded on rayon's pool; the pieces are read
//! out in file order. A header-like pattern can also occur inside compressed data, so a piece is
//! only taken as decoded when it is exactly one whole stream. Any other piece — cut at such a
//! false header, the end of a cut or damaged file, a stream too large to hold decoded, bytes after
//! a stream that are no header — is decoded as it is read, on the reading thread, by the `bzip2`
//! crate's own stream decoder, the following pieces serving as its continuation: so its bytes and
//! its error are those of a single-thread decode. Pieces resume at the next stream's start.
//! A single-stream `.bz2` is one stream, decoded on one thread.
//!
//! (One difference: a block that fails its checksum has been written out in the read that
//! fails, and that read's bytes are lost. Which bytes share that read depends on where reads
//! fall, so the bytes before that error can differ by less than one read — as they do between
//! two single-thread decodes that read in different sizes.)

use std::{
    collections::VecDeque,
    io::{self, BufRead, Read},
    sync::{Arc, mpsc},
};

use bzip2::{Decompress, Status, bufread::BzDecoder};

/// Bytes of a stream header: `BZh`, the block size `1`–`9`, the first block's magic. (A stream
/// without blocks has no magic: it is found by decoding the stream before it.)
const HEADER_LEN: usize = 10;
const BLOCK_MAGIC: &[u8] = b"1AY&SY";

/// Compressed bytes read from the input at a time.
const READ_CHUNK: usize = 1 << 20;

/// How much is held in memory at most.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Compressed bytes of a piece (give or take one read): a longer stream is decoded as it is
    /// read.
    pub piece_in: usize,
    /// Decoded bytes of a piece: a stream that expands to more is decoded as it is read.
    pub piece_out: usize,
    /// Pieces cut and given to the pool ahead of the reader.
    pub in_flight: usize,
}

impl Limits {
    /// Four pieces in flight per thread of rayon's pool. With two, a thread of the pool that had
    /// decoded every piece given to it idled while the reader waited on the one piece before
    /// them: `make bench-ingest` (2 cores, 1.5 MB streams, release) took 3.93 s at two a thread,
    /// 3.78 s at four, 3.85 s at eight and 3.99 s at sixteen (one a thread: 5.02 s). Wikimedia's
    /// streams are ~0.1–1 MB compressed and ~0.5–5 MB decoded, well inside the caps: ~2 MB a
    /// piece, ~250 MB in flight on 32 threads (20 MiB a piece at most: 4 compressed, 16
    /// decoded).
    pub(crate) fn for_pool() -> Limits {
        Limits {
            piece_in: 4 << 20,
            piece_out: 16 << 20,
            in_flight: 4 * rayon::current_num_threads(),
        }
    }
}

/// A multi-stream `.bz2` read from `R`, decoded on rayon's pool.
pub(crate) struct ParallelBz2<R> {
    /// `None` only inside [`Read::read`], between two modes.
    mode: Option<Mode<R>>,
    /// A stream decoded on the pool, read out from `at`.
    decoded: Vec<u8>,
    at: usize,
}

enum Mode<R> {
    /// Reading out whole streams decoded on the pool.
    Pieces(Input<R>),
    /// Decoding one stream as it is read, on this thread.
    Stream(BzDecoder<Input<R>>),
}

impl<R: Read> ParallelBz2<R> {
    pub(crate) fn new(inner: R, limits: Limits) -> Self {
        ParallelBz2 {
            mode: Some(Mode::Pieces(Input {
                source: Source::new(inner),
                pending: VecDeque::new(),
                front: None,
                limits,
                decoded_any: false,
                streamed: 0,
            })),
            decoded: Vec::new(),
            at: 0,
        }
    }

    /// One move: the mode to go on in, and what to answer the read with, if anything yet.
    fn step(&mut self, mode: Mode<R>, buf: &mut [u8]) -> (Mode<R>, Option<io::Result<usize>>) {
        match mode {
            Mode::Pieces(mut input) => {
                input.refill();
                match input.pending.pop_front().map(Piece::wait) {
                    Some(Ok(decoded)) => {
                        input.decoded_any = true;
                        self.decoded = decoded;
                        self.at = 0;
                        (Mode::Pieces(input), None)
                    }
                    Some(Err(raw)) => {
                        input.front = Some((raw, 0));
                        (Mode::Stream(input.stream()), None)
                    }
                    None if input.decoded_any && input.source.at_end() => {
                        (Mode::Pieces(input), Some(Ok(0)))
                    }
                    // A stream too long to cut, a read error, or an input with no stream at all
                    // (it fails as a single-thread decode does).
                    None => (Mode::Stream(input.stream()), None),
                }
            }
            Mode::Stream(mut decoder) => match decoder.read(buf) {
                // Only the end of the stream reads as nothing: `buf` is not empty.
                Ok(0) => {
                    let mut input = decoder.into_inner();
                    input.decoded_any = true;
                    input.requeue();
                    (Mode::Pieces(input), None)
                }
                result => (Mode::Stream(decoder), Some(result)),
            },
        }
    }

    /// Streams decoded as they were read rather than on the pool (for the tests: a well-formed
    /// multi-stream file has none).
    #[cfg(test)]
    fn streamed(&self) -> u64 {
        match self.mode.as_ref() {
            Some(Mode::Pieces(input)) => input.streamed,
            Some(Mode::Stream(decoder)) => decoder.get_ref().streamed,
            None => 0,
        }
    }
}

impl<R: Read> Read for ParallelBz2<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.at < self.decoded.len() {
                let n = buf.len().min(self.decoded.len() - self.at);
                buf[..n].copy_from_slice(&self.decoded[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            let mode = self
                .mode
                .take()
                .expect("the mode is put back after every step");
            let (mode, answer) = self.step(mode, buf);
            self.mode = Some(mode);
            if let Some(answer) = answer {
                return answer;
            }
        }
    }
}

/// The compressed bytes not yet decoded, in file order: the rest of the piece being decoded as
/// it is read, the pieces given to the pool, then the source.
struct Input<R> {
    source: Source<R>,
    pending: VecDeque<Piece>,
    /// The piece whose bytes a stream decoded as it is read is taking, and how far it got.
    front: Option<(Arc<[u8]>, usize)>,
    limits: Limits,
    /// Whether a stream has ended yet.
    decoded_any: bool,
    /// Streams decoded as they were read.
    streamed: u64,
}

impl<R: Read> Input<R> {
    /// Cuts pieces and gives them to the pool until `in_flight` are waiting.
    fn refill(&mut self) {
        while self.pending.len() < self.limits.in_flight {
            match self.source.cut(self.limits.piece_in) {
                Some(raw) => self
                    .pending
                    .push_back(Piece::spawn(raw, self.limits.piece_out)),
                None => break,
            }
        }
    }

    /// A decoder of the one stream that starts here.
    fn stream(mut self) -> BzDecoder<Input<R>> {
        self.streamed += 1;
        BzDecoder::new(self)
    }

    /// After a stream decoded as it was read: what is left of its last piece is the next piece.
    fn requeue(&mut self) {
        if let Some((raw, at)) = self.front.take()
            && at < raw.len()
        {
            let rest = Piece::spawn(Arc::from(&raw[at..]), self.limits.piece_out);
            self.pending.push_front(rest);
        }
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // The decoder asks for more only inside a stream: a piece it reaches is part of it, and
        // the pool's decode of that piece is dropped.
        while self.front.as_ref().is_none_or(|(raw, at)| *at == raw.len()) {
            let Some(piece) = self.pending.pop_front() else {
                break;
            };
            self.front = Some((piece.raw, 0));
        }
        match &self.front {
            Some((raw, at)) if *at < raw.len() => Ok(&raw[*at..]),
            _ => self.source.fill(),
        }
    }

    fn consume(&mut self, n: usize) {
        match &mut self.front {
            Some((raw, at)) if *at < raw.len() => *at += n,
            _ => self.source.start += n,
        }
    }
}

/// The compressed input, read a chunk at a time; `buf[start..end]` is read and not yet taken.
struct Source<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// A read error, kept until the decoding reaches the bytes before it.
    error: Option<io::Error>,
}

impl<R: Read> Source<R> {
    fn new(inner: R) -> Self {
        Source {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            error: None,
        }
    }

    fn rest(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Whether every byte was taken and the input has no more (read to know).
    fn at_end(&mut self) -> bool {
        self.rest().is_empty() && !self.read_more() && self.error.is_none()
    }

    /// Reads another chunk; false at the end of the input or at a read error.
    fn read_more(&mut self) -> bool {
        if self.eof || self.error.is_some() {
            return false;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        // The buffer only grows: zeroed once, not at every read.
        if self.buf.len() < self.end + READ_CHUNK {
            self.buf.resize(self.end + READ_CHUNK, 0);
        }
        loop {
            match self
                .inner
                .read(&mut self.buf[self.end..self.end + READ_CHUNK])
            {
                Ok(n) => {
                    self.end += n;
                    self.eof = n == 0;
                    return n > 0;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    return false;
                }
            }
        }
    }

    /// Takes the next piece: the bytes up to the next stream header, or to the end of the
    /// input. `None` at the end, at a read error, or when no header comes within `max` bytes:
    /// what is left is decoded as it is read.
    fn cut(&mut self, max: usize) -> Option<Arc<[u8]>> {
        // The piece's own header is at 0.
        let mut from = 1;
        loop {
            if let Some(end) = find_header(self.rest(), from) {
                return Some(self.take(end));
            }
            if self.rest().len() >= max {
                return None;
            }
            from = self.rest().len().saturating_sub(HEADER_LEN - 1).max(1);
            if !self.read_more() {
                let last = self.error.is_none() && !self.rest().is_empty();
                return last.then(|| self.take(self.rest().len()));
            }
        }
    }

    fn take(&mut self, len: usize) -> Arc<[u8]> {
        let piece = Arc::from(&self.rest()[..len]);
        self.start += len;
        piece
    }

    /// The bytes not yet taken, read if there are none; the read error once they are all taken.
    fn fill(&mut self) -> io::Result<&[u8]> {
        if self.rest().is_empty()
            && !self.read_more()
            && let Some(e) = self.error.take()
        {
            self.eof = true;
            return Err(e);
        }
        Ok(self.rest())
    }
}

/// Where the first stream header at or after `from` starts in `bytes`.
fn find_header(bytes: &[u8], from: usize) -> Option<usize> {
    let magics = memchr::memmem::find_iter(bytes.get(from + 4..)?, BLOCK_MAGIC);
    magics.map(|m| from + m).find(|&start| {
        let head = &bytes[start..start + 4];
        head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3])
    })
}

/// A piece's bytes and its decode on the pool.
struct Piece {
    raw: Arc<[u8]>,
    /// The decoded stream, or `None` when the piece is not one whole stream of at most the
    /// limit's bytes decoded.
    decoded: mpsc::Receiver<Option<Vec<u8>>>,
}

impl Piece {
    fn spawn(raw: Arc<[u8]>, max_out: usize) -> Piece {
        let (send, decoded) = mpsc::sync_channel(1);
        let bytes = Arc::clone(&raw);
        rayon::spawn(move || {
            // A panic on the pool would abort the process: the piece is decoded again as it is
            // read, on the reader's thread, where it panics as a single-thread decode would.
            let decoded = std::panic::catch_unwind(|| decode_whole(&bytes, max_out));
            // Nobody waits any more when the reader was dropped.
            let _ = send.send(decoded.ok().flatten());
        });
        Piece { raw, decoded }
    }

    /// The decoded stream, or the piece's bytes to decode as they are read.
    fn wait(self) -> Result<Vec<u8>, Arc<[u8]>> {
        self.decoded.recv().ok().flatten().ok_or(self.raw)
    }
}

/// `raw` decoded, if it is exactly one whole stream of at most `max_out` bytes decoded.
fn decode_whole(raw: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let mut stream = Decompress::new(false);
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).max(1 << 16).min(max_out));
    loop {
        let taken = usize::try_from(stream.total_in()).ok()?;
        let status = stream.decompress_vec(raw.get(taken..)?, &mut out).ok()?;
        if status == Status::StreamEnd {
            let whole = usize::try_from(stream.total_in()).ok()? == raw.len();
            return whole.then_some(out);
        }
        // With room left for output, the decoder stops only when the input runs out: the stream
        // goes on past the piece.
        if out.len() < out.capacity() || out.len() >= max_out {
            return None;
        }
        out.reserve_exact(out.len().max(1 << 16).min(max_out - out.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bzip2::{Compression, read::MultiBzDecoder, write::BzEncoder};
    use std::io::Write;

    /// Text that compresses about 4:1, as wikitext does, in `n` numbered lines.
    fn text(seed: usize, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| {
                let k = (seed * 7919 + i * 104_729) % 1000;
                format!(
                    "<p id=\"{seed}.{i}\">line {i} of part {seed}: word{k} word{} word{}</p>\n",
                    k * 3 % 97,
                    k % 13
                )
            })
            .collect::<String>()
            .into_bytes()
    }

    fn bz2(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = BzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// Streams of different sizes, one spanning several blocks, one after another: the
    /// decoded text and the compressed file.
    fn sample() -> (Vec<u8>, Vec<u8>) {
        let parts: Vec<Vec<u8>> = [3, 40, 1, 5, 200, 7, 2500, 60]
            .iter()
            .enumerate()
            .map(|(seed, &n)| text(seed, n))
            .collect();
        (parts.concat(), parts.iter().flat_map(|p| bz2(p)).collect())
    }

    /// Gives at most `step` bytes a read, then fails if `fails`.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
        fails: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.bytes.is_empty() && self.fails {
                return Err(io::Error::other("the disk failed"));
            }
            let n = buf.len().min(self.bytes.len()).min(self.step);
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    const LIMITS: [Limits; 4] = [
        Limits {
            piece_in: 4 << 20,
            piece_out: 32 << 20,
            in_flight: 4,
        },
        // Every stream longer than 300 bytes compressed is decoded as it is read,
        Limits {
            piece_in: 300,
            piece_out: 32 << 20,
            in_flight: 2,
        },
        // and every stream longer than 2,000 bytes decoded,
        Limits {
            piece_in: 4 << 20,
            piece_out: 2000,
            in_flight: 1,
        },
        // and here every stream.
        Limits {
            piece_in: 4 << 20,
            piece_out: 32 << 20,
            in_flight: 0,
        },
    ];

    /// Bytes read at a time.
    const READ: usize = 5000;

    /// What a reader gave: every byte until it ended or failed, and the error it failed with.
    type Outcome = (Vec<u8>, Option<String>);

    /// What a reader gives.
    fn read_all(mut reader: impl Read) -> Outcome {
        let mut out = Vec::new();
        let mut buf = vec![0; READ];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return (out, Some(format!("{:?}: {e}", e.kind()))),
            }
        }
    }

    /// The parallel decode gives what the single-thread decode gives, under every limit, read
    /// at once or a few bytes at a time, and failing where the input fails.
    fn check(bytes: &[u8]) {
        check_as(bytes, |parallel, single| parallel == single);
    }

    /// `check`, with `agree` saying whether a parallel decode agrees with the single-thread one.
    fn check_as(bytes: &[u8], agree: fn(&Outcome, &Outcome) -> bool) {
        for fails in [false, true] {
            let trickle = || Trickle {
                bytes,
                step: 41,
                fails,
            };
            let single = read_all(MultiBzDecoder::new(trickle()));
            for limits in LIMITS {
                let mut parallel = vec![read_all(ParallelBz2::new(trickle(), limits))];
                if !fails {
                    parallel.push(read_all(ParallelBz2::new(bytes, limits)));
                }
                for p in parallel {
                    assert!(
                        agree(&p, &single),
                        "{limits:?}: {} bytes then {:?}, expected {} bytes then {:?}",
                        p.0.len(),
                        p.1,
                        single.0.len(),
                        single.1
                    );
                }
            }
        }
    }

    #[test]
    fn a_multistream_file_decodes_on_the_pool_to_the_same_bytes() {
        let (text, bytes) = sample();
        check(&bytes);
        let mut reader = ParallelBz2::new(&bytes[..], LIMITS[0]);
        assert_eq!(read_all(&mut reader), (text, None));
        assert_eq!(reader.streamed(), 0, "every stream was decoded on the pool");
    }

    #[test]
    fn a_cut_anywhere_ends_as_the_single_thread_decode_does() {
        let (_, bytes) = sample();
        // Every cut through the first four streams, then cuts every few bytes and around every
        // stream's start (inside its header, at its end).
        let starts = (1..bytes.len()).filter(|&at| find_header(&bytes, at) == Some(at));
        let around = starts.flat_map(|at| [at - 1, at, at + 1, at + 4, at + 9, at + 10, at + 11]);
        for len in (0..800).chain((800..bytes.len()).step_by(97)).chain(around) {
            check(&bytes[..len]);
        }
    }

    #[test]
    fn a_damaged_byte_fails_as_the_single_thread_decode_does() {
        let (_, bytes) = sample();
        for at in (0..bytes.len()).step_by(167) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            // The same error. When a block fails its checksum, the decoder has written the
            // block out in the read that fails, and that read's bytes are lost: which bytes
            // share that read depends on where reads fall, so the bytes before the error may
            // differ by less than one read.
            check_as(&damaged, |(parallel, error), (single, expected)| {
                let (short, long) = if parallel.len() < single.len() {
                    (parallel, single)
                } else {
                    (single, parallel)
                };
                error == expected && long.starts_with(short) && long.len() - short.len() < READ
            });
        }
    }

    #[test]
    fn bytes_around_the_streams_read_as_the_single_thread_decode_reads_them() {
        let (_, bytes) = sample();
        // A stream with no block, so no block magic: found by decoding the one before it.
        let empty = bz2(b"");
        for input in [
            Vec::new(),
            b"not bzip2 at all".to_vec(),
            [&bytes[..], b"trailing bytes"].concat(),
            [&bytes[..], &[0; 3]].concat(),
            [&empty[..], &bytes, &empty, &empty].concat(),
            empty.clone(),
            bytes[..HEADER_LEN].to_vec(),
        ] {
            check(&input);
        }
    }

    #[test]
    fn a_false_header_joins_the_pieces_it_cut_apart() {
        // A header pattern inside compressed data is not made on purpose: a cut at every few
        // bytes beside the true ones stands for it.
        let (text, bytes) = sample();
        let mut starts = vec![0];
        while let Some(next) = find_header(&bytes, starts[starts.len() - 1] + 1) {
            starts.push(next);
        }
        assert_eq!(starts.len(), 8, "a header found for every stream");
        for cut in (1..bytes.len()).step_by(23) {
            let mut cuts = starts.clone();
            cuts.push(cut);
            cuts.push(bytes.len());
            cuts.sort_unstable();
            cuts.dedup();
            let mut reader = ParallelBz2::new(&b""[..], LIMITS[0]);
            let Some(Mode::Pieces(input)) = reader.mode.as_mut() else {
                unreachable!("a reader starts with pieces")
            };
            for piece in cuts.windows(2) {
                let raw = Arc::from(&bytes[piece[0]..piece[1]]);
                input.pending.push_back(Piece::spawn(raw, 32 << 20));
            }
            assert!(
                read_all(&mut reader) == (text.clone(), None),
                "cut at {cut}"
            );
            let false_cut = u64::from(!starts.contains(&cut));
            assert_eq!(reader.streamed(), false_cut, "cut at {cut}");
        }
    }

    #[test]
    fn a_header_is_found_whole_and_across_reads() {
        assert_eq!(find_header(b"BZh91AY&SY", 0), Some(0));
        assert_eq!(find_header(b"BZh91AY&SY", 1), None);
        assert_eq!(find_header(b"xxBZh51AY&SYyy", 1), Some(2));
        for not in [
            &b"BZh01AY&SY"[..],
            b"BZx91AY&SY",
            b"Zh91AY&SY",
            b"BZh91AY&S",
        ] {
            assert_eq!(find_header(not, 0), None, "{not:?}");
        }
        let mut source = Source::new(Trickle {
            bytes: b"BZh91AY&SY...BZh91AY&SY..BZh11AY&SY",
            step: 3,
            fails: false,
        });
        let mut pieces = Vec::new();
        while let Some(piece) = source.cut(1 << 20) {
            pieces.push(String::from_utf8(piece.to_vec()).unwrap());
        }
        assert_eq!(pieces, ["BZh91AY&SY...", "BZh91AY&SY..", "BZh11AY&SY"]);
        assert!(source.at_end());
    }
}
