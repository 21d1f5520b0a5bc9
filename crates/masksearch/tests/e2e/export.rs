//! End to end: `masksearch export sft|rl` on real records — trajectories the rule teacher made
//! offline (`masksearch trajectories --teacher rule`) from RAMP samples of a wiki-18 excerpt
//! over the real index, those RAMP samples, and HotpotQA questions — then the output checked the
//! way the trainers read it, by `integrations/check_export.py` (LLaMA-Factory's sharegpt rules;
//! pyarrow reading the parquet back) in the project's `.venv`. Also: each filter flag reaches
//! the export, and an export killed with SIGKILL mid-way changes nothing in place.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use serde_json::{Value, json};

use crate::common::{
    head, index_and_samples, kill_while_reading, masksearch, repo, run_ok, snapshot, testdata,
    venv_python,
};

/// RAMP samples of the 1,000 wiki-18 passages, the rule teacher's trajectories for the first
/// 60, and a file of bad records.
struct Data {
    _dir: tempfile::TempDir,
    ramp: PathBuf,
    trajectories: PathBuf,
    bad: PathBuf,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let (index, all) = index_and_samples(&testdata("wiki18-sample-1000.jsonl"), dir.path());
        let ramp = head(&all, &dir.path().join("ramp.jsonl"), 60);
        let trajectories = dir.path().join("rule.jsonl");
        run_ok(&[
            "trajectories".as_ref(),
            "--input".as_ref(),
            ramp.as_os_str(),
            "--out".as_ref(),
            trajectories.as_os_str(),
            "--index".as_ref(),
            index.as_os_str(),
            "--teacher".as_ref(),
            "rule".as_ref(),
            "--today".as_ref(),
            "2026-11-27".as_ref(),
        ]);
        // A malformed line, a trajectory without an answer, and a repeat of an exported one.
        let first = fs::read_to_string(&trajectories)
            .expect("trajectories")
            .lines()
            .next()
            .expect("one accepted trajectory")
            .to_string();
        let mut unanswered: serde_json::Value = serde_json::from_str(&first).expect("json");
        unanswered["id"] = "unanswered".into();
        unanswered["answer"] = serde_json::Value::Null;
        let bad = dir.path().join("bad.jsonl");
        fs::write(&bad, format!("{{\"id\": \"torn\n{unanswered}\n{first}\n")).expect("write");
        Data {
            _dir: dir,
            ramp,
            trajectories,
            bad,
        }
    })
}

fn lines(path: &Path) -> usize {
    fs::read_to_string(path).expect("file").lines().count()
}

/// `integrations/check_export.py ARGS`; its report.
fn check_export(args: &[&OsStr]) -> String {
    let script = repo("integrations/check_export.py");
    let mut all = vec![script.as_os_str()];
    all.extend(args);
    venv_python(&all)
}

/// The rows of a parquet file as pyarrow reads them, as JSON.
fn parquet_rows(path: &Path) -> Vec<Value> {
    let out = venv_python(&[
        "-c".as_ref(),
        "import json, sys, pyarrow.parquet as pq; print(json.dumps(pq.read_table(sys.argv[1]).to_pylist()))".as_ref(),
        path.as_os_str(),
    ]);
    serde_json::from_str(&out).expect("rows as JSON")
}

/// The sample ids of a sharegpt file, in order.
fn ids(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("file")
        .lines()
        .map(|l| {
            let example: Value = serde_json::from_str(l).expect("an example");
            example["id"].as_str().expect("an id").to_string()
        })
        .collect()
}

/// The `key: value` lines of a flat YAML file (comments and blank lines aside). Panics on any
/// other line or a repeated key, so a broken or nested line is caught without a YAML parser.
fn flat_yaml(text: &str) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    for line in text.lines() {
        // YAML comments start at a `#` that begins the line or follows a blank.
        let line = match line.find(" #") {
            Some(i) => &line[..i],
            None if line.starts_with('#') => "",
            None => line,
        };
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("not a `key: value` line: {line:?}"));
        assert!(
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "not a top-level key: {line:?}"
        );
        let value = value.trim();
        assert!(!value.is_empty(), "no value: {line:?}");
        let old = keys.insert(key.to_string(), value.to_string());
        assert!(old.is_none(), "{key} twice");
    }
    keys
}

