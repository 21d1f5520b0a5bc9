//! The rule teacher: offline, deterministic trajectories for RAMP samples.
//!
//! For each mask, in order, it searches the words around the mask together with the page
//! title, then — only if it can — the whole sentence around the mask, and keeps the first
//! retrieved passage whose text holds the masked span as whole words. The trajectory it writes
//! (think / search / information / … / answer) is grounded by construction: every filled mask
//! is quoted from a retrieved document. When some mask is not found the trajectory is rejected
//! ([`Rejection::NotGrounded`]); nothing is ever filled from the gold alone.
//!
//! A cold start and a baseline, not a replacement for model teachers: its reasoning is a
//! template.
//!
//! [`Rejection::NotGrounded`]: formats::Rejection::NotGrounded

use std::time::Instant;

use formats::{StepKind, Task};
use search::{SearchHit, Searcher};

use crate::{
    attempt::{Attempt, End},
    chatml::Round,
    runtime::search_step,
};

/// How the rule teacher searches.
#[derive(Debug, Clone)]
pub struct RuleConfig {
    /// Documents per search (the student's `topk`, so its searches replay).
    pub topk: usize,
    /// Words taken on each side of a mask for the first query.
    pub context_words: usize,
    /// Words of the mask's neighbourhood (or of the page title) a document's sentence or title
    /// must share besides the span itself, so a span that merely occurs somewhere ("United
    /// States" in an unrelated sentence) does not count as found.
    pub min_support: usize,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            topk: student::DEFAULT_TOPK,
            context_words: 6,
            min_support: 2,
        }
    }
}

/// Fills the masks of a RAMP `task` by searching. `title` is the page title; `exclude` the
/// passages no search may show (the sample's own, when the run leaves it out, so every mask
/// must be found elsewhere in the corpus).
pub async fn run(
    searcher: &dyn Searcher,
    task: &Task,
    title: &str,
    exclude: &[String],
    config: &RuleConfig,
) -> Attempt {
    let mut out = Attempt::new(searcher);
    let masked = task
        .query
        .rsplit_once("\n\n")
        .map_or(task.query.as_str(), |(m, _)| m);
    let pieces: Vec<&str> = masked.split(crate::MASK).collect();
    // What the previous round found, said at the start of the next thought.
    let mut found_before = String::new();
    // Each mask's filler, as read in a retrieved document.
    let mut fills: Vec<&str> = Vec::new();
    for (i, span) in task.masks.iter().enumerate() {
        let n = i + 1;
        let (before, after) = around(&pieces, i, config.context_words);
        let plan = format!(
            "{found_before}Mask {n} comes after \"{before}\" and before \"{after}\". I search for the words around it."
        );
        let context = content_words(&format!("{title} {before} {after}"), span);
        let with_title = if before.contains(title) { "" } else { title };
        let mut queries = vec![join_query(&[with_title, &before, &after])];
        let sentence = sentence_around(&pieces, i);
        if sentence != queries[0] && !sentence.is_empty() {
            queries.push(sentence);
        }
        let mut grounded = None;
        for query in student::turn::clean_queries(&queries) {
            let queries = vec![query];
            let thought = format!(
                "<think>{plan}</think>\n{}",
                student::search_element(&queries).unwrap_or_default()
            );
            let started = Instant::now();
            let seen = match student::observe(searcher, &queries, config.topk, exclude).await {
                Ok(seen) => seen,
                Err(e) => {
                    out.end = End::SearchFailed(e.to_string());
                    return out;
                }
            };
            let mut step = search_step(&queries, &seen, started);
            step.kind = StepKind::Rule;
            out.search_step(step);
            out.transcript.push_str(&thought);
            out.transcript.push_str(&seen.block);
            out.rounds.push(Round::Search {
                thought,
                queries,
                information: seen.block,
            });
            let hits = seen.hits;
            let supported = hits.iter().enumerate().find_map(|(j, h)| {
                let quote = quote(h, span)?;
                let shared = shared_words(&context, &format!("{} {quote}", h.passage.title));
                (shared.len() >= config.min_support).then_some((j + 1, quote, shared))
            });
            if let Some(found) = supported {
                grounded = Some(found);
                break;
            }
        }
        let Some((doc, quote, shared)) = grounded else {
            out.end = End::NotGrounded(format!(
                "mask {n} ({span:?}) is in no retrieved document that shares its context"
            ));
            return out;
        };
        found_before = format!(
            "Doc {doc} reads \"{quote}\", which matches \"{}\", so mask {n} is \"{span}\". ",
            shared.join("\", \"")
        );
        fills.push(span);
    }
    let answer = fill(&pieces, &fills);
    let all = match task.masks.len() {
        1 => "The mask is filled from the documents.".to_string(),
        n => format!("All {n} masks are filled from the documents."),
    };
    let text = format!("<think>{found_before}{all}</think>\n<answer> {answer} </answer>");
    out.transcript.push_str(&text);
    out.final_text = Some(text);
    out.end = End::Answered(answer);
    out
}

