//! How many masks a sample gets: the curriculum level, chosen so the output follows a mix.
//!
//! The original drew almost every sample with 4 masks (4 whenever 4+ candidates existed). Here
//! the mix is explicit: `--mask-count N` makes every sample level N (passages that cannot hold
//! N non-overlapping masks are skipped), `--curriculum 1:0.25,2:0.25,3:0.25,4:0.25` (the
//! default) asks for those shares. Levels are assigned deterministically in input order by
//! largest deficit: each passage gets, among the levels it can hold, the one whose share of
//! the samples written so far lags its target most (ties to the lower level). A passage that
//! can hold only levels already over target still gets one of them: no passage is wasted, and
//! the mix is exact whenever passages allow it.

use std::{fmt, str::FromStr};

use crate::RampError;

/// The highest level: the paper uses 1 to 4 masks.
pub const MAX_LEVEL: usize = 4;

/// Target shares of each mask count, and the running tally that decides the next level.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelMix {
    /// `weights[k - 1]` is the share of level k (normalised to sum to 1).
    weights: Vec<f64>,
    counts: Vec<u64>,
}

impl LevelMix {
    /// Every sample gets exactly `n` masks.
    pub fn fixed(n: usize) -> Result<Self, RampError> {
        if !(1..=MAX_LEVEL).contains(&n) {
            return Err(RampError::Config(format!(
                "--mask-count must be 1 to {MAX_LEVEL}, got {n}"
            )));
        }
        let mut weights = vec![0.0; MAX_LEVEL];
        weights[n - 1] = 1.0;
        Ok(Self::with_weights(weights))
    }

    /// Equal shares of levels 1 to 4.
    pub fn uniform() -> Self {
        Self::with_weights(vec![1.0 / MAX_LEVEL as f64; MAX_LEVEL])
    }

    fn with_weights(weights: Vec<f64>) -> Self {
        LevelMix {
            counts: vec![0; weights.len()],
            weights,
        }
    }

    /// The highest level with a positive share.
    pub fn max_level(&self) -> usize {
        self.weights
            .iter()
            .rposition(|&w| w > 0.0)
            .map_or(0, |i| i + 1)
    }

    /// Counts a sample written at `level` (used when resuming from existing output).
    pub fn record(&mut self, level: usize) {
        if let Some(c) = level.checked_sub(1).and_then(|i| self.counts.get_mut(i)) {
            *c += 1;
        }
    }

    /// The level for a passage that can hold up to `capacity` masks, counted as written;
    /// `None` if no wanted level fits.
    pub fn assign(&mut self, capacity: usize) -> Option<usize> {
        let total = self.counts.iter().sum::<u64>() as f64 + 1.0;
        let mut best: Option<(usize, f64)> = None;
        for (i, &w) in self.weights.iter().enumerate().take(capacity) {
            if w <= 0.0 {
                continue;
            }
            let deficit = w * total - self.counts[i] as f64;
            if best.is_none_or(|(_, d)| deficit > d + 1e-12) {
                best = Some((i, deficit));
            }
        }
        let (i, _) = best?;
        self.counts[i] += 1;
        Some(i + 1)
    }
}

impl FromStr for LevelMix {
    type Err = RampError;
    /// Parses `1:0.25,2:0.25,3:0.5` (level:share, shares normalised).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| RampError::Config(format!("--curriculum {s:?}: {why}"));
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
        Ok(Self::with_weights(
            weights.iter().map(|w| w / sum).collect(),
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_mix_is_exact_when_passages_allow() {
        let mut mix = LevelMix::uniform();
        let levels: Vec<usize> = (0..8).map(|_| mix.assign(4).unwrap()).collect();
        assert_eq!(levels, [1, 2, 3, 4, 1, 2, 3, 4]);
    }

    #[test]
    fn capacity_limits_the_level_but_wastes_nothing() {
        let mut mix = LevelMix::uniform();
        assert_eq!(mix.assign(1), Some(1));
        assert_eq!(mix.assign(1), Some(1));
        assert_eq!(mix.assign(4), Some(2));
        assert_eq!(mix.assign(0), None);
    }

    #[test]
    fn fixed_count_skips_small_passages() {
        let mut mix = LevelMix::fixed(3).unwrap();
        assert_eq!(mix.assign(2), None);
        assert_eq!(mix.assign(4), Some(3));
        assert!(LevelMix::fixed(5).is_err());
    }

    #[test]
    fn parses_and_normalises() {
        let mix: LevelMix = "1:1,3:3".parse().unwrap();
        assert_eq!(mix.to_string(), "1:0.25,3:0.75");
        assert_eq!(mix.max_level(), 3);
        for bad in ["", "5:1", "1:-1", "x:1", "1", "1:0"] {
            assert!(bad.parse::<LevelMix>().is_err(), "{bad}");
        }
    }
}
