//! End to end: `masksearch evolve` over RAMP samples of the demo corpus with a real index,
//! offline. Round 0 is the rule teacher (fast; the multi-agent teacher's own run on the local
//! model is tested with `trajectories`); round 1's student comes from `scripts/stand-in-train.sh`, a STAND-IN training command
//! that trains nothing: it records the merged data it was given and serves the shipped local
//! model with `masksearch llm serve`. The small model's answers are usually wrong: these tests
//! check rounds, merging, resume and the table, never accuracy.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::{Duration, Instant},
};

use crate::common::{asset, head, index_and_samples, masksearch, model, repo, run_ok};
use formats::{Teacher, Trajectory};
use serde_json::Value;

/// 500 pages of the demo corpus, their index and their RAMP samples.
struct Data {
    _dir: tempfile::TempDir,
    index: PathBuf,
    ramp: PathBuf,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let pages = head(
            &asset("corpus/wiki-summaries.jsonl"),
            &dir.path().join("pages.jsonl"),
            500,
        );
        let (index, ramp) = index_and_samples(&pages, dir.path());
        Data {
            _dir: dir,
            index,
            ramp,
        }
    })
}

/// The STAND-IN training command (it trains nothing; see scripts/stand-in-train.sh).
fn stand_in_train_command() -> String {
    let script = repo("scripts/stand-in-train.sh");
    let binary = assert_cmd::cargo::cargo_bin("masksearch");
    format!(
        "sh {} {{data}} {{out}} {{port}} {} {}",
        script.display(),
        binary.display(),
        model().display()
    )
}

/// `evolve` arguments: rule round 0 of `batch0`… every round takes `batch`; round 1's student
/// from the stand-in training command, one search turn, judged by the metric (no judge model).
pub(crate) fn evolve_args(out: &Path, rounds: &str, batch: &str) -> Vec<String> {
    [
        "evolve",
        "--input",
        &data().ramp.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--index",
        &data().index.display().to_string(),
        "--rounds",
        rounds,
        "--batch",
        batch,
        "--round0-teacher",
        "rule",
        "--train-command",
        &stand_in_train_command(),
        "--accept",
        "metric",
        "--threshold",
        "0.5",
        "--max-turns",
        "1",
        "--max-tokens",
        "48",
        "--concurrency",
        "1",
        "--today",
        "2026-11-27",
    ]
    .map(String::from)
    .to_vec()
}

fn evolve_ok(args: &[String]) -> (String, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    run_ok(&args)
}

fn read(path: &Path) -> Vec<Trajectory> {
    if !path.exists() {
        return Vec::new();
    }
    fs::read_to_string(path)
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a trajectory ({e}): {l}")))
        .collect()
}

fn ids_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("file")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            v["id"].as_str().expect("id").to_string()
        })
        .collect()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).expect("file")).expect("json")
}

/// Whether process `pid` is gone (or a zombie waiting to be reaped).
fn gone(pid: u64) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.contains(") Z "),
    }
}

/// The attempts of a round, accepted and rejected.
fn attempts(round: &Path) -> Vec<Trajectory> {
    let mut all = read(&round.join("trajectories.jsonl"));
    all.extend(read(&round.join("rejected.jsonl")));
    all
}

/// The checks every finished two-round run passes; returns round 1's attempts.
fn check_two_rounds(out: &Path, batch: usize, stdout: &str) -> Vec<Trajectory> {
    let (r0, r1) = (out.join("round-0"), out.join("round-1"));
    let s0: BTreeSet<String> = ids_of(&r0.join("samples.jsonl")).into_iter().collect();
    let s1: BTreeSet<String> = ids_of(&r1.join("samples.jsonl")).into_iter().collect();
    assert_eq!((s0.len(), s1.len()), (batch, batch));
    assert!(s0.is_disjoint(&s1), "each round takes fresh samples");
    let (a0, a1) = (attempts(&r0), attempts(&r1));
    // Every sample of a round is attempted exactly once.
    for (attempts, samples) in [(&a0, &s0), (&a1, &s1)] {
        let ids: Vec<&String> = attempts.iter().map(|t| &t.id).collect();
        let unique: BTreeSet<&String> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "no attempt twice");
        assert_eq!(unique, samples.iter().collect(), "no sample lost");
    }
    assert!(
        a0.iter()
            .all(|t| t.teacher == Teacher::Rule && t.round == 0)
    );
    assert!(
        a1.iter()
            .all(|t| t.teacher == Teacher::Agent && t.round == 1)
    );
    assert!(
        a1.iter()
            .all(|t| t.model == "student" && t.usage.model_calls >= 1)
    );
    // merged.jsonl of round k: the accepted of rounds ≤ k, one per sample.
    let m0 = ids_of(&r0.join("merged.jsonl"));
    let m1 = ids_of(&r1.join("merged.jsonl"));
    let accepted0: Vec<String> = read(&r0.join("trajectories.jsonl"))
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(
        !accepted0.is_empty(),
        "the rule teacher accepts some samples"
    );
    assert_eq!(m0, accepted0);
    let accepted1 = read(&r1.join("trajectories.jsonl"));
    assert_eq!(m1.len(), m0.len() + accepted1.len());
    assert_eq!(m1[..m0.len()], m0[..]);
    // The stand-in saw round 0's merged data, byte for byte.
    let trained = json(&r1.join("stand-in-training.json"));
    assert_eq!(trained["stand_in"], true);
    assert_eq!(trained["trained"], false);
    assert_eq!(trained["lines"], m0.len() as u64);
    let merged0 = fs::read(r0.join("merged.jsonl")).expect("merged");
    let sha = std::process::Command::new("sha256sum")
        .arg(r0.join("merged.jsonl"))
        .output()
        .expect("sha256sum");
    assert!(String::from_utf8_lossy(&sha.stdout).starts_with(trained["sha256"].as_str().unwrap()));
    assert!(!merged0.is_empty());
    let log = fs::read_to_string(r1.join("train.log")).expect("train.log");
    assert!(log.contains("stand-in training command"), "{log}");
    // The student's server was stopped when the round ended.
    let student = json(&r1.join("student.json"));
    assert!(gone(student["process_group"].as_u64().expect("pid")));
    // The table, printed and written.
    let rows = json(&out.join("rounds.json"));
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    for (row, (attempts, merged)) in rows.iter().zip([(&a0, m0.len()), (&a1, m1.len())]) {
        let accepted = attempts.iter().filter(|t| t.accepted).count() as u64;
        assert_eq!(row["tried"], attempts.len() as u64);
        assert_eq!(row["accepted"], accepted);
        assert_eq!(row["merged"], merged as u64);
        let tokens: u64 = attempts
            .iter()
            .map(|t| t.usage.prompt_tokens + t.usage.completion_tokens)
            .sum();
        assert_eq!(row["tokens"], tokens);
    }
    assert_eq!(rows[0]["tokens"], 0, "the rule teacher calls no model");
    let table = fs::read_to_string(out.join("rounds.md")).expect("rounds.md");
    assert_eq!(stdout, table);
    assert!(table.contains("| 1 | agent | student | "), "{table}");
    a1
}

