//! Random kill -9 trials: a long command killed at a point drawn at random, then run again as a
//! user would, gives what an uninterrupted run gives, and no output replaced whole is ever seen
//! half-written. `MASKSEARCH_KILL_TRIALS` trials per command (3 by default, `make kill-trials`
//! runs 50); the points come from `MASKSEARCH_KILL_SEED` (default 1) and are printed.

use std::{
    ffi::{OsStr, OsString},
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{asset, masksearch, run_ok};

fn trials() -> u64 {
    std::env::var("MASKSEARCH_KILL_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// Kill points as fractions of a run's time, from a seeded xorshift: the same seed draws the
/// same points.
pub(crate) struct Points(u64);

impl Points {
    pub(crate) fn new(salt: u64) -> Points {
        let seed = std::env::var("MASKSEARCH_KILL_SEED")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1u64);
        // splitmix64 of the seed and the command's salt, so that nearby seeds draw apart.
        let mut z = seed.wrapping_add(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Points((z ^ (z >> 31)) | 1)
    }

    /// A point in (0, `span`).
    pub(crate) fn next(&mut self, span: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        span.mul_f64((self.0 % 1000 + 1) as f64 / 1001.0)
    }
}

/// Runs `args` to the end; its standard output.
pub(crate) fn go(args: &[OsString]) -> String {
    let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    run_ok(&args).0
}

/// Runs `args` to the end; how long it took.
fn timed(args: &[OsString]) -> Duration {
    let started = Instant::now();
    go(args);
    started.elapsed()
}

/// Starts `args` and kills it (SIGKILL) after `after`; false when it had finished before.
fn kill_after(args: &[OsString], after: Duration) -> bool {
    let mut child = masksearch()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    thread::sleep(after);
    let killed = child.try_wait().unwrap().is_none();
    child.kill().ok();
    child.wait().unwrap();
    killed
}

/// Runs `trials()` trials of the command `args(dir)` makes: a reference run in its own folder,
/// then per trial a fresh folder, a run killed at a random point, `between(dir)` (what a reader
/// may see meanwhile), the same command again to the end, and `same(reference, dir)`.
fn trial(
    name: &str,
    salt: u64,
    setup: impl Fn(&Path),
    args: impl Fn(&Path) -> Vec<OsString>,
    between: impl Fn(&Path),
    same: impl Fn(&Path, &Path),
) {
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    fs::create_dir(&reference).unwrap();
    setup(&reference);
    let took = timed(&args(&reference));
    let mut points = Points::new(salt);
    let mut killed = 0;
    for i in 0..trials() {
        let dir = root.path().join(format!("trial-{i}"));
        fs::create_dir(&dir).unwrap();
        setup(&dir);
        let at = points.next(took);
        killed += u64::from(kill_after(&args(&dir), at));
        between(&dir);
        timed(&args(&dir));
        same(&reference, &dir);
        eprintln!(
            "{name}: trial {i} killed at {} ms of {} ms",
            at.as_millis(),
            took.as_millis()
        );
    }
    eprintln!(
        "{name}: {} trials, {killed} killed before the end, all as uninterrupted",
        trials()
    );
}

pub(crate) fn os(args: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// The demo's passages, ingested once for every trial.
pub(crate) fn passages() -> &'static Path {
    static PASSAGES: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = PASSAGES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passages.jsonl");
        let corpus = asset("corpus/wiki-summaries.jsonl");
        go(&os(&[&"ingest", &corpus, &"--out", &path]));
        (dir, path)
    });
    path
}

pub(crate) fn bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The records of a JSONL file with their wall times (`ms`) left out.
pub(crate) fn untimed(path: &Path) -> Vec<Value> {
    fn strip(v: Value) -> Value {
        match v {
            Value::Object(m) => m
                .into_iter()
                .filter(|(k, _)| k != "ms")
                .map(|(k, v)| (k, strip(v)))
                .collect(),
            Value::Array(a) => a.into_iter().map(strip).collect(),
            v => v,
        }
    }
    String::from_utf8(bytes(path))
        .unwrap()
        .lines()
        .map(|l| strip(serde_json::from_str(l).unwrap()))
        .collect()
}

/// The trial's check that `file` holds the same bytes as the reference run's.
pub(crate) fn same_file(file: &'static str) -> impl Fn(&Path, &Path) {
    move |a, b| {
        assert!(
            bytes(&a.join(file)) == bytes(&b.join(file)),
            "{file} differs"
        )
    }
}

/// The trial's check that folder `dir` holds the same files as the reference run's.
pub(crate) fn same_folder(dir: &'static str) -> impl Fn(&Path, &Path) {
    move |a, b| assert!(files(&a.join(dir)) == files(&b.join(dir)), "{dir}/ differs")
}

#[test]
fn ramp_killed_anywhere_resumes_to_the_same_samples() {
    let args = |dir: &Path| {
        ramp_args(
            dir,
            &[
                "--spans",
                "anchors,titles,dates,numbers,names",
                "--batch-size",
                "256",
            ],
        )
    };
    trial("ramp", 1, |_| {}, args, |_| {}, same_file("ramp.jsonl"));
}

/// `ramp` of the demo's passages into `dir/ramp.jsonl`, with `extra` flags.
pub(crate) fn ramp_args(dir: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut args = os(&[
        &"ramp",
        &"--passages",
        &passages(),
        &"--out",
        &dir.join("ramp.jsonl"),
    ]);
    args.extend(extra.iter().map(OsString::from));
    args
}

/// RAMP samples and an index of the demo's passages, made once.
pub(crate) fn ramp_and_index() -> &'static (PathBuf, PathBuf) {
    static MADE: OnceLock<(tempfile::TempDir, (PathBuf, PathBuf))> = OnceLock::new();
    let (_, made) = MADE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (ramp, index) = (dir.path().join("ramp.jsonl"), dir.path().join("index"));
        let p = passages();
        go(&os(&[&"ramp", &"--passages", &p, &"--out", &ramp]));
        go(&os(&[&"index", &"--passages", &p, &"--out", &index]));
        (dir, (ramp, index))
    });
    made
}

