//! `corpus`'s readers on the real fixtures in `testdata/`: what each makes of a real corpus, and
//! that ids are the input's own.

mod fixtures;

use std::{fs, path::Path};

use corpus::{Config, CorpusError, CorpusReader, Format, PageSkip, Split, Tally};
use fixtures::{VIWIKI, testdata};
use formats::Passage;

/// Reads an input to its end: the passages, and the errors in the order they came.
fn read_all(path: &Path, config: &Config) -> (CorpusReader, Vec<Passage>, Vec<CorpusError>) {
    let mut reader = corpus::open(path, config).expect("the input opens");
    let (mut passages, mut errors) = (Vec::new(), Vec::new());
    for item in reader.by_ref() {
        match item {
            Ok(p) => passages.push(p),
            Err(e) => errors.push(e),
        }
    }
    (reader, passages, errors)
}

fn read_ok(path: &Path, config: &Config) -> (CorpusReader, Vec<Passage>) {
    let (reader, passages, errors) = read_all(path, config);
    assert!(errors.is_empty(), "{errors:?}");
    (reader, passages)
}

/// `(id, contents)` of every line of a wiki-18 JSONL file.
fn wiki18_lines(path: &Path) -> Vec<(String, String)> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["contents"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Checks that the passages of each page are numbered `<page>#0`, `<page>#1`, … in order, and
/// returns the page ids in the order they came.
fn page_ids(passages: &[Passage]) -> Vec<String> {
    let mut pages: Vec<(String, usize)> = Vec::new();
    for p in passages {
        let (page, n) = p.id.rsplit_once('#').expect("<page id>#<n>");
        let n: usize = n.parse().expect("a passage number");
        match pages.last_mut() {
            Some((last, next)) if last == page => {
                assert_eq!(n, *next, "{}", p.id);
                *next += 1;
            }
            _ => {
                assert_eq!(n, 0, "{} is the first passage of its page", p.id);
                pages.push((page.to_string(), 1));
            }
        }
    }
    pages.into_iter().map(|(page, _)| page).collect()
}

#[test]
fn wiki18_sample_is_kept_passage_for_passage() {
    let path = testdata("wiki18-sample-1000.jsonl");
    let (reader, passages) = read_ok(&path, &Config::default());
    assert_eq!(reader.format(), Format::Contents);
    assert_eq!(
        reader.tally().to_string(),
        "1,000 pages (1,000 kept) → 1,000 passages; skipped 0"
    );
    let lines = wiki18_lines(&path);
    assert_eq!(passages.len(), lines.len());
    for (p, (id, contents)) in passages.iter().zip(&lines) {
        assert_eq!(&p.id, id);
        assert_eq!(p.contents(), contents.as_str(), "passage {id}");
        assert!(p.anchors.is_empty());
    }
    assert_eq!(reader.bytes_read(), reader.total_bytes());
}

#[test]
fn wiki18_ids_are_kept_as_given_not_renumbered() {
    let path = testdata("wiki18-shuffled-20.jsonl");
    let (_, passages) = read_ok(&path, &Config::default());
    let lines = wiki18_lines(&path);
    let ids: Vec<&str> = passages.iter().map(|p| p.id.as_str()).collect();
    let given: Vec<&str> = lines.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, given);
    assert_eq!(&ids[..4], ["545", "130", "28", "413"]);
    for (p, (_, contents)) in passages.iter().zip(&lines) {
        assert_eq!(p.contents(), contents.as_str(), "passage {}", p.id);
    }
    let unquoted: Vec<&str> = passages
        .iter()
        .filter(|p| p.original_contents.is_some())
        .map(|p| p.title.as_str())
        .collect();
    assert_eq!(unquoted, ["Parahesperornis", "Arkansas"]);

    // Split again, a passage's id becomes `<its id>#<n>`: still the input's id.
    let always = Config {
        split: Split::Always,
        words: 1000,
        ..Config::default()
    };
    let (_, split) = read_ok(&path, &always);
    let pages = page_ids(&split);
    assert_eq!(pages, given);
}

