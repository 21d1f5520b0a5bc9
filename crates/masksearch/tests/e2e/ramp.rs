//! End to end: the real `masksearch` binary turns real passages (KILT pages, the Vietnamese dump
//! excerpt, the 10,033 demo summaries — all through `masksearch ingest`) into RAMP samples that
//! obey every masking rule and mask entities, not common words; a run killed with SIGKILL after
//! its N-th record and resumed writes the same bytes as an uninterrupted one; shards merge into
//! the whole run; curricula reach the output; the LLM path and difficulty scoring run against
//! the real local model.

use std::{
    fs,
    io::{Read as _, Seek as _, SeekFrom},
    path::{Path, PathBuf},
    process::Stdio,
};

use crate::common::{Served, asset, build_index, masksearch, model, run_ok, testdata};
use formats::{RAMP_INSTRUCTION_EN, RampSample};

/// `masksearch ingest INPUT` into `dir/passages.jsonl`.
fn ingest(input: &Path, dir: &Path) -> PathBuf {
    let passages = dir.join("passages.jsonl");
    run_ok(&[
        "ingest".as_ref(),
        input.as_os_str(),
        "--skip-bad".as_ref(),
        "--out".as_ref(),
        passages.as_os_str(),
    ]);
    passages
}

fn ramp(passages: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "ramp".as_ref(),
        "--passages".as_ref(),
        passages.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    run_ok(&args).1
}

fn samples(path: &Path) -> Vec<RampSample> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("corrupt record {e}: {l}")))
        .collect()
}

/// Whole-word occurrences, the way the masking rules count them.
fn occurrences(text: &str, needle: &str) -> usize {
    ramp::spans::word_occurrences(text, needle).len()
}

/// Every rule of the issue, on one record.
fn check_rules(s: &RampSample) {
    let id = &s.id;
    let masked = s
        .query
        .strip_suffix(RAMP_INSTRUCTION_EN)
        .and_then(|q| q.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("{id}: query does not end with the instruction"));
    // Filling the [mask]s in order with ext.masks gives back the answer exactly.
    let parts: Vec<&str> = masked.split("[mask]").collect();
    assert_eq!(parts.len(), s.ext.masks.len() + 1, "{id}: [mask] count");
    let mut filled = String::new();
    for (part, mask) in parts.iter().zip(&s.ext.masks) {
        filled.push_str(part);
        filled.push_str(mask);
    }
    filled.push_str(parts[parts.len() - 1]);
    assert_eq!(filled, s.answer, "{id}: masks do not restore the answer");
    assert!((1..=4).contains(&s.ext.mask_num), "{id}");
    assert_eq!(s.ext.mask_num, s.ext.masks.len(), "{id}");
    assert_eq!(s.ext.mask_kinds.len(), s.ext.mask_num, "{id}");
    assert!(
        !masked.trim_start().starts_with("[mask]"),
        "{id}: starts with [mask]"
    );
    assert_eq!(s.id, s.ext.passage_id);
    let title = s.ext.title.split(" (").next().unwrap().trim();
    if !title.is_empty() {
        // The title stays visible in the query.
        let (masked, title) = (masked.to_ascii_lowercase(), title.to_ascii_lowercase());
        assert!(
            occurrences(&masked, &title) >= 1,
            "{id}: title {title:?} hidden"
        );
    }
    // Each mask stands alone: whole tokens, no punctuation of its own.
    let mut at = 0;
    for (part, m) in parts.iter().zip(&s.ext.masks) {
        at += part.len();
        let before = s.answer[..at].chars().next_back();
        let after = s.answer[at + m.len()..].chars().next();
        assert!(
            before.is_none_or(|c| c.is_whitespace() || "\"'“‘([".contains(c)),
            "{id}: {m:?} starts inside a token ({before:?} before it)"
        );
        assert!(
            after.is_none_or(|c| c.is_whitespace() || "\"'”’)],.;:!?…".contains(c)),
            "{id}: {m:?} ends inside a token ({after:?} after it)"
        );
        assert!(
            !m.ends_with([',', ';', ':', '!', '?', '"', '\'']),
            "{id}: {m:?} carries punctuation"
        );
        at += m.len();
    }
    for m in &s.ext.masks {
        assert!(!m.eq_ignore_ascii_case(title), "{id}: the title is masked");
        assert_eq!(
            occurrences(&s.answer, m),
            1,
            "{id}: {m:?} occurs more than once"
        );
        assert!(
            s.ext.entities.contains(m),
            "{id}: {m:?} not among the entities"
        );
        assert_eq!(m.trim(), m, "{id}: {m:?} not trimmed");
    }
    // The entity list is as clean as the masks drawn from it ("2000," never beside "2000").
    for e in &s.ext.entities {
        assert_eq!(e.trim(), e, "{id}: entity {e:?} not trimmed");
        assert!(
            !e.is_empty() && !e.ends_with([',', ';', ':', '!', '?', '"', '\'']),
            "{id}: entity {e:?} carries punctuation"
        );
    }
}

