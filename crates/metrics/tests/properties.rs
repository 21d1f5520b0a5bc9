//! Arbitrary input never panics and every score stays in [0, 1].

use proptest::prelude::*;

/// Strings built from the pieces the scorers look at (tags, articles, the mask placeholder,
/// punctuation, Unicode whitespace and case oddities) mixed with arbitrary text.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<think>".to_owned()),
        Just("</think>".to_owned()),
        Just("<search>".to_owned()),
        Just("</search>".to_owned()),
        Just("<information>".to_owned()),
        Just("</information>".to_owned()),
        Just("<answer>".to_owned()),
        Just("</answer>".to_owned()),
        Just("[mask]".to_owned()),
        Just(" the ".to_owned()),
        Just("a".to_owned()),
        Just("An".to_owned()),
        Just("yes".to_owned()),
        Just("\u{3000}\u{1c}\u{85}".to_owned()),
        Just("İΣß\u{301}".to_owned()),
        "[a-c ]{0,6}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

proptest! {
    #[test]
    fn answer_scores_stay_in_unit_interval(prediction in text(), golds in prop::collection::vec(text(), 0..4)) {
        let s = metrics::score(&prediction, &golds);
        for x in [s.em, s.f1, s.precision, s.recall, s.token_recall, s.acc, s.cover_em] {
            prop_assert!(in_unit(x), "{s:?}");
        }
        // EM implies every other score that compares the same strings.
        if s.em == 1.0 {
            prop_assert!(s.acc == 1.0 && s.cover_em == 1.0);
        }
        prop_assert!(s.f1 <= s.precision.max(s.recall));
    }

    #[test]
    fn normalisation_is_idempotent(text in text()) {
        let once = metrics::normalize_answer(&text);
        prop_assert_eq!(metrics::normalize_answer(&once), once.clone());
        prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
    }

    #[test]
    fn responses_never_panic(response in text(), golds in prop::collection::vec(text(), 0..3)) {
        let answer = metrics::extract_answer(&response);
        let verdict = metrics::check_format(&response);
        if verdict.is_ok() {
            prop_assert!(answer.is_some(), "well formed without an answer: {response:?}");
        }
        prop_assert!(in_unit(metrics::format_reward(&response, &golds)));
    }

    #[test]
    fn mask_scores_never_panic(
        masks in prop::collection::vec(text(), 0..5),
        passage in text(),
        prediction in text(),
        spans in prop::collection::vec(text(), 0..5),
    ) {
        for s in [
            metrics::score_masks(&masks, &prediction),
            metrics::score_mask_spans(&masks, &spans),
            metrics::score_masks_aligned(&masks, &passage, &prediction),
        ] {
            prop_assert_eq!(s.masks.len(), masks.len());
            prop_assert!(in_unit(s.recovered));
        }
    }

    #[test]
    fn a_faithful_fill_recovers_every_mask(words in prop::collection::vec("[a-z]{1,8}", 1..30), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..5)) {
        // Mask distinct positions of a passage and fill them back in exactly.
        let mut positions: Vec<usize> = picks.iter().map(|i| i.index(words.len())).collect();
        positions.sort_unstable();
        positions.dedup();
        let masks: Vec<&str> = positions.iter().map(|&p| words[p].as_str()).collect();
        let passage: Vec<&str> = words.iter().enumerate()
            .map(|(i, w)| if positions.contains(&i) { "[mask]" } else { w.as_str() }).collect();
        let scores = metrics::score_masks_aligned(&masks, &passage.join(" "), &words.join(" "));
        let recovered = scores.masks.iter().zip(&masks).all(|(m, gold)| {
            m.recovered || metrics::normalize_answer(gold).is_empty()
        });
        prop_assert!(recovered, "{scores:?}");
    }
}
