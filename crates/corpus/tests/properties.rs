//! The wiki-18 JSONL reader on any mix of good and bad lines: the first bad line is an error
//! naming that line after exactly the passages before it (or, with `skip_bad`, a counted skip),
//! never a panic, and never a passage made of it.
//! `PROPTEST_CASES` raises the number of cases (256 by default).

use corpus::{Config, CorpusError, Format};
use proptest::prelude::*;
use serde_json::json;

/// One input line and whether it is a passage.
#[derive(Debug, Clone)]
enum Line {
    Good {
        id: String,
        title: String,
        text: String,
    },
    Bad(String),
}

fn good() -> impl Strategy<Value = Line> {
    (
        "[0-9]{1,6}",
        "[A-Za-zà-ỹ ]{1,12}",
        "[a-z]{1,8}( [a-zà-ỹ,.]{1,8}){0,20}",
    )
        .prop_map(|(id, title, text)| Line::Good { id, title, text })
}

/// Lines no reader can take for a wiki-18 passage: broken JSON, JSON that is not an object,
/// objects without `contents` or with the wrong types, text.
fn bad() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\{\"id\": ?\"?[0-9a-z]{0,4}".prop_map(String::from),
        Just("[1, 2, 3]".to_owned()),
        Just("42".to_owned()),
        Just("\"just a string\"".to_owned()),
        Just("null".to_owned()),
        "[a-z]{1,6}".prop_map(|k| json!({ k: "x" }).to_string()),
        any::<i64>().prop_map(|n| json!({"id": "1", "contents": n}).to_string()),
        Just(json!({"id": "1", "contents": ["a", "b"]}).to_string()),
        "[^\\n\\r{\\[\"0-9tfn \\t-]{1,20}".prop_map(String::from),
    ]
    // A line of white space only is blank, and blank lines are passed over.
    .prop_filter("not blank", |line| !line.trim().is_empty())
}

fn lines() -> impl Strategy<Value = Vec<Line>> {
    let line = prop_oneof![3 => good(), 1 => bad().prop_map(Line::Bad)];
    prop::collection::vec(line, 1..30)
}

fn render(line: &Line) -> String {
    match line {
        Line::Good { id, title, text } => {
            json!({"id": id, "contents": format!("\"{title}\"\n{text}")}).to_string()
        }
        Line::Bad(text) => text.clone(),
    }
}

proptest! {
    #[test]
    fn a_bad_line_is_named_or_counted_and_never_becomes_a_passage(lines in lines(), skip_bad in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.jsonl");
        let text: Vec<String> = lines.iter().map(render).collect();
        std::fs::write(&path, text.join("\n") + "\n").unwrap();
        let config = Config {
            format: Some(Format::Contents),
            skip_bad,
            ..Config::default()
        };
        let mut reader = corpus::open(&path, &config).unwrap();
        let (mut ids, mut errors) = (Vec::new(), Vec::new());
        // Read as `ingest` reads: up to the first error.
        for item in reader.by_ref() {
            match item {
                Ok(p) => ids.push(p.id),
                Err(e) => {
                    errors.push(e);
                    break;
                }
            }
        }
        let first_bad = lines.iter().position(|l| matches!(l, Line::Bad(_)));
        let good_ids = |upto: usize| -> Vec<String> {
            lines[..upto]
                .iter()
                .filter_map(|l| match l {
                    Line::Good { id, .. } => Some(id.clone()),
                    Line::Bad(_) => None,
                })
                .collect()
        };
        if skip_bad {
            prop_assert!(errors.is_empty(), "{:?}", errors);
            prop_assert_eq!(&ids, &good_ids(lines.len()));
            let bad = lines.iter().filter(|l| matches!(l, Line::Bad(_))).count() as u64;
            prop_assert_eq!(reader.tally().skipped_total(), bad);
        } else {
            match first_bad {
                None => prop_assert!(errors.is_empty(), "{:?}", errors),
                Some(n) => {
                    prop_assert_eq!(errors.len(), 1, "{:?}", errors);
                    let named = matches!(&errors[0], CorpusError::BadLine { line, .. } if *line == n as u64 + 1);
                    prop_assert!(named, "line {} should be named: {}", n + 1, errors[0]);
                    prop_assert_eq!(&ids, &good_ids(n));
                }
            }
        }
    }
}
