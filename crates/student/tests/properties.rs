//! The student format's readers on arbitrary text: they never panic, what they read is a fixed
//! point (written back out and read again, the same), and queries survive being written into a
//! `<search>` and read back. The checks are `student::invariants`, which the fuzz targets run
//! too. `PROPTEST_CASES` raises the number of cases (256 by default) for a longer run.

use chat::FinishReason;
use proptest::prelude::*;
use student::{invariants, tags::Tag};

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

fn finish() -> impl Strategy<Value = FinishReason> {
    prop_oneof![Just(FinishReason::Stop), Just(FinishReason::Length)]
}

proptest! {
    #[test]
    fn marks_are_tags_on_char_boundaries_in_order(text in text()) {
        invariants::marks_lie_on_char_boundaries_in_order(&text);
    }

    #[test]
    fn parts_read_back_from_their_own_writing_are_the_same(text in text()) {
        invariants::parts_are_a_fixed_point(&text);
    }

    #[test]
    fn the_first_element_lies_inside_the_text(text in text()) {
        invariants::first_element_lies_inside(&text);
    }

    #[test]
    fn any_generation_parses_and_its_queries_are_clean(text in text(), finish in finish(), thought in any::<bool>()) {
        invariants::turn_queries_are_clean(&text, finish, thought);
    }

    #[test]
    fn queries_written_into_a_search_are_read_back(queries in prop::collection::vec(text(), 0..5)) {
        invariants::queries_round_trip(&queries);
    }
}
