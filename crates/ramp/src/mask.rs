//! The masking rules: from a passage and its candidate spans to one sample, or a counted skip.
//!
//! The rules of the original `gen_qa.py`, with its defects fixed:
//! - the page title (and its form without a " (…)" suffix) is never a mask, and spans that
//!   occur more than once in the passage (as whole words) are dropped — filtered properly, not
//!   while iterating;
//! - the title stays visible: a span overlapping the title's first mention (whole words, ASCII
//!   case ignored) is never masked; a
//!   passage that does not mention its title gets the title as a first line (`"Title\ntext"`,
//!   `ext.title_prefixed`). The original prefixed `"Title "` to the paragraph; a line keeps
//!   the passage's own first sentence intact. Either way the answer is exactly the text the
//!   query was masked from;
//! - k masks (the level, 1 to 4) are drawn weighted by span length (words; characters for
//!   Chinese; a purely numeric span weighs as much as the longest word span, as in the
//!   original) — or by difficulty — *without* replacement, never overlapping, and only while k
//!   non-overlapping spans remain reachable;
//! - each chosen span is replaced once, at its own position, by `[mask]`; `ext.masks` lists
//!   them in passage order, so filling the `[mask]`s of the query in order with `ext.masks`
//!   gives back the answer ([`fill_masks`]);
//! - a span at the very start of the text is never a candidate, so no query starts with
//!   `[mask]`;
//! - every span is [`crate::spans::tidy`]: no punctuation at its ends, never part of a
//!   whitespace-delimited token ("US$1" is never masked as "US[mask]").

use formats::{Passage, RampExt, RampSample};
use rand::RngCore;

use crate::{
    Lang,
    curriculum::MAX_LEVEL,
    spans::{Span, tidy, title_core, word_occurrences},
};

pub use formats::MASK;

/// Why a passage produced no sample. Expected bad input is data: each reason is counted.
/// (Named apart from `corpus`'s page skips: this is about samples.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SampleSkip {
    /// The input line was not a passage.
    BadInputLine,
    EmptyText,
    /// The text already contains the literal `[mask]`, so a query would be ambiguous.
    ContainsMaskToken,
    /// No candidate span survived the rules.
    NoCandidates,
    /// Fewer non-overlapping spans than any level the curriculum wants.
    TooFewSpans,
    /// The model's answer held no list.
    LlmNotAList,
    /// The model rejected the request (e.g. a passage too long for its context).
    LlmFailed,
    /// On resume, a passage before the last record already written produced a sample it did not
    /// produce before (only possible with a non-deterministic model); dropped to keep order.
    ResumeDivergence,
}

impl SampleSkip {
    pub fn as_str(self) -> &'static str {
        match self {
            SampleSkip::BadInputLine => "bad_input_line",
            SampleSkip::EmptyText => "empty_text",
            SampleSkip::ContainsMaskToken => "contains_mask_token",
            SampleSkip::NoCandidates => "no_candidates",
            SampleSkip::TooFewSpans => "too_few_spans",
            SampleSkip::LlmNotAList => "llm_not_a_list",
            SampleSkip::LlmFailed => "llm_failed",
            SampleSkip::ResumeDivergence => "resume_divergence",
        }
    }
}

/// What one passage became.
#[derive(Debug, Clone, PartialEq)]
pub enum Masked {
    Sample(Box<RampSample>),
    Skip(SampleSkip),
}

/// Settings of the sample builder.
#[derive(Debug, Clone)]
pub struct MaskConfig {
    pub lang: Lang,
    /// `ext.source` (`"wiki"` in the original).
    pub source: String,
    /// `ext.strategy`.
    pub strategy: String,
}

/// A candidate that survived the rules, with its sampling weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Byte range in [`Prepared::text`].
    pub span: Span,
    pub weight: f64,
}

/// A passage ready to be masked: the text the query is made from and its candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub passage_id: String,
    pub title: String,
    /// The passage text, after the title line when `title_prefixed`; this is the answer.
    pub text: String,
    pub title_prefixed: bool,
    /// Candidates in text order, each range once.
    pub candidates: Vec<Candidate>,
    /// How many masks the candidates can hold without overlapping (at most 4).
    pub capacity: usize,
}

