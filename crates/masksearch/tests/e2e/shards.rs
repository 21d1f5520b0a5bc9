//! Sharded runs put back together: `ramp`, `trajectories` and `eval` split with `--shard i/n`,
//! each shard into its own folder as separate machines would, and `masksearch merge` gives the
//! unsplit run's records in its order and its manifest.

use std::{
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
};

use crate::{
    common::masksearch,
    kills::{
        bytes, eval_args, files, go, os, ramp_and_index, ramp_args, rule_trajectories, same_eval,
        untimed,
    },
};

/// Runs `args(dir, shard)` unsplit into `root/one` and as `n` shards into `root/shard-i`, then
/// merges the shards' `output` into `root/merged`; the shards' outputs.
fn split_and_merge(
    root: &Path,
    n: u32,
    output: &str,
    args: impl Fn(&Path, &str) -> Vec<OsString>,
) -> Vec<PathBuf> {
    let one = root.join("one");
    fs::create_dir_all(&one).unwrap();
    go(&args(&one, "0/1"));
    let shards: Vec<PathBuf> = (0..n)
        .map(|i| {
            let dir = root.join(format!("shard-{i}"));
            fs::create_dir_all(&dir).unwrap();
            go(&args(&dir, &format!("{i}/{n}")));
            dir.join(output)
        })
        .collect();
    let merged = root.join("merged");
    fs::create_dir_all(&merged).unwrap();
    let mut merge = os(&[&"merge", &"--out", &merged.join(output)]);
    // Any order: the manifests say which shard is which.
    merge.extend(shards.iter().rev().map(|s| s.clone().into_os_string()));
    go(&merge);
    shards
}

#[test]
fn ramp_shards_merge_into_the_unsplit_runs_file_and_manifest() {
    let root = tempfile::tempdir().unwrap();
    let args =
        |dir: &Path, shard: &str| ramp_args(dir, &["--curriculum", "original", "--shard", shard]);
    let shards = split_and_merge(root.path(), 3, "ramp.jsonl", args);
    let (one, merged) = (root.path().join("one"), root.path().join("merged"));
    assert!(bytes(&one.join("ramp.jsonl")) == bytes(&merged.join("ramp.jsonl")));
    assert_eq!(files(&one), files(&merged));
    // Every shard did a share of the work.
    for shard in &shards {
        let n = bytes(shard).iter().filter(|&&b| b == b'\n').count();
        assert!(n > 2000, "{}: {n} samples", shard.display());
    }

    // A missing shard is refused, naming it, and nothing is written.
    let out = root.path().join("partial.jsonl");
    let refused = masksearch()
        .args(["merge".as_ref(), "--out".as_ref(), out.as_os_str()])
        .args([&shards[0], &shards[2]])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(err.contains("1/3 missing"), "{err}");
    assert!(!out.exists());
}

#[test]
fn rule_teacher_shards_merge_into_the_unsplit_runs_trajectories() {
    let root = tempfile::tempdir().unwrap();
    let (ramp, index) = ramp_and_index();
    let args = |dir: &Path, shard: &str| {
        let mut args = rule_trajectories(ramp, index, &dir.join("t.jsonl"));
        args.extend(os(&[&"--shard", &shard]));
        args
    };
    split_and_merge(root.path(), 3, "t.jsonl", args);
    let (one, merged) = (root.path().join("one"), root.path().join("merged"));
    for file in ["t.jsonl", "t.rejected.jsonl"] {
        let records = untimed(&one.join(file));
        assert!(!records.is_empty(), "{file}");
        assert!(records == untimed(&merged.join(file)), "{file} differs");
    }
    let manifest = |dir: &Path| {
        files(dir)
            .into_iter()
            .find(|(name, _)| name == "t.jsonl.manifest.json")
            .unwrap()
    };
    assert_eq!(manifest(&one), manifest(&merged));
}

#[test]
fn eval_shards_merge_into_the_unsplit_runs_answers_and_report() {
    let root = tempfile::tempdir().unwrap();
    let args = |dir: &Path, shard: &str| {
        let mut args = eval_args(
            dir,
            "3",
            &["hotpotqa_500.first3.jsonl", "nq-sample.first3.jsonl"],
        );
        args.extend(os(&[&"--shard", &shard]));
        args
    };
    split_and_merge(root.path(), 2, "eval", args);
    let (one, merged) = (root.path().join("one"), root.path().join("merged"));
    same_eval(&one, &merged);
    assert_eq!(untimed(&one.join("eval/predictions.jsonl")).len(), 12);
    let manifest = |dir: &Path| bytes(&dir.join("eval/predictions.jsonl.manifest.json"));
    assert!(manifest(&one) == manifest(&merged));
}