/// `trajectories --teacher rule` of `ramp` over `index` into `out`.
pub(crate) fn rule_trajectories(ramp: &Path, index: &Path, out: &Path) -> Vec<OsString> {
    os(&[
        &"trajectories",
        &"--teacher",
        &"rule",
        &"--input",
        &ramp,
        &"--out",
        &out,
        &"--index",
        &index,
    ])
}

#[test]
fn trajectories_killed_anywhere_resume_to_the_same_records() {
    let (ramp, index) = ramp_and_index();
    let args = |dir: &Path| rule_trajectories(ramp, index, &dir.join("t.jsonl"));
    trial(
        "trajectories",
        2,
        |_| {},
        args,
        |_| {},
        |a, b| {
            for file in ["t.jsonl", "t.rejected.jsonl"] {
                assert!(
                    untimed(&a.join(file)) == untimed(&b.join(file)),
                    "{file} differs"
                );
            }
        },
    );
}

/// Every file of `dir`: its name and its text with `dir` itself written `<dir>` (a manifest names
/// the files it lists by path), staging files left out.
pub(crate) fn files(dir: &Path) -> Vec<(String, String)> {
    let own = dir.display().to_string();
    let mut out: Vec<(String, String)> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_none_or(|x| x != "partial"))
                .map(|p| {
                    let text = String::from_utf8_lossy(&bytes(&p)).replace(&own, "<dir>");
                    (p.file_name().unwrap().to_string_lossy().into_owned(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The rule teacher's trajectories of [`ramp_and_index`], made once.
pub(crate) fn trajectories() -> &'static Path {
    static MADE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = MADE.get_or_init(|| {
        let (ramp, index) = ramp_and_index();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        go(&rule_trajectories(ramp, index, &path));
        (dir, path)
    });
    path
}

/// `export sft` of [`trajectories`] into `dir/sft`, `val` of them held out.
pub(crate) fn export_sft(dir: &Path, val: &str) -> Vec<OsString> {
    os(&[
        &"export",
        &"sft",
        &"--input",
        &trajectories(),
        &"--out",
        &dir.join("sft"),
        &"--val-share",
        &val,
    ])
}

/// `export rl` of [`ramp_and_index`]'s samples into `dir/rl` with `curriculum`.
pub(crate) fn export_rl(dir: &Path, curriculum: &str) -> Vec<OsString> {
    os(&[
        &"export",
        &"rl",
        &"--input",
        &ramp_and_index().0,
        &"--out",
        &dir.join("rl"),
        &"--curriculum",
        &curriculum,
    ])
}

#[test]
fn an_export_killed_anywhere_leaves_whole_files_and_reruns_to_the_same() {
    // What a reader sees after the kill: each data file whole, a line of JSON per line.
    let whole = |dir: &Path| {
        for (name, text) in files(&dir.join("sft")) {
            if name.ends_with(".jsonl") {
                for line in text.lines() {
                    assert!(
                        serde_json::from_str::<Value>(line).is_ok(),
                        "{name}: a torn line"
                    );
                }
            }
        }
    };
    let sft = |dir: &Path| export_sft(dir, "0.1");
    trial("export sft", 3, |_| {}, sft, whole, same_folder("sft"));
    let rl = |dir: &Path| export_rl(dir, "buckets");
    trial("export rl", 4, |_| {}, rl, |_| {}, same_folder("rl"));
}

#[test]
fn ingest_killed_anywhere_reruns_to_the_same_passages() {
    let corpus = asset("corpus/wiki-summaries.jsonl");
    let args = |dir: &Path| os(&[&"ingest", &corpus, &"--out", &dir.join("passages.jsonl")]);
    trial(
        "ingest",
        5,
        |_| {},
        args,
        |_| {},
        same_file("passages.jsonl"),
    );
}

/// The first 50 of [`passages`], for the small index a full one replaces.
fn few_passages() -> &'static Path {
    static FEW: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = FEW.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("few.jsonl");
        let all = String::from_utf8(bytes(passages())).unwrap();
        let head: Vec<&str> = all.lines().take(50).collect();
        fs::write(&path, head.join("\n") + "\n").unwrap();
        (dir, path)
    });
    path
}

