//! End to end: `masksearch reward` on rollouts built from real HotpotQA answers, and the verl
//! reward file `integrations/verl/masksearch_reward.py` run by `python3` against the real
//! `masksearch serve` — both doors must give the same scores, item by item. Also: `--out` is
//! never half-written. (verl's own code runs our files in `make verl-check`; the parts of the
//! integration that need no torch run here, in `verl.rs`.)

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::common::{Served, build_index, masksearch, repo, testdata};

/// Rollouts in the Search-R1 format for the first HotpotQA questions: answered right, wrong,
/// right but malformed, without an answer, and with the gold as Search-R1's `{"target"}`, a list
/// or a string; then two RAMP samples.
fn items() -> Vec<Value> {
    let questions = std::fs::read_to_string(testdata("hotpotqa_500.jsonl")).expect("hotpotqa");
    let mut items: Vec<Value> = questions
        .lines()
        .take(24)
        .enumerate()
        .map(|(i, line)| {
            let q: Value = serde_json::from_str(line).expect("a question");
            let gold = q["answer"].as_str().expect("an answer");
            let response = match i % 4 {
                0 => format!(
                    "<think>I should search.</think>\n<search>{0}</search>\n\n<information>Doc 1(Title: x) {gold}</information>\n\n<think>Found it.</think>\n<answer> {gold} </answer>",
                    q["question"].as_str().unwrap_or_default()
                ),
                1 => "<think>I guess.</think>\n<answer>Paris</answer>".to_string(),
                2 => format!("The answer is <answer>the {gold}.</answer> I think."),
                _ => "<think>I cannot tell.</think>".to_string(),
            };
            let ground_truth = match i % 3 {
                0 => json!({"target": [gold]}),
                1 => json!([gold, "an alias"]),
                _ => json!(gold),
            };
            json!({"data_source": "hotpotqa", "solution_str": response, "ground_truth": ground_truth,
                   "extra_info": {"split": "test", "index": i, "question": q["question"]}})
        })
        .collect();
    items.push(json!({"data_source": "ramp", "solution_str":
        "<think>t</think><answer>Andrew Barto received his B.S. with distinction in physics from the University of Michigan in 1970.</answer>",
        "ground_truth": {"target": ["B.S.", "mathematics"]}, "extra_info": {"mask_num": 2}}));
    items.push(json!({"data_source": "ramp", "solution_str":
        "<think>t</think><answer>B.S. and mathematics</answer>",
        "ground_truth": {"target": ["B.S.", "mathematics"]}, "extra_info": {"index": 7, "mask_num": 2}}));
    items
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut file = std::fs::File::create(path).expect("create");
    for line in lines {
        writeln!(file, "{line}").expect("write");
    }
}

/// `masksearch reward FILE --preset P --out OUT`: the output lines, and stderr.
fn reward_cli(input: &Path, preset: &str, dir: &Path) -> (Vec<Value>, String) {
    let out = dir.join(format!("scores-{preset}.jsonl"));
    let run = masksearch()
        .arg("reward")
        .arg(input)
        .args(["--preset", preset, "--out"])
        .arg(&out)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "reward failed: {stderr}");
    let lines = std::fs::read_to_string(&out)
        .expect("scores written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    (lines, stderr)
}

fn integration() -> PathBuf {
    repo("integrations/verl/masksearch_reward.py")
}

/// Runs `script` with `python3`, the verl reward file imported as `reward`, `items` on stdin;
/// returns stdout, or `None` (with a note) when there is no `python3`.
fn python(
    script: &str,
    url: &str,
    preset: &str,
    items: &[Value],
) -> Option<Result<String, String>> {
    let program = format!(
        "import importlib.util, json, sys\n\
         spec = importlib.util.spec_from_file_location('reward', sys.argv[1])\n\
         reward = importlib.util.module_from_spec(spec)\n\
         spec.loader.exec_module(reward)\n\
         items = [json.loads(l) for l in sys.stdin]\n\
         {script}\n"
    );
    let child = Command::new("python3")
        .arg("-c")
        .arg(program)
        .arg(integration())
        .env("MASKSEARCH_REWARD_URL", url)
        .env("MASKSEARCH_REWARD_PRESET", preset)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            eprintln!("note: python3 not runnable ({e}); the verl reward file is not checked");
            return None;
        }
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    for item in items {
        writeln!(stdin, "{item}").expect("write items");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Some(if out.status.success() {
        Ok(stdout)
    } else {
        Err(stderr)
    })
}

const ONE_BY_ONE: &str = "print(json.dumps([reward.compute_score(i['data_source'], i['solution_str'], i['ground_truth'], i.get('extra_info')) for i in items]))";
const BATCHED: &str = "print(json.dumps(reward.compute_score_batch([i['data_source'] for i in items], [i['solution_str'] for i in items], [i['ground_truth'] for i in items], [i.get('extra_info') for i in items])))";

