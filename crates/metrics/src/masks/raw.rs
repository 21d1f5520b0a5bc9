//! The first stage of [`score_masks_aligned`](super::score_masks_aligned): the masked passage's
//! text between the masks found verbatim in the prediction, and the fillers taken from between.
//!
//! Working on the raw text, a mask glued to its neighbours (`[mask]'s`, `US[mask]`,
//! `‘[mask]’`, `[mask]-based`) is cut exactly where the passage cuts it, which normalised tokens
//! cannot do (`"[mask]'s"` normalises to a separate `"s"`, the filled `"viola's"` to `"violas"`).

use std::ops::Range;

use super::occurs;
use crate::normalize::{normalize_answer, tokens};

/// Most bytes of text the search may look at (occurrence searches and fillers normalised); past
/// it the caller falls back to the token alignment. Realistic passages need a few times their
/// length.
const MAX_WORK: usize = 1 << 22;

/// Most placements (segment occurrences) kept at once, bounding memory to about 3 MB.
const MAX_PLACEMENTS: usize = 1 << 16;

/// Where each mask's filler lies in `prediction` (one byte range per mask, in order), or `None`
/// when the segments cannot all be placed or the search would pass its bounds.
///
/// `segments` is the masked passage cut at its first `golds.len()` placeholders
/// (`golds.len() + 1` pieces). Every segment must occur verbatim, in order, without overlap,
/// with these allowances:
/// - the first segment's leading whitespace is dropped, and the first segment may occur
///   anywhere (a preamble before the copy is part of no filler); when it is empty, the first
///   filler starts at the start of the prediction;
/// - the prediction may stop where the last segment breaks a line (a RAMP query's instruction
///   follows its passage after a blank line and is not copied): the last segment is placed where
///   it occurs whole, or where the prediction, trailing whitespace aside, ends with a prefix of it
///   that a line break follows; an empty last segment is placed at the end.
///
/// Among all placements the one whose fillers recover the most masks wins (a filler recovers
/// its mask when it contains the mask's tokens contiguously); ties prefer recovering earlier
/// masks, then earlier placements. So a prediction that is the passage filled in with the masks'
/// own text recovers every mask, even where a segment's text also occurs inside a mask.
pub(super) fn fillers(
    segments: &[&str],
    golds: &[Vec<&str>],
    prediction: &str,
) -> Option<Vec<Range<usize>>> {
    let (&first, rest) = segments.split_first()?;
    let Some((&last, middle)) = rest.split_last() else {
        return Some(Vec::new());
    };
    let mut budget = Budget(MAX_WORK);
    let mut places = Vec::with_capacity(segments.len());
    let first = first.trim_start();
    places.push(if first.is_empty() {
        vec![Place { start: 0, end: 0 }]
    } else {
        occurrences(prediction, first, &mut budget)?
    });
    for segment in middle {
        places.push(occurrences(prediction, segment, &mut budget)?);
    }
    places.push(last_places(prediction, last, &mut budget)?);
    if places.iter().map(Vec::len).sum::<usize>() > MAX_PLACEMENTS {
        return None;
    }
    prune(&mut places);
    choose(&places, golds, prediction, &mut budget)
}

/// Whether `filler` (raw prediction text) holds the gold mask's tokens contiguously; an empty
/// mask is always recovered.
pub(super) fn recovers(gold: &[&str], filler: &str) -> bool {
    let filler = normalize_answer(filler);
    let window: Vec<&str> = tokens(&filler).collect();
    occurs(gold, &window)
}

/// One place a segment can take in the prediction (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    start: usize,
    end: usize,
}

/// The most masks recovered from one place of a segment on, and the place of the next segment
/// that achieves it (unused for the last segment).
#[derive(Debug, Clone, Copy)]
struct Best {
    recovered: usize,
    next: usize,
}

/// Work left, in bytes looked at.
struct Budget(usize);

impl Budget {
    fn spend(&mut self, bytes: usize) -> Option<()> {
        self.0 = self.0.checked_sub(bytes.max(1))?;
        Some(())
    }
}

/// Every occurrence of `needle` in `hay`, overlapping ones included, by start; an empty needle
/// occurs at every character boundary.
fn occurrences(hay: &str, needle: &str, budget: &mut Budget) -> Option<Vec<Place>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = hay[from..].find(needle) {
        budget.spend(at + needle.len())?;
        let start = from + at;
        found.push(Place {
            start,
            end: start + needle.len(),
        });
        if found.len() > MAX_PLACEMENTS {
            return None;
        }
        match hay[start..].chars().next() {
            Some(c) => from = start + c.len_utf8(),
            None => break,
        }
    }
    budget.spend(hay.len() - from)?;
    Some(found)
}

