//! How many masks a sample gets: its curriculum level.
//!
//! Two curricula:
//! - a **mix** (the default is `balanced`: equal shares of 1, 2, 3 and 4 masks; any other is
//!   written `1:0.4,2:0.3,…`, and a fixed count N is the mix `N:1`). Levels are assigned
//!   deterministically in input order by largest deficit: each passage gets, among the levels
//!   it can hold, the one whose share of the samples written so far lags its target most (ties
//!   to the lower level). A passage that can hold only levels already over target still gets
//!   one of them: no passage is wasted, and the mix is exact whenever passages allow it. A
//!   level depends on the samples before it, so a shard follows the mix within itself;
//! - **original**, the rule of `gen_qa.py`, to reproduce its distribution: with n candidates,
//!   1–2 candidates draw a level uniformly from 1..=n, 3 candidates give 3 (its `3..=min(n, 4)`),
//!   4 or more give exactly 4. Here n is the passage's capacity (non-overlapping candidates, at
//!   most 4), and the draw comes from the passage's own random stream, so a level depends on
//!   nothing else.

use std::{fmt, str::FromStr};

use rand::{Rng, SeedableRng};

use crate::RampError;

/// The highest level: the paper uses 1 to 4 masks.
pub const MAX_LEVEL: usize = 4;

/// Target shares of each mask count.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelMix {
    /// `weights[k - 1]` is the share of level k (normalised to sum to 1).
    weights: [f64; MAX_LEVEL],
}

impl LevelMix {
    /// Every sample gets exactly `n` masks.
    pub fn fixed(n: usize) -> Result<Self, RampError> {
        if !(1..=MAX_LEVEL).contains(&n) {
            return Err(RampError::BadMaskCount {
                got: n,
                max: MAX_LEVEL,
            });
        }
        let mut weights = [0.0; MAX_LEVEL];
        weights[n - 1] = 1.0;
        Ok(LevelMix { weights })
    }

    /// Equal shares of levels 1 to 4.
    pub fn balanced() -> Self {
        LevelMix {
            weights: [1.0 / MAX_LEVEL as f64; MAX_LEVEL],
        }
    }
}

impl FromStr for LevelMix {
    type Err = RampError;
    /// Parses `1:0.25,2:0.25,3:0.5` (level:share, shares normalised).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| RampError::BadCurriculum {
            spec: s.to_string(),
            reason,
        };
        let mut weights = [0.0; MAX_LEVEL];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (level, share) = part
                .split_once(':')
                .ok_or_else(|| bad("expected level:share"))?;
            let level: usize = level
                .trim()
                .parse()
                .map_err(|_| bad("level is not a number"))?;
            let share: f64 = share
                .trim()
                .parse()
                .map_err(|_| bad("share is not a number"))?;
            if !(1..=MAX_LEVEL).contains(&level) {
                return Err(bad("levels are 1 to 4"));
            }
            if !(share.is_finite() && share >= 0.0) {
                return Err(bad("shares must be non-negative"));
            }
            weights[level - 1] += share;
        }
        let sum: f64 = weights.iter().sum();
        if sum <= 0.0 {
            return Err(bad("no level has a positive share"));
        }
        Ok(LevelMix {
            weights: weights.map(|w| w / sum),
        })
    }
}

impl fmt::Display for LevelMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0.0)
            .map(|(i, w)| format!("{}:{}", i + 1, (w * 1e6).round() / 1e6))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// How levels are chosen (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum LevelRule {
    Mix(LevelMix),
    Original,
}

impl Default for LevelRule {
    /// The balanced mix.
    fn default() -> Self {
        LevelRule::Mix(LevelMix::balanced())
    }
}

impl FromStr for LevelRule {
    type Err = RampError;
    /// `original`, `balanced`, or a mix such as `1:0.5,4:0.5`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "original" => Ok(LevelRule::Original),
            "balanced" => Ok(LevelRule::default()),
            mix => mix.parse().map(LevelRule::Mix),
        }
    }
}

impl fmt::Display for LevelRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LevelRule::Mix(mix) => mix.fmt(f),
            LevelRule::Original => f.write_str("original"),
        }
    }
}

/// The running tally of a run: which level the next passage gets.
#[derive(Debug, Clone)]
pub struct Levels {
    curriculum: LevelRule,
    seed: u64,
    counts: [u64; MAX_LEVEL],
}

impl Levels {
    /// A tally with nothing written yet; `seed` is the run seed (for the original rule).
    pub fn new(curriculum: &LevelRule, seed: u64) -> Self {
        Levels {
            curriculum: curriculum.clone(),
            seed,
            counts: [0; MAX_LEVEL],
        }
    }

    /// Counts a sample written at `level` (used when resuming from existing output).
    pub fn record(&mut self, level: usize) {
        if let Some(c) = level.checked_sub(1).and_then(|i| self.counts.get_mut(i)) {
            *c += 1;
        }
    }