#[test]
fn the_cli_and_the_verl_file_through_serve_give_the_same_scores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = items();
    let input = dir.path().join("items.jsonl");
    write_lines(
        &input,
        &items.iter().map(Value::to_string).collect::<Vec<_>>(),
    );
    let index = build_index(&testdata("wiki18-shuffled-20.jsonl"), dir.path());
    let served = Served::start(&["serve".as_ref(), "--index".as_ref(), index.as_os_str()]);
    for preset in ["masksearch-hybrid", "search-r1", "format"] {
        // search-r1 scores questions only: its RAMP lines are counted skips.
        let (lines, stderr) = reward_cli(&input, preset, dir.path());
        assert_eq!(lines.len(), items.len(), "{preset}: one line per item");
        assert!(
            stderr.contains(&format!("reward: {} lines", items.len())),
            "{stderr}"
        );
        let cli: Vec<Option<f64>> = lines.iter().map(|l| l["score"].as_f64()).collect();
        let scored: Vec<&Value> = items
            .iter()
            .zip(&cli)
            .filter_map(|(item, s)| s.map(|_| item))
            .collect();
        let want: Vec<f64> = cli.iter().flatten().copied().collect();
        assert!(
            want.contains(&1.0) && want.iter().any(|&s| s < 1.0),
            "{preset}: {want:?}"
        );
        for script in [ONE_BY_ONE, BATCHED] {
            let scored: Vec<Value> = scored.iter().map(|v| (*v).clone()).collect();
            let Some(out) = python(script, &served.url, preset, &scored) else {
                return;
            };
            let out = out.unwrap_or_else(|e| panic!("{preset}: python failed: {e}"));
            let got: Vec<f64> = serde_json::from_str(out.trim()).expect("a JSON list");
            assert_eq!(
                got, want,
                "{preset}: the verl file disagrees with masksearch reward"
            );
        }
    }
    // The hybrid reward of the first rollouts, by hand: right and well formed; wrong; right but
    // malformed; no answer.
    let (lines, _) = reward_cli(&input, "masksearch-hybrid", dir.path());
    let first: Vec<f64> = lines[..4]
        .iter()
        .map(|l| l["score"].as_f64().expect("a score"))
        .collect();
    assert_eq!(first, [1.0, 0.2, 0.8, 0.0]);
    let ramp = &lines[items.len() - 2];
    assert_eq!(ramp["recovered"], json!([true, false]), "{ramp}");
}

#[test]
fn bad_lines_are_counted_skips_in_place_and_the_verl_file_says_why_it_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = items()[0].to_string();
    let input = dir.path().join("items.jsonl");
    write_lines(
        &input,
        &[
            good.clone(),
            "{\"solution_str\": \"x\"".to_string(),
            json!({"solution_str": "x", "ground_truth": 42}).to_string(),
            good,
        ],
    );
    let (lines, stderr) = reward_cli(&input, "masksearch-hybrid", dir.path());
    let scores: Vec<Option<f64>> = lines.iter().map(|l| l["score"].as_f64()).collect();
    assert_eq!(scores, [Some(1.0), None, None, Some(1.0)]);
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[2]["line"], 3);
    assert!(stderr.contains("4 lines, 2 scored, 2 skipped"), "{stderr}");
    assert!(
        stderr.contains("skipped line 3: ") && stderr.contains("{\"target\": [...]}"),
        "{stderr}"
    );

    // Standard input works too, and an unknown preset is a usage error.
    let mut child = masksearch()
        .args(["reward", "--preset", "em"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    writeln!(child.stdin.take().expect("stdin"), "{}", items()[1]).expect("write");
    let out = child.wait_with_output().expect("waits");
    let line: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(line["score"], 0.0);
    let out = masksearch()
        .args(["reward", "--preset", "bleu"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));

    // The judge preset on a server started without a judge: the server's reason reaches Python.
    let index = build_index(&testdata("wiki18-shuffled-20.jsonl"), dir.path());
    let served = Served::start(&["serve".as_ref(), "--index".as_ref(), index.as_os_str()]);
    let Some(result) = python(ONE_BY_ONE, &served.url, "judge", &items()[..1]) else {
        return;
    };
    let err = result.expect_err("the judge preset fails without a judge");
    assert!(
        err.contains("MaskSearchRewardError")
            && err.contains("HTTP 400")
            && err.contains("started without one"),
        "{err}"
    );
    drop(served);
    let Some(result) = python(ONE_BY_ONE, "http://127.0.0.1:9", "em", &items()[..1]) else {
        return;
    };
    let err = result.expect_err("nothing listens on port 9");
    assert!(err.contains("cannot reach the reward server"), "{err}");
}

#[test]
fn a_reward_run_that_fails_midway_leaves_the_previous_out_file_and_no_partial() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("scores.jsonl");
    std::fs::write(&out, "previous\n").expect("write");
    // More good lines than one batch (1,024), so scores are written before the bad bytes.
    let input = dir.path().join("items.jsonl");
    let good = items()[0].to_string() + "\n";
    let mut bytes = good.repeat(1100).into_bytes();
    bytes.extend_from_slice(b"\xff\xfe not UTF-8\n");
    std::fs::write(&input, bytes).expect("write");
    let run = masksearch()
        .arg("reward")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).expect("out"), "previous\n");
    assert!(
        !dir.path().join("scores.jsonl.partial").exists(),
        "no partial file stays"
    );
}
