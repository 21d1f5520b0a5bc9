//! Search-R1's tag grammar: the answer a response gives, whether its tags are well formed, and
//! the graded format reward built on both.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::answer::exact_match;
use crate::normalize::is_python_whitespace;
pub use student::tags::Tag;
use student::tags::{Mark, marks};

/// The last `<answer>…</answer>` of a response, trimmed of whitespace, as Search-R1 extracts it
/// (`re.finditer(r"<answer>(.*?)</answer>", s, re.DOTALL)`, last match, `.strip()`).
///
/// Matches are found left to right without overlap, each from an `<answer>` to the first
/// `</answer>` after it, so `"<answer>a <answer>b</answer>"` answers `"a <answer>b"`. Tags are
/// exact and lower-case. `None` when no `<answer>` is closed.
///
/// Search-R1 scores the decoded *prompt + response* and so takes an answer only when it finds at
/// least two (its prompt's own example `<answer> Beijing </answer>` is the first). This function
/// takes the response alone; one answer is enough.
pub fn extract_answer(response: &str) -> Option<&str> {
    let (mut from, mut last) = (0, None);
    while let Some(open) = find_tag(response, from, OPEN_ANSWER) {
        let start = open + OPEN_ANSWER.len();
        let Some(close) = find_tag(response, start, CLOSE_ANSWER) else {
            break;
        };
        last = Some(&response[start..close]);
        from = close + CLOSE_ANSWER.len();
    }
    last.map(|a| a.trim_matches(is_python_whitespace))
}

/// The byte offset of the first `tag` (which starts with `<`) in `text` at or after `from`.
/// Looks for `<` (memchr: rare in prose) rather than for the whole tag, several times faster on
/// long responses than a substring search.
fn find_tag(text: &str, from: usize, tag: &str) -> Option<usize> {
    text[from..]
        .match_indices('<')
        .map(|(at, _)| from + at)
        .find(|&at| text[at..].starts_with(tag))
}

const OPEN_ANSWER: &str = "<answer>";
const CLOSE_ANSWER: &str = "</answer>";

/// Where the grammar's state machine stands (Search-R1's states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Nothing read yet: only `<think>` may come.
    Start,
    InThink,
    /// After `</think>`: `<search>` or `<answer>`.
    AfterThink,
    InSearch,
    /// After `</search>`: only `<information>`.
    AfterSearch,
    InInformation,
    /// After `</information>`: only `<think>`.
    AfterInformation,
    InAnswer,
    /// After `</answer>`: nothing but whitespace.
    Done,
}

impl Stage {
    fn inside(self) -> bool {
        matches!(
            self,
            Stage::InThink | Stage::InSearch | Stage::InInformation | Stage::InAnswer
        )
    }

    /// The stage a tag leads to from here, if the grammar allows it.
    fn next(self, tag: Tag, closing: bool) -> Option<Stage> {
        use Stage::*;
        Some(match (self, tag, closing) {
            (Start | AfterInformation, Tag::Think, false) => InThink,
            (InThink, Tag::Think, true) => AfterThink,
            (AfterThink, Tag::Search, false) => InSearch,
            (InSearch, Tag::Search, true) => AfterSearch,
            (AfterSearch, Tag::Information, false) => InInformation,
            (InInformation, Tag::Information, true) => AfterInformation,
            (AfterThink, Tag::Answer, false) => InAnswer,
            (InAnswer, Tag::Answer, true) => Done,
            _ => return None,
        })
    }
}

/// Why a response's tags are not well formed (the first problem found). Offsets are byte
/// offsets into the response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FormatViolation {
    /// `<tag>` and `</tag>` occur a different number of times.
    Unbalanced {
        tag: Tag,
        opened: usize,
        closed: usize,
    },
    /// A tag the grammar does not allow here (`<answer>` before any `<think>`, `<search>` right
    /// after `</information>`, a tag inside another block, a second `<answer>`...).
    UnexpectedTag {
        tag: Tag,
        closing: bool,
        offset: usize,
        stage: Stage,
    },
    /// Text other than whitespace outside every block: before the first `<think>`, between two
    /// blocks, or after `</answer>`.
    TextOutsideTags { offset: usize, stage: Stage },
    /// The response ends before `</answer>`.
    Incomplete { stage: Stage },
}