/// The places of the last segment (see [`fillers`]), by start: where it occurs whole, and where
/// the prediction, trailing whitespace aside, ends with a prefix of it that a line break follows.
fn last_places(prediction: &str, last: &str, budget: &mut Budget) -> Option<Vec<Place>> {
    if last.is_empty() {
        let end = prediction.len();
        return Some(vec![Place { start: end, end }]);
    }
    let mut places = occurrences(prediction, last, budget)?;
    let text = prediction.trim_end();
    budget.spend(last.len())?;
    for (newline, _) in last.match_indices('\n') {
        let copied = last[..newline].trim_end_matches(|c: char| c.is_whitespace() && c != '\n');
        budget.spend(copied.len())?;
        if text.ends_with(copied) {
            // Trailing whitespace joins the last filler when nothing was copied.
            let start = if copied.is_empty() {
                prediction.len()
            } else {
                text.len() - copied.len()
            };
            places.push(Place {
                start,
                end: prediction.len(),
            });
        }
    }
    places.sort_by_key(|p| p.start);
    places.dedup();
    Some(places)
}

/// Drops the places that no in-order placement of all segments can use: a place must start
/// after some place of the previous segment ends, and end before some place of the next one
/// starts.
fn prune(places: &mut [Vec<Place>]) {
    for i in 1..places.len() {
        let earliest = places[i - 1].iter().map(|p| p.end).min();
        places[i].retain(|p| earliest.is_some_and(|e| p.start >= e));
    }
    for i in (0..places.len() - 1).rev() {
        let latest = places[i + 1].iter().map(|p| p.start).max();
        places[i].retain(|p| latest.is_some_and(|l| p.end <= l));
    }
}