#[test]
fn samples_from_real_corpora_obey_every_rule() {
    let inputs = [
        testdata("kilt-pages-100.jsonl"),
        testdata("viwiki-20230501-first-100k-lines.xml.bz2"),
        asset("corpus/wiki-summaries.jsonl"),
    ];
    for input in inputs {
        assert!(
            input.exists(),
            "{} is missing: run scripts/setup.sh",
            input.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let passages = ingest(&input, dir.path());
        let out = dir.path().join("ramp.jsonl");
        let stderr = ramp(&passages, &out, &["--seed", "3"]);
        let all = samples(&out);
        let read = fs::read_to_string(&passages).unwrap().lines().count();
        assert!(
            all.len() * 10 > read * 7,
            "{}: {} samples from {read} passages\n{stderr}",
            input.display(),
            all.len()
        );
        for s in &all {
            check_rules(s);
        }
        let kinds: std::collections::BTreeSet<&str> = all
            .iter()
            .flat_map(|s| s.ext.mask_kinds.iter().map(String::as_str))
            .collect();
        assert!(
            kinds.len() >= 4,
            "{}: span types {kinds:?}",
            input.display()
        );
        let (table, _) = run_ok(&["ramp".as_ref(), "stats".as_ref(), out.as_os_str()]);
        assert!(
            table.contains(&format!("samples{:>31}", all.len())),
            "{table}"
        );
        assert!(
            table
                .lines()
                .any(|l| l.contains("restores its answer") && l.ends_with("100.0%")),
            "{table}"
        );
        assert!(stderr.contains("masks per sample"), "{stderr}");
    }
}

#[test]
fn anchors_from_the_dump_become_masks() {
    let dir = tempfile::tempdir().unwrap();
    let passages = ingest(
        &testdata("viwiki-20230501-first-100k-lines.xml.bz2"),
        dir.path(),
    );
    let out = dir.path().join("ramp.jsonl");
    ramp(
        &passages,
        &out,
        &["--spans", "anchors", "--mask-count", "2"],
    );
    let all = samples(&out);
    assert!(all.len() > 100, "{}", all.len());
    for s in &all {
        check_rules(s);
        assert_eq!(s.ext.mask_num, 2);
        assert!(s.ext.mask_kinds.iter().all(|k| k == "anchor"));
    }
}

/// Complete records in `path` so far, counted from `counted.1` bytes on (0 while it does not
/// exist).
fn count_records(path: &Path, counted: &mut (usize, u64)) -> usize {
    if let Ok(mut file) = fs::File::open(path) {
        let mut fresh = Vec::new();
        if file.seek(SeekFrom::Start(counted.1)).is_ok() && file.read_to_end(&mut fresh).is_ok() {
            counted.0 += fresh.iter().filter(|&&b| b == b'\n').count();
            counted.1 += fresh.len() as u64;
        }
    }
    counted.0
}

/// The kill points are records, not times: the run is killed (SIGKILL) as soon as its N-th
/// record is in the file, so every round cuts the output at a known point of its progress.
#[test]
fn killed_after_the_nth_record_and_resumed_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let passages = ingest(&asset("corpus/wiki-summaries.jsonl"), dir.path());
    let whole = dir.path().join("whole.jsonl");
    ramp(&passages, &whole, &["--batch-size", "200"]);
    let expected = fs::read(&whole).unwrap();
    let total = expected.iter().filter(|&&b| b == b'\n').count();
    for n in [1, total / 4, total / 2] {
        let out = dir.path().join(format!("killed{n}.jsonl"));
        let mut child = masksearch()
            .args(["ramp", "--batch-size", "200", "--passages"])
            .arg(&passages)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut counted = (0, 0);
        while count_records(&out, &mut counted) < n {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let at_kill = fs::metadata(&out).unwrap().len();
        assert!(
            at_kill < expected.len() as u64,
            "killed after record {n}: the run had already finished"
        );
        let stderr = ramp(&passages, &out, &["--batch-size", "200"]);
        assert!(stderr.contains("resumed: "), "{stderr}");
        assert!(
            fs::read(&out).unwrap() == expected,
            "killed after record {n} at {at_kill} bytes; resumed output differs\n{stderr}"
        );
    }
    // A complete run resumed again appends nothing.
    ramp(&passages, &whole, &["--batch-size", "200"]);
    assert_eq!(fs::read(&whole).unwrap(), expected);
}

#[test]
fn another_setting_refuses_to_resume_and_overwrite_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let passages = ingest(&testdata("kilt-pages-100.jsonl"), dir.path());
    let out = dir.path().join("ramp.jsonl");
    ramp(&passages, &out, &[]);
    let first = fs::read(&out).unwrap();
    let failed = masksearch()
        .args(["ramp", "--seed", "9", "--passages"])
        .arg(&passages)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("seed: was 42, now 9"), "{stderr}");
    assert!(
        stderr.contains("hint: write to a new --out, or pass --overwrite"),
        "{stderr}"
    );
    ramp(&passages, &out, &["--seed", "9", "--overwrite"]);
    assert_ne!(fs::read(&out).unwrap(), first);
}

