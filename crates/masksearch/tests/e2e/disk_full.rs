//! Disk-full trials: a long command whose disk fills up before it is done fails with an error
//! that names the path, keeps the outputs that were there (a replaced output stays whole, a
//! resumable one keeps its records), and once space is freed, the same command run again gives
//! what a run with room to spare gives. The small disk is a tmpfs mounted for the test, which
//! needs root (CI runs as root).

use std::{
    collections::BTreeMap,
    ffi::OsString,
    fs,
    io::Write as _,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::common::{masksearch, snapshot};
use crate::kills::{
    bytes, eval_args, export_rl, export_sft, go, os, ramp_and_index, ramp_args, replace_index,
    rule_trajectories, same_eval, same_file, same_folder, same_rounds, search_index, small_index,
    untimed,
};

/// A tmpfs mounted on a temporary folder, unmounted when dropped.
struct SmallDisk {
    mount: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        let mount = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=128m", "tmpfs"])
            .arg(mount.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "disk-full trials mount a small tmpfs, which needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { mount }
    }

    /// Where commands write on this disk.
    fn out(&self) -> PathBuf {
        self.mount.path().join("out")
    }

    fn filler(&self) -> PathBuf {
        self.mount.path().join("filler")
    }

    /// Fills the disk but for `room` bytes.
    fn fill(&self, room: u64) {
        let mut filler = fs::File::create(self.filler()).unwrap();
        let chunk = vec![0u8; 1 << 16];
        loop {
            match filler.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        let full = filler.metadata().unwrap().len();
        filler.set_len(full.saturating_sub(room)).unwrap();
    }

    fn free(&self) {
        fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .status();
    }
}

/// What a run that failed for want of space must have kept of its output.
enum Kept {
    /// Everything: an output replaced whole is the old one until the new one is complete, and
    /// no staging file is left taking space.
    All,
    /// The records file (relative to the output folder) keeps the records it held, whole.
    Records(&'static str),
}

/// The whole records of a JSONL file: a line cut by the full disk is not one.
fn records(path: &Path) -> Vec<Value> {
    let text = String::from_utf8_lossy(&bytes(path)).into_owned();
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .map(|l| serde_json::from_str(l).expect("a whole line is a whole record"))
        .collect()
}

/// Every file under `dir`, staging files included, and the bytes it takes on disk.
fn everything(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut all = BTreeMap::new();
    for entry in fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(everything(&path));
        } else {
            all.insert(path.clone(), 512 * fs::metadata(&path).unwrap().blocks());
        }
    }
    all
}

fn size(dir: &Path) -> u64 {
    everything(dir).values().sum()
}

/// The command `args(dir)` runs once with room to spare, then on a small disk after `setup(dir)`:
/// the disk is filled to leave a third, then two thirds, of what the first run needed (a
/// resumable run: a third more each time); each run
/// must fail naming the disk's folder and keep what `kept` says; then the disk is freed and the
/// command run again must end as the first run did (`same(first, disk)`).
fn full_disk_trial(
    name: &str,
    setup: impl Fn(&Path),
    args: impl Fn(&Path) -> Vec<OsString>,
    kept: Kept,
    same: impl Fn(&Path, &Path),
) {
    let root = tempfile::tempdir().unwrap();
    let reference = root.path().join("reference");
    fs::create_dir(&reference).unwrap();
    setup(&reference);
    go(&args(&reference));
    // What the run needs room for: what its output folder takes on disk (for a replaced
    // output, the old one stays until the new one is whole).
    let wrote = size(&reference);

    let disk = SmallDisk::mount();
    let out = disk.out();
    fs::create_dir(&out).unwrap();
    setup(&out);
    for share in [1, 2] {
        // A resumable run keeps what it wrote: each attempt gets a third of the room it needs.
        let room = match kept {
            Kept::All => wrote * share / 3,
            Kept::Records(_) => wrote / 3,
        };
        disk.fill(room);
        let held = |file: &str| {
            let path = out.join(file);
            if path.exists() {
                records(&path)
            } else {
                vec![]
            }
        };
        let (all, before) = (
            snapshot(&out),
            match kept {
                Kept::All => vec![],
                Kept::Records(file) => held(file),
            },
        );
        let failed = masksearch().args(args(&out)).output().unwrap();
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(
            !failed.status.success(),
            "{name} finished on a disk with {room} bytes free"
        );
        assert_eq!(
            stderr.matches("No space left on device").count(),
            1,
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(&out.display().to_string()),
            "{name}: the error names no path on the full disk: {stderr}"
        );
        match kept {
            Kept::All => {
                let now = snapshot(&out);
                let changed: Vec<_> = now
                    .iter()
                    .filter(|(path, blocks)| all.get(*path) != Some(blocks))
                    .map(|(path, _)| path)
                    .chain(all.keys().filter(|path| !now.contains_key(*path)))
                    .collect();
                assert!(
                    changed.is_empty(),
                    "{name}: a failed run changed its output: {changed:?}"
                );
                let staged: Vec<_> = everything(&out)
                    .into_keys()
                    .filter(|p| p.extension().is_some_and(|e| e == "partial"))
                    .collect();
                assert!(staged.is_empty(), "{name}: left {staged:?} taking space");
            }
            Kept::Records(file) => {
                let now = held(file);
                assert!(
                    now.starts_with(&before),
                    "{name}: a failed run lost records"
                );
            }
        }
        disk.free();
        eprintln!(
            "{name}: failed with {room} of {wrote} bytes free, as it should: {}",
            stderr.trim()
        );
    }
    go(&args(&out));
    same(&reference, &out);
    eprintln!("{name}: run again once freed, as with room to spare");
}

#[test]
fn ingest_on_a_full_disk_fails_by_name_and_resumes_once_freed() {
    let corpus = crate::common::asset("corpus/wiki-summaries.jsonl");
    full_disk_trial(
        "ingest",
        |_| {},
        |dir| os(&[&"ingest", &corpus, &"--out", &dir.join("passages.jsonl")]),
        Kept::Records("passages.jsonl"),
        same_file("passages.jsonl"),
    );
}

#[test]
fn ramp_on_a_full_disk_fails_by_name_and_resumes_once_freed() {
    full_disk_trial(
        "ramp",
        |_| {},
        |dir| ramp_args(dir, &["--batch-size", "256"]),
        Kept::Records("ramp.jsonl"),
        same_file("ramp.jsonl"),
    );
}

#[test]
fn trajectories_on_a_full_disk_fail_by_name_and_resume_once_freed() {
    let (all, index) = ramp_and_index();
    // Rule trajectories of all the demo's samples take more than the small disk holds.
    let few = tempfile::tempdir().unwrap();
    let ramp = &few.path().join("ramp.jsonl");
    let samples = String::from_utf8(bytes(all)).unwrap();
    fs::write(
        ramp,
        samples.lines().take(1000).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    full_disk_trial(
        "trajectories",
        |_| {},
        |dir| rule_trajectories(ramp, index, &dir.join("t.jsonl")),
        Kept::Records("t.jsonl"),
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

#[test]
fn an_index_replaced_on_a_full_disk_stays_the_old_one() {
    full_disk_trial(
        "index --overwrite",
        small_index,
        replace_index,
        Kept::All,
        |a, b| assert_eq!(search_index(a), search_index(b)),
    );
}

#[test]
fn an_export_on_a_full_disk_keeps_the_export_before() {
    // Each export before had other settings: no validation split, no curriculum.
    full_disk_trial(
        "export sft",
        |dir| {
            go(&export_sft(dir, "0"));
        },
        |dir| export_sft(dir, "0.1"),
        Kept::All,
        same_folder("sft"),
    );
    full_disk_trial(
        "export rl",
        |dir| {
            go(&export_rl(dir, "none"));
        },
        |dir| export_rl(dir, "buckets"),
        Kept::All,
        same_folder("rl"),
    );
}

#[test]
fn eval_on_a_full_disk_fails_by_name_and_resumes_once_freed() {
    full_disk_trial(
        "eval",
        |_| {},
        |dir| eval_args(dir, "3", &["hotpotqa_500.first3.jsonl"]),
        Kept::Records("eval/predictions.jsonl"),
        same_eval,
    );
}

#[test]
fn evolve_on_a_full_disk_fails_by_name_and_resumes_once_freed() {
    full_disk_trial(
        "evolve",
        |_| {},
        |dir| {
            crate::evolve::evolve_args(&dir.join("evolve"), "2", "3")
                .into_iter()
                .map(OsString::from)
                .collect()
        },
        Kept::Records("evolve/round-0/trajectories.jsonl"),
        same_rounds,
    );
}