/// Builds the small index of [`few_passages`] in `dir/idx`.
pub(crate) fn small_index(dir: &Path) {
    go(&os(&[
        &"index",
        &"--passages",
        &few_passages(),
        &"--out",
        &dir.join("idx"),
    ]));
}

/// `index --overwrite` of all [`passages`] into `dir/idx`.
pub(crate) fn replace_index(dir: &Path) -> Vec<OsString> {
    os(&[
        &"index",
        &"--passages",
        &passages(),
        &"--out",
        &dir.join("idx"),
        &"--overwrite",
    ])
}

/// What the index in `dir/idx` answers to a question.
pub(crate) fn search_index(dir: &Path) -> String {
    go(&os(&[
        &"search",
        &"capital of Australia",
        &"-k",
        &"3",
        &"--json",
        &"--index",
        &dir.join("idx"),
    ]))
}

#[test]
fn an_index_replaced_and_killed_anywhere_is_always_an_index() {
    // Each trial's folder starts with a small index that the full one replaces; whatever the
    // kill left, the old index or the new one answers.
    let answers = |dir: &Path| {
        search_index(dir);
    };
    trial(
        "index --overwrite",
        6,
        small_index,
        replace_index,
        answers,
        |a, b| assert_eq!(search_index(a), search_index(b)),
    );
}

