//! Counters of a RAMP run and of any RAMP file, and the table that shows them.
//!
//! Two kinds of numbers: what the *records* say (samples, the mask-count histogram, masks by
//! span type, common-word masks, difficulty, whether each record restores its answer) —
//! computed from any RAMP JSONL, including the original `gen_qa.py` output without our extra
//! fields — and what only the *run* knows (passages read, skips by reason, candidates by type,
//! LLM answer quality), kept in the run's manifest as flat counters.

use std::{borrow::Cow, collections::BTreeMap, fmt::Write as _, path::Path};

use formats::{RampSample, RunManifest};
use serde_json::Value;

use crate::{
    RampError,
    lexicon::{COMMON_WORDS, Lexicon, LexiconBuilder},
    mask::{MASK, SampleSkip, fill_masks},
};

/// Every counter of a run or a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    // From the records.
    pub samples: u64,
    /// Samples by `ext.mask_num`.
    pub masks: BTreeMap<u64, u64>,
    /// Masks by span type (`ext.mask_kinds`; `unknown` for files without it).
    pub mask_kinds: BTreeMap<String, u64>,
    /// Masks that are common-word masks ([`Lexicon::is_common_word_mask`]), counted when
    /// `common_words` says which words are common.
    pub common_word_masks: u64,
    pub common_words: Option<CommonWordsOf>,
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

/// Which documents the common words of [`Tally::common_word_masks`] were counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonWordsOf {
    /// The run's input corpus (all shards), this many passages.
    Corpus(u64),
    /// The answers of the file itself (each a corpus passage), this many.
    Answers(u64),
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
    pub const DIFFICULTY_FAILED: &str = "difficulty.failed";
    /// Prefixes: `skipped.<reason>`, `candidates.<kind>`, `llm.rejected.<reason>`.
    pub const SKIPPED: &str = "skipped.";
    pub const CANDIDATES: &str = "candidates.";
    pub const LLM_REJECTED: &str = "llm.rejected.";
}

/// The fields of one record the stats read, from our samples or any RAMP JSON.
struct Record<'a> {
    query: &'a str,
    answer: &'a str,
    /// `ext.mask_num` when the record has it.
    mask_num: Option<u64>,
    masks: Vec<Cow<'a, str>>,
    /// Parallel to `masks`; empty when the record does not say.
    kinds: Vec<&'a str>,
    title_prefixed: bool,
    difficulty: Option<f64>,
}

impl<'a> Record<'a> {
    fn from_sample(s: &'a RampSample) -> Self {
        Record {
            query: &s.query,
            answer: &s.answer,
            mask_num: Some(s.ext.mask_num as u64),
            masks: s
                .ext
                .masks
                .iter()
                .map(|m| Cow::Borrowed(m.as_str()))
                .collect(),
            kinds: s.ext.mask_kinds.iter().map(String::as_str).collect(),
            title_prefixed: s.ext.title_prefixed,
            difficulty: s.ext.difficulty,
        }
    }