/// The share printed on the `common-word masks` line of a stats table.
fn common_word_share(table: &str) -> f64 {
    let line = table
        .lines()
        .find(|l| l.starts_with("common-word masks"))
        .unwrap_or_else(|| panic!("no common-word line in\n{table}"));
    line.trim_end_matches('%')
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no share in {line:?}"))
}

/// The demo corpus masks entities: fewer than 5% of the masks are one or two lower-case words
/// among the corpus's 5,000 most document-frequent words (48% before the span sources selected
/// entities), whether common words are counted over the corpus (the run) or over the file's
/// own answers (`ramp stats`).
#[test]
fn demo_masks_are_entities_not_common_words() {
    let dir = tempfile::tempdir().unwrap();
    let passages = ingest(&asset("corpus/wiki-summaries.jsonl"), dir.path());
    let out = dir.path().join("ramp.jsonl");
    let stderr = ramp(&passages, &out, &[]);
    let (table, _) = run_ok(&["ramp".as_ref(), "stats".as_ref(), out.as_os_str()]);
    assert!(
        stderr.contains("words of the corpus's 11701 passages"),
        "{stderr}"
    );
    assert!(table.contains("words of this file's"), "{table}");
    for shown in [&stderr, &table] {
        let share = common_word_share(shown);
        assert!(share < 5.0, "{share}% common-word masks\n{shown}");
        // Every span type the offline sources have shows up with its share.
        for kind in ["date", "name", "number", "title"] {
            assert!(
                shown
                    .lines()
                    .any(|l| l.trim_start().starts_with(kind) && l.ends_with('%')),
                "{kind}\n{shown}"
            );
        }
    }
    let all = samples(&out);
    let masks: Vec<&String> = all.iter().flat_map(|s| &s.ext.masks).collect();
    for everyday in ["well", "family", "species", "time", "group"] {
        assert!(
            !masks.iter().any(|m| *m == everyday),
            "{everyday:?} was masked"
        );
    }
}