#[test]
fn kilt_pages_become_sentence_passages_named_by_title() {
    let path = testdata("kilt-pages-100.jsonl");
    let (reader, passages) = read_ok(&path, &Config::default());
    assert_eq!(reader.format(), Format::Kilt);
    let tally = reader.tally();
    assert_eq!((tally.pages, tally.kept()), (99, 99));
    assert_eq!(tally.passages, passages.len() as u64);
    let pages = page_ids(&passages);
    assert_eq!(pages.len(), 99, "every page gives passages");
    assert_eq!(
        &pages[..3],
        ["A", "Albedo", "Academy Award for Best Production Design"]
    );
    for p in &passages {
        let title = p.id.rsplit_once('#').unwrap().0;
        assert_eq!(
            p.title, title,
            "without wikipedia_id the title is the page id"
        );
        assert!(!p.text.contains("Section::::") && !p.text.contains("BULLET::::"));
        assert!(!p.text.contains('\n'));
        assert!(
            (1..=150).contains(&p.text.split_whitespace().count()),
            "{}",
            p.id
        );
    }
    // Reference-like sections are dropped: Albedo's page ends with "See also" and "External
    // links", whose items are titles of other pages and sites.
    let albedo: String = passages
        .iter()
        .filter(|p| p.title == "Albedo")
        .map(|p| p.text.as_str())
        .collect();
    assert!(albedo.contains("whiteness"));
    assert!(
        !albedo.contains("Albedo Project"),
        "external links are not prose"
    );
}

#[test]
fn kilt_wikipedia_ids_name_the_passages() {
    let with_ids = testdata("kilt-pages-with-ids.jsonl");
    let (reader, passages) = read_ok(&with_ids, &Config::default());
    assert_eq!(reader.format(), Format::Kilt);
    assert_eq!(page_ids(&passages), ["39", "332", "25"]);
    let titles: Vec<&str> = passages.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles.first(), Some(&"Albedo"));
    assert_eq!(titles.last(), Some(&"Autism"));

    // The same pages without their ids give the same passages, named by title instead.
    let (_, by_title) = read_ok(&testdata("kilt-pages-100.jsonl"), &Config::default());
    let by_title: Vec<&Passage> = by_title
        .iter()
        .filter(|p| ["Albedo", "Actrius", "Autism"].contains(&p.title.as_str()))
        .collect();
    assert_eq!(passages.len(), by_title.len());
    for (p, q) in passages.iter().zip(by_title) {
        assert_eq!((&p.title, &p.text), (&q.title, &q.text));
        let (id, n) = p.id.split_once('#').unwrap();
        assert_eq!(q.id, format!("{}#{n}", p.title), "{id}");
    }

    let never = Config {
        split: Split::Never,
        ..Config::default()
    };
    let (_, whole) = read_ok(&with_ids, &never);
    let ids: Vec<&str> = whole.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        ["39", "332", "25"],
        "a whole page is named by its id alone"
    );
}