/// Applies the candidate rules to `passage`. `spans` are byte ranges of `passage.text` from
/// any source; they may overlap and repeat, and each is [`tidy`]-ed (or dropped) first.
pub fn prepare(passage: &Passage, spans: Vec<Span>, lang: Lang) -> Result<Prepared, SampleSkip> {
    if passage.text.trim().is_empty() {
        return Err(SampleSkip::EmptyText);
    }
    if passage.text.contains(MASK) || passage.title.contains(MASK) {
        return Err(SampleSkip::ContainsMaskToken);
    }
    let core = title_core(&passage.title);
    // A mention is the title as whole words, ignoring ASCII case ("An actor …" mentions "Actor").
    let lowered = core.to_ascii_lowercase();
    let mentioned = core.is_empty()
        || !word_occurrences(&passage.text.to_ascii_lowercase(), &lowered).is_empty();
    let (text, shift) = if mentioned {
        (passage.text.clone(), 0)
    } else {
        let text = format!("{core}\n{}", passage.text);
        let shift = core.len() + 1;
        (text, shift)
    };
    // The title mention that must stay visible.
    let title_at = if core.is_empty() {
        None
    } else {
        word_occurrences(&text.to_ascii_lowercase(), &lowered)
            .first()
            .map(|&s| s..s + core.len())
    };
    let first_char = text.len() - text.trim_start().len();
    let mut spans: Vec<Span> = spans
        .into_iter()
        .filter_map(|s| tidy(&passage.text, s))
        .map(|s| Span {
            start: s.start + shift,
            end: s.end + shift,
            kind: s.kind,
        })
        .collect();
    spans.sort();
    spans.dedup_by(|b, a| a.start == b.start && a.end == b.end);
    let mut candidates = Vec::new();
    let mut occurrences = std::collections::HashMap::new();
    for span in spans {
        let surface = &text[span.start..span.end];
        let is_title = surface.eq_ignore_ascii_case(core)
            || surface.eq_ignore_ascii_case(passage.title.trim());
        let hides_title = title_at
            .as_ref()
            .is_some_and(|t| span.start < t.end && t.start < span.end);
        if is_title || hides_title || span.start <= first_char {
            continue;
        }
        let count = *occurrences
            .entry(surface)
            .or_insert_with(|| word_occurrences(&text, surface).len());
        if count != 1 {
            continue;
        }
        candidates.push(Candidate {
            span,
            weight: length_weight(surface, lang),
        });
    }
    if candidates.is_empty() {
        return Err(SampleSkip::NoCandidates);
    }
    numbers_weigh_like_the_longest(&mut candidates, &text);
    let all: Vec<usize> = (0..candidates.len()).collect();
    let capacity = capacity(&candidates, &all, None).min(MAX_LEVEL);
    Ok(Prepared {
        passage_id: passage.id.clone(),
        title: passage.title.clone(),
        text,
        title_prefixed: !mentioned,
        candidates,
        capacity,
    })
}

/// The original's weight: words for English, characters for Chinese.
fn length_weight(surface: &str, lang: Lang) -> f64 {
    match lang {
        Lang::En => surface.split_whitespace().count() as f64,
        Lang::Zh => surface.chars().count() as f64,
    }
}

fn is_numeric(surface: &str) -> bool {
    surface.chars().all(|c| c.is_ascii_digit())
}

/// In the original a purely numeric entity weighs as much as the heaviest other entity (1 if
/// there is none), so numbers are not starved by their single "word".
fn numbers_weigh_like_the_longest(candidates: &mut [Candidate], text: &str) {
    let max = candidates
        .iter()
        .filter(|c| !is_numeric(&text[c.span.start..c.span.end]))
        .map(|c| c.weight)
        .fold(1.0, f64::max);
    for c in candidates {
        if is_numeric(&text[c.span.start..c.span.end]) {
            c.weight = max;
        }
    }
}

/// The most non-overlapping spans among `pool` that also avoid `chosen` (greedy by end,
/// which is optimal for intervals).
fn capacity(candidates: &[Candidate], pool: &[usize], avoid: Option<&[Span]>) -> usize {
    let mut spans: Vec<Span> = pool
        .iter()
        .map(|&i| candidates[i].span)
        .filter(|s| avoid.is_none_or(|a| a.iter().all(|c| !c.overlaps(s))))
        .collect();
    spans.sort_by_key(|s| (s.end, s.start));
    let mut end = 0;
    let mut n = 0;
    for s in spans {
        if s.start >= end {
            n += 1;
            end = s.end;
        }
    }
    n
}

