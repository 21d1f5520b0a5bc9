//! Records an export leaves out, counted by reason, with where the first bad ones were.

use std::{collections::BTreeMap, fmt, path::Path};

/// Why a record was not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// Not a record of the expected shape (not JSON, or missing fields).
    Malformed,
    /// A trajectory that never gave an answer.
    NoAnswer,
    /// A trajectory whose record and transcript do not line up as alternating turns.
    Inconsistent,
    /// An example whose assistant turns, read by the student runtime's parser, would not ask
    /// for the searches whose results follow them (or would be cut short): training on it
    /// teaches what the runtime cannot reproduce.
    NotReplayable,
    /// A RAMP sample without masks.
    NoMasks,
    /// A rejected trajectory.
    NotAccepted,
    /// Left out by the correctness filter.
    NotCorrect,
    /// Left out by the teacher filter.
    OtherTeacher,
    /// Left out by the round filter.
    OtherRound,
    /// Left out by the turn limit.
    TooManyTurns,
    /// A sample id already exported from an earlier record.
    Duplicate,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Malformed => "malformed",
            Skip::NoAnswer => "no_answer",
            Skip::Inconsistent => "inconsistent",
            Skip::NotReplayable => "not_replayable",
            Skip::NoMasks => "no_masks",
            Skip::NotAccepted => "not_accepted",
            Skip::NotCorrect => "not_correct",
            Skip::OtherTeacher => "other_teacher",
            Skip::OtherRound => "other_round",
            Skip::TooManyTurns => "too_many_turns",
            Skip::Duplicate => "duplicate",
        }
    }

    /// Whether the record itself is faulty (as opposed to left out by a filter or dedup); the
    /// first few of these are reported with their line.
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            Skip::Malformed
                | Skip::NoAnswer
                | Skip::Inconsistent
                | Skip::NotReplayable
                | Skip::NoMasks
        )
    }
}

/// Skips by reason, and `path:line: reason: detail` for the first [`Skips::EXAMPLES`] bad records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skips {
    counts: BTreeMap<Skip, u64>,
    examples: Vec<String>,
}

impl Skips {
    /// How many bad records are reported by line.
    pub const EXAMPLES: usize = 5;

    pub(crate) fn add(&mut self, skip: Skip, path: &Path, line: u64, detail: &str) {
        *self.counts.entry(skip).or_default() += 1;
        if skip.is_bad_input() && self.examples.len() < Self::EXAMPLES {
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            };
            self.examples.push(format!(
                "{}:{line}: {}{detail}",
                path.display(),
                skip.as_str()
            ));
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn count(&self, skip: Skip) -> u64 {
        self.counts.get(&skip).copied().unwrap_or(0)
    }

    /// Each reason with its count, in a fixed order.
    pub fn counts(&self) -> impl Iterator<Item = (Skip, u64)> + '_ {
        self.counts.iter().map(|(s, n)| (*s, *n))
    }

    /// The counts as a manifest holds them: `skipped_<reason>`.
    pub fn manifest_counts(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        self.counts()
            .map(|(s, n)| (format!("skipped_{}", s.as_str()), n))
    }

    /// Where the first bad records are, `path:line: reason[: detail]`.
    pub fn examples(&self) -> &[String] {
        &self.examples
    }
}

/// `malformed 2, duplicate 1`, or `none`.
impl fmt::Display for Skips {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.counts.is_empty() {
            return f.write_str("none skipped");
        }
        let parts: Vec<String> = self
            .counts()
            .map(|(s, n)| format!("{} {n}", s.as_str()))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_skip_and_locates_only_the_first_bad_records() {
        let mut skips = Skips::default();
        for line in 1..=7 {
            skips.add(
                Skip::Malformed,
                Path::new("in.jsonl"),
                line,
                "expected value",
            );
        }
        skips.add(Skip::Duplicate, Path::new("in.jsonl"), 8, "");
        assert_eq!(skips.total(), 8);
        assert_eq!(skips.count(Skip::Malformed), 7);
        assert_eq!(skips.examples().len(), Skips::EXAMPLES);
        assert_eq!(skips.examples()[0], "in.jsonl:1: malformed: expected value");
        assert_eq!(skips.to_string(), "malformed 7, duplicate 1");
        assert_eq!(Skips::default().to_string(), "none skipped");
    }
}