#[test]
fn truncated_dump_keeps_complete_pages_and_names_the_cut() {
    let path = testdata(VIWIKI);
    let (reader, passages, errors) = read_all(&path, &Config::default());
    assert_eq!(reader.format(), Format::Xml);
    let [error] = &errors[..] else {
        panic!("one error, the cut: {errors:?}")
    };
    let CorpusError::Truncated {
        place, complete, ..
    } = error
    else {
        panic!("{error}")
    };
    assert_eq!(place, "inside page 'Hà Lan'");
    assert_eq!(*complete, 970);
    assert!(error.to_string().contains(VIWIKI), "{error}");

    let tally = reader.tally();
    assert_eq!((tally.pages, tally.kept()), (971, 265));
    assert_eq!(tally.skipped(PageSkip::Truncated), 1);
    assert_eq!(tally.skipped(PageSkip::Redirect), 86);
    assert!(tally.skipped(PageSkip::Namespace) > 0);
    assert!(tally.skipped(PageSkip::Disambiguation) > 0);
    assert_eq!(
        reader.bytes_read(),
        fs::metadata(&path).unwrap().len(),
        "progress counts the compressed bytes"
    );

    let pages = page_ids(&passages);
    assert_eq!(
        pages.first().map(String::as_str),
        Some("4"),
        "dump page ids"
    );
    assert_eq!(passages.last().unwrap().title, "Tổng sản lượng quốc gia");
    assert!(passages.iter().all(|p| p.title != "Hà Lan"), "no half page");
    for p in &passages {
        for a in &p.anchors {
            assert!(a.surface(&p.text).is_some(), "{}", p.id);
        }
    }

    // With skip_bad the cut is counted, not reported, and the passages are the same.
    let skip_bad = Config {
        skip_bad: true,
        ..Config::default()
    };
    let (skipping, again, errors) = read_all(&path, &skip_bad);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(again, passages);
    assert_eq!(skipping.tally(), tally);
}

#[test]
fn page_folder_reads_like_the_same_pages_as_jsonl() {
    // The MaskSearch layout built from real pages: one file per page, one paragraph a line.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("pages");
    fs::create_dir(&folder).unwrap();
    let jsonl = dir.path().join("pages.jsonl");
    let mut lines = String::new();
    for line in fs::read_to_string(testdata("kilt-pages-with-ids.jsonl"))
        .unwrap()
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let title = v["wikipedia_title"].as_str().unwrap();
        let paragraphs: Vec<&str> = v["text"].as_array().unwrap()[1..]
            .iter()
            .map(|p| p.as_str().unwrap().trim())
            .filter(|p| !p.starts_with("Section::::") && !p.starts_with("BULLET::::"))
            .collect();
        fs::write(folder.join(format!("{title}.txt")), paragraphs.join("\n")).unwrap();
        let page = serde_json::json!({"title": title, "text": paragraphs.join("\n")});
        lines.push_str(&format!("{page}\n"));
    }
    fs::write(folder.join(".hidden"), "not a page\n").unwrap();
    fs::write(&jsonl, lines).unwrap();

    let (reader, from_folder) = read_ok(&folder, &Config::default());
    assert_eq!(reader.format(), Format::Dir);
    assert_eq!(reader.tally().pages, 3, "hidden files are not pages");
    // Files are read in name order.
    assert_eq!(page_ids(&from_folder), ["Actrius", "Albedo", "Autism"]);

    let (_, from_jsonl) = read_ok(&jsonl, &Config::default());
    assert_eq!(
        corpus::open(&jsonl, &Config::default()).unwrap().format(),
        Format::Pages
    );
    let mut from_jsonl = from_jsonl;
    from_jsonl.sort_by(|a, b| a.title.cmp(&b.title));
    assert_eq!(from_folder, from_jsonl);
}

