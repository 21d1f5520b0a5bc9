//! End-to-end tests of `masksearch ingest`: the real binary on the real fixtures in `testdata/`.

use std::{collections::BTreeMap, fs, path::Path};

use crate::common::{masksearch, testdata};
use formats::{Passage, RunManifest};

/// Runs `masksearch ingest ARGS --out <dir>/out.jsonl`; returns (exit code, stderr, passages).
fn ingest(dir: &Path, args: &[&str]) -> (i32, String, Vec<Passage>) {
    let out = dir.join("out.jsonl");
    let output = masksearch()
        .arg("ingest")
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run masksearch");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let passages = fs::read_to_string(&out)
        .map(|text| {
            text.lines()
                .map(|l| serde_json::from_str(l).expect("each output line is a passage"))
                .collect()
        })
        .unwrap_or_default();
    (output.status.code().unwrap_or(-1), stderr, passages)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Passages of each page, in order: `id` → (page id, n); checks that the n count from 0.
fn assert_page_ids(passages: &[Passage]) {
    let mut next: BTreeMap<&str, usize> = BTreeMap::new();
    for p in passages {
        let (page, n) =
            p.id.rsplit_once('#')
                .expect("page passages have <page id>#<n> ids");
        let want = next.entry(page).or_default();
        assert_eq!(
            n.parse::<usize>().unwrap(),
            *want,
            "ids of page {page} not consecutive"
        );
        *want += 1;
    }
}

#[test]
fn wiki18_passages_keep_ids_titles_and_contents() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata("wiki18-sample-1000.jsonl");
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&input)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("ingest: 1,000 pages (1,000 kept) → 1,000 passages; skipped 0"),
        "{stderr}"
    );
    let original: Vec<serde_json::Value> = fs::read_to_string(&input)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(passages.len(), original.len());
    let mut quoted = 0;
    for (i, (p, o)) in passages.iter().zip(&original).enumerate() {
        assert_eq!(p.id, i.to_string());
        let contents = o["contents"].as_str().unwrap();
        let (title, text) = Passage::split_contents(contents);
        assert_eq!(
            (p.title.as_str(), p.text.as_str()),
            (title, text),
            "passage {i}"
        );
        // `contents` is the corpus's own string, byte for byte; only where the title line is
        // not quoted does the passage carry it (rebuilding would add the quotes).
        assert_eq!(p.contents(), contents, "passage {i}");
        if contents.starts_with('"') {
            quoted += 1;
            assert_eq!(p.original_contents, None, "passage {i}");
        }
    }
    assert!(quoted > 800, "{quoted}");
    assert_eq!(passages[0].title, "Evan Morris");
    let manifest = RunManifest::load(&RunManifest::path_for(&dir.path().join("out.jsonl")))
        .unwrap()
        .expect("manifest beside the output");
    assert!(manifest.complete);
    assert_eq!(manifest.counts["passages"], 1000);
}

#[test]
fn kilt_pages_are_split_into_sentence_passages() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata("kilt-pages-100.jsonl");
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&input), "--words", "100"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("ingest: 99 pages (99 kept) → "), "{stderr}");
    assert!(passages.len() > 1000, "{}", passages.len());
    assert_page_ids(&passages);
    assert_eq!(passages[0].id, "A#0");
    assert!(
        passages[0].text.starts_with("A (named , plural"),
        "{}",
        passages[0].text
    );
    let words: Vec<usize> = passages
        .iter()
        .map(|p| p.text.split_whitespace().count())
        .collect();
    assert!(
        words.iter().all(|&w| (1..=150).contains(&w)),
        "{:?}",
        words.iter().max()
    );
    let mean = words.iter().sum::<usize>() / words.len();
    assert!((60..=110).contains(&mean), "mean passage length {mean}");
    for p in &passages {
        assert!(
            !p.text.contains("Section::::") && !p.text.contains("BULLET::::"),
            "{}",
            p.text
        );
        assert!(!p.text.contains('\n'), "{}", p.id);
    }
    // Passages end on sentence ends unless a sentence alone was too long.
    let ends_sentence = passages
        .iter()
        .filter(|p| p.text.ends_with(['.', '!', '?', '"', ')', ';', ':']))
        .count();
    assert!(
        ends_sentence * 10 >= passages.len() * 9,
        "{ends_sentence} of {}",
        passages.len()
    );
}