/// The best placement (see [`fillers`]) by dynamic programming from the last segment back.
fn choose(
    places: &[Vec<Place>],
    golds: &[Vec<&str>],
    prediction: &str,
    budget: &mut Budget,
) -> Option<Vec<Range<usize>>> {
    let masks = golds.len();
    // best[i][j]: the best for masks i.. with segment i at places[i][j] (`None`: no way on).
    let mut best: Vec<Vec<Option<Best>>> = vec![Vec::new(); masks + 1];
    best[masks] = vec![
        Some(Best {
            recovered: 0,
            next: 0
        });
        places[masks].len()
    ];
    for i in (0..masks).rev() {
        let next = &places[i + 1];
        let mut row = Vec::with_capacity(places[i].len());
        for place in &places[i] {
            let first = next.partition_point(|p| p.start < place.end);
            let mut top: Option<(Best, bool)> = None;
            for (j, following) in next.iter().enumerate().skip(first) {
                let Some(after) = best[i + 1][j] else {
                    continue;
                };
                budget.spend(following.start - place.end)?;
                let hit = recovers(&golds[i], &prediction[place.end..following.start]);
                let recovered = usize::from(hit) + after.recovered;
                if top.is_none_or(|(t, h)| {
                    recovered > t.recovered || (recovered == t.recovered && hit && !h)
                }) {
                    top = Some((Best { recovered, next: j }, hit));
                }
                if recovered == masks - i {
                    break;
                }
            }
            row.push(top.map(|(b, _)| b));
        }
        best[i] = row;
    }
    let mut at = (0..places[0].len())
        .filter_map(|j| best[0][j].map(|b| (b.recovered, j)))
        .max_by_key(|&(recovered, j)| (recovered, std::cmp::Reverse(j)))?
        .1;
    let mut ranges = Vec::with_capacity(masks);
    for i in 0..masks {
        let next = best[i][at]?.next;
        ranges.push(places[i][at].end..places[i + 1][next].start);
        at = next;
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(segments: &[&str], golds: &[&[&str]], prediction: &str) -> Option<Vec<String>> {
        let golds: Vec<Vec<&str>> = golds.iter().map(|g| g.to_vec()).collect();
        fillers(segments, &golds, prediction).map(|ranges| {
            ranges
                .into_iter()
                .map(|r| prediction[r].to_owned())
                .collect()
        })
    }

    #[test]
    fn glued_masks_are_cut_where_the_passage_cuts_them() {
        assert_eq!(
            fill(
                &["The ", "'s four strings"],
                &[&["viola"]],
                "The viola's four strings"
            ),
            Some(vec!["viola".to_owned()])
        );
        assert_eq!(
            fill(
                &["worth US", " (", ")"],
                &[&["1"], &["2"]],
                "worth US$1 (£2)"
            ),
            Some(vec!["$1".to_owned(), "£2".to_owned()])
        );
    }

    #[test]
    fn a_segment_inside_a_mask_does_not_cut_it() {
        // Leftmost placement would make "Tom" and "Jerry and Bob" the fillers.
        assert_eq!(
            fill(
                &["", " and ", "."],
                &[&["tom", "and", "jerry"], &["bob"]],
                "Tom and Jerry and Bob."
            ),
            Some(vec!["Tom and Jerry".to_owned(), "Bob".to_owned()])
        );
        // "." inside "H. G. Wells": the last segment goes after the name.
        assert_eq!(
            fill(
                &["by ", ".\n\nFill in all the [mask]."],
                &[&["h", "g", "wells"]],
                "by H. G. Wells."
            ),
            Some(vec!["H. G. Wells".to_owned()])
        );
    }

    #[test]
    fn the_prediction_may_stop_where_the_last_segment_breaks_a_line() {
        let last = " in 1970.\n\nFill in all the [mask].";
        for prediction in ["from Michigan in 1970.", "from Michigan in 1970. \n"] {
            assert_eq!(
                fill(&["from ", last], &[&["michigan"]], prediction),
                Some(vec!["Michigan".to_owned()])
            );
        }
        assert_eq!(
            fill(
                &["from ", "\n\nFill in"],
                &[&["michigan"]],
                "from Michigan\n"
            ),
            Some(vec!["Michigan\n".to_owned()])
        );
        // The prediction's trailing whitespace is the last filler's, not the segment's before.
        assert_eq!(
            fill(&["a ", ", ", "\n\nFill in"], &[&["x"], &[]], "a x, \n"),
            Some(vec!["x".to_owned(), "\n".to_owned()])
        );
        // Stopping anywhere else is a rewritten ending: the raw stage gives up.
        for prediction in [
            "from Michigan",
            "from Michigan in",
            "from Michigan, long ago.",
        ] {
            assert_eq!(fill(&["from ", last], &[&["michigan"]], prediction), None);
        }
    }

    #[test]
    fn segments_must_occur_in_order() {
        assert_eq!(
            fill(&["a ", " b ", " c"], &[&["x"], &["y"]], "a x c y b"),
            None
        );
        assert_eq!(fill(&["a ", " b"], &[&["x"]], "q x b"), None);
        // A preamble is skipped; a leading mask's filler starts at the start.
        assert_eq!(
            fill(&["a ", " b"], &[&["x"]], "Sure: a x b"),
            Some(vec!["x".to_owned()])
        );
        assert_eq!(
            fill(&["", " b"], &[&["x"]], "Sure: x b"),
            Some(vec!["Sure: x".to_owned()])
        );
    }

    #[test]
    fn adjacent_masks_split_their_text_to_recover_the_most() {
        assert_eq!(
            fill(&["by ", "", " in"], &[&["leo"], &["da"]], "by leoda in"),
            Some(vec!["leo".to_owned(), "da".to_owned()])
        );
        // Nothing recoverable: the earliest cut.
        assert_eq!(
            fill(&["by ", "", " in"], &[&["q"], &["r"]], "by ab in"),
            Some(vec![String::new(), "ab".to_owned()])
        );
    }

    #[test]
    fn overlapping_occurrences_are_all_found() {
        let mut budget = Budget(MAX_WORK);
        let starts = |hay: &str, needle: &str, budget: &mut Budget| {
            occurrences(hay, needle, budget).map(|ps| ps.iter().map(|p| p.start).collect())
        };
        assert_eq!(starts("aaa", "aa", &mut budget), Some(vec![0, 1]));
        assert_eq!(starts("é.", "", &mut budget), Some(vec![0, 2, 3]));
    }

    #[test]
    fn past_the_bounds_it_gives_up() {
        // Every cut between adjacent masks is a place: too many to weigh.
        let text = "a".repeat(MAX_PLACEMENTS + 1);
        assert_eq!(fill(&["", "", ""], &[&["b"], &["c"]], &text), None);
        // Quadratic pairs of places, each filler normalised: past the work bound.
        let text = "a ".repeat(5000);
        assert_eq!(
            fill(&["", " ", " ", ""], &[&["b"], &["c"], &["d"]], &text),
            None
        );
    }
}