#[test]
fn sft_exports_both_styles_that_llamafactory_accepts() {
    let data = data();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("sft");
    let accepted = lines(&data.trajectories);
    let export_style = |style: &str| {
        export(
            "sft",
            &[&data.trajectories, &data.bad],
            &out,
            &["--style", style, "--val-share", "0.2"],
        )
    };
    let stderr = export_style("tools");
    let bad = data.bad.display();
    assert!(
        stderr.contains(&format!("skipped {bad}:1: malformed")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("skipped {bad}:2: no_answer")),
        "{stderr}"
    );
    assert!(stderr.contains("duplicate 1"), "{stderr}");
    let train = lines(&out.join("masksearch_tools.train.jsonl"));
    let val = lines(&out.join("masksearch_tools.val.jsonl"));
    assert_eq!(train + val, accepted, "every accepted trajectory once");
    assert!(val > 0 && val < train, "{train} train, {val} validation");
    assert!(
        stderr.contains(&format!(
            "export sft: {} read, {train} train + {val} validation (tools style, dataset masksearch_tools)",
            accepted + 3
        )),
        "{stderr}"
    );
    export_style("tags");
    assert_eq!(
        lines(&out.join("masksearch_tags.train.jsonl")),
        train,
        "the split depends on the ids and the seed only"
    );

    let report = check_export(&["sft".as_ref(), out.as_os_str()]);
    for name in [
        "masksearch_tools",
        "masksearch_tools_val",
        "masksearch_tags",
        "masksearch_tags_val",
    ] {
        assert!(
            report.contains(&format!("sft {name}: ")),
            "{name} not checked: {report}"
        );
    }
    let manifest = fs::read_to_string(out.join("masksearch_tags.manifest.json")).expect("manifest");
    assert!(manifest.contains("\"style\": \"tags\""), "{manifest}");
    // The shipped LLaMA-Factory config is flat YAML naming the folder and datasets this export
    // writes (with the `--out` of the command in its header).
    let text =
        fs::read_to_string(repo("integrations/llamafactory/masksearch_sft.yaml")).expect("config");
    let config = flat_yaml(&text);
    assert_eq!(config["stage"], "sft");
    assert!(
        text.contains(&format!("--out {} ", config["dataset_dir"])),
        "dataset_dir is not the --out of the export command: {text}"
    );
    let info: Value =
        serde_json::from_str(&fs::read_to_string(out.join("dataset_info.json")).expect("info"))
            .expect("JSON");
    for key in ["dataset", "eval_dataset"] {
        assert!(
            info.get(&config[key]).is_some(),
            "{key} {} is not in dataset_info.json",
            config[key]
        );
    }
    assert_eq!(
        config["dataset"], "masksearch_tags",
        "the default export style"
    );
}

#[test]
fn rl_exports_parquet_that_pyarrow_reads_with_search_r1_types() {
    let data = data();
    let dir = tempfile::tempdir().expect("temp dir");
    let questions = dir.path().join("hotpotqa.jsonl");
    let text = fs::read_to_string(testdata("hotpotqa_500.jsonl")).expect("questions");
    fs::write(
        &questions,
        text.lines().take(20).collect::<Vec<_>>().join("\n") + "\n",
    )
    .expect("write");
    let samples = lines(&data.ramp);

    let mixed = dir.path().join("mixed");
    let (_, stderr) = run_ok(&[
        "export".as_ref(),
        "rl".as_ref(),
        "--input".as_ref(),
        data.ramp.as_os_str(),
        questions.as_os_str(),
        "--out".as_ref(),
        mixed.as_os_str(),
        "--test-share".as_ref(),
        "0.2".as_ref(),
    ]);
    assert!(
        stderr.contains(&format!(
            "export rl: {} read ({samples} RAMP samples, 20 questions)",
            samples + 20
        )),
        "{stderr}"
    );
    let buckets = dir.path().join("buckets");
    run_ok(&[
        "export".as_ref(),
        "rl".as_ref(),
        "--input".as_ref(),
        data.ramp.as_os_str(),
        "--out".as_ref(),
        buckets.as_os_str(),
        "--curriculum".as_ref(),
        "buckets".as_ref(),
        "--test-share".as_ref(),
        "0".as_ref(),
    ]);
    let mut files = vec![mixed.join("train.parquet"), mixed.join("test.parquet")];
    let mut bucket_files: Vec<PathBuf> = fs::read_dir(&buckets)
        .expect("buckets")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    bucket_files.sort();
    assert!(
        bucket_files.len() >= 2,
        "samples of several mask counts: {bucket_files:?}"
    );
    assert!(bucket_files[0].ends_with("train.mask1.parquet"));
    files.extend(bucket_files);
    let mut args: Vec<&OsStr> = vec!["rl".as_ref()];
    args.extend(files.iter().map(|f| f.as_os_str()));
    let report = check_export(&args);
    assert_eq!(report.lines().count(), files.len(), "{report}");
    assert!(report.contains("split test"), "{report}");
}