impl fmt::Display for FormatViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatViolation::Unbalanced {
                tag,
                opened,
                closed,
            } => {
                write!(f, "{opened} <{0}> but {closed} </{0}>", tag.name())
            }
            FormatViolation::UnexpectedTag {
                tag,
                closing,
                offset,
                stage,
            } => {
                let slash = if *closing { "/" } else { "" };
                write!(
                    f,
                    "unexpected <{slash}{}> at byte {offset} ({stage:?})",
                    tag.name()
                )
            }
            FormatViolation::TextOutsideTags { offset, stage } => {
                write!(f, "text outside the tags at byte {offset} ({stage:?})")
            }
            FormatViolation::Incomplete { stage } => write!(f, "ends before </answer> ({stage:?})"),
        }
    }
}

/// Checks a response against Search-R1's tag grammar (v0.3 `is_valid_sequence`), applied to the
/// response alone — what Search-R1 reads after `<|im_start|>assistant`, including the
/// `<information>` blocks the rollout inserted. Well formed means all of:
///
/// 1. for each of `think`, `search`, `information`, `answer`: as many `<tag>` as `</tag>`;
/// 2. the tags, read in order, follow `think → (search → information → think)* → answer`, each
///    block opened and closed before the next starts (no nesting; a tag inside a block, even
///    inside `<information>`, breaks it);
/// 3. outside the blocks only whitespace (Python's `str.isspace`): none before the first
///    `<think>`, between blocks or after `</answer>`;
/// 4. the response ends after `</answer>`.
///
/// Tags are the eight exact lower-case strings (`<think>`, `</think>`, ...): `<Answer>` or
/// `<answer >` is plain text. Blocks may be empty. Special tokens such as `<|im_end|>` count as
/// text: strip them first (Search-R1's rollout cuts responses right after `</answer>`).
pub fn check_format(response: &str) -> Result<(), FormatViolation> {
    // One pass: count every tag and run the state machine; an imbalance, found only at the end,
    // is still reported before the first order violation, as Search-R1 checks it first.
    let (mut opened, mut closed) = ([0usize; 4], [0usize; 4]);
    let mut stage = Stage::Start;
    let mut first_violation = None;
    let mut text_from = 0;
    for Mark {
        offset,
        tag,
        closing,
    } in marks(response)
    {
        let counts = if closing { &mut closed } else { &mut opened };
        counts[tag as usize] += 1;
        if first_violation.is_none() {
            first_violation = check_text(&response[text_from..offset], text_from, stage).err();
        }
        if first_violation.is_none() {
            match stage.next(tag, closing) {
                Some(next) => stage = next,
                None => {
                    first_violation = Some(FormatViolation::UnexpectedTag {
                        tag,
                        closing,
                        offset,
                        stage,
                    })
                }
            }
        }
        text_from = Mark {
            offset,
            tag,
            closing,
        }
        .end();
    }
    for tag in Tag::ALL {
        let (opened, closed) = (opened[tag as usize], closed[tag as usize]);
        if opened != closed {
            return Err(FormatViolation::Unbalanced {
                tag,
                opened,
                closed,
            });
        }
    }
    if let Some(violation) = first_violation {
        return Err(violation);
    }
    check_text(&response[text_from..], text_from, stage)?;
    if stage != Stage::Done {
        return Err(FormatViolation::Incomplete { stage });
    }
    Ok(())
}

/// [`check_format`] on a response decoded from a multi-turn chat with its special tokens
/// skipped, as verl's agent loop hands it to a reward function: each turn's header leaves its
/// role name alone on a line (`<|im_start|>tool` decodes to `tool`), which is chat scaffolding,
/// not text the model wrote outside the tags. Such lines (`system`, `user`, `assistant`, `tool`)
/// are dropped first, with the lines Qwen-family templates wrap a tool's answer in
/// (`<tool_response>`, `</tool_response>`, alone on theirs), and a tools-style search (a hermes
/// `<tool_call>` of `web_search`) is read as the `<search>` it stands for; anything else is
/// checked as Search-R1 checks it.
pub fn check_turns_format(response: &str) -> Result<(), FormatViolation> {
    const ROLES: [&str; 4] = ["system", "user", "assistant", "tool"];
    const WRAPPERS: [&str; 2] = ["<tool_response>", "</tool_response>"];
    let response = student::tools::calls_as_searches(response);
    if !response.lines().any(|l| ROLES.contains(&l.trim())) {
        return check_format(&response);
    }
    let kept: Vec<&str> = response
        .lines()
        .filter(|l| !ROLES.contains(&l.trim()) && !WRAPPERS.contains(&l.trim()))
        .collect();
    check_format(&kept.join("\n"))
}

