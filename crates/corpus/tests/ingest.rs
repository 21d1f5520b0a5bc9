//! `corpus::ingest` on the real fixtures in `testdata/`: what it writes, reports and keeps when
//! an input is missing, cut or has a bad line; a multi-stream `.bz2` made of the dump excerpt
//! against its plain XML.

mod fixtures;

use std::{
    cell::RefCell,
    fs,
    io::{Read, Write},
    path::Path,
};

use corpus::{Config, CorpusError, IngestProgress, PageSkip, Tally};
use fixtures::{VIWIKI, testdata};
use formats::{Passage, RunManifest};

/// What one input alone reads as, for comparison with what `ingest` wrote.
fn read(path: &Path, config: &Config) -> Vec<Passage> {
    corpus::open(path, config)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Reads a passages file written by `ingest`.
fn written(path: &Path) -> Vec<Passage> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn ingest_writes_every_input_in_order_with_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("passages.jsonl");
    fs::write(&out, "an older output\n").unwrap();
    let inputs = [
        testdata("wiki18-shuffled-20.jsonl"),
        testdata("kilt-pages-with-ids.jsonl"),
    ];
    let reports = RefCell::new(Vec::new());
    let config = Config::default();
    let report = corpus::ingest(&inputs, &out, &config, &|p: &IngestProgress| {
        reports.borrow_mut().push(*p)
    })
    .unwrap();

    let mut expected = read(&inputs[0], &config);
    expected.extend(read(&inputs[1], &config));
    assert_eq!(written(&out), expected, "the older output is replaced");
    assert_eq!(report.tally.passages, expected.len() as u64);
    assert_eq!((report.tally.pages, report.tally.kept()), (23, 23));

    let reports = reports.into_inner();
    let total: u64 = inputs.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    assert!(reports.iter().all(|p| p.total_bytes == total));
    assert_eq!(
        reports.first().map(|p| (p.bytes_read, p.passages)),
        Some((0, 0))
    );
    let last = reports.last().unwrap();
    assert_eq!(
        (last.bytes_read, last.passages),
        (total, expected.len() as u64)
    );
    assert!(reports.windows(2).all(|w| w[0].passages <= w[1].passages));

    assert_eq!(report.manifest, RunManifest::path_for(&out));
    let manifest = RunManifest::load(&report.manifest).unwrap().unwrap();
    assert!(manifest.complete);
    assert_eq!(manifest.command, "ingest");
    assert_eq!(manifest.inputs[1], inputs[1].display().to_string());
    assert_eq!(manifest.counts, report.tally.counts());
    assert_eq!(manifest.config, serde_json::to_value(&config).unwrap());
}

#[test]
fn ingest_opens_every_input_before_touching_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("passages.jsonl");
    fs::write(&out, "the previous output\n").unwrap();
    let missing = dir.path().join("nope.xml.bz2");
    let unknown = dir.path().join("questions.jsonl");
    fs::copy(testdata("hotpotqa_500.jsonl"), &unknown).unwrap();
    for bad in [&missing, &unknown] {
        let inputs = [testdata("wiki18-shuffled-20.jsonl"), bad.clone()];
        let err = corpus::ingest(&inputs, &out, &Config::default(), &|_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                CorpusError::Io { .. } | CorpusError::UnknownFormat { .. }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains(&bad.display().to_string()),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&out).unwrap(), "the previous output\n");
        assert!(!RunManifest::path_for(&out).exists());
    }
}

