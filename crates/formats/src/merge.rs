//! Shards put back together: the outputs of one run split with `--shard i/n` (on one machine or
//! many), checked to be every shard of the same run, complete, and merged into the file the
//! unsplit run writes.
//!
//! Every shard writes its records in input order, and a record's shard follows from the id of
//! the input record it came from ([`Shard::index_of`]). So walking the input's ids in order and,
//! for each, taking the next records of the one shard that id belongs to puts the records back
//! in the unsplit run's order without holding them in memory. Where each record's content
//! depends only on its own input (seeded per record, a deterministic teacher, greedy answers),
//! the merge is byte for byte the unsplit run's output.

use std::{
    fs::File,
    io::{BufRead, BufReader, Lines},
    path::{Path, PathBuf},
};

use crate::{FormatError, RunManifest, Shard, StagedLines, staged::Staged};

/// Counts each shard makes over the whole input rather than its share: the same in every shard,
/// kept once in the merged manifest.
const INPUT_WIDE: [&str; 3] = ["input_records", "bad_records", "duplicates"];
/// The records a shard left to the others: not a count of the merged run.
const OTHER_SHARDS: &str = "other_shards";

/// Why shard outputs cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{path}: no manifest beside it, so nothing says which run and shard it is")]
    NoManifest { path: String },
    #[error("{path}: its run did not finish (rerun its command: it resumes)")]
    Incomplete { path: String },
    #[error("{path}: shard {shard} is given twice")]
    Repeated { path: String, shard: Shard },
    #[error("shards of {count}: {missing} missing (give every shard's output)")]
    Missing { count: u32, missing: String },
    #[error("{path}: the shards count different things ({field}: {was} in the first, {now} here)")]
    Counts {
        path: String,
        field: String,
        was: u64,
        now: u64,
    },
    #[error(
        "{path}:{line}: this record's input ({key:?}) is not in the input at this point: the shard was made from other input, or edited"
    )]
    Unplaced {
        path: String,
        line: u64,
        key: String,
    },
}

/// The complete outputs of every shard of one run, by shard index.
#[derive(Debug)]
pub struct Shards {
    outputs: Vec<PathBuf>,
    manifests: Vec<RunManifest>,
    manifest: RunManifest,
}

impl Shards {
    /// Reads the manifests of `outputs` (the shards' outputs, in any order) and checks that they
    /// are shards 0..n of one run: the same command, inputs and settings but the shard and the
    /// settings in `own` (the paths of each shard's other outputs), every shard once, every run
    /// complete.
    pub fn open(outputs: &[PathBuf], own: &[&str]) -> Result<Shards, MergeError> {
        // A manifest as the settings every shard must share: unsharded, its own outputs left out.
        let compared = |m: &RunManifest| {
            let mut m = unsharded(m);
            if let Some(config) = m.config.as_object_mut() {
                config.retain(|k, _| !own.contains(&k.as_str()));
            }
            m
        };
        let mut found: Vec<(Shard, &PathBuf, RunManifest)> = Vec::new();
        for output in outputs {
            let path = RunManifest::path_for(output);
            let manifest = RunManifest::load(&path)?.ok_or_else(|| MergeError::NoManifest {
                path: output.display().to_string(),
            })?;
            if !manifest.complete {
                return Err(MergeError::Incomplete {
                    path: output.display().to_string(),
                });
            }
            let shard: Shard = manifest
                .config
                .get("shard")
                .and_then(|s| s.as_str())
                .unwrap_or("0/1")
                .parse()
                .map_err(|e: crate::ShardParseError| FormatError::BadLine {
                    path: path.display().to_string(),
                    line: 1,
                    message: e.to_string(),
                })?;
            if let Some((_, first, m)) = found.first() {
                compared(&manifest).check_resumable(&compared(m), &path)?;
                if m.version != manifest.version {
                    return Err(FormatError::ManifestMismatch {
                        path: output.display().to_string(),
                        field: format!("version (of {})", first.display()),
                        was: m.version.clone(),
                        now: manifest.version.clone(),
                    }
                    .into());
                }
            }
            if found.iter().any(|(s, ..)| *s == shard) {
                return Err(MergeError::Repeated {
                    path: output.display().to_string(),
                    shard,
                });
            }
            found.push((shard, output, manifest));
        }
        let count = found.first().map_or(1, |(s, ..)| s.count);
        if found.len() as u32 != count || found.iter().any(|(s, ..)| s.count != count) {
            let missing: Vec<String> = (0..count)
                .filter(|&i| !found.iter().any(|(s, ..)| s.index == i && s.count == count))
                .map(|i| format!("{i}/{count}"))
                .collect();
            return Err(MergeError::Missing {
                count,
                missing: if missing.is_empty() {
                    "none, but shards of other counts are given".into()
                } else {
                    missing.join(", ")
                },
            });
        }
        found.sort_by_key(|(s, ..)| s.index);
        let manifest = merged_manifest(&found)?;
        let (outputs, manifests) = found.into_iter().map(|(_, o, m)| (o.clone(), m)).unzip();
        Ok(Shards {
            outputs,
            manifests,
            manifest,
        })
    }