/// The masked text with each `[mask]` replaced by its filler, in order.
fn fill(pieces: &[&str], fills: &[&str]) -> String {
    let mut text = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        text.push_str(piece);
        if let Some(filler) = fills.get(i) {
            text.push_str(filler);
        }
    }
    text
}

/// Function words of four letters or more: sharing them says nothing about a fact.
const FUNCTION_WORDS: [&str; 40] = [
    "also", "been", "before", "being", "between", "both", "could", "does", "during", "each",
    "from", "have", "into", "many", "more", "most", "much", "only", "other", "over", "same",
    "some", "such", "than", "that", "their", "them", "then", "there", "these", "they", "this",
    "those", "through", "until", "very", "were", "what", "when", "which",
];

/// The lower-cased words of `text` worth matching (four letters or more, not function words),
/// minus the words of `span` itself.
fn content_words(text: &str, span: &str) -> Vec<String> {
    let span: Vec<String> = words(span).collect();
    let mut out: Vec<String> = Vec::new();
    for w in words(text) {
        let useful = w.chars().count() >= 4 && !FUNCTION_WORDS.contains(&w.as_str());
        if useful && !span.contains(&w) && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Which of `context` occur in `text`, in `context`'s order.
fn shared_words(context: &[String], text: &str) -> Vec<String> {
    let present: Vec<String> = words(text).collect();
    context
        .iter()
        .filter(|w| present.contains(w))
        .cloned()
        .collect()
}

/// Lower-cased alphanumeric words.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Up to `n` words of text on each side of mask `i` (other masks left out).
fn around(pieces: &[&str], i: usize, n: usize) -> (String, String) {
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_string).collect() };
    let before = words(pieces[i]);
    let after = words(pieces.get(i + 1).copied().unwrap_or(""));
    let before = before[before.len().saturating_sub(n)..].join(" ");
    let after = after[..after.len().min(n)].join(" ");
    (before, after)
}

/// The sentence holding mask `i`, the mask itself left out.
fn sentence_around(pieces: &[&str], i: usize) -> String {
    let left = pieces[i];
    let right = pieces.get(i + 1).copied().unwrap_or("");
    let start = left.rfind(['.', '!', '?', '\n']).map_or(0, |at| at + 1);
    let end = right.find(['.', '!', '?', '\n']).unwrap_or(right.len());
    join_query(&[&left[start..], &right[..end]])
}

/// Words joined by single spaces, stray punctuation dropped.
fn join_query(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|p| p.split_whitespace())
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The sentence of `hit` around the first whole-word occurrence of `span`, if there is one. A
/// sentence longer than [`QUOTE_WORDS`] is cut to the words around the span, the cuts marked
/// `… `; what is between the marks is the document's text verbatim and holds the span.
fn quote(hit: &SearchHit, span: &str) -> Option<String> {
    let text = &hit.passage.text;
    let at = whole_word(text, span)?;
    let span_end = at + span.len();
    let start = text[..at].rfind(['.', '!', '?']).map_or(0, |p| p + 1);
    let end = text[span_end..]
        .find(['.', '!', '?'])
        .map_or(text.len(), |p| span_end + p + 1);
    // Cut points: at most `before` words ahead of the span, the rest after it.
    let before = QUOTE_WORDS / 3;
    let ahead: Vec<usize> = word_starts(&text[start..at]).map(|i| start + i).collect();
    let from = ahead[ahead.len().saturating_sub(before)..]
        .first()
        .copied()
        .unwrap_or(at);
    let used = ahead.len().min(before) + span.split_whitespace().count();
    let after: Vec<usize> = word_starts(&text[span_end..end])
        .map(|i| span_end + i)
        .collect();
    let to = after
        .get(QUOTE_WORDS.saturating_sub(used))
        .copied()
        .unwrap_or(end);
    let mut quote = text[from..to].trim().to_string();
    if !text[start..from].trim().is_empty() {
        quote.insert_str(0, "… ");
    }
    if !text[to..end].trim().is_empty() {
        quote.push_str(" …");
    }
    Some(quote)
}