#[test]
fn ingest_stops_at_the_cut_keeping_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("passages.jsonl");
    let inputs = [testdata("wiki18-shuffled-20.jsonl"), testdata(VIWIKI)];
    let err = corpus::ingest(&inputs, &out, &Config::default(), &|_| {}).unwrap_err();
    let CorpusError::Stopped {
        error,
        tally,
        out: stopped_out,
    } = &err
    else {
        panic!("{err}")
    };
    assert!(matches!(**error, CorpusError::Truncated { .. }), "{error}");
    assert_eq!(stopped_out, &out);
    assert_eq!((tally.pages, tally.kept()), (20 + 971, 20 + 265));
    assert_eq!(tally.skipped(PageSkip::Truncated), 1);
    let kept = written(&out);
    assert_eq!(kept.len() as u64, tally.passages);
    assert_eq!(kept.last().unwrap().title, "Tổng sản lượng quốc gia");
    let message = err.to_string();
    assert!(message.starts_with(&error.to_string()), "{message}");
    assert!(
        message.ends_with(&format!(
            "the {} passages before it are in {}",
            kept.len(),
            out.display()
        )),
        "{message}"
    );
    assert!(!message.contains("--"), "no command-line flags: {message}");
    let manifest = RunManifest::load(&RunManifest::path_for(&out))
        .unwrap()
        .unwrap();
    assert!(!manifest.complete);
    assert_eq!(manifest.counts, tally.counts());

    let skip_bad = Config {
        skip_bad: true,
        ..Config::default()
    };
    let report = corpus::ingest(&inputs, &out, &skip_bad, &|_| {}).unwrap();
    assert_eq!(&report.tally, tally, "the same counts, the cut counted");
    assert_eq!(written(&out), kept);
    let manifest = RunManifest::load(&report.manifest).unwrap().unwrap();
    assert!(manifest.complete);
    assert_eq!(manifest.counts["skipped_truncated"], 1);
}

#[test]
fn ingest_stops_at_a_malformed_line_or_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cut-line.jsonl");
    let lines: Vec<String> = fs::read_to_string(testdata("wiki18-shuffled-20.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // The fourth line is cut in half, as a bad copy would leave it.
    let mut text = lines[..3].join("\n");
    text.push('\n');
    text.push_str(&lines[3][..lines[3].len() / 2]);
    text.push('\n');
    text.push_str(&lines[4..].join("\n"));
    fs::write(&input, text).unwrap();
    let out = dir.path().join("passages.jsonl");

    let err = corpus::ingest(
        std::slice::from_ref(&input),
        &out,
        &Config::default(),
        &|_| {},
    )
    .unwrap_err();
    let CorpusError::Stopped { error, tally, .. } = &err else {
        panic!("{err}")
    };
    let CorpusError::BadLine { line, .. } = **error else {
        panic!("{error}")
    };
    assert_eq!(line, 4);
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:4:", input.display()))
    );
    assert_eq!(tally.skipped(PageSkip::Malformed), 1);
    let ids: Vec<String> = written(&out).into_iter().map(|p| p.id).collect();
    assert_eq!(ids, ["545", "130", "28"]);

    let skip_bad = Config {
        skip_bad: true,
        ..Config::default()
    };
    let report = corpus::ingest(&[input], &out, &skip_bad, &|_| {}).unwrap();
    assert_eq!(
        report.tally.to_string(),
        "20 pages (19 kept) → 19 passages; skipped 1 (malformed 1)"
    );
    let ids: Vec<String> = written(&out).into_iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 19);
    assert!(!ids.contains(&"413".to_string()), "the cut line is skipped");
}

/// The dump excerpt's header and its first `n` complete pages, as XML text, the bytes that
/// start a bzip2 stream planted in the text of one page.
fn dump_pages(n: usize) -> (String, Vec<String>) {
    let mut xml = String::new();
    // The excerpt is cut mid-page: what it holds, before the error that says so.
    let _ = bzip2::read::MultiBzDecoder::new(fs::File::open(testdata(VIWIKI)).unwrap())
        .read_to_string(&mut xml);
    let mut pieces = xml.split("  <page>");
    let header = pieces.next().unwrap().to_string();
    let mut pages: Vec<String> = pieces.take(n).map(|p| format!("  <page>{p}")).collect();
    assert_eq!(pages.len(), n);
    let text = "xml:space=\"preserve\">";
    let planted = pages[7].replacen(text, &format!("{text}<![CDATA[BZh91AY&SY]]> "), 1);
    assert_ne!(planted, pages[7]);
    pages[7] = planted;
    (header, pages)
}