    /// The level for passage `passage_id`, which can hold up to `capacity` masks, counted as
    /// written; `None` if no wanted level fits.
    pub fn assign(&mut self, capacity: usize, passage_id: &str) -> Option<usize> {
        let level = match &self.curriculum {
            LevelRule::Mix(mix) => self.largest_deficit(&mix.weights, capacity),
            LevelRule::Original => original_level(capacity, self.seed, passage_id),
        }?;
        self.record(level);
        Some(level)
    }

    fn largest_deficit(&self, weights: &[f64; MAX_LEVEL], capacity: usize) -> Option<usize> {
        let total = self.counts.iter().sum::<u64>() as f64 + 1.0;
        let mut best: Option<(usize, f64)> = None;
        for (i, &w) in weights.iter().enumerate().take(capacity) {
            if w <= 0.0 {
                continue;
            }
            let deficit = w * total - self.counts[i] as f64;
            if best.is_none_or(|(_, d)| deficit > d + 1e-12) {
                best = Some((i, deficit));
            }
        }
        best.map(|(i, _)| i + 1)
    }
}

/// The original rule (see the module docs), drawing from stream 1 of the passage's ChaCha8
/// generator (stream 0 chooses the masks).
fn original_level(capacity: usize, seed: u64, passage_id: &str) -> Option<usize> {
    let n = capacity.min(MAX_LEVEL);
    match n {
        0 => None,
        1 | 2 => {
            let mut rng =
                rand_chacha::ChaCha8Rng::seed_from_u64(formats::seed_for(seed, passage_id));
            rng.set_stream(1);
            Some(rng.random_range(1..=n))
        }
        // gen_qa.py draws from 3..=min(n, 4), which is 3 for three candidates.
        3 => Some(3),
        _ => Some(MAX_LEVEL),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(curriculum: &str) -> Levels {
        Levels::new(&curriculum.parse().unwrap(), 7)
    }

    #[test]
    fn balanced_mix_is_exact_when_passages_allow() {
        let mut l = levels("balanced");
        let got: Vec<usize> = (0..8).map(|_| l.assign(4, "p").unwrap()).collect();
        assert_eq!(got, [1, 2, 3, 4, 1, 2, 3, 4]);
    }

    #[test]
    fn capacity_limits_the_level_but_wastes_nothing() {
        let mut l = levels("balanced");
        assert_eq!(l.assign(1, "a"), Some(1));
        assert_eq!(l.assign(1, "b"), Some(1));
        assert_eq!(l.assign(4, "c"), Some(2));
        assert_eq!(l.assign(0, "d"), None);
    }

    #[test]
    fn fixed_count_skips_small_passages() {
        let mut l = Levels::new(&LevelRule::Mix(LevelMix::fixed(3).unwrap()), 7);
        assert_eq!(l.assign(2, "a"), None);
        assert_eq!(l.assign(4, "b"), Some(3));
        assert!(matches!(
            LevelMix::fixed(5),
            Err(RampError::BadMaskCount { got: 5, max: 4 })
        ));
    }

    #[test]
    fn original_rule() {
        let mut l = levels("original");
        for i in 0..200 {
            let id = format!("p{i}");
            assert_eq!(l.assign(0, &id), None);
            assert_eq!(l.assign(1, &id), Some(1));
            assert_eq!(l.assign(3, &id), Some(3));
            assert_eq!(l.assign(4, &id), Some(4));
        }
        // Two candidates: 1 or 2, about half each, the same for a passage every time.
        let twos: Vec<usize> = (0..1000)
            .map(|i| l.assign(2, &format!("p{i}")).unwrap())
            .collect();
        let ones = twos.iter().filter(|&&k| k == 1).count();
        assert!((400..600).contains(&ones), "{ones} of 1000");
        assert_eq!(l.assign(2, "p0"), Some(twos[0]));
        // The level does not depend on what came before.
        assert_eq!(levels("original").assign(2, "p0"), Some(twos[0]));
    }

    #[test]
    fn parses_and_prints() {
        let mix: LevelRule = "1:1,3:3".parse().unwrap();
        assert_eq!(mix.to_string(), "1:0.25,3:0.75");
        assert_eq!(
            LevelRule::default().to_string(),
            "1:0.25,2:0.25,3:0.25,4:0.25"
        );
        assert_eq!(
            "balanced".parse::<LevelRule>().unwrap(),
            LevelRule::default()
        );
        assert_eq!(
            "original".parse::<LevelRule>().unwrap().to_string(),
            "original"
        );
        for bad in ["", "5:1", "1:-1", "x:1", "1", "1:0", "originals"] {
            assert!(
                matches!(
                    bad.parse::<LevelRule>(),
                    Err(RampError::BadCurriculum { .. })
                ),
                "{bad}"
            );
        }
    }
}
