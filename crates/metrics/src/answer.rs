//! Answer scores against gold aliases: EM, sub-EM, cover-EM, token F1 / precision / recall and
//! token recall, each the best over the aliases.

use serde::{Deserialize, Serialize};

use crate::normalize::{Normalization, normalize};

/// Every answer score of one prediction, each in [0, 1] and each the maximum over the gold
/// aliases (0 when there are none), compared under one [`Normalization`]. See the crate docs for
/// the definitions and their sources.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Exact match after normalisation ([`exact_match`]).
    pub em: f64,
    /// Token F1, FlashRAG's rule ([`token_f1`]).
    pub f1: f64,
    /// Token precision: maximised on its own as FlashRAG does ([`token_f1`]); under
    /// R1-Searcher's normalisation, that of the alias with the best F1, as R1-Searcher does.
    pub precision: f64,
    /// Token recall with FlashRAG's yes/no rule, chosen like `precision` ([`token_f1`]).
    pub recall: f64,
    /// The MaskSearch paper's token-level recall ([`token_recall`]).
    pub token_recall: f64,
    /// Sub-EM, FlashRAG's `acc` ([`sub_exact_match`]); under R1-Searcher's normalisation also
    /// R1-Searcher's `cover_em_2` (see the crate docs).
    pub acc: f64,
    /// Cover-EM, R1-Searcher's `cover_em_1` rule ([`cover_exact_match`]); its ACC_R only under
    /// R1-Searcher's normalisation.
    pub cover_em: f64,
    /// The normalisation the scores compared under (SQuAD's in files written before it was
    /// recorded).
    #[serde(default)]
    pub normalization: Normalization,
}

/// Token F1 with the precision and recall behind it, each maximised over the aliases on its own
/// (so `precision` and `recall` may come from different aliases, as in FlashRAG).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenF1 {
    pub f1: f64,
    pub precision: f64,
    pub recall: f64,
}

/// All scores at once under SQuAD's normalisation, normalising the prediction and each alias
/// once.
pub fn score<S: AsRef<str>>(prediction: &str, golds: &[S]) -> Scores {
    score_with(prediction, golds, Normalization::Squad)
}

/// All scores at once under `how`. With [`Normalization::R1Searcher`], `em`, `f1`, `precision`,
/// `recall`, `cover_em` and `acc` are R1-Searcher's `em`, `f1`, `prec`, `recall`, `cover_em_1`
/// and `cover_em_2` as its `metric_calc_rule.py` computes them (with no aliases it fails; here
/// every score is 0).
pub fn score_with<S: AsRef<str>>(prediction: &str, golds: &[S], how: Normalization) -> Scores {
    let pred = Answer::new(prediction, how);
    let golds: Vec<Answer> = golds.iter().map(|g| Answer::new(g.as_ref(), how)).collect();
    let f1 = best_f1(&pred, &golds, how);
    Scores {
        em: best(&golds, |g| pred.exact(g)),
        f1: f1.f1,
        precision: f1.precision,
        recall: f1.recall,
        token_recall: best(&golds, |g| pred.token_recall(g)),
        acc: best(&golds, |g| pred.contains(g)),
        cover_em: best(&golds, |g| pred.covers(g)),
        normalization: how,
    }
}

/// 1 if the normalised prediction equals a normalised alias (FlashRAG `em`, Search-R1 `em_check`,
/// SQuAD `exact_match_score`).
pub fn exact_match<S: AsRef<str>>(prediction: &str, golds: &[S]) -> f64 {
    one_score(prediction, golds, Answer::exact)
}

/// Sub-EM: 1 if a normalised alias is a substring of the normalised prediction — FlashRAG's
/// `acc`, Search-R1's `subem_check`, what ZeroSearch calls "em". A character substring, so
/// `"art"` is found in `"party"`, and an alias that normalises to nothing is found everywhere.
pub fn sub_exact_match<S: AsRef<str>>(prediction: &str, golds: &[S]) -> f64 {
    one_score(prediction, golds, Answer::contains)
}