fn check_text(text: &str, offset: usize, stage: Stage) -> Result<(), FormatViolation> {
    match text.find(|c| !is_python_whitespace(c)) {
        Some(at) if !stage.inside() => Err(FormatViolation::TextOutsideTags {
            offset: offset + at,
            stage,
        }),
        _ => Ok(()),
    }
}

/// How a response's answer compares with the gold, for [`graded_reward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerOutcome {
    /// No `<answer>` at all.
    Missing,
    Wrong,
    Correct,
}

/// Search-R1 v0.3's graded reward (`qa_em_format.compute_score_em` with the scripts' weights
/// `structure_format_score = 0.2`, `final_format_score = 0.1`, `retrieval_score = 0`):
///
/// | answer | well formed | malformed |
/// |---|---|---|
/// | correct | 1.0 | 0.8 |
/// | wrong | 0.2 | 0.1 |
/// | missing | 0.2 | 0.0 |
///
/// A missing answer cannot be well formed under [`check_format`]; the cell is kept for callers
/// that judge form another way.
pub fn graded_reward(outcome: AnswerOutcome, well_formed: bool) -> f64 {
    match (outcome, well_formed) {
        (AnswerOutcome::Correct, true) => 1.0,
        (AnswerOutcome::Correct, false) => 0.8,
        (AnswerOutcome::Wrong | AnswerOutcome::Missing, true) => 0.2,
        (AnswerOutcome::Wrong, false) => 0.1,
        (AnswerOutcome::Missing, false) => 0.0,
    }
}

