//! RAMP per-mask scoring: which masked spans a prediction recovered, each mask judged on its own.
//!
//! Spans are compared as normalised token sequences ([`normalize_answer`]): a mask is recovered
//! when its tokens occur, contiguous and in order, where the prediction should hold it. Masks are
//! taken in order: a mask recovered counts only if it comes after the masks recovered before it,
//! and when the prediction allows several choices, the one recovering the most masks wins (ties
//! prefer recovering earlier masks). A mask that normalises to nothing is always recovered, like
//! an empty alias under sub-EM. Listing several candidates for a mask recovers it, as listing
//! them in an answer raises token recall; where that must not pay, compare each reported
//! `filler` with its mask by [`exact_match`](crate::exact_match).

use std::iter;

use serde::{Deserialize, Serialize};

use crate::normalize::{normalize_answer, tokens};

mod raw;

pub use formats::MASK;

/// The largest dynamic-programming table (cells) a scorer builds; beyond it the scorers fall
/// back to cheaper rules, so that no input can take unbounded memory.
const MAX_CELLS: usize = 1 << 20;

/// Per-mask results and their mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskScores {
    /// One entry per gold mask, in order.
    pub masks: Vec<MaskScore>,
    /// Share of masks recovered, in [0, 1]; 0 when there are no masks.
    pub recovered: f64,
}

/// How one mask fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskScore {
    pub recovered: bool,
    /// The normalised prediction text the mask was looked for in: the predicted span, or the
    /// filler aligned to the mask's place. `None` when the whole prediction was searched.
    pub filler: Option<String>,
}

impl MaskScores {
    fn new(masks: Vec<MaskScore>) -> MaskScores {
        let hits = masks.iter().filter(|m| m.recovered).count();
        let recovered = if masks.is_empty() {
            0.0
        } else {
            hits as f64 / masks.len() as f64
        };
        MaskScores { masks, recovered }
    }
}

/// Scores masks against free text (a filled paragraph, or the fillers written one after the
/// other): each mask is looked for anywhere in the prediction, in order.
///
/// A mask whose words also appear in the surrounding text counts as recovered if they appear
/// there; [`score_masks_aligned`] avoids that when the masked passage is at hand.
pub fn score_masks<S: AsRef<str>>(masks: &[S], prediction: &str) -> MaskScores {
    let golds = Normalized::all(masks);
    let pred = normalize_answer(prediction);
    let window: Vec<&str> = tokens(&pred).collect();
    let found = recover_in_order(&golds.token_lists(), &window);
    MaskScores::new(
        found
            .into_iter()
            .map(|recovered| MaskScore {
                recovered,
                filler: None,
            })
            .collect(),
    )
}

/// Scores masks against predicted spans, position by position: mask `i` is recovered when its
/// tokens occur contiguously in span `i`. A missing span recovers nothing; extra spans are
/// ignored.
pub fn score_mask_spans<S: AsRef<str>, T: AsRef<str>>(masks: &[S], spans: &[T]) -> MaskScores {
    let golds = Normalized::all(masks);
    let scores = golds
        .texts
        .iter()
        .enumerate()
        .map(|(i, gold)| match spans.get(i) {
            None => MaskScore {
                recovered: false,
                filler: None,
            },
            Some(span) => {
                let filler = normalize_answer(span.as_ref());
                let window: Vec<&str> = tokens(&filler).collect();
                let gold: Vec<&str> = tokens(gold).collect();
                let recovered = occurs(&gold, &window);
                MaskScore {
                    recovered,
                    filler: Some(filler),
                }
            }
        })
        .collect();
    MaskScores::new(scores)
}