/// Cover-EM: 1 if every token of a normalised alias is among the prediction's tokens, in any
/// order — the rule of R1-Searcher's `cover_exact_match_score_1`, here on SQuAD-normalised text;
/// the ACC_R of its papers is [`score_with`] under [`Normalization::R1Searcher`]. Tokens come
/// from `split(" ")` as there, so an alias that normalises to nothing covers only an empty
/// prediction.
pub fn cover_exact_match<S: AsRef<str>>(prediction: &str, golds: &[S]) -> f64 {
    one_score(prediction, golds, Answer::covers)
}

/// Token F1, precision and recall on normalised tokens with multiset (`Counter`) overlap —
/// FlashRAG's `f1` / `precision` / `recall`: an alias scores 0 when either side normalises to
/// `yes`, `no` or `noanswer` and the two differ, or when no token is shared.
pub fn token_f1<S: AsRef<str>>(prediction: &str, golds: &[S]) -> TokenF1 {
    let golds: Vec<Answer> = golds
        .iter()
        .map(|g| Answer::new(g.as_ref(), Normalization::Squad))
        .collect();
    best_f1(
        &Answer::new(prediction, Normalization::Squad),
        &golds,
        Normalization::Squad,
    )
}

/// Token recall, the MaskSearch paper's headline metric: the share of an alias's normalised
/// tokens found in the prediction (multiset overlap), the best over aliases. Unlike
/// [`token_f1`]'s recall there is no yes/no rule, so `"no, never"` recalls all of `"no"`; an alias
/// with no tokens scores 0.
pub fn token_recall<S: AsRef<str>>(prediction: &str, golds: &[S]) -> f64 {
    one_score(prediction, golds, Answer::token_recall)
}

/// A normalised answer and its tokens (byte ranges into `text`), sorted for multiset overlap.
struct Answer {
    text: String,
    sorted_tokens: Vec<(usize, usize)>,
}

impl Answer {
    fn new(raw: &str, how: Normalization) -> Answer {
        let text = normalize(raw, how);
        // `tokens` is `split(' ')` without the empty pieces: walk the same pieces, keeping offsets.
        let mut from = 0;
        let mut sorted_tokens: Vec<(usize, usize)> = text
            .split(' ')
            .filter_map(|t| {
                let start = from;
                from += t.len() + 1;
                (!t.is_empty()).then_some((start, start + t.len()))
            })
            .collect();
        sorted_tokens.sort_unstable_by(|&a, &b| text[a.0..a.1].cmp(&text[b.0..b.1]));
        Answer {
            text,
            sorted_tokens,
        }
    }

    fn token(&self, (start, end): (usize, usize)) -> &str {
        &self.text[start..end]
    }

    fn exact(&self, gold: &Answer) -> f64 {
        indicator(self.text == gold.text)
    }

    fn contains(&self, gold: &Answer) -> f64 {
        indicator(self.text.contains(gold.text.as_str()))
    }

    fn covers(&self, gold: &Answer) -> f64 {
        let mine: Vec<&str> = self.text.split(' ').collect();
        indicator(gold.text.split(' ').all(|t| mine.contains(&t)))
    }

    fn token_recall(&self, gold: &Answer) -> f64 {
        if gold.sorted_tokens.is_empty() {
            return 0.0;
        }
        self.common(gold) as f64 / gold.sorted_tokens.len() as f64
    }

    /// FlashRAG's per-alias F1, or `None` where it skips the alias (scores it 0).
    fn f1(&self, gold: &Answer) -> Option<TokenF1> {
        let special = |t: &str| matches!(t, "yes" | "no" | "noanswer");
        if (special(&self.text) || special(&gold.text)) && self.text != gold.text {
            return None;
        }
        let same = self.common(gold);
        if same == 0 {
            return None;
        }
        // The same operations in the same order as the Python, so the floats agree bit for bit.
        let precision = same as f64 / self.sorted_tokens.len() as f64;
        let recall = same as f64 / gold.sorted_tokens.len() as f64;
        let f1 = (2.0 * precision * recall) / (precision + recall);
        Some(TokenF1 {
            f1,
            precision,
            recall,
        })
    }

