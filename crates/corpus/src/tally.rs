//! What a read produced and what it skipped, and why: nothing is dropped without being counted.

use std::{collections::BTreeMap, fmt};

/// Why an input record produced no passage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSkip {
    /// A redirect page (`<redirect>` or `#REDIRECT` / localised `#đổi`).
    Redirect,
    /// A disambiguation page (`{{disambiguation}}`, `{{hndis}}`, `{{trang định hướng}}`, …).
    Disambiguation,
    /// A page outside the article namespace (templates, categories, project pages, …).
    Namespace,
    /// A record whose text is empty once markup is removed.
    Empty,
    /// A JSONL line that is not valid JSON or lacks a needed field.
    Malformed,
    /// A page that cannot be read: invalid XML, not UTF-8, unreadable file.
    Invalid,
    /// The input stops in the middle (a cut download, a damaged `.bz2`).
    Truncated,
}

/// The word used in summary lines and manifest counts (`redirect`, `truncated`, …).
impl fmt::Display for PageSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageSkip::Redirect => "redirect",
            PageSkip::Disambiguation => "disambiguation",
            PageSkip::Namespace => "namespace",
            PageSkip::Empty => "empty",
            PageSkip::Malformed => "malformed",
            PageSkip::Invalid => "invalid",
            PageSkip::Truncated => "truncated",
        })
    }
}

/// Counts for one or more inputs. Invariant: `pages == kept() + skipped_total()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Input records read: pages, or passages for inputs that are already passages. A cut at
    /// the end of a dump counts as one (truncated) record.
    pub pages: u64,
    /// Passages produced.
    pub passages: u64,
    pub skipped: BTreeMap<PageSkip, u64>,
}

impl Tally {
    /// Records that produced at least one passage.
    pub fn kept(&self) -> u64 {
        self.pages - self.skipped_total()
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// How many records were skipped for `reason`.
    pub fn skipped(&self, reason: PageSkip) -> u64 {
        self.skipped.get(&reason).copied().unwrap_or(0)
    }

    pub(crate) fn skip(&mut self, reason: PageSkip) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Adds another input's counts to these.
    pub fn merge(&mut self, other: &Tally) {
        self.pages += other.pages;
        self.passages += other.passages;
        for (&reason, &n) in &other.skipped {
            *self.skipped.entry(reason).or_default() += n;
        }
    }

    /// The counts as flat `name → number` pairs, for run manifests.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::from([
            ("pages".to_string(), self.pages),
            ("passages".to_string(), self.passages),
        ]);
        for (reason, &n) in &self.skipped {
            counts.insert(format!("skipped_{reason}"), n);
        }
        counts
    }
}

/// `971 pages (205 kept) → 4,123 passages; skipped 766 (namespace 610, redirect 154, …)`, the
/// reasons by decreasing count.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pages ({} kept) → {} passages",
            thousands(self.pages),
            thousands(self.kept()),
            thousands(self.passages)
        )?;
        let mut reasons: Vec<_> = self.skipped.iter().filter(|&(_, &n)| n > 0).collect();
        if reasons.is_empty() {
            return f.write_str("; skipped 0");
        }
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let list: Vec<String> = reasons
            .iter()
            .map(|&(r, &n)| format!("{r} {}", thousands(n)))
            .collect();
        write!(
            f,
            "; skipped {} ({})",
            thousands(self.skipped_total()),
            list.join(", ")
        )
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_orders_reasons_by_count() {
        let mut s = Tally {
            pages: 1_204,
            passages: 4_123,
            ..Tally::default()
        };
        for _ in 0..290 {
            s.skip(PageSkip::Redirect);
        }
        s.skip(PageSkip::Truncated);
        for _ in 0..12 {
            s.skip(PageSkip::Disambiguation);
        }
        assert_eq!(
            s.to_string(),
            "1,204 pages (901 kept) → 4,123 passages; skipped 303 (redirect 290, disambiguation 12, truncated 1)"
        );
        assert_eq!(s.counts()["skipped_truncated"], 1);
    }

    #[test]
    fn summary_without_skips_and_merge() {
        let mut a = Tally {
            pages: 1000,
            passages: 1000,
            ..Tally::default()
        };
        assert_eq!(
            a.to_string(),
            "1,000 pages (1,000 kept) → 1,000 passages; skipped 0"
        );
        let mut b = Tally {
            pages: 2,
            passages: 0,
            ..Tally::default()
        };
        b.skip(PageSkip::Malformed);
        b.skip(PageSkip::Empty);
        a.merge(&b);
        assert_eq!(a.pages, 1002);
        assert_eq!(a.kept(), 1000);
        assert_eq!(a.skipped(PageSkip::Malformed), 1);
    }

    #[test]
    fn thousands_separators() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (21_015_324, "21,015,324"),
        ] {
            assert_eq!(thousands(n), s);
        }
    }
}