/// Scores masks against a predicted paragraph by aligning it to the masked passage, so that each
/// mask is looked for only where it belongs.
///
/// The passage is cut at its first `masks.len()` placeholders into segments; any later `[mask]`
/// is read as text, so a whole RAMP query, whose instruction ("Fill in all the `[mask]` and
/// ...") has a placeholder of its own, can be passed as is. Two stages find each mask's
/// *filler*, the prediction text standing where the mask stood; a mask is recovered when its
/// normalised tokens occur contiguously in its normalised filler, and each reported `filler`
/// is that normalised text.
///
/// **On the raw text**, when the prediction copies the text between the masks verbatim: the
/// segments are found in the prediction in order, exact substrings, and the fillers are what
/// lies between. A preamble before the copy is skipped, and the prediction may stop where the
/// text after the last mask breaks a line (a query's instruction, after a blank line, is never
/// copied). Where a segment occurs more
/// than once, the placement recovering the most masks wins (ties prefer recovering earlier
/// masks, then earlier placements). So the exact original passage recovers every mask, even one
/// glued to its neighbours (`[mask]'s`, `US[mask]`, `‘[mask]’`), and adjacent masks each get
/// their own filler.
///
/// **On normalised tokens**, when the segments cannot all be found (the prediction reworded the
/// text around the masks), or past the raw stage's work bound:
///
/// 1. Align the prediction to the passage's words, with a slot for each mask: as many passage
///    words as possible are matched to prediction words in order (an LCS); among such alignments,
///    the one leaving the fewest prediction words in stretches without a mask wins.
/// 2. The matched words cut both sides into gaps. A mask's filler is the prediction's words in
///    the gap that holds its slot — the text between the nearest matched words around it.
///    Prediction words in a gap without a slot (edits to the surrounding text) are ignored, and
///    passage words the prediction dropped or changed just match nothing, so a reworded
///    neighbourhood widens a filler instead of losing it.
/// 3. Masks sharing a gap (adjacent masks, or masks whose separating words were rewritten)
///    share its words and are looked for in order there; each reports the whole gap as its
///    filler.
///
/// A mask glued to a word of the passage can be missed by this stage (`"[mask]'s"` normalises
/// to a separate `"s"`, the filled `"viola's"` to `"violas"`): it is what the raw stage is for.
///
/// A prediction that is only the fillers aligns to nothing, so it is searched as a whole, as
/// [`score_masks`] does. With fewer placeholders than masks (files written by the original can
/// list a span twice but show one `[mask]`), or past the token alignment's size bound, the
/// result is [`score_masks`]'s.
pub fn score_masks_aligned<S: AsRef<str>>(
    masks: &[S],
    masked_passage: &str,
    prediction: &str,
) -> MaskScores {
    let pieces: Vec<&str> = masked_passage.splitn(masks.len() + 1, MASK).collect();
    if pieces.len() != masks.len() + 1 {
        return score_masks(masks, prediction);
    }
    let golds = Normalized::all(masks);
    let gold_tokens = golds.token_lists();
    if let Some(ranges) = raw::fillers(&pieces, &gold_tokens, prediction) {
        return MaskScores::new(
            ranges
                .into_iter()
                .zip(&gold_tokens)
                .map(|(range, gold)| {
                    let filler = &prediction[range];
                    MaskScore {
                        recovered: raw::recovers(gold, filler),
                        filler: Some(normalize_answer(filler)),
                    }
                })
                .collect(),
        );
    }
    score_by_tokens(&pieces, &gold_tokens, masks, prediction)
}

/// The token stage of [`score_masks_aligned`], over the passage's `pieces` between masks.
fn score_by_tokens<S: AsRef<str>>(
    pieces: &[&str],
    gold_tokens: &[Vec<&str>],
    masks: &[S],
    prediction: &str,
) -> MaskScores {
    let segments: Vec<String> = pieces.iter().map(|p| normalize_answer(p)).collect();
    let mut passage = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            passage.push(Item::Slot(i - 1));
        }
        passage.extend(tokens(segment).map(Item::Word));
    }
    let pred = normalize_answer(prediction);
    let words: Vec<&str> = tokens(&pred).collect();
    let Some(pairs) = align(&words, &passage) else {
        return score_masks(masks, prediction);
    };
    let mut scores = vec![
        MaskScore {
            recovered: false,
            filler: None
        };
        masks.len()
    ];
    let (mut word_from, mut item_from) = (0, 0);
    for (word_at, item_at) in pairs
        .into_iter()
        .chain(iter::once((words.len(), passage.len())))
    {
        let slots: Vec<usize> = passage[item_from..item_at]
            .iter()
            .filter_map(|item| match item {
                Item::Slot(k) => Some(*k),
                Item::Word(_) => None,
            })
            .collect();
        if !slots.is_empty() {
            let window = &words[word_from..word_at];
            let wanted: Vec<Vec<&str>> = slots.iter().map(|&k| gold_tokens[k].clone()).collect();
            let filler = window.join(" ");
            for (&k, recovered) in slots.iter().zip(recover_in_order(&wanted, window)) {
                scores[k] = MaskScore {
                    recovered,
                    filler: Some(filler.clone()),
                };
            }
        }
        (word_from, item_from) = (word_at + 1, item_at + 1);
    }
    MaskScores::new(scores)
}

