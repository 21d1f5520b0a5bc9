//! The turn parser against `testdata/student/turns.jsonl`: the table of cases that defines the
//! tags grammar for every other reader of it (the verl integration's Python parser reads the
//! same file in its own test, so the copy there cannot drift from this one).

use chat::FinishReason;
use serde::Deserialize;
use student::{Action, parse_turn};

#[derive(Debug, Deserialize)]
struct Case {
    text: String,
    finish: String,
    thought_before: bool,
    action: String,
    #[serde(default)]
    queries: Vec<String>,
    answer: Option<String>,
    /// The text the transcript keeps.
    kept: String,
}

#[test]
fn every_case_of_the_shared_table_parses_as_it_says() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/student/turns.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("testdata/student/turns.jsonl");
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let case: Case = serde_json::from_str(line).expect("a case");
        let finish = match case.finish.as_str() {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            other => panic!("line {}: finish {other:?}", i + 1),
        };
        let turn = parse_turn(&case.text, finish, case.thought_before);
        let expected = match case.action.as_str() {
            "search" => Action::Search(case.queries.clone()),
            "answer" => Action::Answer(case.answer.clone().expect("an answer")),
            "invalid" => Action::Invalid,
            other => panic!("line {}: action {other:?}", i + 1),
        };
        assert_eq!(
            (&turn.action, turn.text.as_str()),
            (&expected, case.kept.as_str()),
            "line {}: {:?}",
            i + 1,
            case.text
        );
        n += 1;
    }
    assert!(n >= 20, "{n} cases");
}

/// `testdata/student/web_search_tool.json` is the tools style's tool as `student::tools`
/// defines it: the copy other languages read (the verl integration) cannot drift from it.
#[test]
fn the_shared_tool_file_is_the_tool() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/student/web_search_tool.json"
    );
    let text = std::fs::read_to_string(path).expect("testdata/student/web_search_tool.json");
    let file: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(file, student::tools::openai_tool());
}