/// Words quoted at most from one sentence.
const QUOTE_WORDS: usize = 40;

/// Byte offsets of the words of `text` (starts of runs of non-white space).
fn word_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.char_indices()
        .filter(|&(i, c)| {
            !c.is_whitespace()
                && text[..i]
                    .chars()
                    .next_back()
                    .is_none_or(char::is_whitespace)
        })
        .map(|(i, _)| i)
}

/// The byte offset of the first occurrence of `needle` in `text` not glued to a letter or digit.
fn whole_word(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let glued = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    text.match_indices(needle).map(|(at, _)| at).find(|&at| {
        !glued(text[..at].chars().next_back()) && !glued(text[at + needle.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use formats::{Passage, TaskKind};
    use search::testing::Scripted;

    #[test]
    fn context_and_sentences_skip_the_other_masks() {
        let pieces: Vec<&str> = "Andrew Barto received his [mask] with distinction in [mask] from Michigan. He later taught."
            .split(crate::MASK)
            .collect();
        assert_eq!(
            around(&pieces, 0, 3),
            (
                "Barto received his".to_string(),
                "with distinction in".to_string()
            )
        );
        assert_eq!(
            sentence_around(&pieces, 1),
            "with distinction in from Michigan"
        );
    }

    #[test]
    fn spans_are_quoted_only_as_whole_words() {
        let hit = SearchHit {
            passage: Passage::new(
                "1",
                "T",
                "He studied mathematics. In 1970 he graduated from Michigan.",
            ),
            score: 1.0,
        };
        assert_eq!(
            quote(&hit, "1970").as_deref(),
            Some("In 1970 he graduated from Michigan.")
        );
        assert_eq!(quote(&hit, "math"), None);
        // A long sentence is cut around the span, never before it.
        let words: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
        let long = format!(
            "{} Great Depression {}.",
            words[..50].join(" "),
            words[50..].join(" ")
        );
        let hit = SearchHit {
            passage: Passage::new("2", "T", &long),
            score: 1.0,
        };
        let q = quote(&hit, "Great Depression").unwrap();
        assert_eq!(
            q,
            "… w37 w38 w39 w40 w41 w42 w43 w44 w45 w46 w47 w48 w49 Great Depression w50 w51 w52 w53 w54 w55 w56 w57 w58 w59."
        );
        let long = format!("Great Depression {}.", words.join(" "));
        let hit = SearchHit {
            passage: Passage::new("3", "T", &long),
            score: 1.0,
        };
        let q = quote(&hit, "Great Depression").unwrap();
        assert!(
            q.starts_with("Great Depression w0 ") && q.ends_with(" w37 …"),
            "{q}"
        );
        assert_eq!(whole_word("US$1 and $1", "$1"), Some(9));
    }

    #[test]
    fn a_span_counts_as_found_only_where_its_context_is() {
        let task = Task {
            kind: TaskKind::Ramp,
            query: "In the constitutional law of the [mask], ordered liberty means creating a balanced society.\n\nFill in all the [mask].".into(),
            golds: vec!["In the constitutional law of the United States, ordered liberty means creating a balanced society.".into()],
            masks: vec!["United States".into()],
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let unrelated = Scripted::fixed(vec![Passage::new(
            "s",
            "Statue of Liberty",
            "The statue was a gift to the United States from France.",
        )]);
        let out = rt.block_on(run(
            &unrelated,
            &task,
            "Liberty",
            &[],
            &RuleConfig::default(),
        ));
        assert!(matches!(out.end, End::NotGrounded(_)), "{:?}", out.end);
        let related = Scripted::fixed(vec![Passage::new(
            "c",
            "Ordered liberty",
            "Ordered liberty is a concept of the constitutional law of the United States.",
        )]);
        let out = rt.block_on(run(&related, &task, "Liberty", &[], &RuleConfig::default()));
        assert!(matches!(out.end, End::Answered(_)), "{:?}", out.end);
        assert!(
            out.transcript
                .contains("which matches \"liberty\", \"constitutional\""),
            "{}",
            out.transcript
        );
    }

    #[test]
    fn a_task_without_masks_answers_at_once() {
        let task = Task {
            kind: TaskKind::Ramp,
            query: "x".into(),
            golds: vec!["x".into()],
            masks: vec![],
        };
        let never = Scripted::down("never", "nothing to search");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out = rt.block_on(run(&never, &task, "T", &[], &RuleConfig::default()));
        assert_eq!(out.end, End::Answered("x".into()));
        assert_eq!(never.asked(), [], "nothing to search");
    }
}
