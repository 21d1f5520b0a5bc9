//! `corpus::ingest` on the real fixtures in `testdata/`: what it writes, reports and keeps when
//! an input is missing, cut or has a bad line.

mod fixtures;

use std::{cell::RefCell, fs, path::Path};

use corpus::{Config, CorpusError, IngestProgress, PageSkip};
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