/// Search-R1 v0.3's format reward for a response: its last answer judged by [`exact_match`]
/// against the aliases, its tags by [`check_format`], combined by [`graded_reward`].
pub fn format_reward<S: AsRef<str>>(response: &str, golds: &[S]) -> f64 {
    let outcome = match extract_answer(response) {
        None => AnswerOutcome::Missing,
        Some(answer) if exact_match(answer, golds) == 1.0 => AnswerOutcome::Correct,
        Some(_) => AnswerOutcome::Wrong,
    };
    graded_reward(outcome, check_format(response).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_answer(response: &str, expect: Option<&str>) {
        assert_eq!(extract_answer(response), expect, "answer of {response:?}");
    }

    #[test]
    fn extracts_the_last_closed_answer_trimmed() {
        check_answer("<answer> Paris </answer>", Some("Paris"));
        check_answer("<answer>a</answer> x <answer>\n b \n</answer>", Some("b"));
        check_answer("<answer>a</answer><answer>b", Some("a"));
        check_answer("<answer>a <answer>b</answer>", Some("a <answer>b"));
        check_answer("<answer></answer>", Some(""));
        check_answer("<answer>\u{1c}x\u{3000}</answer>", Some("x"));
        check_answer("<Answer>a</Answer>", None);
        check_answer("</answer><answer>", None);
        check_answer("", None);
    }

    fn check(response: &str, expect: Result<(), FormatViolation>) {
        assert_eq!(check_format(response), expect, "format of {response:?}");
    }

    const OK: Result<(), FormatViolation> = Ok(());

    fn unexpected(
        tag: Tag,
        closing: bool,
        offset: usize,
        stage: Stage,
    ) -> Result<(), FormatViolation> {
        Err(FormatViolation::UnexpectedTag {
            tag,
            closing,
            offset,
            stage,
        })
    }

    fn outside(offset: usize, stage: Stage) -> Result<(), FormatViolation> {
        Err(FormatViolation::TextOutsideTags { offset, stage })
    }

    #[test]
    fn well_formed_sequences() {
        check("<think>t</think><answer>a</answer>", OK);
        check("<think></think><answer></answer>", OK);
        check(
            " \n<think> plan </think>\n<answer> Paris </answer>\n\u{3000}",
            OK,
        );
        check(
            "<think>a</think><search>q</search>\n\n<information>Doc 1(Title: x) y</information>\n\n\
             <think>b</think><search>r</search><information>z</information><think>c</think><answer>d</answer>",
            OK,
        );
        check("<think>x < y > z</think><answer>1 <b>2</b></answer>", OK);
        check("<think>t</think><answer>a</answer>\u{1d}", OK);
    }

    #[test]
    fn unbalanced_tags_are_reported_first() {
        check(
            "<think>t</think><answer>a",
            Err(FormatViolation::Unbalanced {
                tag: Tag::Answer,
                opened: 1,
                closed: 0,
            }),
        );
        check(
            "<think><search></think><answer>",
            Err(FormatViolation::Unbalanced {
                tag: Tag::Search,
                opened: 1,
                closed: 0,
            }),
        );
        // Balanced but in the wrong order: the state machine catches it.
        check(
            "</think><think>",
            unexpected(Tag::Think, true, 0, Stage::Start),
        );
    }

    #[test]
    fn order_violations() {
        check(
            "<answer>a</answer>",
            unexpected(Tag::Answer, false, 0, Stage::Start),
        );
        check(
            "<think>t</think><search>q</search><answer>a</answer>",
            unexpected(Tag::Answer, false, 34, Stage::AfterSearch),
        );
        check(
            "<think>t</think><search>q</search><information>d</information><answer>a</answer>",
            unexpected(Tag::Answer, false, 62, Stage::AfterInformation),
        );
        check(
            "<think>t<answer>a</answer></think>",
            unexpected(Tag::Answer, false, 8, Stage::InThink),
        );
        check(
            "<think>t</think><answer>a</answer><answer>b</answer>",
            unexpected(Tag::Answer, false, 34, Stage::Done),
        );
        check(
            "<think>t</think><search>q</search><information><think>d</think></information><think>t</think><answer>a</answer>",
            unexpected(Tag::Think, false, 47, Stage::InInformation),
        );
    }

    #[test]
    fn text_outside_blocks() {
        check(
            "Sure! <think>t</think><answer>a</answer>",
            outside(0, Stage::Start),
        );
        check(
            "<think>t</think> so <answer>a</answer>",
            outside(17, Stage::AfterThink),
        );
        check(
            "<think>t</think><answer>a</answer> done",
            outside(35, Stage::Done),
        );
        check(
            "<think>t</think><answer>a</answer>\u{200b}",
            outside(34, Stage::Done),
        );
        check(
            "<think>t</think><answer>a</answer><|im_end|>",
            outside(34, Stage::Done),
        );
    }

    #[test]
    fn near_miss_tags_are_text() {
        check(
            "<think>t</think><Answer>a</Answer>",
            outside(16, Stage::AfterThink),
        );
        check(
            "<think>t</think><answer >a</answer >",
            outside(16, Stage::AfterThink),
        );
    }

    #[test]
    fn incomplete_sequences() {
        check(
            "",
            Err(FormatViolation::Incomplete {
                stage: Stage::Start,
            }),
        );
        check(
            "   ",
            Err(FormatViolation::Incomplete {
                stage: Stage::Start,
            }),
        );
        check(
            "<think>t</think>",
            Err(FormatViolation::Incomplete {
                stage: Stage::AfterThink,
            }),
        );
        check(
            "<think>t</think><search>q</search>",
            Err(FormatViolation::Incomplete {
                stage: Stage::AfterSearch,
            }),
        );
    }

    #[test]
    fn violations_read_as_sentences_and_serialise_with_a_kind() {
        let v = check_format("<answer>a</answer>").unwrap_err();
        assert_eq!(v.to_string(), "unexpected <answer> at byte 0 (Start)");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["kind"], "unexpected_tag");
        assert_eq!(json["stage"], "start");
        let back: FormatViolation = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn graded_reward_table() {
        let good = "<think>t</think><answer> The Louvre </answer>";
        let bad = "I think <answer>Louvre</answer>";
        assert_eq!(format_reward(good, &["Louvre"]), 1.0);
        assert_eq!(format_reward(bad, &["louvre"]), 0.8);
        assert_eq!(format_reward(good, &["Orsay"]), 0.2);
        assert_eq!(format_reward(bad, &["Orsay"]), 0.1);
        assert_eq!(format_reward("no answer here", &["Orsay"]), 0.0);
        assert_eq!(graded_reward(AnswerOutcome::Missing, true), 0.2);
    }
}