/// Two rounds offline; a rerun redoes nothing; other settings are refused.
#[test]
fn two_rounds_with_a_stand_in_training_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("evolve");
    let args = evolve_args(&out, "2", "3");
    let (stdout, stderr) = evolve_ok(&args);
    check_two_rounds(&out, 3, &stdout);
    assert!(
        stderr.contains("round 1: training command started"),
        "{stderr}"
    );
    assert!(stderr.contains("evolve: 2 rounds"), "{stderr}");

    // Finished rounds are not redone: no training, the same files.
    let before = fs::read(out.join("round-1/trajectories.jsonl.manifest.json")).ok();
    let log = fs::read_to_string(out.join("round-1/train.log")).expect("log");
    let merged = fs::read(out.join("round-1/merged.jsonl")).expect("merged");
    let (again, stderr) = evolve_ok(&args);
    assert_eq!(again, stdout);
    assert!(stderr.contains("round 1 (done earlier)"), "{stderr}");
    assert!(!stderr.contains("training command started"), "{stderr}");
    assert_eq!(
        fs::read_to_string(out.join("round-1/train.log")).unwrap(),
        log
    );
    assert_eq!(fs::read(out.join("round-1/merged.jsonl")).unwrap(), merged);
    assert_eq!(
        fs::read(out.join("round-1/trajectories.jsonl.manifest.json")).ok(),
        before
    );

    // Other settings on the same folder are refused, naming the setting.
    let other = evolve_args(&out, "2", "4");
    let args: Vec<&str> = other.iter().map(String::as_str).collect();
    let refused = masksearch().args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("batch: was 3, now 4"), "{stderr}");
    assert!(
        stderr.contains("hint: write to a new --out, or pass --overwrite"),
        "{stderr}"
    );
}

/// Killed with SIGKILL after round 1's first attempt is written, then resumed: round 0 is not
/// redone, round 1 keeps its first attempt and makes the others, none lost or twice.
#[cfg(unix)]
#[test]
fn a_run_killed_mid_round_resumes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("evolve");
    let args = evolve_args(&out, "2", "3");
    let mut child = masksearch()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let round1 = out.join("round-1");
    let waited = Instant::now();
    while attempts(&round1).is_empty() {
        assert!(
            child.try_wait().expect("status").is_none(),
            "finished before it could be killed"
        );
        assert!(
            waited.elapsed() < Duration::from_secs(300),
            "no attempt in round 1"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let first = attempts(&round1);
    assert!(
        first.len() < 3,
        "killed mid-round: {} attempts",
        first.len()
    );
    // A SIGKILLed run cannot stop its training command: stop the stand-in's server here.
    let student = json(&round1.join("student.json"));
    let group = student["process_group"].as_u64().expect("pid");
    std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .status()
        .expect("kill");
    let round0 = fs::read(out.join("round-0/merged.jsonl")).expect("round 0 done");

    let (stdout, stderr) = evolve_ok(&args);
    assert!(stderr.contains("round 0 (done earlier)"), "{stderr}");
    assert_eq!(fs::read(out.join("round-0/merged.jsonl")).unwrap(), round0);
    let all = check_two_rounds(&out, 3, &stdout);
    let strip = |t: &Trajectory| Trajectory {
        ms: 0,
        steps: vec![],
        ..t.clone()
    };
    for t in &first {
        let kept = all.iter().find(|a| a.id == t.id).expect("kept");
        assert_eq!(
            strip(kept),
            strip(t),
            "an attempt written before the kill is kept"
        );
    }
}