/// Draws `k` non-overlapping candidates, weighted, without replacement. At every draw only
/// candidates that still leave room for the remaining draws are eligible, so `k` masks are
/// found whenever `k <= capacity`. Returns indexes into `prepared.candidates` in text order.
pub fn choose(prepared: &Prepared, k: usize, rng: &mut dyn RngCore) -> Vec<usize> {
    let cands = &prepared.candidates;
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    let mut chosen_spans: Vec<Span> = Vec::with_capacity(k);
    for step in 0..k {
        let need = k - step;
        let open: Vec<usize> = (0..cands.len())
            .filter(|&i| chosen_spans.iter().all(|s| !s.overlaps(&cands[i].span)))
            .collect();
        let eligible: Vec<usize> = open
            .iter()
            .copied()
            .filter(|&i| {
                let mut with = chosen_spans.clone();
                with.push(cands[i].span);
                1 + capacity(cands, &open, Some(&with)) >= need
            })
            .collect();
        let Some(pick) = weighted_pick(&eligible, |i| cands[i].weight, rng) else {
            break;
        };
        chosen.push(pick);
        chosen_spans.push(cands[pick].span);
    }
    chosen.sort_by_key(|&i| cands[i].span.start);
    chosen
}

fn weighted_pick(
    items: &[usize],
    weight: impl Fn(usize) -> f64,
    rng: &mut dyn RngCore,
) -> Option<usize> {
    let total: f64 = items.iter().map(|&i| weight(i).max(0.0)).sum();
    if items.is_empty() {
        return None;
    }
    if total <= 0.0 || !total.is_finite() {
        return Some(items[(rng.next_u64() % items.len() as u64) as usize]);
    }
    // 53 random bits: the same draw on every platform and rand version.
    let mut r = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    for &i in items {
        r -= weight(i).max(0.0);
        if r < 0.0 {
            return Some(i);
        }
    }
    items.last().copied()
}

