//! End to end: `masksearch index` is all or nothing. A malformed passages line or a kill -9 in
//! the middle of a build leaves the previous index byte for byte as it was.

use std::{fs, path::Path};

use crate::common::{kill_while_reading, masksearch, run_ok, snapshot, testdata};

/// `ingest` the wiki-18 sample into `dir/passages.jsonl`; returns its lines.
fn passages(dir: &Path) -> Vec<String> {
    let path = dir.join("passages.jsonl");
    run_ok(&[
        "ingest".as_ref(),
        testdata("wiki18-sample-1000.jsonl").as_os_str(),
        "--out".as_ref(),
        path.as_os_str(),
    ]);
    fs::read_to_string(path)
        .expect("passages")
        .lines()
        .map(str::to_string)
        .collect()
}

fn index(passages: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    masksearch()
        .args(["index", "--passages"])
        .arg(passages)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("runs")
}

/// The ids of the top hits of `query` in the index at `dir`.
fn top_ids(dir: &Path, query: &str) -> Vec<String> {
    let (stdout, _) = run_ok(&[
        "search".as_ref(),
        query.as_ref(),
        "-k".as_ref(),
        "3".as_ref(),
        "--json".as_ref(),
        "--index".as_ref(),
        dir.as_os_str(),
    ]);
    stdout
        .lines()
        .map(|l| {
            let hit: serde_json::Value = serde_json::from_str(l).expect("json");
            hit["id"].as_str().expect("id").to_string()
        })
        .collect()
}

#[test]
fn a_malformed_line_leaves_the_previous_index_untouched() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let lines = passages(tmp.path());
    let good = tmp.path().join("passages.jsonl");
    let idx = tmp.path().join("index");
    let out = index(&good, &idx, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = snapshot(&idx);
    let answer = top_ids(&idx, "Pavia Cathedral dome");

    // Line 501 of 1,000 is broken; the rest is fine.
    let mut broken = lines.clone();
    broken[500] = "{\"id\": \"500\", \"title\": ".to_string();
    let bad = tmp.path().join("broken.jsonl");
    fs::write(&bad, broken.join("\n") + "\n").expect("write");

    for extra in [&[][..], &["--overwrite"][..]] {
        let out = index(&bad, &idx, extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert_eq!(snapshot(&idx), before, "{extra:?}: the index changed");
        assert!(!tmp.path().join("index.partial").exists(), "{extra:?}");
        assert_eq!(top_ids(&idx, "Pavia Cathedral dome"), answer, "{extra:?}");
        if extra.is_empty() {
            assert!(stderr.contains("already exists"), "{stderr}");
        } else {
            // The message says what happened and is true: nothing was replaced.
            assert!(stderr.contains("broken.jsonl:501"), "{stderr}");
            assert!(stderr.contains("is unchanged"), "{stderr}");
            assert!(stderr.contains("--skip-bad"), "{stderr}");
        }
    }

    // With --skip-bad the line is counted and the rest indexed.
    let out = index(&bad, &idx, &["--overwrite", "--skip-bad"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("999 passages indexed"), "{stderr}");
    assert!(stderr.contains("1 malformed lines skipped"), "{stderr}");
}

#[test]
fn a_failed_first_build_writes_nothing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let bad = tmp.path().join("bad.jsonl");
    fs::write(
        &bad,
        "{\"id\":\"0\",\"title\":\"A\",\"text\":\"a\"}\nnot json\n",
    )
    .expect("write");
    let idx = tmp.path().join("index");
    let out = index(&bad, &idx, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!idx.exists() && !tmp.path().join("index.partial").exists());
}

/// The build reads its passages from a named pipe that the test writes half of and then holds
/// open, so the process is killed exactly while it is indexing (no clock involved).
#[cfg(unix)]
#[test]
fn kill_9_mid_build_keeps_the_old_index_and_the_next_build_succeeds() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let lines = passages(tmp.path());
    let good = tmp.path().join("passages.jsonl");
    let idx = tmp.path().join("index");
    let out = index(&good, &idx, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = snapshot(&idx);

    // The staging folder exists before the first passage is read.
    let partial = tmp.path().join("index.partial");
    let fifo = tmp.path().join("passages.fifo");
    let mut cmd = masksearch();
    cmd.args(["index", "--overwrite", "--passages"])
        .arg(&fifo)
        .arg("--out")
        .arg(&idx);
    let input: String = lines[..600].iter().map(|l| format!("{l}\n")).collect();
    kill_while_reading(cmd, &fifo, input.as_bytes(), || partial.exists());

    assert_eq!(snapshot(&idx), before, "the old index changed");
    let out = index(&good, &idx, &["--overwrite"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !partial.exists(),
        "the next build clears the leftover staging folder"
    );
    assert_eq!(top_ids(&idx, "Pavia Cathedral dome")[0], "4");
}
