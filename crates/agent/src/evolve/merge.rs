//! The merged data of a round: the accepted trajectories of every round so far, one per sample
//! id (the earliest round's kept), written all or nothing.

use std::{collections::HashSet, path::Path};

use serde_json::Value;

use crate::AgentError;

/// What a merge wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Merged {
    /// Trajectories in the merged file.
    pub records: u64,
    /// Of those, the ones this round added.
    pub added: u64,
    /// Accepted trajectories left out because an earlier round holds their sample.
    pub duplicates: u64,
}

/// Writes `out`: the records of `previous` (the merged file of the round before, if any), then
/// those of `accepted` whose sample id is not among them yet. Records are copied as they are.
pub fn merge(previous: Option<&Path>, accepted: &Path, out: &Path) -> Result<Merged, AgentError> {
    let mut file = formats::StagedLines::create(out)?;
    let mut ids = HashSet::new();
    let mut merged = Merged::default();
    for (n, source) in previous.into_iter().chain([accepted]).enumerate() {
        let from_this_round = n == usize::from(previous.is_some());
        if !source.exists() {
            continue;
        }
        for record in formats::read_jsonl::<Value>(source)? {
            let record = record?;
            let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
            if !ids.insert(id.to_string()) {
                merged.duplicates += 1;
                continue;
            }
            file.write(&record)?;
            merged.records += 1;
            merged.added += u64::from(from_this_round);
        }
    }
    file.finish()?.commit()?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, records: &[(&str, u32)]) {
        let text: String = records
            .iter()
            .map(|(id, round)| format!("{{\"id\":\"{id}\",\"round\":{round},\"extra\":[1]}}\n"))
            .collect();
        std::fs::write(path, text).unwrap();
    }

    fn read(path: &Path) -> Vec<(String, u64)> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["extra"], serde_json::json!([1]), "copied as is");
                (
                    v["id"].as_str().unwrap().to_string(),
                    v["round"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn the_first_round_is_its_accepted_file() {
        let dir = tempfile::tempdir().unwrap();
        let (accepted, out) = (dir.path().join("a.jsonl"), dir.path().join("m.jsonl"));
        write(&accepted, &[("x", 0), ("y", 0)]);
        let m = merge(None, &accepted, &out).unwrap();
        assert_eq!(
            m,
            Merged {
                records: 2,
                added: 2,
                duplicates: 0
            }
        );
        assert_eq!(read(&out), [("x".into(), 0), ("y".into(), 0)]);
        assert!(!out.with_extension("jsonl.partial").exists());
    }

    #[test]
    fn later_rounds_add_new_samples_and_keep_the_earliest_of_a_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        write(&p("m0.jsonl"), &[("x", 0), ("y", 0)]);
        write(&p("a1.jsonl"), &[("y", 1), ("z", 1), ("z", 1)]);
        let m = merge(Some(&p("m0.jsonl")), &p("a1.jsonl"), &p("m1.jsonl")).unwrap();
        assert_eq!(
            m,
            Merged {
                records: 3,
                added: 1,
                duplicates: 2
            }
        );
        assert_eq!(
            read(&p("m1.jsonl")),
            [("x".into(), 0), ("y".into(), 0), ("z".into(), 1)]
        );
        // A round that accepted nothing (no file yet) carries the data over.
        let m = merge(Some(&p("m1.jsonl")), &p("none.jsonl"), &p("m2.jsonl")).unwrap();
        assert_eq!(
            m,
            Merged {
                records: 3,
                added: 0,
                duplicates: 0
            }
        );
    }

    #[test]
    fn a_merge_that_fails_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("m.jsonl"), "{\"id\":\"old\"}\n").unwrap();
        std::fs::write(p("bad.jsonl"), "{\"id\":\"a\"}\nnot json\n").unwrap();
        assert!(merge(None, &p("bad.jsonl"), &p("m.jsonl")).is_err());
        assert_eq!(
            std::fs::read_to_string(p("m.jsonl")).unwrap(),
            "{\"id\":\"old\"}\n"
        );
    }
}
