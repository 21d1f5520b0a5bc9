//! Scores the answers of search agents — one implementation of answer normalisation, EM / F1 /
//! recall / sub-EM / cover-EM, Search-R1's tag grammar and format reward, and RAMP per-mask
//! recovery, shared by the verifier, `eval`, `masksearch reward` and `/reward`.
//!
//! It never does I/O, never calls a model (the LLM judge lives with its callers) and never
//! panics: every function is total over arbitrary strings, and every score is in [0, 1].
//!
//! # Definitions and where they come from
//!
//! All answer scores compare [`normalize_answer`]ed strings (Search-R1, ZeroSearch, FlashRAG and
//! the SQuAD / HotpotQA scripts share that normalisation) and take the best over the gold
//! aliases; with no aliases every score is 0. [`score_with`] compares under another named
//! [`Normalization`]: `r1-searcher` is R1-Searcher's (`evaluation/metric_calc_rule.py`, see
//! [`normalize`] for how it differs), under which the scores are that script's own.
//!
//! | score | definition | peer name |
//! |---|---|---|
//! | [`exact_match`] | normalised prediction == normalised alias | FlashRAG `em`, Search-R1 `em_check` |
//! | [`sub_exact_match`] | normalised alias is a substring of the normalised prediction | FlashRAG `acc`, Search-R1 `subem_check` |
//! | [`cover_exact_match`] | every alias token is among the prediction tokens, any order | R1-Searcher `cover_em_1` (its ACC_R under its normalisation) |
//! | [`token_f1`] | token F1 / precision / recall, multiset overlap, yes/no/noanswer rule | FlashRAG `f1` / `precision` / `recall` |
//! | [`token_recall`] | share of alias tokens found in the prediction, no yes/no rule | MaskSearch's token-level recall |
//!
//! Differences from the peers, on purpose or by necessity:
//! - R1-Searcher normalises differently (punctuation becomes a space, `‘ ’ ´` count as
//!   punctuation, `_` splits words, a whole `True` / `False` reads yes / no); [`cover_exact_match`]
//!   and [`score`] apply its cover rule to the shared normalisation, which is *not* its ACC_R:
//!   on its published Qwen files the two differ by up to 1.0 point. [`score_with`] under
//!   [`Normalization::R1Searcher`] gives its figures exactly (`eval`'s tests hold that on those
//!   files against numbers from running its script).
//! - R1-Searcher's second cover metric, `cover_em_2` ("alias tokens contiguous in the
//!   prediction, or the alias a substring of it"), is sub-EM under the same normalisation: a
//!   normalised string is its tokens joined by single spaces, so tokens contiguous in the
//!   prediction are a substring of it. `Scores::acc` under [`Normalization::R1Searcher`] is
//!   therefore its `cover_em_2` (`tests/properties.rs` holds the identity on random text).
//! - FlashRAG maximises F1, precision and recall over aliases separately (so does [`score`]);
//!   R1-Searcher takes all three from the first alias with the best F1 (so does [`score_with`]
//!   under its normalisation).
//! - An alias or prediction that normalises to nothing gets token scores of 0 (SQuAD v2 would
//!   give 1 when both are empty), EM 1 only against an empty prediction, and sub-EM 1 always.
//! - Python's `\w` and `str.isspace` are matched exactly (a table generated from Python's
//!   `unicodedata`); lower-casing uses Rust's Unicode tables, which agree with Python's on every
//!   character both know.
//!
//! `tests/golden/cases.jsonl`, written by `tests/golden/reference.py` from those definitions in
//! plain Python, pins normalisation, every answer score, answer extraction and the format check.
//!
//! # Responses
//!
//! [`extract_answer`] takes the last `<answer>` of a response as Search-R1 does; [`check_format`]
//! is Search-R1's tag grammar `think → (search → information → think)* → answer` with its exact
//! notion of validity; [`format_reward`] and [`graded_reward`] are Search-R1 v0.3's graded reward.
//!
//! # RAMP
//!
//! [`score_masks`], [`score_mask_spans`] and [`score_masks_aligned`] judge each masked span on
//! its own (see [`masks`] for the rules) and give the mean.
//!
//! # Rewards
//!
//! [`reward`] turns these scores into RL rewards: the item verl's reward function receives,
//! named presets (`search-r1`, `masksearch-hybrid`, one score alone) and a batch scorer.

mod answer;
mod grammar;
pub mod masks;
mod normalize;
pub mod reward;
mod word_chars;

pub use answer::{
    Scores, TokenF1, cover_exact_match, exact_match, score, score_with, sub_exact_match, token_f1,
    token_recall,
};
pub use grammar::{
    AnswerOutcome, FormatViolation, Stage, Tag, check_format, check_turns_format, extract_answer,
    format_reward, graded_reward,
};
pub use masks::{MASK, MaskScore, MaskScores, score_mask_spans, score_masks, score_masks_aligned};
pub use normalize::{Normalization, normalize, normalize_answer};