/// Masks per sample, as shares of the samples of `path`.
fn mask_shares(path: &Path) -> [f64; 5] {
    let all = samples(path);
    let mut shares = [0.0; 5];
    for s in &all {
        check_rules(s);
        shares[s.ext.mask_num] += 1.0 / all.len() as f64;
    }
    shares
}

#[test]
fn curricula_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let passages = ingest(&testdata("kilt-pages-100.jsonl"), dir.path());
    // The original rule: 4 masks whenever a passage holds 4, fewer only for small passages.
    let original = dir.path().join("original.jsonl");
    ramp(&passages, &original, &["--curriculum", "original"]);
    let shares = mask_shares(&original);
    assert!(shares[4] > 0.5, "{shares:?}");
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("original.jsonl.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["config"]["curriculum"], "original");
    // A mix of its own: only the levels asked for, in their shares.
    let mix = dir.path().join("mix.jsonl");
    ramp(&passages, &mix, &["--curriculum", "1:0.5,4:0.5"]);
    let shares = mask_shares(&mix);
    assert_eq!(shares[2] + shares[3], 0.0, "{shares:?}");
    assert!((shares[1] - 0.5).abs() < 0.05, "{shares:?}");
    // Bad mixes are usage errors that say what is wrong.
    for (flag, value, says) in [
        ("--curriculum", "5:1", "levels are 1 to 4"),
        ("--curriculum", "hard", "expected level:share"),
        ("--mask-count", "5", "1 to 4 masks, not 5"),
        ("--spans", "colours", "unknown span source \"colours\""),
    ] {
        let failed = masksearch()
            .args(["ramp", flag, value, "--passages"])
            .arg(&passages)
            .arg("--out")
            .arg(dir.path().join("bad.jsonl"))
            .output()
            .unwrap();
        assert_eq!(failed.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
}

#[test]
fn stats_read_the_original_format() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("qa_en.jsonl");
    let q = |m: &str| format!("{m}\n\n{RAMP_INSTRUCTION_EN}");
    let records = [
        serde_json::json!({"query": q("Andrew Barto received his [mask] with distinction in [mask] from the University of Michigan in 1970."),
            "answer": "Andrew Barto received his B.S. with distinction in mathematics from the University of Michigan in 1970.",
            "ext": {"mask_num": 2, "masks": ["B.S.", "mathematics"], "entities": ["B.S.", "mathematics"], "source": "wiki", "title": "Andrew Barto"}}),
        serde_json::json!({"query": q("Barto was born in [mask]."), "answer": "Barto was born in Boston.",
            "ext": {"mask_num": 2, "masks": ["Boston", "Boston"], "entities": ["Boston"], "source": "wiki", "title": "Andrew Barto"}}),
    ];
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    fs::write(&file, text).unwrap();
    let (table, _) = run_ok(&["ramp".as_ref(), "stats".as_ref(), file.as_os_str()]);
    assert!(table.contains(&format!("samples{:>31}", 2)), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("restores its answer") && l.contains(" 1 ")),
        "{table}"
    );
    assert!(table.contains("unknown"), "{table}");
}

/// The first `n` passages of the KILT pages.
fn few_passages(dir: &Path, n: usize) -> PathBuf {
    let all = ingest(&testdata("kilt-pages-100.jsonl"), dir);
    let few = dir.join("few.jsonl");
    let text: String = fs::read_to_string(all)
        .unwrap()
        .lines()
        .take(n)
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&few, text).unwrap();
    few
}

