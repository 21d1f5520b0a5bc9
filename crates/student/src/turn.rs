//! Reading and writing one student turn in the tags style, never trusting the model.
//!
//! The model writes `<think>…</think>`, then `<search>…</search>` or `<answer>…</answer>`. As in
//! Search-R1, the action is the *first* complete `<search>` or `<answer>` element of the turn,
//! and the turn is cut right after it. A search holds one query or several, one per line
//! ([`queries_in`]); a single-line search is Search-R1's `<search> query </search>`.
//!
//! What the model gets wrong is handled the same way every time and recorded as a [`Note`]:
//! - a stop sequence cut the closing tag off (`…<search> q` with finish reason `stop`): the tag
//!   is closed, as Search-R1 does after its stop tokens;
//! - a tag opened and never closed because the turn ran out of tokens: [`Note::UnclosedTag`],
//!   an invalid action;
//! - several actions in one turn: the first is taken, [`Note::ExtraActionsDropped`];
//! - text after `</answer>`: dropped, [`Note::TextAfterAnswer`];
//! - an answer with no `<think>` anywhere before it: kept, [`Note::AnswerWithoutThinking`];
//! - a search with no query: [`Note::EmptyQuery`], an invalid action;
//! - neither a search nor an answer: [`Note::InvalidAction`]; the runtime then sends
//!   [`INVALID_ACTION_OBSERVATION`].

use chat::FinishReason;
use formats::Note;

use crate::tags::{Tag, first_element, marks};

/// Search-R1's fixed observation after an invalid action (`generation.py`).
pub const INVALID_ACTION_OBSERVATION: &str = "\nMy previous action is invalid. If I want to search, I should put the query between <search> and </search>. If I want to give the final answer, I should put the answer between <answer> and </answer>. Let me try again.\n";

/// The stop sequences of a student turn: generation ends after an action.
pub const STOPS: [&str; 2] = ["</search>", "</answer>"];

/// What a turn asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The queries of a search, cleaned ([`clean_queries`]), at least one.
    Search(Vec<String>),
    Answer(String),
    Invalid,
}

/// One turn, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The text that stays in the transcript: the generation, closed where a stop sequence cut
    /// the tag, cut after the first action.
    pub text: String,
    pub action: Action,
    pub notes: Vec<Note>,
}

/// Reads a generation. `thought_before` tells whether an earlier turn of the trajectory already
/// held a `<think>`.
pub fn parse_turn(generated: &str, finish: FinishReason, thought_before: bool) -> Turn {
    let mut notes = Vec::new();
    let mut text = generated.to_string();
    if let Some(open) = unclosed(&text) {
        if finish == FinishReason::Stop {
            text.push_str(open.close());
        } else {
            notes.push(Note::UnclosedTag);
        }
    }
    let Some(found) = first_element(&text, &ACTIONS) else {
        notes.push(Note::InvalidAction);
        return Turn {
            text,
            action: Action::Invalid,
            notes,
        };
    };
    let rest = &text[found.end..];
    if !rest.trim().is_empty() {
        let more = marks(rest).any(|m| !m.closing && ACTIONS.contains(&m.tag));
        if more {
            notes.push(Note::ExtraActionsDropped);
        } else if found.tag == Tag::Answer {
            notes.push(Note::TextAfterAnswer);
        }
    }
    let content = text[found.content.clone()].to_string();
    let thought = thought_before || text[..found.start].contains(Tag::Think.open());
    text.truncate(found.end);
    let action = match found.tag {
        Tag::Search => {
            let queries = queries_in(&content);
            if queries.is_empty() {
                notes.push(Note::EmptyQuery);
                notes.push(Note::InvalidAction);
                Action::Invalid
            } else {
                Action::Search(queries)
            }
        }
        _ => {
            if !thought {
                notes.push(Note::AnswerWithoutThinking);
            }
            Action::Answer(content.trim().to_string())
        }
    };
    Turn {
        text,
        action,
        notes,
    }
}

/// Reads a turn as it is written in training data or a transcript — complete, as the model's
/// generation would be when it stopped at the end of its action.
pub fn parse_written(text: &str, thought_before: bool) -> Turn {
    parse_turn(text, FinishReason::Stop, thought_before)
}

const ACTIONS: [Tag; 2] = [Tag::Search, Tag::Answer];

/// The tag of a `<search>` or `<answer>` opened and never closed, when the text holds no
/// complete action before it.
fn unclosed(text: &str) -> Option<Tag> {
    if first_element(text, &ACTIONS).is_some() {
        return None;
    }
    let last_open = marks(text)
        .filter(|m| !m.closing && ACTIONS.contains(&m.tag))
        .last()?;
    Some(last_open.tag)
}

/// The queries of a `<search>` element's content: one per non-blank line, cleaned.
pub fn queries_in(content: &str) -> Vec<String> {
    let lines: Vec<&str> = content.lines().collect();
    clean_queries(&lines)
}

/// Queries as the student format carries them: white space collapsed to single spaces, `<` and
/// `>` taken out (a query can never close its own element), blank ones and repeats dropped.
/// Teachers clean their queries with this before searching, so the queries a trajectory records
/// are exactly what the runtime reads back from its text.
pub fn clean_queries<S: AsRef<str>>(queries: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for q in queries {
        let q = q.as_ref().replace(['<', '>'], " ");
        let q = q.split_whitespace().collect::<Vec<_>>().join(" ");
        if !q.is_empty() && !out.contains(&q) {
            out.push(q);
        }
    }
    out
}