/// The trial's check that two `evolve` runs (2 rounds, into `evolve/`) made the same rounds: each
/// round's samples, attempts and merged data (wall times left out), and the table.
pub(crate) fn same_rounds(a: &Path, b: &Path) {
    for round in ["round-0", "round-1"] {
        for file in [
            "samples.jsonl",
            "trajectories.jsonl",
            "rejected.jsonl",
            "merged.jsonl",
        ] {
            // A round may reject nothing, and then writes no `rejected.jsonl`.
            let records = |dir: &Path| {
                let path = dir.join("evolve").join(round).join(file);
                path.exists().then(|| untimed(&path))
            };
            assert!(records(a) == records(b), "{round}/{file} differs");
        }
    }
    same_file("evolve/rounds.md")(a, b);
}

/// `report.md` with the seconds per question (the last column of each table) left out.
pub(crate) fn untimed_report(path: &Path) -> Vec<String> {
    String::from_utf8(bytes(path))
        .unwrap()
        .lines()
        .map(|line| match line.strip_suffix(" |") {
            Some(row) if line.starts_with('|') => row.rsplit_once(" | ").unwrap().0.to_owned(),
            _ => line.to_owned(),
        })
        .collect()
}

/// `eval` (direct and RAG-PE) of the first `limit` questions of the shipped `benchmarks` into
/// `dir/eval`, with the local model in-process, greedy, one request at a time: its answers
/// depend on nothing but the questions.
pub(crate) fn eval_args(dir: &Path, limit: &str, benchmarks: &[&str]) -> Vec<OsString> {
    let mut args = os(&[
        &"eval",
        &"--out",
        &dir.join("eval"),
        &"--index",
        &ramp_and_index().1,
        &"--model",
        &crate::common::model(),
        &"--methods",
        &"direct,rag-pe",
        &"--max-tokens",
        &"32",
        &"--concurrency",
        &"1",
        &"--today",
        &"2026-11-27",
        &"--limit",
        &limit,
    ]);
    args.extend(
        benchmarks
            .iter()
            .map(|b| crate::common::testdata(&format!("benchmarks/{b}")).into_os_string()),
    );
    args
}

/// The trial's check that two runs' eval answers and reports are the same, seconds left out.
pub(crate) fn same_eval(a: &Path, b: &Path) {
    let (a, b) = (a.join("eval"), b.join("eval"));
    let predictions = |dir: &Path| untimed(&dir.join("predictions.jsonl"));
    assert!(predictions(&a) == predictions(&b), "predictions differ");
    let report = |dir: &Path| untimed_report(&dir.join("report.md"));
    assert_eq!(report(&a), report(&b));
}

#[test]
fn eval_killed_anywhere_resumes_to_the_same_answers() {
    let args = |dir: &Path| {
        eval_args(
            dir,
            "2",
            &["hotpotqa_500.first3.jsonl", "nq-sample.first3.jsonl"],
        )
    };
    trial("eval", 7, |_| {}, args, |_| {}, same_eval);
}

#[cfg(unix)]
#[test]
fn evolve_killed_anywhere_resumes_to_the_same_rounds() {
    // The stand-in's training command with one more step: it appends its process group to
    // `groups` in the round's folder, so that a trial can stop the server a killed run left.
    let args = |dir: &Path| {
        let mut args = crate::evolve::evolve_args(&dir.join("evolve"), "2", "3");
        let command = args.iter().position(|a| a == "--train-command").unwrap() + 1;
        args[command] = format!("echo $$ >> {{out}}/groups; {}", args[command]);
        args.into_iter().map(OsString::from).collect()
    };
    let stop_students = |dir: &Path| {
        for round in fs::read_dir(dir.join("evolve")).into_iter().flatten() {
            let groups = fs::read_to_string(round.unwrap().path().join("groups"));
            for group in groups.iter().flat_map(|g| g.lines()) {
                // A group already stopped by the run is no error.
                std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{group}")])
                    .stderr(std::process::Stdio::null())
                    .status()
                    .unwrap();
            }
        }
    };

    trial("evolve", 8, |_| {}, args, stop_students, same_rounds);
}