#[test]
fn llm_spans_through_the_served_local_model() {
    let server = Served::llm();
    let base = server.v1();
    let dir = tempfile::tempdir().unwrap();
    let passages = few_passages(dir.path(), 4);
    let out = dir.path().join("llm.jsonl");
    let args = [
        "--spans",
        "llm",
        "--llm-base-url",
        &base,
        "--llm-model",
        "smollm2",
        "--llm-concurrency",
        "1",
    ];
    let stderr = ramp(&passages, &out, &args);
    drop(server);
    // The 135M model extracts poorly; what must hold is the plumbing: every passage got an
    // answer, each was validated and counted, and whatever was written obeys the rules.
    eprintln!("LLM extraction with SmolLM2-135M:\n{stderr}");
    assert!(
        stderr.contains(&format!("  {:<26}{:>10}", "answers", 4)),
        "{stderr}"
    );
    for s in samples(&out) {
        check_rules(&s);
        assert!(s.ext.mask_kinds.iter().all(|k| k == "llm"));
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("llm.jsonl.manifest.json")).unwrap(),
    )
    .unwrap();
    let counts = &manifest["counts"];
    let valid = counts["llm.valid_lists"].as_u64().unwrap_or(0);
    let not_list = counts["skipped.llm_not_a_list"].as_u64().unwrap_or(0);
    assert_eq!(valid + not_list, 4, "{counts}");
    assert_eq!(manifest["config"]["llm_model"], "smollm2");
}

#[test]
fn difficulty_scores_come_from_the_local_model() {
    let dir = tempfile::tempdir().unwrap();
    let passages = few_passages(dir.path(), 6);
    let out = dir.path().join("ppl.jsonl");
    let model = model();
    let stderr = ramp(
        &passages,
        &out,
        &["--difficulty", "ppl", "--model", model.to_str().unwrap()],
    );
    let all = samples(&out);
    assert!(all.len() >= 4, "{stderr}");
    for s in &all {
        check_rules(s);
        assert_eq!(s.ext.mask_difficulty.len(), s.ext.mask_num, "{}", s.id);
        assert!(
            s.ext
                .mask_difficulty
                .iter()
                .all(|d| d.is_finite() && *d >= 0.0),
            "{:?}",
            s.ext.mask_difficulty
        );
        assert!(s.ext.difficulty.is_some_and(|d| d > 0.0));
        assert!(s.ext.strategy.ends_with("+ppl"));
    }
    assert!(stderr.contains("difficulty (NLL/token)"), "{stderr}");
    assert!(!stderr.contains("difficulty.failed"), "{stderr}");
    // The same weights under another name are another scorer as far as the manifest knows:
    // resuming with them is refused before anything is scored.
    let other = dir.path().join("other-scorer.gguf");
    std::os::unix::fs::symlink(&model, &other).unwrap();
    let failed = masksearch()
        .args(["ramp", "--difficulty", "ppl", "--model"])
        .arg(&other)
        .arg("--passages")
        .arg(&passages)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr
            .contains("difficulty_model: was \"SmolLM2-135M-Instruct.Q4_1\", now \"other-scorer\""),
        "{stderr}"
    );
    assert!(stderr.contains("--overwrite"), "{stderr}");
}

#[test]
fn ramp_without_passages_is_a_usage_error() {
    let out = masksearch()
        .args(["ramp", "--out", "x.jsonl"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--passages"));
}

/// `--passages` also takes an index directory: the same passages give the same samples (compared
/// as sets, since an index returns passages in its own order).
#[test]
fn an_index_is_a_passage_source_too() {
    let dir = tempfile::tempdir().unwrap();
    let index = build_index(&testdata("wiki18-sample-1000.jsonl"), dir.path());
    let passages = dir.path().join("passages.jsonl");
    let (from_jsonl, from_index) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    ramp(&passages, &from_jsonl, &["--mask-count", "2"]);
    ramp(&index, &from_index, &["--mask-count", "2"]);
    let sorted = |path: &Path| {
        let mut lines: Vec<String> = fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    let expected = sorted(&from_jsonl);
    assert!(expected.len() > 500, "{} samples", expected.len());
    assert_eq!(sorted(&from_index), expected);
    for sample in samples(&from_index) {
        check_rules(&sample);
    }
}