#[test]
fn a_bad_template_or_a_curriculum_over_questions_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let template = dir.path().join("template.txt");
    fs::write(&template, "Answer the question.").expect("write");
    let out = masksearch()
        .args(["export", "rl", "--input"])
        .arg(testdata("hotpotqa_500.jsonl"))
        .arg("--out")
        .arg(dir.path().join("rl"))
        .arg("--template")
        .arg(&template)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no {question} placeholder"), "{stderr}");
    assert!(stderr.contains("hint: put {question}"), "{stderr}");

    let out = masksearch()
        .args(["export", "rl", "--curriculum", "easy-to-hard", "--input"])
        .arg(testdata("hotpotqa_500.jsonl"))
        .arg("--out")
        .arg(dir.path().join("rl"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("hotpotqa_500.jsonl:1: a question has no mask count"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("rl/train.parquet").exists(),
        "nothing half-written in place"
    );
}

/// `masksearch export <kind> --input INPUTS --out OUT FLAGS`; its stderr.
fn export(kind: &str, inputs: &[&Path], out: &Path, flags: &[&str]) -> String {
    let mut args: Vec<&OsStr> = vec!["export".as_ref(), kind.as_ref(), "--input".as_ref()];
    args.extend(inputs.iter().map(|p| p.as_os_str()));
    args.extend(["--out".as_ref(), out.as_os_str()]);
    args.extend(flags.iter().map(OsStr::new));
    run_ok(&args).1
}

#[test]
fn sft_filter_flags_keep_only_the_teachers_rounds_and_correct_answers_asked_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first: Value = serde_json::from_str(
        fs::read_to_string(&data().trajectories)
            .expect("trajectories")
            .lines()
            .next()
            .expect("a trajectory"),
    )
    .expect("json");
    let variant = |id: &str, teacher: &str, round: u32, correct: bool| {
        let mut t = first.clone();
        t["id"] = id.into();
        t["teacher"] = teacher.into();
        t["round"] = round.into();
        t["verdict"]["judge"] = correct.into();
        t.to_string()
    };
    let input = dir.path().join("mixed.jsonl");
    fs::write(
        &input,
        [
            variant("kept", "rule", 2, true),
            variant("wrong", "rule", 2, false),
            variant("by-agent", "agent", 2, true),
            variant("round-1", "rule", 1, true),
        ]
        .join("\n")
            + "\n",
    )
    .expect("write");

    let cases: [(&[&str], &[&str], &str); 3] = [
        (
            &["--only-correct", "--teacher", "rule", "--round", "2"],
            &["kept"],
            "not_correct 1, other_teacher 1, other_round 1",
        ),
        (
            &["--teacher", "agent", "--teacher", "rule", "--round", "2"],
            &["kept", "wrong", "by-agent"],
            "other_round 1",
        ),
        (
            &["--only-correct", "--round", "1", "--round", "2"],
            &["kept", "by-agent", "round-1"],
            "not_correct 1",
        ),
    ];
    for (i, (flags, kept, skipped)) in cases.into_iter().enumerate() {
        let out = dir.path().join(format!("case{i}"));
        let mut args = flags.to_vec();
        args.extend(["--val-share", "0"]);
        let stderr = export("sft", &[&input], &out, &args);
        assert_eq!(
            ids(&out.join("masksearch_tags.train.jsonl")),
            kept,
            "{flags:?}"
        );
        assert!(
            stderr.contains(&format!("skipped: {skipped} →")),
            "{stderr}"
        );
    }
    let manifest: Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("case0/masksearch_tags.manifest.json"))
            .expect("manifest"),
    )
    .expect("json");
    let config = &manifest["config"];
    assert_eq!(
        (
            &config["only_correct"],
            &config["teachers"],
            &config["rounds"]
        ),
        (&json!(true), &json!(["rule"]), &json!([2])),
        "the filters are recorded"
    );
}