    /// How many shards the run was split into.
    pub fn count(&self) -> u32 {
        self.outputs.len() as u32
    }

    /// The shards' outputs, shard 0 first.
    pub fn outputs(&self) -> &[PathBuf] {
        &self.outputs
    }

    /// Each shard's manifest, shard 0 first.
    pub fn manifests(&self) -> &[RunManifest] {
        &self.manifests
    }

    /// The manifest the unsplit run writes: its settings with shard `0/1` (the shard's own
    /// outputs as shard 0 has them: set them to the merged ones), complete, the shards' counts
    /// added up (those made over the whole input kept once).
    pub fn manifest_mut(&mut self) -> &mut RunManifest {
        &mut self.manifest
    }

    pub fn manifest(&self) -> &RunManifest {
        &self.manifest
    }

    /// Merges one file of every shard into `out` (staged, to be committed; with its number of
    /// lines): `file` names it
    /// from a shard's output, `inputs` gives the ids of the run's input in input order, and
    /// `input_of` reads from an output line the id of the input record it came from. Each id
    /// takes the records of its shard that came from it, in the shard's order; a record left
    /// over is an error.
    pub fn merge_file(
        &self,
        files: &[PathBuf],
        inputs: impl Iterator<Item = Result<String, FormatError>>,
        input_of: impl Fn(&str) -> Option<String>,
        out: &Path,
    ) -> Result<(Staged, u64), MergeError> {
        assert_eq!(files.len(), self.outputs.len(), "one file per shard");
        let mut shards = files
            .iter()
            .map(|f| ShardLines::open(f.clone(), &input_of))
            .collect::<Result<Vec<_>, _>>()?;
        let mut merged = StagedLines::create(out)?;
        for id in inputs {
            let id = id?;
            let shard = &mut shards[Shard::index_of(&id, self.count()) as usize];
            while shard.next_is(&id) {
                merged.write_line(&shard.take()?)?;
            }
        }
        for shard in &shards {
            if let Some((_, key)) = &shard.peeked {
                return Err(MergeError::Unplaced {
                    path: shard.path.display().to_string(),
                    line: shard.line,
                    key: key.clone(),
                });
            }
        }
        let rows = merged.rows();
        Ok((merged.finish()?, rows))
    }
}

/// One shard's file read line by line, one line ahead.
struct ShardLines<'a, F> {
    path: PathBuf,
    lines: Lines<BufReader<File>>,
    /// The next line and the input id it came from.
    peeked: Option<(String, String)>,
    /// The number of the peeked line.
    line: u64,
    input_of: &'a F,
}

impl<'a, F: Fn(&str) -> Option<String>> ShardLines<'a, F> {
    fn open(path: PathBuf, input_of: &'a F) -> Result<Self, MergeError> {
        let file = File::open(&path).map_err(|e| FormatError::io(&path, e))?;
        let mut lines = ShardLines {
            path,
            lines: BufReader::with_capacity(1 << 16, file).lines(),
            peeked: None,
            line: 0,
            input_of,
        };
        lines.advance()?;
        Ok(lines)
    }

    fn advance(&mut self) -> Result<(), MergeError> {
        self.peeked = None;
        let Some(line) = self.lines.next() else {
            return Ok(());
        };
        let line = line.map_err(|e| FormatError::io(&self.path, e))?;
        self.line += 1;
        let key = (self.input_of)(&line).ok_or_else(|| FormatError::BadLine {
            path: self.path.display().to_string(),
            line: self.line,
            message: "not a record of this run".into(),
        })?;
        self.peeked = Some((line, key));
        Ok(())
    }

    fn next_is(&self, id: &str) -> bool {
        self.peeked.as_ref().is_some_and(|(_, key)| key == id)
    }

    fn take(&mut self) -> Result<String, MergeError> {
        let (line, _) = self.peeked.take().expect("a peeked line");
        self.advance()?;
        Ok(line)
    }
}

/// `manifest` as the unsplit run writes it: shard `0/1`.
fn unsharded(manifest: &RunManifest) -> RunManifest {
    let mut m = manifest.clone();
    if let Some(config) = m.config.as_object_mut()
        && config.contains_key("shard")
    {
        config.insert("shard".into(), Shard::ALL.to_string().into());
    }
    m
}

