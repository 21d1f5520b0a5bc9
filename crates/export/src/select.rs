//! Which trajectories an SFT export keeps: filters, dedup by sample id, and the seeded split
//! that both exports use.

use std::collections::HashSet;

use formats::{TaskKind, Teacher, Trajectory};

use crate::Skip;

/// The filters of an SFT export; the default keeps every accepted trajectory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Keep only trajectories whose verdict says correct ([`is_correct`]).
    pub only_correct: bool,
    /// Keep only these teachers (all when empty).
    pub teachers: Vec<Teacher>,
    /// Keep only these self-evolution rounds (all when empty).
    pub rounds: Vec<u32>,
    /// Keep only trajectories with at most this many searches.
    pub max_turns: Option<usize>,
}

impl Selection {
    /// `Ok` when `t` passes every filter, else the first filter it fails.
    pub(crate) fn check(&self, t: &Trajectory) -> Result<(), Skip> {
        if self.only_correct && !is_correct(t) {
            return Err(Skip::NotCorrect);
        }
        if !self.teachers.is_empty() && !self.teachers.contains(&t.teacher) {
            return Err(Skip::OtherTeacher);
        }
        if !self.rounds.is_empty() && !self.rounds.contains(&t.round) {
            return Err(Skip::OtherRound);
        }
        if self.max_turns.is_some_and(|max| search_rounds(t) > max) {
            return Err(Skip::TooManyTurns);
        }
        Ok(())
    }
}

/// Whether the verdict says the answer is right: the LLM judge's word when it was asked;
/// otherwise every mask recovered (RAMP) or an exact match (questions).
pub fn is_correct(t: &Trajectory) -> bool {
    if let Some(judge) = t.verdict.judge {
        return judge;
    }
    match t.task.kind {
        TaskKind::Ramp => {
            !t.verdict.masks_recovered.is_empty() && t.verdict.masks_recovered.iter().all(|&r| r)
        }
        TaskKind::Qa => t.verdict.scores.get("em").is_some_and(|&em| em >= 1.0),
    }
}

/// The searches in a trajectory: the `function` messages of its chatml record.
pub fn search_rounds(t: &Trajectory) -> usize {
    t.chatml
        .messages
        .iter()
        .filter(|m| m.role == "function")
        .count()
}

/// Sample ids already exported. Holds a 64-bit hash per id (8 bytes, not the id), so a
/// million trajectories cost megabytes; two ids colliding has odds near 10⁻⁷ at that size.
#[derive(Debug, Default)]
pub(crate) struct Seen(HashSet<u64>);

impl Seen {
    /// True the first time `id` is offered.
    pub(crate) fn first(&mut self, id: &str) -> bool {
        self.0.insert(formats::seed_for(0, id))
    }
}

/// Whether record `id` belongs to the held-out part (validation for SFT, test for RL): a pure
/// function of the seed and the id, so the split does not depend on input order, files or
/// filters, and a record keeps its side across re-exports. About `share` of the ids are held out.
pub fn held_out(seed: u64, id: &str, share: f64) -> bool {
    if share <= 0.0 {
        return false;
    }
    let draw = (formats::seed_for(seed, id) >> 11) as f64 / (1u64 << 53) as f64;
    draw < share
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::trajectory;

    #[test]
    fn correctness_is_the_judges_word_else_the_metric() {
        let mut t = trajectory("a", 1);
        assert!(is_correct(&t));
        t.verdict.masks_recovered = vec![true, false];
        assert!(!is_correct(&t));
        t.verdict.judge = Some(true);
        assert!(is_correct(&t), "the judge overrides the metric");
        t.verdict.judge = Some(false);
        t.verdict.masks_recovered = vec![true];
        assert!(!is_correct(&t));
        t.verdict.judge = None;
        t.task.kind = TaskKind::Qa;
        assert!(!is_correct(&t), "a question without EM is not correct");
        t.verdict.scores.insert("em".into(), 1.0);
        assert!(is_correct(&t));
    }

    #[test]
    fn each_filter_says_why_it_left_a_trajectory_out() {
        let t = trajectory("a", 3);
        let check = |s: Selection| s.check(&t);
        assert_eq!(check(Selection::default()), Ok(()));
        assert_eq!(
            check(Selection {
                teachers: vec![Teacher::MultiAgent],
                ..Default::default()
            }),
            Err(Skip::OtherTeacher)
        );
        assert_eq!(
            check(Selection {
                teachers: vec![Teacher::MultiAgent, Teacher::Rule],
                rounds: vec![1, 2],
                ..Default::default()
            }),
            Err(Skip::OtherRound)
        );
        assert_eq!(
            check(Selection {
                max_turns: Some(2),
                ..Default::default()
            }),
            Err(Skip::TooManyTurns)
        );
        assert_eq!(
            check(Selection {
                max_turns: Some(3),
                rounds: vec![0],
                ..Default::default()
            }),
            Ok(())
        );
        let mut wrong = trajectory("b", 1);
        wrong.verdict.masks_recovered = vec![false];
        let only_correct = Selection {
            only_correct: true,
            ..Default::default()
        };
        assert_eq!(only_correct.check(&wrong), Err(Skip::NotCorrect));
        assert_eq!(search_rounds(&t), 3);
    }

    #[test]
    fn dedup_keeps_the_first_of_each_id() {
        let mut seen = Seen::default();
        assert!(seen.first("x#0"));
        assert!(seen.first("x#1"));
        assert!(!seen.first("x#0"));
    }

    #[test]
    fn the_split_is_a_seeded_function_of_the_id() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("Page {i}#0")).collect();
        let held: Vec<bool> = ids.iter().map(|id| held_out(7, id, 0.1)).collect();
        let again: Vec<bool> = ids.iter().rev().map(|id| held_out(7, id, 0.1)).collect();
        assert_eq!(
            held,
            again.into_iter().rev().collect::<Vec<_>>(),
            "order-free"
        );
        let n = held.iter().filter(|&&h| h).count();
        assert!((800..1200).contains(&n), "{n} of 10000 held out at 10%");
        let other: Vec<bool> = ids.iter().map(|id| held_out(8, id, 0.1)).collect();
        assert_ne!(held, other, "another seed, another split");
        assert!(ids.iter().all(|id| !held_out(7, id, 0.0)));
        assert!(ids.iter().all(|id| held_out(7, id, 1.0)));
    }
}
