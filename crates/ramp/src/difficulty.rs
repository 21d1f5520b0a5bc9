//! Difficulty ([`Difficulty::Ppl`]): how well a local model guesses a span without search.
//!
//! Exact definitions, with `T` the sample text (the answer) and a span `T[a..b]`:
//! - **context and continuation**: the context is `T[..a]` with its trailing whitespace moved
//!   to the front of the continuation (`"… directed by"` + `" Stanley Kubrick"`), because
//!   tokenizers attach a space to the word after it;
//! - **pre-score** of a candidate (used to choose masks): the total negative log-likelihood,
//!   in nats, of the continuation given the unmasked context. Masks are then drawn weighted by
//!   this total (instead of by length), so long spans the model cannot guess are preferred;
//! - **recorded score** of a chosen mask (`ext.mask_difficulty`): the mean negative
//!   log-likelihood per token of the continuation given the context in which every *earlier*
//!   chosen mask is already replaced by `[mask]`, i.e. what the model faces when it fills
//!   the masks left to right. `ext.difficulty` is the mean over the masks.

use std::{fmt, str::FromStr};

use chat::{ChatError, LogProb, TokenScorer};

use crate::{
    RampError,
    mask::{Prepared, mask_text},
    spans::Span,
};

/// Whether spans are scored by a local model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Difficulty {
    /// Masks are drawn weighted by length; nothing is scored.
    #[default]
    None,
    /// Masks are drawn weighted by their pre-score, and the chosen ones are scored (see the
    /// module docs).
    Ppl,
}

impl Difficulty {
    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::None => "none",
            Difficulty::Ppl => "ppl",
        }
    }
}

impl FromStr for Difficulty {
    type Err = RampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Difficulty::None, Difficulty::Ppl]
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| RampError::UnknownDifficulty { name: s.into() })
    }
}

impl fmt::Display for Difficulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `(context, continuation)` for the span at `start..end` of `text`.
fn split_at_span(text: &str, start: usize, end: usize) -> (&str, &str) {
    let context = text[..start].trim_end();
    (context, &text[context.len()..end])
}

/// Log-likelihood of the span given the text before it.
fn logprob(
    scorer: &dyn TokenScorer,
    text: &str,
    start: usize,
    end: usize,
) -> Result<LogProb, ChatError> {
    let (context, continuation) = split_at_span(text, start, end);
    scorer.continuation_logprob(context, continuation)
}

/// Replaces each candidate's weight by its pre-score (total NLL; a tiny floor keeps spans
/// the model predicts perfectly drawable).
pub fn prescore(scorer: &dyn TokenScorer, prepared: &mut Prepared) -> Result<(), ChatError> {
    for c in &mut prepared.candidates {
        let lp = logprob(scorer, &prepared.text, c.span.start, c.span.end)?;
        c.weight = (-lp.sum).max(1e-6);
    }
    Ok(())
}

/// Per-mask recorded scores for the chosen candidates (indexes in text order).
pub fn score_chosen(
    scorer: &dyn TokenScorer,
    prepared: &Prepared,
    chosen: &[usize],
) -> Result<Vec<f64>, ChatError> {
    let spans: Vec<Span> = chosen
        .iter()
        .map(|&i| prepared.candidates[i].span)
        .collect();
    let mut scores = Vec::with_capacity(spans.len());
    for (n, span) in spans.iter().enumerate() {
        let before = &prepared.text[..span.end];
        let masked_before = mask_text(before, &spans[..n]);
        // The span itself ends `before`, unmasked.
        let end = masked_before.len();
        let lp = logprob(scorer, &masked_before, end - (span.end - span.start), end)?;
        scores.push(lp.mean_nll());
    }
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Lang, mask::prepare, spans::SpanKind};
    use std::sync::Mutex;

    /// Scores a continuation by its length and logs every call.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(String, String)>>);

    impl TokenScorer for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }

        fn continuation_logprob(
            &self,
            context: &str,
            continuation: &str,
        ) -> Result<LogProb, ChatError> {
            self.0
                .lock()
                .unwrap()
                .push((context.to_string(), continuation.to_string()));
            let words = continuation.split_whitespace().count();
            Ok(LogProb {
                sum: -(continuation.len() as f64),
                tokens: words,
            })
        }
    }

    #[test]
    fn difficulty_parses_and_prints() {
        for d in [Difficulty::None, Difficulty::Ppl] {
            assert_eq!(d.to_string().parse::<Difficulty>().unwrap(), d);
        }
        assert!(matches!(
            "hard".parse::<Difficulty>(),
            Err(RampError::UnknownDifficulty { name }) if name == "hard"
        ));
    }

    #[test]
    fn earlier_masks_are_masked_in_the_context() {
        let text = "He met Ann Lee and Bob Ray in Oslo.";
        let p = formats::Passage {
            id: "1".into(),
            title: String::new(),
            text: text.into(),
            anchors: vec![],
            original_contents: None,
        };
        let span = |s: &str| Span::first(text, s, SpanKind::Name);
        let mut prepared = prepare(&p, vec![span("Ann Lee"), span("Bob Ray")], Lang::En).unwrap();
        let scorer = Recorder::default();
        prescore(&scorer, &mut prepared).unwrap();
        assert_eq!(prepared.candidates[0].weight, 8.0);
        let scores = score_chosen(&scorer, &prepared, &[0, 1]).unwrap();
        assert_eq!(scores, [4.0, 4.0]);
        let calls = scorer.0.lock().unwrap().clone();
        assert_eq!(calls[0], ("He met".to_string(), " Ann Lee".to_string()));
        assert_eq!(
            calls[3],
            ("He met [mask] and".to_string(), " Bob Ray".to_string())
        );
    }
}