/// The shards' settings (shard 0's where they are its own) and counts put together.
fn merged_manifest(found: &[(Shard, &PathBuf, RunManifest)]) -> Result<RunManifest, MergeError> {
    let (_, _, first) = &found[0];
    let mut merged = unsharded(first);
    merged.counts.clear();
    for (_, output, manifest) in found {
        for (name, &n) in &manifest.counts {
            if name == OTHER_SHARDS {
                continue;
            }
            let total = merged.counts.entry(name.clone()).or_default();
            if !INPUT_WIDE.contains(&name.as_str()) {
                *total += n;
            } else if std::ptr::eq(manifest, first) {
                *total = n;
            } else if *total != n {
                return Err(MergeError::Counts {
                    path: output.display().to_string(),
                    field: name.clone(),
                    was: *total,
                    now: n,
                });
            }
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use serde_json::json;

    use super::*;

    /// Writes the shards of a run over ids `a`..`j`: shard i holds, in input order, one line
    /// per id of its own (two for `c`), and the manifest with its counts.
    fn shards(dir: &Path, count: u32) -> Vec<PathBuf> {
        let ids: Vec<String> = "abcdefghij".chars().map(String::from).collect();
        (0..count)
            .map(|index| {
                let shard = Shard { index, count };
                let out = dir.join(format!("s{index}.jsonl"));
                let mut text = String::new();
                let mut mine = 0;
                for id in ids.iter().filter(|id| shard.contains(id)) {
                    let copies = if id == "c" { 2 } else { 1 };
                    for n in 0..copies {
                        text.push_str(&format!("{{\"from\":\"{id}\",\"n\":{n}}}\n"));
                        mine += 1;
                    }
                }
                fs::write(&out, text).unwrap();
                let mut m = RunManifest::new(
                    "test",
                    vec!["in".into()],
                    json!({"seed": 1, "shard": shard.to_string(), "rejected": format!("r{index}")}),
                );
                m.counts = [
                    ("written", mine),
                    ("input_records", 10),
                    ("other_shards", 10 - mine),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                m.complete = true;
                m.save(&RunManifest::path_for(&out)).unwrap();
                out
            })
            .collect()
    }

    fn from(line: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        Some(v.get("from")?.as_str()?.to_string())
    }

    fn ids() -> impl Iterator<Item = Result<String, FormatError>> {
        "abcdefghij".chars().map(|c| Ok(c.to_string()))
    }

    #[test]
    fn shards_merge_back_into_input_order_with_summed_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut outputs = shards(dir.path(), 3);
        outputs.reverse();
        let shards = Shards::open(&outputs, &["rejected"]).unwrap();
        assert_eq!(shards.count(), 3);
        assert_eq!(shards.manifests()[1].config["rejected"], "r1");
        let out = dir.path().join("merged.jsonl");
        shards
            .merge_file(shards.outputs(), ids(), from, &out)
            .unwrap()
            .0
            .commit()
            .unwrap();
        let order: Vec<String> = fs::read_to_string(&out)
            .unwrap()
            .lines()
            .map(|l| from(l).unwrap())
            .collect();
        assert_eq!(order.join(""), "abccdefghij");
        let m = shards.manifest();
        assert_eq!(m.config["shard"], "0/1");
        assert_eq!(m.counts["written"], 11);
        assert_eq!(m.counts["input_records"], 10);
        assert!(!m.counts.contains_key("other_shards"));
    }

    #[test]
    fn a_missing_repeated_or_unfinished_shard_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outputs = shards(dir.path(), 3);
        let err = Shards::open(&outputs[..2], &["rejected"]).unwrap_err();
        assert!(
            matches!(&err, MergeError::Missing { missing, .. } if missing == "2/3"),
            "{err}"
        );
        let twice = [outputs[0].clone(), outputs[0].clone(), outputs[1].clone()];
        assert!(matches!(
            Shards::open(&twice, &["rejected"]),
            Err(MergeError::Repeated { .. })
        ));

        let path = RunManifest::path_for(&outputs[1]);
        let mut m = RunManifest::load(&path).unwrap().unwrap();
        m.complete = false;
        m.save(&path).unwrap();
        assert!(matches!(
            Shards::open(&outputs, &["rejected"]),
            Err(MergeError::Incomplete { .. })
        ));
        m.complete = true;
        m.config["seed"] = json!(2);
        m.save(&path).unwrap();
        let err = Shards::open(&outputs, &["rejected"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("seed: was 1, now 2"), "{err}");
        // Each shard's own outputs differ; they are settings only where `own` says not.
        m.config["seed"] = json!(1);
        m.save(&path).unwrap();
        let err = Shards::open(&outputs, &[]).unwrap_err().to_string();
        assert!(err.contains("rejected"), "{err}");
    }

    #[test]
    fn a_record_whose_input_is_not_where_the_input_has_it_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let outputs = shards(dir.path(), 2);
        let shards = Shards::open(&outputs, &["rejected"]).unwrap();
        let out = dir.path().join("merged.jsonl");
        // An input without `e`: the record from `e` is left over in its shard.
        let inputs = ids().filter(|id| id.as_deref().unwrap() != "e");
        let err = shards
            .merge_file(shards.outputs(), inputs, from, &out)
            .unwrap_err();
        assert!(
            matches!(&err, MergeError::Unplaced { key, .. } if key == "e"),
            "{err}"
        );
        assert!(!out.exists());
    }
}
