//! Counters of a RAMP run and of any RAMP file, and the table that shows them.
//!
//! Two kinds of numbers: what the *records* say (samples, the mask-count histogram, masks by
//! span type, difficulty, whether each record restores its answer) — computed from any RAMP
//! JSONL, including the original `gen_qa.py` output without our extra fields — and what only
//! the *run* knows (passages read, skips by reason, candidates by type, LLM answer quality),
//! kept in the run's manifest as flat counters.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use formats::{JsonlReader, RunManifest};
use serde_json::Value;

use crate::{
    RampError,
    mask::{MASK, Skip, fill_masks},
};

/// Every counter of a run or a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RampStats {
    // From the records.
    pub samples: u64,
    /// Samples by `ext.mask_num`.
    pub masks: BTreeMap<u64, u64>,
    /// Masks by span type (`ext.mask_kinds`; `unknown` for files without it).
    pub mask_kinds: BTreeMap<String, u64>,
    /// Records whose query, filled in order with `ext.masks`, gives back the answer.
    pub restorable: u64,
    /// Records whose query holds exactly `ext.mask_num` `[mask]`s (the original can hold fewer).
    pub mask_count_matches: u64,
    pub title_prefixed: u64,
    pub difficulty_sum: f64,
    pub difficulty_n: u64,
    /// Lines of the file that were not RAMP records.
    pub bad_records: u64,
    // From the run.
    pub run: BTreeMap<String, u64>,
}

/// Run counter names.
pub mod counter {
    pub const INPUT_RECORDS: &str = "input_records";
    pub const OTHER_SHARDS: &str = "other_shards";
    pub const SAMPLES_WRITTEN: &str = "samples";
    pub const LLM_ANSWERS: &str = "llm.answers";
    pub const LLM_VALID_LISTS: &str = "llm.valid_lists";
    pub const LLM_PROPOSED: &str = "llm.entities_proposed";
    pub const LLM_ACCEPTED: &str = "llm.entities_accepted";
    /// Prefixes: `skipped.<reason>`, `candidates.<kind>`, `llm.rejected.<reason>`.
    pub const SKIPPED: &str = "skipped.";
    pub const CANDIDATES: &str = "candidates.";
    pub const LLM_REJECTED: &str = "llm.rejected.";
}

impl RampStats {
    /// Adds a run counter.
    pub fn count(&mut self, name: &str, n: u64) {
        if n > 0 {
            *self.run.entry(name.to_string()).or_default() += n;
        }
    }

    pub fn skip(&mut self, reason: Skip) {
        self.count(&format!("{}{}", counter::SKIPPED, reason.as_str()), 1);
    }

    fn run_value(&self, name: &str) -> u64 {
        self.run.get(name).copied().unwrap_or(0)
    }