/// Records are read ahead in batches and turned into passages on every core, but handed out in
/// input order: each bad line's error comes after the passages of the lines before it and
/// before those after it, however the batches fall, and when an error comes the counts are of
/// the lines up to it, not of the lines read ahead.
#[test]
fn bad_lines_come_in_order_with_the_counts_of_the_lines_before_them() {
    let lines: Vec<String> = fs::read_to_string(testdata("wiki18-sample-1000.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let bad = [0, 1, 255, 256, 257, 600, 999];
    let text: Vec<&str> = (lines.iter().enumerate())
        .map(|(i, l)| if bad.contains(&i) { "{\"id\": " } else { l })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-lines.jsonl");
    fs::write(&path, text.join("\n") + "\n").unwrap();

    // Cut again (into one passage each), so that the records are read in batches: passages kept
    // whole are read one at a time.
    let config = Config {
        format: Some(Format::Contents),
        split: Split::Always,
        words: 10_000,
        ..Config::default()
    };
    let mut reader = corpus::open(&path, &config).unwrap();
    let (mut seen, mut passages) = (Vec::new(), 0);
    while let Some(item) = reader.next() {
        match item {
            Ok(p) => {
                seen.push(p.id);
                passages += 1;
            }
            Err(CorpusError::BadLine { line, .. }) => {
                let tally = reader.tally();
                assert_eq!(tally.pages, line, "pages counted at line {line}");
                assert_eq!(tally.passages, passages);
                seen.push(format!("bad line {line}"));
            }
            Err(e) => panic!("{e}"),
        }
    }
    let expected: Vec<String> = (wiki18_lines(&testdata("wiki18-sample-1000.jsonl")).into_iter())
        .enumerate()
        .map(|(i, (id, _))| {
            if bad.contains(&i) {
                format!("bad line {}", i + 1)
            } else {
                format!("{id}#0")
            }
        })
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        reader.tally().to_string(),
        "1,000 pages (993 kept) → 993 passages; skipped 7 (malformed 7)"
    );
}

#[test]
fn an_error_that_ends_the_input_comes_after_every_page_read_before_it() {
    // Pages with no <mediawiki> around them: each is read, and the end of the input is then an
    // error that ends it. 600 pages are more than the batches converted while pages are
    // handed out, so the error is read while earlier pages are still being converted.
    let dir = tempfile::tempdir().unwrap();
    let path = pages_without_root(dir.path(), 600);
    let mut reader = corpus::open(&path, &Config::default()).unwrap();
    let mut seen = Vec::new();
    while let Some(item) = reader.next() {
        match item {
            Ok(p) => seen.push(p.id),
            Err(e) => {
                assert!(matches!(e, CorpusError::UnknownFormat { .. }), "{e}");
                let tally = reader.tally();
                assert_eq!(
                    (tally.pages, tally.passages),
                    (600, 600),
                    "counted at the error"
                );
                seen.push("error".to_string());
            }
        }
    }
    let expected: Vec<String> = (1..=600)
        .map(|n| format!("{n}#0"))
        .chain(["error".to_string()])
        .collect();
    assert_eq!(seen, expected);
}

/// A file of `pages` dump pages with no `<mediawiki>` around them: each is read, and the end of
/// the input is then an error that ends it.
fn pages_without_root(dir: &Path, pages: usize) -> std::path::PathBuf {
    let text: String = (1..=pages)
        .map(|n| {
            format!(
                "<page><title>P{n}</title><ns>0</ns><id>{n}</id><revision>\
                 <text>Page number {n} is here.</text></revision></page>\n"
            )
        })
        .collect();
    let path = dir.join("no-root.xml");
    fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_dump_read_in_line_gives_what_it_gives_on_the_pool() {
    // On a thread of rayon's pool (or with one thread in it) pages are converted one at a time
    // in line; elsewhere in batches on the pool. Same passages and errors in the same order,
    // same counts: on a cut dump, and on one that ends in an error.
    fn read(path: &Path) -> (Vec<String>, Tally) {
        let mut reader = corpus::open(path, &Config::default()).unwrap();
        let items = (reader.by_ref())
            .map(|item| match item {
                Ok(p) => format!("{} {}", p.id, p.text),
                Err(e) => e.to_string(),
            })
            .collect();
        (items, reader.tally().clone())
    }
    let dir = tempfile::tempdir().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for path in [testdata(VIWIKI), pages_without_root(dir.path(), 600)] {
        let on_pool = read(&path);
        assert!(on_pool.1.pages > 2 * 256, "more pages than a batch or two");
        let in_line = pool.install(|| read(&path));
        assert_eq!(in_line.1, on_pool.1);
        assert_eq!(in_line.0, on_pool.0);
    }
}
