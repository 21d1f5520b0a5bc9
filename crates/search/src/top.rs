//! The `k` best of a stream of scored positions, as every engine here ranks them: a higher score
//! first and, of equal scores, the earlier position (a document number, a row), so a ranking does
//! not depend on the order the candidates came in.

use std::{cmp::Ordering, cmp::Reverse, collections::BinaryHeap};

/// A score and the position it belongs to, ordered from worse to better.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored<P> {
    pub score: f32,
    pub position: P,
}

impl<P: Ord> Eq for Scored<P> {}

impl<P: Ord> Ord for Scored<P> {
    /// Greater is better: a higher score, or the same score at an earlier position.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.position.cmp(&self.position))
    }
}

impl<P: Ord> PartialOrd for Scored<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The best `k` of the positions offered, with the score a newcomer must beat.
#[derive(Debug)]
pub struct TopK<P> {
    /// The worst on top.
    heap: BinaryHeap<Reverse<Scored<P>>>,
    k: usize,
    floor: f32,
}

impl<P: Ord + Copy> TopK<P> {
    pub fn new(k: usize) -> TopK<P> {
        TopK {
            heap: BinaryHeap::with_capacity(k + 1),
            k,
            floor: f32::NEG_INFINITY,
        }
    }

    /// The `k`-th best score once `k` are held (a score below it cannot enter); until then −∞.
    #[inline]
    pub fn floor(&self) -> f32 {
        self.floor
    }

    /// Keeps `position` if it is among the best `k` so far.
    #[inline]
    pub fn offer(&mut self, score: f32, position: P) {
        let candidate = Scored { score, position };
        if self.heap.len() < self.k {
            self.heap.push(Reverse(candidate));
        } else if self.heap.peek().is_some_and(|worst| candidate > worst.0) {
            self.heap.pop();
            self.heap.push(Reverse(candidate));
        }
        if self.heap.len() == self.k {
            self.floor = self.heap.peek().map_or(self.floor, |worst| worst.0.score);
        }
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<Scored<P>> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(scored)| scored)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_k_are_kept_best_first_and_ties_go_to_the_earlier_position() {
        let mut top = TopK::new(3);
        assert_eq!(top.floor(), f32::NEG_INFINITY);
        for (score, position) in [
            (1.0, 7u32),
            (3.0, 9),
            (2.0, 4),
            (3.0, 2),
            (2.0, 1),
            (0.5, 0),
        ] {
            top.offer(score, position);
        }
        assert_eq!(top.floor(), 2.0);
        let kept: Vec<(f32, u32)> = top
            .into_sorted()
            .iter()
            .map(|s| (s.score, s.position))
            .collect();
        assert_eq!(kept, [(3.0, 2), (3.0, 9), (2.0, 1)]);
        assert!(TopK::<u32>::new(0).into_sorted().is_empty());
    }
}
