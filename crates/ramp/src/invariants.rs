//! What the masker promises for any passage, as checks that panic when broken: the property
//! test in `mask` runs them on generated passages and the fuzz target (`fuzz/`) on what
//! libFuzzer makes, so the promise is written once.
//!
//! Built for this crate's tests and behind the `invariants` feature; never used by a run.

use formats::{Passage, RampSample};
use rand::SeedableRng;

use crate::{
    Lang,
    mask::{Masked, SampleSkip, build, choose, fill_masks, prepare},
    spans::{self, Span, tidy},
};

/// A passage `p1` with `title` and `text`, no anchors.
pub fn passage(title: &str, text: &str) -> Passage {
    Passage::new("p1", title, text)
}

/// The sample of `p` with up to `k` masks drawn by `seed` among `spans` (English rules), after
/// checking that every candidate the rules kept is whole tokens: its own [`tidy`] form.
pub fn sample(
    p: &Passage,
    spans: Vec<Span>,
    k: usize,
    seed: u64,
) -> Result<RampSample, SampleSkip> {
    let prepared = prepare(p, spans, Lang::En)?;
    for c in &prepared.candidates {
        assert_eq!(
            tidy(&prepared.text, c.span),
            Some(c.span),
            "{:?} in {:?}",
            prepared.text.get(c.span.start..c.span.end),
            prepared.text
        );
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let chosen = choose(&prepared, k.min(prepared.capacity), &mut rng);
    let config = crate::MaskConfig {
        lang: Lang::En,
        source: "wiki".into(),
        strategy: "names".into(),
    };
    match build(&prepared, &chosen, vec![], &config) {
        Masked::Sample(s) => Ok(*s),
        Masked::Skip(s) => Err(s),
    }
}

/// Any passage masked with the offline span finders' candidates (names, dates, numbers): the
/// masks filled back into the query in order give the answer, and each mask is a whole,
/// trimmed piece of text on token boundaries.
pub fn masking(title: &str, text: &str, k: usize, seed: u64) {
    let p = passage(title, text);
    let mut found = spans::names(text);
    found.extend(spans::dates(text, Lang::En));
    found.extend(spans::numbers(text, Lang::En));
    found.sort_by_key(|s| (s.start, s.end));
    if let Ok(s) = sample(&p, found, k, seed) {
        assert_eq!(fill_masks(&s.query, &s.ext.masks), Some(s.answer.clone()));
        assert_eq!(s.ext.mask_num, s.ext.masks.len());
        for m in &s.ext.masks {
            assert!(!m.is_empty() && m.trim() == m, "{m:?}");
        }
    }
}
