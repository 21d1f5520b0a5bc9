//! `QaExample`: a question with its gold answers, read from the JSONL shapes people have.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One question and every accepted answer (aliases kept).
///
/// Serialised in FlashRAG's shape, `{"id", "question", "golden_answers", "metadata"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QaExample {
    pub id: String,
    pub question: String,
    pub golden_answers: Vec<String>,
    /// Whatever else the record carried (FlashRAG's `metadata`, or the unknown fields).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub metadata: Value,
}

impl QaExample {
    /// Reads one JSONL record of any of the common shapes:
    /// - FlashRAG `{"id", "question", "golden_answers": [...], "metadata"?}`;
    /// - R1-Searcher `{"idx", "question", "answer"}`;
    /// - HotpotQA-style `{"_id"|"id"?, "question", "answer"}` (`answer` a string or a list).
    ///
    /// `line` (1-based) is the id when the record has none. `None` when the record has no
    /// question or no answer; the caller counts it as a bad record.
    pub fn from_record(record: &Value, line: u64) -> Option<QaExample> {
        let obj = record.as_object()?;
        let question = obj.get("question")?.as_str()?.trim().to_string();
        let golds: Vec<String> = match obj.get("golden_answers").or_else(|| obj.get("answer"))? {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            Value::Number(n) => vec![n.to_string()],
            _ => return None,
        };
        let golds: Vec<String> = golds.into_iter().filter(|g| !g.trim().is_empty()).collect();
        if question.is_empty() || golds.is_empty() {
            return None;
        }
        let id = ["id", "_id", "idx"]
            .iter()
            .find_map(|k| match obj.get(*k)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| line.to_string());
        Some(QaExample {
            id,
            question,
            golden_answers: golds,
            metadata: obj.get("metadata").cloned().unwrap_or(Value::Null),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(record: Value, expect: Option<(&str, &str, &[&str])>) {
        let got = QaExample::from_record(&record, 7);
        let got = got
            .as_ref()
            .map(|q| (q.id.as_str(), q.question.as_str(), q.golden_answers.clone()));
        let expect = expect.map(|(id, q, g)| (id, q, g.iter().map(|s| s.to_string()).collect()));
        assert_eq!(got, expect, "{record}");
    }

    #[test]
    fn reads_the_common_shapes() {
        check(
            json!({"id": "test_0", "question": "who got the first nobel prize in physics", "golden_answers": ["Wilhelm Conrad Röntgen"]}),
            Some((
                "test_0",
                "who got the first nobel prize in physics",
                &["Wilhelm Conrad Röntgen"],
            )),
        );
        check(
            json!({"idx": 1, "question": "Q?", "answer": "Kauffman Stadium", "gen_text_store": ""}),
            Some(("1", "Q?", &["Kauffman Stadium"])),
        );
        check(
            json!({"_id": "5a8b", "question": " Q ", "answer": ["a", "b", ""]}),
            Some(("5a8b", "Q", &["a", "b"])),
        );
        check(
            json!({"question": "Q", "answer": 1887}),
            Some(("7", "Q", &["1887"])),
        );
        check(json!({"question": "Q"}), None);
        check(json!({"question": "", "answer": "x"}), None);
        check(json!({"question": "Q", "answer": ""}), None);
        check(json!(["not", "an", "object"]), None);
    }
}
