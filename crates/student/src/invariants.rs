//! What the student format's readers promise on any text, as checks that panic when broken:
//! the property tests (`tests/properties.rs`) run them on generated text and the fuzz targets
//! (`fuzz/`) on what libFuzzer makes, so the promise is written once.
//!
//! Behind the `invariants` feature; never used by the runtime.

use chat::FinishReason;

use crate::{
    tags::{Part, Tag, first_element, marks, parts},
    turn::{Action, clean_queries, parse_turn, queries_in, search_element},
};

/// Every check that reads one text.
pub fn text(text: &str) {
    marks_lie_on_char_boundaries_in_order(text);
    parts_are_a_fixed_point(text);
    first_element_lies_inside(text);
    for finish in [FinishReason::Stop, FinishReason::Length] {
        for thought in [false, true] {
            turn_queries_are_clean(text, finish, thought);
        }
    }
}

/// Each mark is its tag, on character boundaries, and none overlaps the one before.
pub fn marks_lie_on_char_boundaries_in_order(text: &str) {
    let mut last = None;
    for mark in marks(text) {
        assert!(text.is_char_boundary(mark.offset) && text.is_char_boundary(mark.end()));
        let tag = if mark.closing {
            mark.tag.close()
        } else {
            mark.tag.open()
        };
        assert_eq!(&text[mark.offset..mark.end()], tag);
        assert!(
            last.is_none_or(|end| end <= mark.offset),
            "{mark:?} overlaps"
        );
        last = Some(mark.end());
    }
}

/// `parts` written back out and read again are the same parts.
pub fn parts_are_a_fixed_point(text: &str) {
    let first = parts(text);
    let again = written(&first);
    assert_eq!(parts(&again), first, "written as {again:?}");
}

/// `parts` written back out: each element between its tags, the text between them as is.
fn written(parts: &[Part<'_>]) -> String {
    parts
        .iter()
        .map(|p| match p.tag {
            Some(tag) => format!("{}{}{}", tag.open(), p.text, tag.close()),
            None => p.text.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first search or answer element lies inside the text, between its own tags.
pub fn first_element_lies_inside(text: &str) {
    if let Some(e) = first_element(text, &[Tag::Search, Tag::Answer]) {
        assert!(e.start < e.content.start && e.content.end < e.end && e.end <= text.len());
        assert!(text[e.start..].starts_with(e.tag.open()));
        assert!(text[..e.end].ends_with(e.tag.close()));
    }
}

/// A turn read from any generation searches for at least one query, each already clean.
pub fn turn_queries_are_clean(text: &str, finish: FinishReason, thought: bool) {
    let turn = parse_turn(text, finish, thought);
    if let Action::Search(queries) = &turn.action {
        assert!(!queries.is_empty());
        assert_eq!(&clean_queries(queries), queries);
    }
}

/// Queries written into a `<search>` are read back as their clean selves; none, no element.
pub fn queries_round_trip<S: AsRef<str>>(queries: &[S]) {
    match search_element(queries) {
        None => assert!(clean_queries(queries).is_empty()),
        Some(element) => {
            let e = first_element(&element, &[Tag::Search]).expect("a search element");
            assert_eq!(e.end, element.len());
            assert_eq!(queries_in(&element[e.content]), clean_queries(queries));
        }
    }
}
