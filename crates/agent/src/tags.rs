//! Reading one model turn in the student format (Search-R1's tags), never trusting it.
//!
//! The model writes `<think>…</think>`, then `<search> query </search>` or
//! `<answer> … </answer>`. As in Search-R1, the action is the *first* `<search>` or `<answer>`
//! element of the turn, and the turn is cut right after it. What the model gets wrong is
//! handled the same way every time and recorded as a [`Note`]:
//! - a stop sequence cut the closing tag off (`…<search> q` with finish reason `stop`): the tag
//!   is closed, as Search-R1 does after its stop tokens;
//! - a tag opened and never closed because the turn ran out of tokens: [`Note::UnclosedTag`],
//!   an invalid action;
//! - several actions in one turn: the first is taken, [`Note::ExtraActionsDropped`];
//! - text after `</answer>`: dropped, [`Note::TextAfterAnswer`];
//! - an answer with no `<think>` anywhere before it: kept, [`Note::AnswerWithoutThinking`];
//! - an empty query: [`Note::EmptyQuery`], an invalid action;
//! - neither a search nor an answer: [`Note::InvalidAction`]; the runtime then sends
//!   [`INVALID_ACTION_OBSERVATION`].

use chat::FinishReason;
use formats::Note;

/// Search-R1's fixed observation after an invalid action (`generation.py`).
pub const INVALID_ACTION_OBSERVATION: &str = "\nMy previous action is invalid. If I want to search, I should put the query between <search> and </search>. If I want to give the final answer, I should put the answer between <answer> and </answer>. Let me try again.\n";

/// The stop sequences of a student turn: generation ends after an action.
pub const STOPS: [&str; 2] = ["</search>", "</answer>"];

/// What a turn asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Search(String),
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
            text.push_str(&format!("</{open}>"));
        } else {
            notes.push(Note::UnclosedTag);
        }
    }
    let Some(found) = first_action(&text) else {
        notes.push(Note::InvalidAction);
        return Turn {
            text,
            action: Action::Invalid,
            notes,
        };
    };
    let rest = &text[found.end..];
    if !rest.trim().is_empty() {
        if first_action(rest).is_some() || rest.contains("<search>") || rest.contains("<answer>") {
            notes.push(Note::ExtraActionsDropped);
        } else if found.tag == "answer" {
            notes.push(Note::TextAfterAnswer);
        }
    }
    let content = text[found.content.clone()].trim().to_string();
    let thought = thought_before || text[..found.start].contains("<think>");
    text.truncate(found.end);
    let action = match found.tag {
        "search" if content.is_empty() => {
            notes.push(Note::EmptyQuery);
            notes.push(Note::InvalidAction);
            Action::Invalid
        }
        "search" => Action::Search(content),
        _ => {
            if !thought {
                notes.push(Note::AnswerWithoutThinking);
            }
            Action::Answer(content)
        }
    };
    Turn {
        text,
        action,
        notes,
    }
}

struct Found {
    tag: &'static str,
    start: usize,
    content: std::ops::Range<usize>,
    end: usize,
}

/// The first complete `<search>…</search>` or `<answer>…</answer>` element: Search-R1's
/// `<(search|answer)>(.*?)</\1>`, non-greedy, across lines.
fn first_action(text: &str) -> Option<Found> {
    let mut best: Option<Found> = None;
    for tag in ["search", "answer"] {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let mut from = 0;
        while let Some(i) = text[from..].find(&open) {
            let start = from + i;
            let content_start = start + open.len();
            if let Some(j) = text[content_start..].find(&close) {
                let found = Found {
                    tag,
                    start,
                    content: content_start..content_start + j,
                    end: content_start + j + close.len(),
                };
                if best.as_ref().is_none_or(|b| found.start < b.start) {
                    best = Some(found);
                }
                break;
            }
            from = content_start;
        }
    }
    best
}

/// The tag of a `<search>` or `<answer>` opened after the last complete action and not closed.
fn unclosed(text: &str) -> Option<&'static str> {
    let after = first_action(text).map_or(0, |f| f.end);
    let tail = &text[after..];
    ["search", "answer"]
        .into_iter()
        .filter_map(|tag| {
            let at = tail.rfind(&format!("<{tag}>"))?;
            (!tail[at..].contains(&format!("</{tag}>"))).then_some((at, tag))
        })
        .max_by_key(|(at, _)| *at)
        .filter(|_| after == 0)
        .map(|(_, tag)| tag)
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

    use Action::{Answer, Invalid, Search};
    use FinishReason::{Length, Stop};

    #[test]
    fn well_formed_turns() {
        check(
            "<think>who?</think>\n<search> Mona Lisa painter </search>",
            Stop,
            (
                "<think>who?</think>\n<search> Mona Lisa painter </search>",
                Search("Mona Lisa painter".into()),
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
    fn a_stop_sequence_cut_is_closed() {
        check(
            "<think>x</think><search> q ",
            Stop,
            (
                "<think>x</think><search> q </search>",
                Search("q".into()),
                &[],
            ),
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
                Search("a".into()),
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
            "<think>x</think><search>  </search>",
            Stop,
            (
                "<think>x</think><search>  </search>",
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