/// Gold masks, normalised.
struct Normalized {
    texts: Vec<String>,
}

impl Normalized {
    fn all<S: AsRef<str>>(masks: &[S]) -> Normalized {
        Normalized {
            texts: masks.iter().map(|m| normalize_answer(m.as_ref())).collect(),
        }
    }

    fn token_lists(&self) -> Vec<Vec<&str>> {
        self.texts.iter().map(|t| tokens(t).collect()).collect()
    }
}

/// One element of the masked passage: a word, or the slot of mask `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item<'a> {
    Word(&'a str),
    Slot(usize),
}

/// Aligns prediction words to passage items (step 1 of [`score_masks_aligned`]): the matched
/// `(word, item)` index pairs in increasing order, or `None` past [`MAX_CELLS`].
///
/// `score[i][j]` scores the best alignment of the first `i` words with the first `j` items:
/// `(n + 1)` per matched word, minus 1 per word left outside a slot's reach. Leaving a word
/// unmatched is free right after a slot (the path can skip to the slot, take the gap's words
/// there, and skip on), so a gap's words cost 1 each exactly when the gap holds no slot; and as
/// `(n + 1)` outweighs any number of such words, matches come first.
fn align(words: &[&str], items: &[Item<'_>]) -> Option<Vec<(usize, usize)>> {
    let (n, m) = (words.len(), items.len());
    if (n + 1).checked_mul(m + 1)? > MAX_CELLS {
        return None;
    }
    let gain = i64::try_from(n + 1).ok()?;
    let at = |i: usize, j: usize| i * (m + 1) + j;
    let is_match = |i: usize, j: usize| items[j - 1] == Item::Word(words[i - 1]);
    let unmatched_cost = |j: usize| {
        if j > 0 && matches!(items[j - 1], Item::Slot(_)) {
            0
        } else {
            1
        }
    };
    let mut score = vec![0i64; (n + 1) * (m + 1)];
    for i in 0..=n {
        for j in 0..=m {
            let mut best = i64::MIN;
            if j > 0 {
                best = best.max(score[at(i, j - 1)]);
            }
            if i > 0 {
                best = best.max(score[at(i - 1, j)] - unmatched_cost(j));
            }
            if i > 0 && j > 0 && is_match(i, j) {
                best = best.max(score[at(i - 1, j - 1)] + gain);
            }
            if i > 0 || j > 0 {
                score[at(i, j)] = best;
            }
        }
    }
    let (mut i, mut j, mut pairs) = (n, m, Vec::new());
    while i > 0 || j > 0 {
        if i > 0 && j > 0 && is_match(i, j) && score[at(i, j)] == score[at(i - 1, j - 1)] + gain {
            pairs.push((i - 1, j - 1));
            (i, j) = (i - 1, j - 1);
        } else if j > 0 && score[at(i, j)] == score[at(i, j - 1)] {
            j -= 1;
        } else {
            i -= 1;
        }
    }
    pairs.reverse();
    Some(pairs)
}

/// Whether `mask` occurs contiguously in `window` (the empty mask always does).
fn occurs(mask: &[&str], window: &[&str]) -> bool {
    mask.is_empty() || window.windows(mask.len()).any(|w| w == mask)
}

/// Which of `masks` occur in `window` in order, without overlap, recovering as many as possible
/// (ties prefer earlier masks). Past [`MAX_CELLS`], greedily: each mask at its first occurrence
/// after the previous one found.
fn recover_in_order(masks: &[Vec<&str>], window: &[&str]) -> Vec<bool> {
    let (k, n) = (masks.len(), window.len());
    if (k + 1).saturating_mul(n + 1) > MAX_CELLS {
        return recover_greedily(masks, window);
    }
    let ends: Vec<Vec<Option<usize>>> = masks
        .iter()
        .map(|mask| earliest_ends(mask, window))
        .collect();
    // most[i][p]: the most masks among i.. recoverable in window[p..].
    let mut most = vec![vec![0usize; n + 1]; k + 1];
    for i in (0..k).rev() {
        for p in 0..=n {
            let take = ends[i][p].map_or(0, |end| 1 + most[i + 1][end]);
            most[i][p] = most[i + 1][p].max(take);
        }
    }
    let mut p = 0;
    (0..k)
        .map(|i| match ends[i][p] {
            Some(end) if 1 + most[i + 1][end] >= most[i + 1][p] => {
                p = end;
                true
            }
            _ => false,
        })
        .collect()
}

fn recover_greedily(masks: &[Vec<&str>], window: &[&str]) -> Vec<bool> {
    let mut p = 0;
    masks
        .iter()
        .map(
            |mask| match (p..=window.len()).find(|&s| window[s..].starts_with(mask)) {
                Some(start) => {
                    p = start + mask.len();
                    true
                }
                None => false,
            },
        )
        .collect()
}

/// For each start position `p`, the end of the first occurrence of `mask` at or after `p`.
fn earliest_ends(mask: &[&str], window: &[&str]) -> Vec<Option<usize>> {
    let mut ends = vec![None; window.len() + 1];
    for p in (0..=window.len()).rev() {
        ends[p] = if window[p..].starts_with(mask) {
            Some(p + mask.len())
        } else {
            ends.get(p + 1).copied().flatten()
        };
    }
    ends
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(scores: &MaskScores) -> Vec<bool> {
        scores.masks.iter().map(|m| m.recovered).collect()
    }

    fn check_text(masks: &[&str], prediction: &str, expect: &[bool]) {
        assert_eq!(
            flags(&score_masks(masks, prediction)),
            expect,
            "{masks:?} in {prediction:?}"
        );
    }

    #[test]
    fn masks_found_in_order_in_free_text() {
        check_text(
            &["Barto", "Michigan"],
            "Andrew Barto studied at the University of Michigan.",
            &[true, true],
        );
        check_text(
            &["Michigan", "Barto"],
            "Andrew Barto studied at the University of Michigan.",
            &[true, false],
        );
        check_text(
            &["B.S.", "mathematics"],
            "his BS with distinction in Mathematics",
            &[true, true],
        );
        check_text(&["New York"], "new and york", &[false]);
        check_text(&["York"], "Yorkshire", &[false]);
        check_text(&[], "anything", &[]);
        check_text(&["x"], "", &[false]);
    }

    #[test]
    fn in_order_search_recovers_the_most_masks() {
        // Greedy would take A at the end and lose B and C.
        check_text(&["A1", "B2", "C3"], "b2 c3 a1", &[false, true, true]);
        // A tie: recovering the earlier mask wins.
        check_text(&["B2", "A1"], "a1 b2", &[true, false]);
        // The same span twice needs two occurrences.
        check_text(&["Paris", "Paris"], "Paris is in France", &[true, false]);
        check_text(&["Paris", "Paris"], "Paris, Paris", &[true, true]);
    }

    #[test]
    fn empty_masks_are_always_recovered() {
        check_text(&["the", "Rome"], "Rome", &[true, true]);
    }

    #[test]
    fn mean_of_recovered_masks() {
        let s = score_masks(&["a1", "b2", "c3", "d4"], "a1 c3");
        assert_eq!(s.recovered, 0.5);
        assert_eq!(score_masks::<&str>(&[], "x").recovered, 0.0);
    }

    #[test]
    fn spans_are_compared_position_by_position() {
        let s = score_mask_spans(
            &["Paris", "1970", "Leonardo da Vinci"],
            &["the city of Paris", "1971"],
        );
        assert_eq!(flags(&s), [true, false, false]);
        assert_eq!(s.masks[0].filler.as_deref(), Some("city of paris"));
        assert_eq!(s.masks[2].filler, None);
        assert_eq!(
            flags(&score_mask_spans(&["Paris", "Rome"], &["Rome", "Paris"])),
            [false, false]
        );
    }

    fn check_aligned(
        masks: &[&str],
        passage: &str,
        prediction: &str,
        expect: &[(bool, Option<&str>)],
    ) {
        let got = score_masks_aligned(masks, passage, prediction);
        let got: Vec<(bool, Option<&str>)> = got
            .masks
            .iter()
            .map(|m| (m.recovered, m.filler.as_deref()))
            .collect();
        assert_eq!(got, expect, "{masks:?} / {passage:?} / {prediction:?}");
    }

    const BARTO: &str = "Andrew Barto received his [mask] with distinction in [mask] from the University of Michigan in 1970.";

    #[test]
    fn aligned_fillers_from_a_faithful_copy() {
        check_aligned(
            &["B.S.", "mathematics"],
            BARTO,
            "Andrew Barto received his B.S. with distinction in mathematics from the University of Michigan in 1970.",
            &[(true, Some("bs")), (true, Some("mathematics"))],
        );
        check_aligned(
            &["B.S.", "mathematics"],
            BARTO,
            "Andrew Barto received his PhD with distinction in physics from the University of Michigan in 1970.",
            &[(false, Some("phd")), (false, Some("physics"))],
        );
    }

    #[test]
    fn aligned_scoring_ignores_the_mask_text_elsewhere() {
        // "Michigan" is in the context: free-text search would count it, alignment does not.
        let passage = "He studied in [mask] and later at the University of Michigan.";
        let pred = "He studied in Ohio and later at the University of Michigan.";
        check_aligned(&["Michigan"], passage, pred, &[(false, Some("ohio"))]);
        assert_eq!(flags(&score_masks(&["Michigan"], pred)), [true]);
    }

    #[test]
    fn aligned_scoring_survives_edits_around_a_mask() {
        // "in" dropped and "received" reworded: the fillers widen to the next matched words.
        check_aligned(
            &["B.S.", "mathematics"],
            BARTO,
            "Andrew Barto got his B.S. degree with distinction mathematics from the University of Michigan in 1970.",
            &[(true, Some("bs degree")), (true, Some("mathematics"))],
        );
        // The text after a final mask not copied: a sentence appended joins its filler.
        check_aligned(
            &["Paris"],
            "The capital of France is [mask].",
            "The capital of France is Paris I hope this helps!",
            &[(true, Some("paris i hope this helps"))],
        );
        // Copied: the filler ends where the passage's text resumes.
        check_aligned(
            &["Paris"],
            "The capital of France is [mask].",
            "The capital of France is Paris. I hope this helps!",
            &[(true, Some("paris"))],
        );
    }

    #[test]
    fn aligned_scoring_puts_a_repeated_word_where_the_mask_is() {
        check_aligned(
            &["Paris"],
            "born in [mask] Paris is big",
            "born in Paris Paris is big",
            &[(true, Some("paris"))],
        );
        check_aligned(
            &["Paris"],
            "born in Paris [mask] is big",
            "born in Paris Paris is big",
            &[(true, Some("paris"))],
        );
    }

    #[test]
    fn adjacent_masks_get_their_own_fillers_from_a_verbatim_copy() {
        let passage = "painted by [mask] [mask] in 1503";
        let pred = "painted by Leonardo da Vinci in 1503";
        check_aligned(
            &["Leonardo", "da Vinci"],
            passage,
            pred,
            &[(true, Some("leonardo")), (true, Some("da vinci"))],
        );
        // Swapped, neither mask is where it belongs; the earliest cut is reported.
        check_aligned(
            &["da Vinci", "Leonardo"],
            passage,
            pred,
            &[(false, Some("leonardo")), (false, Some("da vinci"))],
        );
    }

    #[test]
    fn adjacent_masks_share_their_gap_in_a_reworded_copy() {
        // "in" became "around": the token stage cannot cut between the masks.
        let passage = "painted by [mask] [mask] in 1503";
        let pred = "painted by Leonardo da Vinci around 1503";
        check_aligned(
            &["Leonardo", "da Vinci"],
            passage,
            pred,
            &[
                (true, Some("leonardo da vinci around")),
                (true, Some("leonardo da vinci around")),
            ],
        );
        check_aligned(
            &["da Vinci", "Leonardo"],
            passage,
            pred,
            &[
                (true, Some("leonardo da vinci around")),
                (false, Some("leonardo da vinci around")),
            ],
        );
    }

    #[test]
    fn masks_glued_to_their_neighbours_are_recovered_from_the_original() {
        check_aligned(
            &["viola"],
            "Like the [mask]'s four strings, the cello's are tuned in fifths.",
            "Like the viola's four strings, the cello's are tuned in fifths.",
            &[(true, Some("viola"))],
        );
        check_aligned(
            &["$1", "Instrument of Accession", "glass"],
            "It cost US[mask] under the ‘[mask]’ ([mask]-based).",
            "It cost US$1 under the ‘Instrument of Accession’ (glass-based).",
            &[
                (true, Some("1")),
                (true, Some("instrument of accession")),
                (true, Some("glass")),
            ],
        );
        // A wrong filler glued the same way is still wrong.
        check_aligned(
            &["viola"],
            "Like the [mask]'s four strings",
            "Like the violin's four strings",
            &[(false, Some("violin"))],
        );
    }

    #[test]
    fn instruction_words_do_not_split_a_final_mask() {
        // The token stage matched "and" / "all" to the instruction's words and cut the filler.
        let query = "It borders [mask].\n\nFill in all the [mask] and output the whole paragraph without changing its format.";
        check_aligned(
            &["Trinidad and Tobago"],
            query,
            "It borders Trinidad and Tobago.",
            &[(true, Some("trinidad and tobago"))],
        );
    }

    #[test]
    fn fillers_alone_or_a_mismatched_passage_fall_back_to_free_text() {
        check_aligned(
            &["B.S.", "mathematics"],
            BARTO,
            "B.S.; mathematics",
            &[
                (true, Some("bs mathematics")),
                (true, Some("bs mathematics")),
            ],
        );
        // Two masks listed, one placeholder: searched as free text.
        check_aligned(
            &["Paris", "Paris"],
            "born in [mask].",
            "born in Paris.",
            &[(true, None), (false, None)],
        );
    }

    #[test]
    fn a_whole_ramp_query_can_stand_for_the_passage() {
        let query = format!(
            "{BARTO}\n\nFill in all the [mask] and output the whole paragraph without changing its format."
        );
        let pred = "Andrew Barto received his B.S. with distinction in mathematics from the University of Michigan in 1970.";
        check_aligned(
            &["B.S.", "mathematics"],
            &query,
            pred,
            &[(true, Some("bs")), (true, Some("mathematics"))],
        );
    }

    #[test]
    fn alignment_prefers_matches_then_fewest_stray_words() {
        let items = [Item::Word("x"), Item::Slot(0), Item::Word("y")];
        assert_eq!(
            align(&["x", "a", "b", "y"], &items),
            Some(vec![(0, 0), (3, 2)])
        );
        assert_eq!(align(&["q", "x", "y"], &items), Some(vec![(1, 0), (2, 2)]));
        assert_eq!(align(&[], &items), Some(vec![]));
    }

    #[test]
    fn oversized_inputs_fall_back_instead_of_allocating() {
        let words = vec!["w"; 3000];
        let items = vec![Item::Word("w"); 3000];
        assert_eq!(align(&words, &items), None);
        let masks: Vec<Vec<&str>> = vec![vec!["w"]; 1000];
        assert_eq!(recover_in_order(&masks, &words), vec![true; 1000]);
    }
}
