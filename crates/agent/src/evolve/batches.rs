//! Which samples each round takes: the input's records in an order drawn from the seed, cut
//! into consecutive batches — so rounds never share a sample, the same seed always gives the
//! same batches, and asking for more rounds later leaves the earlier batches as they were.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
};

use serde_json::Value;

use crate::{AgentError, pipeline};

/// The batch of every round.
#[derive(Debug, Clone)]
pub struct Batches {
    /// The round that takes each sample id (ids no round takes are left out).
    round_of: HashMap<String, u32>,
    sizes: Vec<usize>,
    /// Distinct samples in the input.
    pub available: usize,
    /// An order-free hash of the input's sample ids: a resume over another input is refused.
    pub fingerprint: u64,
}

impl Batches {
    /// Plans `rounds` batches of `batch` samples from `ids` (the input's ids in input order;
    /// repeats are ignored). The last batches are short or empty when the ids run out.
    pub fn plan(
        ids: impl IntoIterator<Item = String>,
        seed: u64,
        batch: usize,
        rounds: u32,
    ) -> Self {
        let mut seen = HashSet::new();
        let mut order: Vec<(u64, String)> = ids
            .into_iter()
            .filter(|id| seen.insert(id.clone()))
            .map(|id| (formats::seed_for(seed, &id), id))
            .collect();
        let fingerprint = order
            .iter()
            .fold(0u64, |h, (_, id)| h.wrapping_add(formats::stable_hash(id)));
        order.sort_unstable();
        let available = order.len();
        let mut sizes = vec![0; rounds as usize];
        let mut round_of = HashMap::new();
        for (n, (_, id)) in order.into_iter().enumerate() {
            let round = n / batch.max(1);
            if round >= sizes.len() {
                break;
            }
            sizes[round] += 1;
            round_of.insert(id, round as u32);
        }
        Batches {
            round_of,
            sizes,
            available,
            fingerprint,
        }
    }

    /// Plans the batches of the samples in `input` (records the trajectories pipeline reads;
    /// lines that are not are left to it to count).
    pub fn read(input: &Path, seed: u64, batch: usize, rounds: u32) -> Result<Self, AgentError> {
        let mut ids = Vec::new();
        for_each_record(input, |id, _| {
            ids.push(id);
            Ok(())
        })?;
        Ok(Self::plan(ids, seed, batch, rounds))
    }

    /// How many samples round `round` takes.
    pub fn size(&self, round: u32) -> usize {
        self.sizes.get(round as usize).copied().unwrap_or(0)
    }

    /// Whether round `round` takes the sample `id`.
    pub fn takes(&self, round: u32, id: &str) -> bool {
        self.round_of.get(id) == Some(&round)
    }

    /// Writes round `round`'s samples from `input` to `out` in input order, all or nothing
    /// (`formats::StagedLines`). A record without an id gets the one the pipeline gave it
    /// in `input` (its record number), so ids stay unique across rounds.
    pub fn write(&self, input: &Path, round: u32, out: &Path) -> Result<usize, AgentError> {
        let mut file = formats::StagedLines::create(out)?;
        let mut written = HashSet::new();
        for_each_record(input, |id, mut value| {
            if !self.takes(round, &id) || !written.insert(id.clone()) {
                return Ok(());
            }
            if let Value::Object(map) = &mut value {
                let has_id = map
                    .get("id")
                    .is_some_and(|v| v.as_str().is_none_or(|s| !s.is_empty()));
                if !has_id {
                    map.insert("id".into(), Value::String(id));
                }
            }
            Ok(file.write(&value)?)
        })?;
        file.finish()?.commit()?;
        Ok(written.len())
    }
}

/// Calls `f` with the id and value of every record of `input` the pipeline would run.
fn for_each_record(
    input: &Path,
    mut f: impl FnMut(String, Value) -> Result<(), AgentError>,
) -> Result<(), AgentError> {
    for (n, line) in formats::read_jsonl::<Value>(input)?.enumerate() {
        let value = match line {
            Ok(value) => value,
            Err(formats::FormatError::BadLine { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some(job) = pipeline::job(&value, n as u64 + 1) {
            f(job.id, value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i}")).collect()
    }

    fn batch_of(b: &Batches, round: u32, all: &[String]) -> Vec<String> {
        all.iter()
            .filter(|id| b.takes(round, id))
            .cloned()
            .collect()
    }

    #[test]
    fn rounds_take_disjoint_batches_of_the_asked_size() {
        let all = ids(10);
        let b = Batches::plan(all.clone(), 7, 3, 4);
        assert_eq!((0..4).map(|r| b.size(r)).collect::<Vec<_>>(), [3, 3, 3, 1]);
        let mut taken: Vec<String> = (0..4).flat_map(|r| batch_of(&b, r, &all)).collect();
        assert_eq!(taken.len(), 10);
        taken.sort();
        taken.dedup();
        assert_eq!(taken.len(), 10, "no sample in two rounds");
        assert_eq!(b.available, 10);
        assert_eq!(b.size(4), 0);
    }

    #[test]
    fn batches_depend_on_the_seed_not_on_input_order_or_round_count() {
        let all = ids(40);
        let a = Batches::plan(all.clone(), 1, 5, 2);
        let mut reversed = all.clone();
        reversed.reverse();
        let same = Batches::plan(reversed, 1, 5, 6);
        let other = Batches::plan(all.clone(), 2, 5, 2);
        for round in 0..2 {
            assert_eq!(batch_of(&a, round, &all), batch_of(&same, round, &all));
        }
        assert_ne!(batch_of(&a, 0, &all), batch_of(&other, 0, &all));
        assert_eq!(a.fingerprint, same.fingerprint);
        assert_ne!(a.fingerprint, Batches::plan(ids(39), 1, 5, 2).fingerprint);
        // Not simply the input's first lines.
        assert_ne!(batch_of(&a, 0, &all), all[..5].to_vec());
    }

    #[test]
    fn repeated_ids_count_once() {
        let mut all = ids(4);
        all.extend(ids(4));
        let b = Batches::plan(all, 3, 10, 1);
        assert_eq!((b.available, b.size(0)), (4, 4));
    }

    #[test]
    fn a_rounds_samples_file_keeps_input_order_and_gives_ids() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        let question = |q: &str| format!("{{\"question\": \"{q}?\", \"answer\": \"x\"}}");
        let lines = [
            question("a"),
            "not json".to_string(),
            question("b"),
            question("c"),
            question("d"),
        ];
        std::fs::write(&input, lines.join("\n") + "\n").unwrap();
        let b = Batches::read(&input, 5, 2, 2).unwrap();
        assert_eq!(b.available, 4);
        let mut seen = Vec::new();
        for round in 0..2 {
            let out = dir.path().join(format!("r{round}.jsonl"));
            assert_eq!(b.write(&input, round, &out).unwrap(), 2);
            assert!(!out.with_extension("jsonl.partial").exists());
            let records: Vec<Value> = std::fs::read_to_string(&out)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let got: Vec<u64> = records
                .iter()
                .map(|r| r["id"].as_str().unwrap().parse().unwrap())
                .collect();
            assert!(got.is_sorted(), "input order: {got:?}");
            for (id, r) in got.iter().zip(&records) {
                // The id is the record number in the input (line 2 is not a record).
                let letter = ["a", "", "b", "c", "d"][*id as usize - 1];
                assert_eq!(r["question"], format!("{letter}?"));
            }
            seen.extend(got);
        }
        seen.sort();
        assert_eq!(seen, [1, 3, 4, 5]);
    }
}