/// A multi-stream `.bz2` as Wikimedia writes them: the header alone, then 10 pages a stream,
/// then the end tag alone.
fn multistream(header: &str, pages: &[String]) -> Vec<u8> {
    let mut streams = vec![header.to_string()];
    streams.extend(pages.chunks(10).map(|c| c.concat()));
    streams.push("</mediawiki>\n".to_string());
    streams
        .iter()
        .flat_map(|s| {
            let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            encoder.write_all(s.as_bytes()).unwrap();
            encoder.finish().unwrap()
        })
        .collect()
}

/// What `ingest` wrote, or where it stopped.
fn ingest_one(input: &Path) -> (Vec<Passage>, Result<Tally, CorpusError>) {
    let out = input.with_extension("passages.jsonl");
    let result = corpus::ingest(&[input.to_path_buf()], &out, &Config::default(), &|_| {});
    (written(&out), result.map(|r| r.tally))
}

#[test]
fn a_multistream_dump_ingests_as_its_plain_xml() {
    let dir = tempfile::tempdir().unwrap();
    let (header, pages) = dump_pages(150);
    let plain = dir.path().join("plain.xml");
    fs::write(
        &plain,
        [header.clone(), pages.concat(), "</mediawiki>\n".into()].concat(),
    )
    .unwrap();
    let packed = dir.path().join("multi.xml.bz2");
    fs::write(&packed, multistream(&header, &pages)).unwrap();

    let (expected, tally) = ingest_one(&plain);
    let tally = tally.unwrap();
    assert_eq!(tally.pages, 150);
    assert!(expected.iter().any(|p| p.text.contains("BZh91AY&SY")));
    let (passages, packed_tally) = ingest_one(&packed);
    assert_eq!(packed_tally.unwrap(), tally);
    assert!(passages == expected, "the same passages in the same order");
}

#[test]
fn a_cut_multistream_dump_stops_where_a_single_thread_decode_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (header, pages) = dump_pages(60);
    let bytes = multistream(&header, &pages);
    let starts: Vec<usize> = (0..bytes.len())
        .filter(|&at| bytes[at..].starts_with(b"BZh9") && bytes[at + 4..].starts_with(b"1AY&SY"))
        .collect();
    assert_eq!(starts.len(), 8, "header, 6 page streams, end");
    // Inside the fourth stream of pages, at its start, and inside the end tag's stream.
    for (cut, decoder_error) in [
        (bytes.len() * 3 / 5, true),
        (starts[4], false),
        (starts[7] + 20, true),
    ] {
        let packed = dir.path().join("cut.xml.bz2");
        fs::write(&packed, &bytes[..cut]).unwrap();
        // What a single-thread decode gives before it fails.
        let mut xml = Vec::new();
        let decoded = bzip2::read::MultiBzDecoder::new(&bytes[..cut]).read_to_end(&mut xml);
        assert_eq!(decoded.is_err(), decoder_error);
        let plain = dir.path().join("cut.xml");
        fs::write(&plain, &xml).unwrap();

        let (expected, stopped) = ingest_one(&plain);
        let Err(CorpusError::Stopped { error, .. }) = stopped else {
            panic!("{stopped:?}")
        };
        let CorpusError::Truncated {
            place, complete, ..
        } = *error
        else {
            panic!("{error}")
        };
        let (passages, stopped) = ingest_one(&packed);
        assert!(
            passages == expected,
            "cut at {cut}: the passages before the cut"
        );
        let Err(CorpusError::Stopped { error, .. }) = stopped else {
            panic!("{stopped:?}")
        };
        let CorpusError::Truncated {
            place: packed_place,
            detail,
            complete: packed_complete,
            ..
        } = *error
        else {
            panic!("{error}")
        };
        assert_eq!(
            (packed_place, packed_complete),
            (place, complete),
            "cut at {cut}"
        );
        let expected_detail = match decoder_error {
            true => ": decompression not finished but EOF reached",
            false => "",
        };
        assert_eq!(detail, expected_detail, "cut at {cut}");
    }
}