/// The text with each of `spans` (sorted, non-overlapping) replaced by `[mask]`.
pub fn mask_text(text: &str, spans: &[Span]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for s in spans {
        out.push_str(&text[at..s.start]);
        out.push_str(MASK);
        at = s.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Builds the record for the chosen candidates (indexes in text order).
/// `difficulty` holds the per-mask scores when difficulty scoring is on.
pub fn build(
    prepared: &Prepared,
    chosen: &[usize],
    difficulty: Vec<f64>,
    config: &MaskConfig,
) -> Masked {
    let spans: Vec<Span> = chosen
        .iter()
        .map(|&i| prepared.candidates[i].span)
        .collect();
    let masked = mask_text(&prepared.text, &spans);
    if spans.is_empty() {
        return Masked::Skip(SampleSkip::NoCandidates);
    }
    if masked.trim_start().starts_with(MASK) {
        // Excluded by `prepare`; kept as a guard so no such record is ever written.
        return Masked::Skip(SampleSkip::NoCandidates);
    }
    let text = &prepared.text;
    let mut entities: Vec<String> = Vec::new();
    for c in &prepared.candidates {
        let surface = &text[c.span.start..c.span.end];
        if !entities.iter().any(|e| e == surface) {
            entities.push(surface.to_string());
        }
    }
    let mean =
        (!difficulty.is_empty()).then(|| difficulty.iter().sum::<f64>() / difficulty.len() as f64);
    Masked::Sample(Box::new(RampSample {
        id: prepared.passage_id.clone(),
        query: format!("{masked}\n\n{}", config.lang.instruction()),
        answer: prepared.text.clone(),
        ext: RampExt {
            mask_num: spans.len(),
            masks: spans
                .iter()
                .map(|s| text[s.start..s.end].to_string())
                .collect(),
            entities,
            source: config.source.clone(),
            title: prepared.title.clone(),
            passage_id: prepared.passage_id.clone(),
            strategy: config.strategy.clone(),
            difficulty: mean,
            mask_kinds: spans.iter().map(|s| s.kind.as_str().to_string()).collect(),
            mask_difficulty: difficulty,
            title_prefixed: prepared.title_prefixed,
        },
    }))
}

/// Fills the `[mask]`s of a query, in order, with `masks`; `None` if the counts differ.
/// The instruction after the last blank line is removed first. For every sample this crate
/// writes, the result equals the answer.
pub fn fill_masks<S: AsRef<str>>(query: &str, masks: &[S]) -> Option<String> {
    let masked = query.rsplit_once("\n\n").map_or(query, |(m, _)| m);
    let parts: Vec<&str> = masked.split(MASK).collect();
    if parts.len() != masks.len() + 1 {
        return None;
    }
    let mut out =
        String::with_capacity(masked.len() + masks.iter().map(|m| m.as_ref().len()).sum::<usize>());
    for (part, fill) in parts.iter().zip(masks) {
        out.push_str(part);
        out.push_str(fill.as_ref());
    }
    out.push_str(parts[parts.len() - 1]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::{passage, sample};
    use crate::spans::{self, SpanKind};
    use rand::SeedableRng;

    #[test]
    fn drops_title_repeats_and_text_start() {
        let text = "Ann Arbor lies in Michigan. Ann Arbor hosts the University of Michigan and Washtenaw County offices.";
        let p = passage("Ann Arbor (city)", text);
        let found = spans::names(text);
        let prepared = prepare(&p, found, Lang::En).unwrap();
        let kept: Vec<&str> = prepared
            .candidates
            .iter()
            .map(|c| &prepared.text[c.span.start..c.span.end])
            .collect();
        assert_eq!(kept, ["University of Michigan", "Washtenaw County"]);
        assert!(!prepared.title_prefixed);
        assert_eq!(prepared.capacity, 2);
    }

    #[test]
    fn title_is_prefixed_as_a_line_when_not_mentioned() {
        let text = "It is the capital of France and home to the Louvre Museum.";
        let p = passage("Paris", text);
        let s = sample(&p, spans::names(text), 1, 1).unwrap();
        assert_eq!(s.answer, format!("Paris\n{text}"));
        assert!(s.ext.title_prefixed);
        assert_eq!(s.ext.masks, ["Louvre Museum"]);
        assert!(
            s.query
                .starts_with("Paris\nIt is the capital of France and home to the [mask].")
        );
        assert_eq!(fill_masks(&s.query, &s.ext.masks).unwrap(), s.answer);
    }

    #[test]
    fn masks_are_distinct_non_overlapping_and_restore() {
        let text = "In 1968 Stanley Kubrick and Arthur C. Clarke made a film for Metro-Goldwyn-Mayer in New York City, 12 March 1968.";
        let p = passage("2001: A Space Odyssey", text);
        let mut spans = spans::names(text);
        spans.extend(spans::dates(text, Lang::En));
        for seed in 0..200 {
            let s = sample(&p, spans.clone(), 4, seed).unwrap();
            assert_eq!(s.ext.mask_num, s.ext.masks.len());
            let masked = s.query.strip_suffix(formats::RAMP_INSTRUCTION_EN).unwrap();
            assert_eq!(masked.matches(MASK).count(), s.ext.mask_num);
            assert_eq!(fill_masks(&s.query, &s.ext.masks).unwrap(), s.answer);
            let mut m = s.ext.masks.clone();
            m.dedup();
            assert_eq!(m.len(), s.ext.masks.len(), "{:?}", s.ext.masks);
            assert!(!s.query.starts_with(MASK));
        }
    }

    #[test]
    fn choose_reaches_capacity_even_past_long_spans() {
        // One long span overlapping two short ones: drawing it first would leave room for only
        // one more; the eligibility check prevents that.
        let text = "x Aa Bb Cc Dd";
        let p = passage("", text);
        let spans = vec![
            Span {
                start: 2,
                end: 7,
                kind: SpanKind::Name,
            },
            Span {
                start: 2,
                end: 4,
                kind: SpanKind::Name,
            },
            Span {
                start: 5,
                end: 7,
                kind: SpanKind::Name,
            },
            Span {
                start: 8,
                end: 10,
                kind: SpanKind::Name,
            },
        ];
        let prepared = prepare(&p, spans, Lang::En).unwrap();
        assert_eq!(prepared.capacity, 3);
        for seed in 0..100 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            assert_eq!(choose(&prepared, 3, &mut rng).len(), 3);
        }
    }

    /// Four non-overlapping candidates of 1, 2, 3 and 4 words: a single draw picks each with
    /// probability words / 10. Over `N` seeded draws each frequency must lie within five
    /// standard deviations (sqrt(p(1 - p) / N)) of its p; ignoring the weights (1/4 each) misses
    /// every p by at least 0.05, more than five standard deviations.
    #[test]
    fn choice_follows_length_weights() {
        const N: u64 = 20_000;
        let text = "x Ab, Cd Ef, Gh Ij Kl, Mn Op Qr St.";
        let span = |s: &str| Span::first(text, s, SpanKind::Name);
        let spans = vec![
            span("Ab"),
            span("Cd Ef"),
            span("Gh Ij Kl"),
            span("Mn Op Qr St"),
        ];
        let prepared = prepare(&passage("", text), spans, Lang::En).unwrap();
        let mut counts = [0u64; 4];
        for seed in 0..N {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            counts[choose(&prepared, 1, &mut rng)[0]] += 1;
        }
        for (i, &count) in counts.iter().enumerate() {
            let p = (i + 1) as f64 / 10.0;
            let sd = (p * (1.0 - p) / N as f64).sqrt();
            let freq = count as f64 / N as f64;
            assert!(
                (0.25 - p).abs() > 5.0 * sd,
                "the test could not tell weights from none"
            );
            assert!(
                (freq - p).abs() < 5.0 * sd,
                "{}-word candidate drawn {freq:.4} of the time, expected {p} ± {:.4}: {counts:?}",
                i + 1,
                5.0 * sd
            );
        }
    }

    #[test]
    fn skips_are_reasons_not_panics() {
        assert_eq!(
            prepare(&passage("T", "  "), vec![], Lang::En),
            Err(SampleSkip::EmptyText)
        );
        assert_eq!(
            prepare(&passage("T", "a [mask] b"), vec![], Lang::En),
            Err(SampleSkip::ContainsMaskToken)
        );
        assert_eq!(
            prepare(&passage("T", "nothing here"), vec![], Lang::En),
            Err(SampleSkip::NoCandidates)
        );
    }

    #[test]
    fn chinese_and_combining_marks_restore() {
        let text = "林义雄生于1941年，是宜兰人，曾任民主进步党主席。";
        let p = passage("林义雄", text);
        let mut spans = spans::dates(text, Lang::Zh);
        spans.extend(crate::extract::validate("['宜兰', '民主进步党']", text, Lang::Zh).spans);
        let s = sample(&p, spans, 3, 3).unwrap();
        assert_eq!(s.ext.mask_num, 3);
        assert_eq!(fill_masks(&s.query, &s.ext.masks).unwrap(), s.answer);

        let text = "Le Cafe\u{301} de Flore is in Saint-Germain-des-Pre\u{301}s since 1887.";
        let p = passage("Flore", text);
        let s = sample(&p, spans::dates(text, Lang::En), 1, 0).unwrap();
        assert_eq!(s.ext.masks, ["1887"]);
        assert_eq!(fill_masks(&s.query, &s.ext.masks).unwrap(), s.answer);
    }

    #[test]
    fn fill_masks_rejects_count_mismatch() {
        assert_eq!(
            fill_masks("a [mask] b\n\ninstr", &["x"]).as_deref(),
            Some("a x b")
        );
        assert_eq!(fill_masks::<&str>("a [mask] b\n\ninstr", &[]), None);
    }

    mod properties {
        //! Any passage the span finders give candidates in: a sample's masks, filled back into
        //! its query in order, give its answer; every candidate is whole tokens and every mask a
        //! trimmed piece of text (`crate::invariants`, which the fuzz target runs too).
        //! `PROPTEST_CASES` raises the case count.

        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                8 => Just("Ann Lee ".to_owned()),
                8 => Just("University of Michigan ".to_owned()),
                8 => Just("12 May 1999 ".to_owned()),
                8 => Just("1,234 ".to_owned()),
                8 => Just("in 1871, ".to_owned()),
                8 => Just("Hà Nội ".to_owned()),
                8 => Just("東京 ".to_owned()),
                1 => Just("[mask] ".to_owned()),
                8 => Just(". ".to_owned()),
                8 => Just("\n".to_owned()),
                8 => "[a-z]{1,8} ",
                8 => "[A-Z][a-z]{1,8} ",
                8 => any::<String>(),
            ];
            prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
        }

        proptest! {
            #[test]
            fn filling_the_masks_gives_back_the_answer(
                title in "[A-Z][a-z]{0,8}( [A-Z][a-z]{0,8})?",
                text in text(),
                k in 1usize..5,
                seed in any::<u64>(),
            ) {
                crate::invariants::masking(&title, &text, k, seed);
            }
        }
    }
}