#[test]
fn truncated_dump_keeps_complete_pages_and_reports_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata("viwiki-20230501-first-100k-lines.xml.bz2");
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&input)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "viwiki-20230501-first-100k-lines.xml.bz2: input ends inside page 'Hà Lan' (truncated download?); 970 complete pages before it"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("ingest: 971 pages (265 kept)"), "{stderr}");
    assert!(
        stderr.contains("redirect 86") && stderr.contains("truncated 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--skip-bad"),
        "the error says how to go on: {stderr}"
    );

    let titles: Vec<&str> = passages.iter().map(|p| p.title.as_str()).collect();
    assert!(titles.contains(&"Internet Society"));
    assert_eq!(
        passages.last().unwrap().title,
        "Tổng sản lượng quốc gia",
        "the last complete article is kept"
    );
    assert!(
        !titles.contains(&"Tiệp"),
        "disambiguation pages are skipped"
    );
    assert!(
        !titles.contains(&"Hà Lan"),
        "the cut page is not half-written"
    );
    assert!(
        !titles.contains(&"Alexandre De Rhodes"),
        "redirects are skipped"
    );
    assert!(
        !titles.contains(&"Trang Chính"),
        "the main page is not an article"
    );
    assert_page_ids(&passages);

    let mut anchors = 0;
    for p in &passages {
        for a in &p.anchors {
            anchors += 1;
            let surface = a.surface(&p.text).expect("anchor inside its passage");
            assert!(!surface.is_empty() && surface.trim() == surface, "{p:?}");
            let first = a.target.chars().next().unwrap();
            assert!(
                !first.is_lowercase(),
                "target {:?} not normalised",
                a.target
            );
            assert!(!a.target.contains(['|', '[', ']', '#']), "{:?}", a.target);
            assert!(!a.target.starts_with("Tập tin:") && !a.target.starts_with("Thể loại:"));
        }
    }
    assert!(anchors > 10_000, "{anchors} anchors");
    let first = &passages[0];
    assert_eq!(first.id, "4#0");
    let targets: Vec<(&str, &str)> = first
        .anchors
        .iter()
        .map(|a| (a.surface(&first.text).unwrap(), a.target.as_str()))
        .collect();
    assert!(
        targets.contains(&("tổ chức quốc tế", "Tổ chức quốc tế")),
        "{targets:?}"
    );
    let markup = passages
        .iter()
        .filter(|p| p.text.contains("{{") || p.text.contains("<ref") || p.text.contains("'''"))
        .count();
    assert_eq!(markup, 0, "wikitext markup left in passages");
}

#[test]
fn truncated_dump_with_skip_bad_exits_zero_and_counts_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata("viwiki-20230501-first-100k-lines.xml.bz2");
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&input), "--skip-bad"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("truncated 1"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    let (_, _, strict) = ingest(dir.path(), &[path_str(&input)]);
    assert_eq!(passages, strict, "the same complete pages either way");
}

#[test]
fn cut_bz2_stream_is_reported_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let whole = fs::read(testdata("viwiki-20230501-first-100k-lines.xml.bz2")).unwrap();
    let cut = dir.path().join("cut.xml.bz2");
    fs::write(&cut, &whole[..1_000_000]).unwrap();
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&cut)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cut.xml.bz2: input ends inside page '"),
        "{stderr}"
    );
    assert!(stderr.contains("(truncated download?)"), "{stderr}");
    assert!(!passages.is_empty(), "pages before the cut are written");
    let (code, stderr, _) = ingest(dir.path(), &[path_str(&cut), "--skip-bad"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("truncated 1"), "{stderr}");
}

