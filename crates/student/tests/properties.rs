//! The student format's readers on arbitrary text: they never panic, what they read is a fixed
//! point (written back out and read again, the same), and queries survive being written into a
//! `<search>` and read back. `PROPTEST_CASES` raises the number of cases (256 by default) for a
//! longer run.

use chat::FinishReason;
use proptest::prelude::*;
use student::{
    tags::{Part, Tag, first_element, marks, parts},
    turn::{Action, clean_queries, parse_turn, queries_in, search_element},
};

/// Text built from the tags, near-misses of them (`<Answer>`, `<answer >`, a lone `<`), white
/// space, non-ASCII letters and arbitrary strings.
fn text() -> impl Strategy<Value = String> {
    let tags: Vec<&str> = Tag::ALL
        .iter()
        .flat_map(|t| [t.open(), t.close()])
        .collect();
    let piece = prop_oneof![
        8 => prop::sample::select(tags).prop_map(str::to_owned),
        1 => Just("<Answer>".to_owned()),
        1 => Just("<answer >".to_owned()),
        1 => Just("</thin".to_owned()),
        1 => Just("<".to_owned()),
        1 => Just(">".to_owned()),
        1 => Just("\n".to_owned()),
        1 => Just(" \u{3000}".to_owned()),
        1 => Just("Hà Nội".to_owned()),
        1 => "[a-c ]{0,6}",
        1 => any::<String>(),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
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

fn finish() -> impl Strategy<Value = FinishReason> {
    prop_oneof![Just(FinishReason::Stop), Just(FinishReason::Length)]
}

proptest! {
    #[test]
    fn marks_are_tags_on_char_boundaries_in_order(text in text()) {
        let mut last = None;
        for mark in marks(&text) {
            prop_assert!(text.is_char_boundary(mark.offset) && text.is_char_boundary(mark.end()));
            let tag = if mark.closing { mark.tag.close() } else { mark.tag.open() };
            prop_assert_eq!(&text[mark.offset..mark.end()], tag);
            prop_assert!(last.is_none_or(|end| end <= mark.offset));
            last = Some(mark.end());
        }
    }

    #[test]
    fn parts_read_back_from_their_own_writing_are_the_same(text in text()) {
        let first = parts(&text);
        let again = written(&first);
        prop_assert_eq!(parts(&again), first, "written as {:?}", again);
    }

    #[test]
    fn the_first_element_lies_inside_the_text(text in text()) {
        if let Some(e) = first_element(&text, &[Tag::Search, Tag::Answer]) {
            prop_assert!(e.start < e.content.start && e.content.end < e.end && e.end <= text.len());
            prop_assert!(text[e.start..].starts_with(e.tag.open()));
            prop_assert!(text[..e.end].ends_with(e.tag.close()));
        }
    }

    #[test]
    fn any_generation_parses_and_its_queries_are_clean(text in text(), finish in finish(), thought in any::<bool>()) {
        let turn = parse_turn(&text, finish, thought);
        if let Action::Search(queries) = &turn.action {
            prop_assert!(!queries.is_empty());
            prop_assert_eq!(&clean_queries(queries), queries);
        }
    }

    #[test]
    fn queries_written_into_a_search_are_read_back(queries in prop::collection::vec(text(), 0..5)) {
        match search_element(&queries) {
            None => prop_assert!(clean_queries(&queries).is_empty()),
            Some(element) => {
                let e = first_element(&element, &[Tag::Search]).unwrap();
                prop_assert_eq!(e.end, element.len());
                prop_assert_eq!(queries_in(&element[e.content]), clean_queries(&queries));
            }
        }
    }
}
