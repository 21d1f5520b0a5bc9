//! End to end: `masksearch export sft|rl` on real records — trajectories the rule teacher made
//! offline (`masksearch trajectories --teacher rule`) from RAMP samples of a wiki-18 excerpt
//! over the real index, those RAMP samples, and HotpotQA questions — then the output checked the
//! way the trainers read it, by `integrations/check_export.py` (LLaMA-Factory's sharegpt rules;
//! pyarrow reading the parquet back) in the project's `.venv`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use crate::common::{head, index_and_samples, masksearch, run_ok, testdata};

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

/// `integrations/check_export.py ARGS` with the project's virtualenv; panics with its output.
fn check_export(args: &[&std::ffi::OsStr]) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup` (scripts/setup.sh installs pyarrow into .venv)",
        python.display()
    );
    let out = Command::new(python)
        .arg(root.join("integrations/check_export.py"))
        .args(args)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "check_export {args:?}: {stderr}{stdout}"
    );
    stdout
}

#[test]
fn sft_exports_both_styles_that_llamafactory_accepts() {
    let data = data();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("sft");
    let accepted = lines(&data.trajectories);
    let export = |style: &str| {
        run_ok(&[
            "export".as_ref(),
            "sft".as_ref(),
            "--input".as_ref(),
            data.trajectories.as_os_str(),
            data.bad.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--style".as_ref(),
            style.as_ref(),
            "--val-share".as_ref(),
            "0.2".as_ref(),
        ])
        .1
    };
    let stderr = export("tools");
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
    export("tags");
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
    // The shipped LLaMA-Factory config names the datasets this export writes.
    let config = fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../integrations/llamafactory/masksearch_sft.yaml"),
    )
    .expect("config");
    assert!(config.contains("\ndataset: masksearch_tools "), "{config}");
    assert!(
        config.contains("\neval_dataset: masksearch_tools_val "),
        "{config}"
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
    let mut args: Vec<&std::ffi::OsStr> = vec!["rl".as_ref()];
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