#[test]
fn sft_seed_flag_chooses_the_validation_ids() {
    let data = data();
    let dir = tempfile::tempdir().expect("temp dir");
    let input_ids = ids(&data.trajectories);
    let mut vals = Vec::new();
    for seed in [7, 8] {
        let out = dir.path().join(format!("seed{seed}"));
        export(
            "sft",
            &[&data.trajectories],
            &out,
            &["--val-share", "0.5", "--seed", &seed.to_string()],
        );
        let val = ids(&out.join("masksearch_tags.val.jsonl"));
        let expected: Vec<String> = input_ids
            .iter()
            .filter(|id| ::export::held_out(seed, id, 0.5))
            .cloned()
            .collect();
        assert_eq!(val, expected, "seed {seed}");
        vals.push(val);
    }
    assert_ne!(vals[0], vals[1], "another seed, another split");
}

#[test]
fn rl_template_and_data_source_flags_reach_every_parquet_row() {
    let data = data();
    let dir = tempfile::tempdir().expect("temp dir");
    let questions = head(
        &testdata("hotpotqa_500.jsonl"),
        &dir.path().join("hotpotqa.jsonl"),
        10,
    );
    let template = dir.path().join("template.txt");
    fs::write(&template, "Custom masksearch prompt.\nQ: {question}\nA:").expect("write");
    let out = dir.path().join("rl");
    let template = template.display().to_string();
    export(
        "rl",
        &[&data.ramp, &questions],
        &out,
        &[
            "--template",
            &template,
            "--data-source",
            "nq",
            "--test-share",
            "0",
        ],
    );
    let train = out.join("train.parquet");
    check_export(&["rl".as_ref(), train.as_os_str()]);
    let rows = parquet_rows(&train);
    assert_eq!(rows.len(), lines(&data.ramp) + 10);
    for row in &rows {
        assert_eq!(row["data_source"], "nq", "{row}");
        let prompt = row["prompt"][0]["content"].as_str().expect("a prompt");
        let question = row["extra_info"]["question"].as_str().expect("a question");
        assert!(
            prompt.starts_with("Custom masksearch prompt.\nQ: ")
                && prompt.ends_with("\nA:")
                && prompt.contains(question.trim()),
            "{prompt:?}"
        );
    }
}

fn partials(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("out folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect()
}

/// `masksearch export <kind>` reading `input` through a pipe, killed once `OUT/<partial>` appears.
#[cfg(unix)]
fn kill_mid_export(kind: &str, input: &Path, out: &Path, partial: &str) {
    let fifo = out.with_extension("fifo");
    let mut cmd = masksearch();
    cmd.args(["export", kind, "--input"])
        .arg(&fifo)
        .arg("--out")
        .arg(out);
    let input = fs::read(input).expect("input");
    let staged = out.join(partial);
    kill_while_reading(cmd, &fifo, &input, || staged.exists());
}

/// Both exports, killed while writing: first into an empty folder, then over a finished export.
#[cfg(unix)]
#[test]
fn a_killed_export_leaves_no_half_written_file_in_place() {
    let data = data();
    let dir = tempfile::tempdir().expect("temp dir");
    for (kind, input, partial, manifest) in [
        (
            "sft",
            &data.trajectories,
            "masksearch_tags.train.jsonl.partial",
            "masksearch_tags.manifest.json",
        ),
        ("rl", &data.ramp, "train.parquet.partial", "manifest.json"),
    ] {
        let out = dir.path().join(kind);
        kill_mid_export(kind, input, &out, partial);
        assert!(
            snapshot(&out).is_empty(),
            "{kind}: {:?}",
            snapshot(&out).keys()
        );

        export(kind, &[input], &out, &[]);
        assert!(partials(&out).is_empty(), "{kind}: {:?}", partials(&out));
        let finished = snapshot(&out);
        let saved: Value =
            serde_json::from_slice(&finished[Path::new(manifest)]).expect("manifest");
        assert_eq!(saved["complete"], true, "{kind}");

        kill_mid_export(kind, input, &out, partial);
        assert!(!partials(&out).is_empty(), "{kind}: killed mid-write");
        assert!(
            snapshot(&out) == finished,
            "{kind}: the kill changed a finished export"
        );
        export(kind, &[input], &out, &[]);
        assert!(
            partials(&out).is_empty(),
            "{kind}: the next export replaces the leftovers: {:?}",
            partials(&out)
        );
        assert!(
            snapshot(&out) == finished,
            "{kind}: the same input, the same bytes"
        );
    }
}