/// The `<search>` element that carries `queries` (cleaned first): Search-R1's
/// `<search> query </search>` for one, one query per line for several. `None` when nothing is
/// left to search.
pub fn search_element<S: AsRef<str>>(queries: &[S]) -> Option<String> {
    match clean_queries(queries).as_slice() {
        [] => None,
        [one] => Some(format!("<search> {one} </search>")),
        many => Some(format!("<search>\n{}\n</search>", many.join("\n"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(generated: &str, finish: FinishReason, expect: (&str, Action, &[Note])) {
        let turn = parse_turn(generated, finish, false);
        assert_eq!(
            (turn.text.as_str(), turn.action, turn.notes.as_slice()),
            (expect.0, expect.1, expect.2),
            "{generated:?}"
        );
    }

    fn search(queries: &[&str]) -> Action {
        Action::Search(queries.iter().map(|q| q.to_string()).collect())
    }

    use Action::{Answer, Invalid};
    use FinishReason::{Length, Stop};

    #[test]
    fn well_formed_turns() {
        check(
            "<think>who?</think>\n<search> Mona Lisa painter </search>",
            Stop,
            (
                "<think>who?</think>\n<search> Mona Lisa painter </search>",
                search(&["Mona Lisa painter"]),
                &[],
            ),
        );
        check(
            "<think>ok</think> <answer> Leonardo </answer>",
            Stop,
            (
                "<think>ok</think> <answer> Leonardo </answer>",
                Answer("Leonardo".into()),
                &[],
            ),
        );
    }

    #[test]
    fn a_search_carries_one_query_per_line() {
        check(
            "<think>x</think>\n<search>\nMona Lisa painter\n\n  Leonardo   da Vinci \nMona Lisa painter\n</search>",
            Stop,
            (
                "<think>x</think>\n<search>\nMona Lisa painter\n\n  Leonardo   da Vinci \nMona Lisa painter\n</search>",
                search(&["Mona Lisa painter", "Leonardo da Vinci"]),
                &[],
            ),
        );
    }

    #[test]
    fn written_searches_read_back_as_the_same_queries() {
        for queries in [
            vec!["one query"],
            vec!["a b", "c  d", "<e>"],
            vec!["same", "same", " "],
        ] {
            let element = search_element(&queries).unwrap();
            let turn = parse_turn(&format!("<think>t</think>\n{element}"), Stop, false);
            assert_eq!(
                turn.action,
                Action::Search(clean_queries(&queries)),
                "{element}"
            );
        }
        assert_eq!(
            search_element(&["x"]).unwrap(),
            "<search> x </search>",
            "one query is Search-R1's form"
        );
        assert_eq!(
            search_element(&["a", "b"]).unwrap(),
            "<search>\na\nb\n</search>"
        );
        assert_eq!(search_element(&[" ", "\n"]), None);
    }

    #[test]
    fn a_stop_sequence_cut_is_closed() {
        check(
            "<think>x</think><search> q ",
            Stop,
            ("<think>x</think><search> q </search>", search(&["q"]), &[]),
        );
        check(
            "<think>x</think><answer>Paris",
            Stop,
            (
                "<think>x</think><answer>Paris</answer>",
                Answer("Paris".into()),
                &[],
            ),
        );
    }

    #[test]
    fn what_the_model_gets_wrong_is_handled_and_noted() {
        check(
            "<think>x</think><search> q",
            Length,
            (
                "<think>x</think><search> q",
                Invalid,
                &[Note::UnclosedTag, Note::InvalidAction],
            ),
        );
        check(
            "<think>x</think><search>a</search><search>b</search>",
            Stop,
            (
                "<think>x</think><search>a</search>",
                search(&["a"]),
                &[Note::ExtraActionsDropped],
            ),
        );
        check(
            "<think>x</think><answer>a</answer> and more words",
            Stop,
            (
                "<think>x</think><answer>a</answer>",
                Answer("a".into()),
                &[Note::TextAfterAnswer],
            ),
        );
        check(
            "<answer>a</answer>",
            Stop,
            (
                "<answer>a</answer>",
                Answer("a".into()),
                &[Note::AnswerWithoutThinking],
            ),
        );
        check(
            "<think>x</think><search>  \n </search>",
            Stop,
            (
                "<think>x</think><search>  \n </search>",
                Invalid,
                &[Note::EmptyQuery, Note::InvalidAction],
            ),
        );
        check(
            "I think the answer is 42.",
            Stop,
            ("I think the answer is 42.", Invalid, &[Note::InvalidAction]),
        );
        // The first action wins, whichever tag it is.
        check(
            "<think>x</think><answer>a</answer><search>b</search>",
            Stop,
            (
                "<think>x</think><answer>a</answer>",
                Answer("a".into()),
                &[Note::ExtraActionsDropped],
            ),
        );
    }

    #[test]
    fn thinking_in_an_earlier_turn_counts() {
        let turn = parse_turn("<answer>a</answer>", Stop, true);
        assert!(turn.notes.is_empty());
    }
}