    fn from_value(record: &'a Value) -> Option<Self> {
        let query = record.get("query")?.as_str()?;
        let answer = record.get("answer")?.as_str()?;
        let ext = record.get("ext")?;
        let masks = ext
            .get("masks")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .map(|x| {
                        x.as_str()
                            .map_or_else(|| Cow::Owned(x.to_string()), Cow::Borrowed)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let kinds = ext
            .get("mask_kinds")
            .and_then(Value::as_array)
            .map(|k| k.iter().map(|x| x.as_str().unwrap_or("unknown")).collect())
            .unwrap_or_default();
        Some(Record {
            query,
            answer,
            mask_num: ext.get("mask_num").and_then(Value::as_u64),
            masks,
            kinds,
            title_prefixed: ext.get("title_prefixed").and_then(Value::as_bool) == Some(true),
            difficulty: ext.get("difficulty").and_then(Value::as_f64),
        })
    }
}

impl Tally {
    /// Adds a run counter.
    pub fn count(&mut self, name: &str, n: u64) {
        if n > 0 {
            *self.run.entry(name.to_string()).or_default() += n;
        }
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

    pub fn skip(&mut self, reason: SampleSkip) {
        self.count(&format!("{}{}", counter::SKIPPED, reason.as_str()), 1);
    }

    /// Adds one sample of a run; `lexicon` (the corpus's) decides which masks are common words.
    pub fn add_sample(&mut self, sample: &RampSample, lexicon: Option<&Lexicon>) {
        self.add(&Record::from_sample(sample), lexicon);
    }

    /// Adds one record, in our format or the original's.
    pub fn add_record(&mut self, record: &Value, lexicon: Option<&Lexicon>) {
        match Record::from_value(record) {
            Some(r) => self.add(&r, lexicon),
            None => self.bad_records += 1,
        }
    }

    fn add(&mut self, record: &Record<'_>, lexicon: Option<&Lexicon>) {
        let visible = record
            .query
            .rsplit_once("\n\n")
            .map_or(record.query, |(m, _)| m)
            .matches(MASK)
            .count() as u64;
        let mask_num = record.mask_num.unwrap_or(visible);
        self.samples += 1;
        *self.masks.entry(mask_num).or_default() += 1;
        if visible == mask_num {
            self.mask_count_matches += 1;
        }
        if fill_masks(record.query, &record.masks).as_deref() == Some(record.answer) {
            self.restorable += 1;
        }
        for (i, mask) in record.masks.iter().enumerate() {
            let kind = record.kinds.get(i).copied().unwrap_or("unknown");
            *self.mask_kinds.entry(kind.to_string()).or_default() += 1;
            if lexicon.is_some_and(|l| l.is_common_word_mask(mask)) {
                self.common_word_masks += 1;
            }
        }
        if record.title_prefixed {
            self.title_prefixed += 1;
        }
        if let Some(d) = record.difficulty {
            self.difficulty_sum += d;
            self.difficulty_n += 1;
        }
    }

    /// Reads every record of a RAMP JSONL file, and the run counters of its manifest if one
    /// is beside it. Common words are counted over the file's own answers (a first pass), so
    /// any RAMP file can be judged without its corpus.
    pub fn from_file(path: &Path) -> Result<Tally, RampError> {
        let lexicon = answers_lexicon(path)?;
        let mut stats = Tally {
            common_words: Some(CommonWordsOf::Answers(lexicon.documents())),
            ..Tally::default()
        };
        for record in formats::read_jsonl::<Value>(path)? {
            match record {
                Ok(v) => stats.add_record(&v, Some(&lexicon)),
                Err(formats::FormatError::BadLine { .. }) => stats.bad_records += 1,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(m) = RunManifest::load(&RunManifest::path_for(path))? {
            stats.run = m.counts;
        }
        Ok(stats)
    }

    /// The stats table shown at the end of a run and by `masksearch ramp stats`.
    pub fn render(&self) -> String {
        let mut out = String::new();
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
        if let Some(of) = self.common_words {
            let _ = writeln!(
                out,
                "{:<28}{:>10}  {:>5.1}%",
                "common-word masks",
                self.common_word_masks,
                pct(self.common_word_masks, total_masks)
            );
            let of = match of {
                CommonWordsOf::Corpus(n) => format!("the corpus's {n} passages"),
                CommonWordsOf::Answers(n) => format!("this file's {n} answers"),
            };
            let _ = writeln!(
                out,
                "  (1-2 lower-case words, each among the {COMMON_WORDS} most document-frequent words of {of})"
            );
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
            row(&mut out, "answers", answers, None);
            row(&mut out, "valid lists", valid, Some(answers));
            row(&mut out, "entities proposed", proposed, None);
            row(&mut out, "entities accepted", accepted, Some(proposed));
            for (reason, n) in self.run_prefixed(counter::LLM_REJECTED) {
                let _ = writeln!(out, "    rejected: {reason:<14}{n:>10}");
            }
        }
        if self.difficulty_n > 0 {
            let mean = self.difficulty_sum / self.difficulty_n as f64;
            let _ = writeln!(out, "{:<28}{mean:>10.3}", "difficulty (NLL/token)");
        }
        let _ = writeln!(out, "checks");
        row(
            &mut out,
            "restores its answer",
            self.restorable,
            Some(self.samples),
        );
        let matches = self.mask_count_matches;
        row(
            &mut out,
            "[mask] count = mask_num",
            matches,
            Some(self.samples),
        );
        if self.title_prefixed > 0 {
            row(&mut out, "title line prefixed", self.title_prefixed, None);
        }
        if self.bad_records > 0 {
            row(&mut out, "not RAMP records", self.bad_records, None);
        }
        out
    }
}

/// `n` as a percentage of `of` (0 of nothing).
fn pct(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

/// One indented line of the report: a label, a count, and its share of `of` when given.
fn row(out: &mut String, label: &str, n: u64, of: Option<u64>) {
    let _ = match of {
        Some(of) => writeln!(out, "  {label:<26}{n:>10}  {:>5.1}%", pct(n, of)),
        None => writeln!(out, "  {label:<26}{n:>10}"),
    };
}

/// Common words of the answers of a RAMP file (each answer is a corpus passage).
fn answers_lexicon(path: &Path) -> Result<Lexicon, RampError> {
    const BATCH: usize = 4096;
    let mut builder = LexiconBuilder::default();
    let mut batch: Vec<String> = Vec::with_capacity(BATCH);
    for record in formats::read_jsonl::<Value>(path)? {
        let record = match record {
            Ok(v) => v,
            Err(formats::FormatError::BadLine { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some(answer) = record.get("answer").and_then(Value::as_str) {
            batch.push(answer.to_string());
        }
        if batch.len() == BATCH {
            builder.add_batch(&batch);
            batch.clear();
        }
    }
    builder.add_batch(&batch);
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_text(text: &str) -> Tally {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ramp.jsonl");
        std::fs::write(&path, text).unwrap();
        Tally::from_file(&path).unwrap()
    }

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
        let stats = from_text(original);
        assert_eq!(stats.samples, 2);
        assert_eq!(stats.masks.get(&2), Some(&2));
        assert_eq!(stats.restorable, 1);
        assert_eq!(stats.mask_count_matches, 1);
        assert_eq!(stats.mask_kinds.get("unknown"), Some(&4));
        assert_eq!(stats.bad_records, 1);
        let table = stats.render();
        assert!(table.contains("restores its answer"), "{table}");
    }

    /// A mask is a common word when it is lower-case and its words are in at least two of the
    /// file's answers (the file has fewer than 5,000 words, so every such word is common).
    #[test]
    fn common_word_masks_are_counted_over_the_answers() {
        let record = |answer: &str, mask: &str| {
            let query = answer.replacen(mask, MASK, 1) + "\n\ninstruction";
            serde_json::json!({"query": query, "answer": answer,
                "ext": {"mask_num": 1, "masks": [mask], "entities": [mask], "source": "wiki", "title": "T"}})
            .to_string()
                + "\n"
        };
        let text = [
            record("The family lived in Oslo.", "family"),
            record("The family lived in Bergen.", "Bergen"),
            record("A quokka lived in the family home.", "quokka"),
            record("It lived in a family way.", "lived in"),
        ]
        .concat();
        let stats = from_text(&text);
        assert_eq!(stats.common_words, Some(CommonWordsOf::Answers(4)));
        // "family" and "lived in": common; "Bergen": capitalised; "quokka": in one answer only.
        assert_eq!(stats.common_word_masks, 2);
        let table = stats.render();
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("common-word masks") && l.ends_with(" 50.0%")),
            "{table}"
        );
        assert!(table.contains("this file's 4 answers"), "{table}");
    }

    #[test]
    fn run_counters_render_grouped() {
        let mut stats = Tally::default();
        stats.count(counter::INPUT_RECORDS, 10);
        stats.skip(SampleSkip::NoCandidates);
        stats.skip(SampleSkip::NoCandidates);
        stats.count(counter::LLM_ANSWERS, 4);
        stats.count(counter::LLM_VALID_LISTS, 1);
        let table = stats.render();
        assert!(table.contains("no_candidates"), "{table}");
        assert!(table.contains("valid lists"), "{table}");
        assert!(table.contains(" 25.0%"), "{table}");
        assert!(!table.contains("common-word masks"), "{table}");
    }
}