    /// Size of the multiset intersection of the two token lists (`Counter(a) & Counter(b)`).
    fn common(&self, other: &Answer) -> usize {
        let (a, b) = (&self.sorted_tokens, &other.sorted_tokens);
        let (mut i, mut j, mut same) = (0, 0, 0);
        while i < a.len() && j < b.len() {
            match self.token(a[i]).cmp(other.token(b[j])) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    same += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        same
    }
}

fn one_score<S: AsRef<str>>(prediction: &str, golds: &[S], f: fn(&Answer, &Answer) -> f64) -> f64 {
    let how = Normalization::Squad;
    let pred = Answer::new(prediction, how);
    golds
        .iter()
        .map(|g| f(&pred, &Answer::new(g.as_ref(), how)))
        .fold(0.0, f64::max)
}

fn best(golds: &[Answer], f: impl Fn(&Answer) -> f64) -> f64 {
    golds.iter().map(f).fold(0.0, f64::max)
}

/// The best F1 over the aliases, with precision and recall maximised on their own (FlashRAG) or,
/// under R1-Searcher's normalisation, taken from the first alias with the best F1 (R1-Searcher's
/// `max(..., key=f1)`).
fn best_f1(pred: &Answer, golds: &[Answer], how: Normalization) -> TokenF1 {
    let scored = golds.iter().filter_map(|g| pred.f1(g));
    match how {
        Normalization::Squad => scored.fold(TokenF1::default(), |acc, s| TokenF1 {
            f1: acc.f1.max(s.f1),
            precision: acc.precision.max(s.precision),
            recall: acc.recall.max(s.recall),
        }),
        Normalization::R1Searcher => {
            scored.fold(
                TokenF1::default(),
                |acc, s| if s.f1 > acc.f1 { s } else { acc },
            )
        }
    }
}

fn indicator(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(prediction: &str, golds: &[&str], expect: Scores) {
        assert_eq!(
            score(prediction, golds),
            expect,
            "scoring {prediction:?} against {golds:?}"
        );
    }

    fn s(
        em: f64,
        f1: f64,
        precision: f64,
        recall: f64,
        token_recall: f64,
        acc: f64,
        cover_em: f64,
    ) -> Scores {
        Scores {
            em,
            f1,
            precision,
            recall,
            token_recall,
            acc,
            cover_em,
            normalization: Normalization::Squad,
        }
    }

    fn check_r1(prediction: &str, golds: &[&str], expect: Scores) {
        let expect = Scores {
            normalization: Normalization::R1Searcher,
            ..expect
        };
        assert_eq!(
            score_with(prediction, golds, Normalization::R1Searcher),
            expect,
            "scoring {prediction:?} against {golds:?} R1-Searcher's way"
        );
    }

    #[test]
    fn r1_searcher_scores_differ_where_its_normalisation_does() {
        // "U.S.A." is "usa" to SQuAD, "u s" to R1-Searcher (its "a" an article).
        check("U.S.A.", &["USA"], s(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0));
        check_r1("U.S.A.", &["USA"], Scores::default());
        check_r1("U.S.A.", &["u s a"], s(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0));
        // "’" splits a word for R1-Searcher only.
        check("O’Neill", &["Neill"], s(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0));
        check_r1(
            "O’Neill",
            &["Neill"],
            s(0.0, 2.0 / 3.0, 0.5, 1.0, 1.0, 1.0, 1.0),
        );
        // A whole "False" reads "no"; a padded one does not.
        check("False", &["no"], Scores::default());
        check_r1("False", &["no"], s(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0));
        check_r1(" False ", &["no"], Scores::default());
        // An underscore splits, and the article it exposes goes.
        check_r1(
            "the_Beatles",
            &["Beatles"],
            s(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
        );
        check(
            "the_Beatles",
            &["Beatles"],
            s(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        );
    }

    #[test]
    fn r1_searcher_takes_precision_and_recall_from_the_best_f1_alias() {
        // "red": p = 1/2, r = 1; "red green blue black": p = 1, r = 1/2; both have F1 2/3: the
        // first wins, where FlashRAG would maximise each over the aliases (1 and 1).
        check_r1(
            "red green",
            &["red", "red green blue black"],
            s(0.0, 2.0 / 3.0, 0.5, 1.0, 1.0, 1.0, 1.0),
        );
        check_r1(
            "red green",
            &["red green blue black", "red"],
            s(0.0, 2.0 / 3.0, 1.0, 0.5, 1.0, 1.0, 1.0),
        );
    }

    #[test]
    fn exact_answers_score_one_everywhere() {
        check(
            "The Eiffel Tower!",
            &["eiffel tower"],
            s(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
        );
    }

    #[test]
    fn no_golds_scores_zero() {
        check("Paris", &[], Scores::default());
        check_r1("Paris", &[], Scores::default());
    }

    #[test]
    fn scores_written_before_the_normalisation_was_recorded_read_as_squad() {
        let old =
            r#"{"em":1,"f1":1,"precision":1,"recall":1,"token_recall":1,"acc":1,"cover_em":1}"#;
        let read: Scores = serde_json::from_str(old).unwrap();
        assert_eq!(read, s(1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0));
        let r1 = score_with("x", &["x"], Normalization::R1Searcher);
        let json = serde_json::to_value(r1).unwrap();
        assert_eq!(json["normalization"], "r1-searcher");
    }

    #[test]
    fn longer_prediction_keeps_recall_and_sub_em_loses_em_and_precision() {
        // pred tokens: barack obama was president (4); gold: barack obama (2).
        check(
            "Barack Obama was president",
            &["Barack Obama"],
            s(0.0, 2.0 / 3.0, 0.5, 1.0, 1.0, 1.0, 1.0),
        );
    }

    #[test]
    fn cover_em_ignores_order_and_sub_em_does_not() {
        check(
            "Vinci da Leonardo",
            &["Leonardo da Vinci"],
            s(0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0),
        );
    }

    #[test]
    fn sub_em_matches_inside_words_and_cover_em_does_not() {
        check("party", &["art"], s(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0));
    }

    #[test]
    fn yes_no_rule_zeroes_f1_but_not_token_recall() {
        check("no, never", &["no"], s(0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0));
        check("yes", &["no"], Scores::default());
    }

    #[test]
    fn counter_overlap_counts_repeats_once_per_occurrence() {
        check(
            "new york",
            &["new york new york"],
            s(0.0, 2.0 / 3.0, 1.0, 0.5, 0.5, 0.0, 1.0),
        );
    }

    #[test]
    fn precision_and_recall_are_maximised_over_aliases_separately() {
        // "red": p = 1/2, r = 1; "red green blue black": p = 1, r = 1/2; both have F1 2/3.
        let got = token_f1("red green", &["red", "red green blue black"]);
        assert_eq!(
            got,
            TokenF1 {
                f1: 2.0 / 3.0,
                precision: 1.0,
                recall: 1.0
            }
        );
    }

    #[test]
    fn empty_aliases() {
        // An alias that normalises to nothing: EM only with an empty prediction, sub-EM always,
        // cover-EM only with an empty prediction (split(" ") gives [""]), token scores 0.
        check("Paris", &["the"], s(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0));
        check("A", &["the"], s(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0));
    }

    #[test]
    fn single_metric_functions_agree_with_score() {
        let (pred, golds) = ("the Louvre museum", ["Louvre", "Musée du Louvre"]);
        let all = score(pred, &golds);
        assert_eq!(exact_match(pred, &golds), all.em);
        assert_eq!(sub_exact_match(pred, &golds), all.acc);
        assert_eq!(cover_exact_match(pred, &golds), all.cover_em);
        assert_eq!(token_recall(pred, &golds), all.token_recall);
        let f1 = token_f1(pred, &golds);
        assert_eq!(
            (f1.f1, f1.precision, f1.recall),
            (all.f1, all.precision, all.recall)
        );
        assert_eq!(all, s(0.0, 2.0 / 3.0, 0.5, 1.0, 1.0, 1.0, 1.0));
    }

    #[test]
    fn scores_serialise_with_their_names() {
        let json = serde_json::to_value(Scores::default()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 8);
        for k in [
            "em",
            "f1",
            "precision",
            "recall",
            "token_recall",
            "acc",
            "cover_em",
            "normalization",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
    }
}