    fn run_prefixed(&self, prefix: &str) -> Vec<(String, u64)> {
        self.run
            .iter()
            .filter_map(|(k, &v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v)))
            .collect()
    }

    /// Adds one record, in our format or the original's.
    pub fn add_record(&mut self, record: &Value) {
        let (Some(query), Some(answer), Some(ext)) = (
            record.get("query").and_then(Value::as_str),
            record.get("answer").and_then(Value::as_str),
            record.get("ext"),
        ) else {
            self.bad_records += 1;
            return;
        };
        let masks: Vec<String> = ext
            .get("masks")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let visible = query
            .rsplit_once("\n\n")
            .map_or(query, |(m, _)| m)
            .matches(MASK)
            .count() as u64;
        let mask_num = ext
            .get("mask_num")
            .and_then(Value::as_u64)
            .unwrap_or(visible);
        self.samples += 1;
        *self.masks.entry(mask_num).or_default() += 1;
        if visible == mask_num {
            self.mask_count_matches += 1;
        }
        if fill_masks(query, &masks).as_deref() == Some(answer) {
            self.restorable += 1;
        }
        let kinds = ext.get("mask_kinds").and_then(Value::as_array);
        for i in 0..masks.len() {
            let kind = kinds
                .and_then(|k| k.get(i))
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            *self.mask_kinds.entry(kind.to_string()).or_default() += 1;
        }
        if ext.get("title_prefixed").and_then(Value::as_bool) == Some(true) {
            self.title_prefixed += 1;
        }
        if let Some(d) = ext.get("difficulty").and_then(Value::as_f64) {
            self.difficulty_sum += d;
            self.difficulty_n += 1;
        }
    }

    /// Reads every record of a RAMP JSONL file, and the run counters of its manifest if one
    /// is beside it.
    pub fn from_file(path: &Path) -> Result<RampStats, RampError> {
        let mut stats = RampStats::default();
        for record in formats::read_jsonl::<Value>(path)? {
            match record {
                Ok(v) => stats.add_record(&v),
                Err(formats::FormatError::BadLine { .. }) => stats.bad_records += 1,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(m) = RunManifest::load(&RunManifest::path_for(path))? {
            stats.run = m.counts;
        }
        Ok(stats)
    }

    /// Same as [`RampStats::from_file`] over any reader (for tests and pipes).
    pub fn from_reader<R: std::io::Read>(input: R) -> RampStats {
        let mut stats = RampStats::default();
        for record in JsonlReader::<R, Value>::new(input, "input") {
            match record {
                Ok(v) => stats.add_record(&v),
                Err(_) => stats.bad_records += 1,
            }
        }
        stats
    }

    /// The stats table shown at the end of a run and by `masksearch ramp stats`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let pct = |n: u64, of: u64| {
            if of == 0 {
                0.0
            } else {
                100.0 * n as f64 / of as f64
            }
        };
        let read = self.run_value(counter::INPUT_RECORDS);
        if read > 0 {
            let _ = writeln!(out, "{:<28}{read:>10}", "passages read");
            let other = self.run_value(counter::OTHER_SHARDS);
            if other > 0 {
                let _ = writeln!(out, "{:<28}{other:>10}", "  in other shards");
            }
        }
        let _ = writeln!(out, "{:<28}{:>10}", "samples", self.samples);
        let skipped = self.run_prefixed(counter::SKIPPED);
        if !skipped.is_empty() {
            let total: u64 = skipped.iter().map(|(_, v)| v).sum();
            let _ = writeln!(out, "{:<28}{total:>10}", "skipped");
            for (reason, n) in &skipped {
                let _ = writeln!(out, "  {reason:<26}{n:>10}");
            }
        }
        let _ = writeln!(out, "masks per sample");
        for (k, n) in &self.masks {
            let _ = writeln!(out, "  {k:<26}{n:>10}  {:>5.1}%", pct(*n, self.samples));
        }
        let total_masks: u64 = self.mask_kinds.values().sum();
        let _ = writeln!(out, "masks by span type");
        for (kind, n) in &self.mask_kinds {
            let _ = writeln!(out, "  {kind:<26}{n:>10}  {:>5.1}%", pct(*n, total_masks));
        }
        let candidates = self.run_prefixed(counter::CANDIDATES);
        if !candidates.is_empty() {
            let _ = writeln!(out, "candidates by span type");
            for (kind, n) in &candidates {
                let _ = writeln!(out, "  {kind:<26}{n:>10}");
            }
        }
        let answers = self.run_value(counter::LLM_ANSWERS);
        if answers > 0 {
            let valid = self.run_value(counter::LLM_VALID_LISTS);
            let proposed = self.run_value(counter::LLM_PROPOSED);
            let accepted = self.run_value(counter::LLM_ACCEPTED);
            let _ = writeln!(out, "LLM extraction");
            let _ = writeln!(out, "  {:<26}{answers:>10}", "answers");
            let _ = writeln!(
                out,
                "  {:<26}{valid:>10}  {:>5.1}%",
                "valid lists",
                pct(valid, answers)
            );
            let _ = writeln!(out, "  {:<26}{proposed:>10}", "entities proposed");
            let _ = writeln!(
                out,
                "  {:<26}{accepted:>10}  {:>5.1}%",
                "entities accepted",
                pct(accepted, proposed)
            );
            for (reason, n) in self.run_prefixed(counter::LLM_REJECTED) {
                let _ = writeln!(out, "    rejected: {reason:<14}{n:>10}");
            }
        }
        if self.difficulty_n > 0 {
            let mean = self.difficulty_sum / self.difficulty_n as f64;
            let _ = writeln!(out, "{:<28}{mean:>10.3}", "difficulty (NLL/token)");
        }
        let _ = writeln!(out, "checks");
        let _ = writeln!(
            out,
            "  {:<26}{:>10}  {:>5.1}%",
            "restores its answer",
            self.restorable,
            pct(self.restorable, self.samples)
        );
        let _ = writeln!(
            out,
            "  {:<26}{:>10}  {:>5.1}%",
            "[mask] count = mask_num",
            self.mask_count_matches,
            pct(self.mask_count_matches, self.samples)
        );
        if self.title_prefixed > 0 {
            let _ = writeln!(
                out,
                "  {:<26}{:>10}",
                "title line prefixed", self.title_prefixed
            );
        }
        if self.bad_records > 0 {
            let _ = writeln!(out, "  {:<26}{:>10}", "not RAMP records", self.bad_records);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_original_format_and_flags_its_defects() {
        // gen_qa.py output: duplicate picks make fewer [mask]s than mask_num.
        let original = concat!(
            r#"{"query": "Andrew Barto received his [mask] with distinction in [mask] from the University of Michigan in 1970.\n\nFill in all the [mask] and output the whole paragraph without changing its format.", "answer": "Andrew Barto received his B.S. with distinction in mathematics from the University of Michigan in 1970.", "ext": {"mask_num": 2, "masks": ["B.S.", "mathematics"], "entities": ["B.S.", "mathematics"], "source": "wiki", "title": "Andrew Barto"}}"#,
            "\n",
            r#"{"query": "He was born in [mask].\n\nFill in all the [mask] and output the whole paragraph without changing its format.", "answer": "He was born in Oslo.", "ext": {"mask_num": 2, "masks": ["Oslo", "Oslo"], "entities": ["Oslo"], "source": "wiki", "title": "X"}}"#,
            "\n",
            "not json\n"
        );
        let stats = RampStats::from_reader(original.as_bytes());
        assert_eq!(stats.samples, 2);
        assert_eq!(stats.masks.get(&2), Some(&2));
        assert_eq!(stats.restorable, 1);
        assert_eq!(stats.mask_count_matches, 1);
        assert_eq!(stats.mask_kinds.get("unknown"), Some(&4));
        assert_eq!(stats.bad_records, 1);
        let table = stats.render();
        assert!(table.contains("restores its answer"), "{table}");
    }

    #[test]
    fn run_counters_render_grouped() {
        let mut stats = RampStats::default();
        stats.count(counter::INPUT_RECORDS, 10);
        stats.skip(Skip::NoCandidates);
        stats.skip(Skip::NoCandidates);
        stats.count(counter::LLM_ANSWERS, 4);
        stats.count(counter::LLM_VALID_LISTS, 1);
        let table = stats.render();
        assert!(table.contains("no_candidates"), "{table}");
        assert!(table.contains("valid lists"), "{table}");
        assert!(table.contains(" 25.0%"), "{table}");
    }
}