#[test]
fn malformed_line_is_named_or_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.jsonl");
    fs::write(
        &input,
        "{\"id\": \"0\", \"contents\": \"\\\"A\\\"\\nText a.\"}\n\
         {\"id\": \"1\", \"contents\": \"\\\"B\\\"\\nText b.\"}\n\
         {\"id\": \"2\", \"contents\": \n\
         {\"id\": \"3\", \"contents\": \"\\\"D\\\"\\nText d.\"}\n",
    )
    .unwrap();
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&input)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{}:3:", input.display())),
        "{stderr}"
    );
    assert_eq!(passages.len(), 2, "records before the bad line are kept");

    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&input), "--skip-bad"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("ingest: 4 pages (3 kept) → 3 passages; skipped 1 (malformed 1)"),
        "{stderr}"
    );
    let ids: Vec<&str> = passages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "3"]);
}

#[test]
fn missing_input_is_a_clear_error_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.xml.bz2");
    let (code, stderr, _) = ingest(dir.path(), &[path_str(&missing)]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nope.xml.bz2: No such file"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file").count(),
        1,
        "said once: {stderr}"
    );
    assert!(
        !dir.path().join("out.jsonl").exists(),
        "no output for a run that cannot start"
    );
}

#[test]
fn bad_usage_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let input = testdata("wiki18-sample-1000.jsonl");
    let (code, stderr, _) = ingest(dir.path(), &[path_str(&input), "--format", "csv"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown format 'csv'"), "{stderr}");
}

#[test]
fn pages_jsonl_and_page_folders_are_split_per_page() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("pages.jsonl");
    let long: String = (0..30)
        .map(|i| format!("Sentence number {i} is here. "))
        .collect();
    fs::write(
        &pages,
        format!(
            "{{\"id\": \"P\", \"title\": \"Page\", \"text\": \"{long}\\n{long}\"}}\n\
             {{\"id\": \"E\", \"title\": \"Empty\", \"text\": \"  \"}}\n"
        ),
    )
    .unwrap();
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&pages), "--words", "50"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("skipped 1 (empty 1)"), "{stderr}");
    let ids: Vec<&str> = passages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["P#0", "P#1", "P#2", "P#3", "P#4", "P#5"]);
    assert!(
        passages
            .iter()
            .all(|p| p.title == "Page" && p.text.ends_with("is here."))
    );

    let (code, _, whole) = ingest(dir.path(), &[path_str(&pages), "--split", "never"]);
    assert_eq!(code, 0);
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].id, "P");

    let folder = dir.path().join("pages");
    fs::create_dir(&folder).unwrap();
    fs::write(
        folder.join("Hà Nội"),
        "Hà Nội là thủ đô.\n\nThành phố có sông Hồng.\n",
    )
    .unwrap();
    fs::write(folder.join("Huế.txt"), "Huế là cố đô.\n").unwrap();
    fs::write(folder.join(".hidden"), "ignored\n").unwrap();
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&folder)]);
    assert_eq!(code, 0, "{stderr}");
    let got: Vec<(&str, &str, &str)> = passages
        .iter()
        .map(|p| (p.id.as_str(), p.title.as_str(), p.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            // Byte order of file names: "Hu" < "Hà".
            ("Huế#0", "Huế", "Huế là cố đô."),
            (
                "Hà Nội#0",
                "Hà Nội",
                "Hà Nội là thủ đô. Thành phố có sông Hồng."
            ),
        ]
    );
}

#[test]
fn a_run_stopped_despite_skip_bad_does_not_suggest_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("page.xml");
    fs::write(&input, "<html><body>not a dump</body></html>\n").unwrap();
    let (code, stderr, passages) = ingest(dir.path(), &[path_str(&input), "--skip-bad"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("page.xml: cannot tell the input format (no <mediawiki> element"),
        "{stderr}"
    );
    assert!(stderr.contains("ingest: 0 pages"), "{stderr}");
    assert!(!stderr.contains("pass --skip-bad"), "{stderr}");
    assert!(passages.is_empty());
    let (code, stderr, _) = ingest(dir.path(), &[path_str(&input)]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("pass --skip-bad"), "{stderr}");
}
