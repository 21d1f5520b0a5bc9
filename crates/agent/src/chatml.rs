//! The original MaskSearch record (`cot_construct.py`): Qwen's function-call chatml with a
//! `web_search` tool, and the random "current time" of its system message.

use formats::{ChatmlMessage, ChatmlRecord};
use serde_json::{Value, json};

/// The tool every search round calls (`student::tools`), in Qwen's legacy function format as
/// the original writes it.
pub fn web_search_function() -> Value {
    json!({
        "name_for_human": student::tools::NAME,
        "name_for_model": student::tools::NAME,
        "description_for_model": student::tools::DESCRIPTION,
        "parameters": student::tools::parameters(),
    })
}

/// One assistant turn and what answered it.
#[derive(Debug, Clone, PartialEq)]
pub enum Round {
    /// A search: the thought, the queries sent (the call's arguments) and the information.
    Search {
        thought: String,
        queries: Vec<String>,
        information: String,
    },
    /// A turn with no valid action, answered by a corrective user message.
    Invalid { text: String, correction: String },
}

/// Builds the record: system, user, the rounds, and the final assistant message when there is
/// one. `ext` is the input's `ext`; `response_acc` is added to it.
pub fn record(
    system: &str,
    query: &str,
    rounds: &[Round],
    final_text: Option<&str>,
    ext: &Value,
    response_acc: Value,
) -> ChatmlRecord {
    let message = |role: &str, content: &str| ChatmlMessage {
        role: role.to_string(),
        content: content.to_string(),
        name: None,
        function_call: None,
        finish_reason: None,
        response_role: None,
    };
    let mut messages = vec![message("system", system), message("user", query)];
    for round in rounds {
        match round {
            Round::Search {
                thought,
                queries,
                information,
            } => {
                let arguments = student::tools::arguments(queries);
                messages.push(ChatmlMessage {
                    function_call: Some(
                        json!({"name": student::tools::NAME, "arguments": arguments}),
                    ),
                    ..message("assistant", thought)
                });
                messages.push(ChatmlMessage {
                    name: Some(student::tools::NAME.to_string()),
                    ..message("function", information.trim())
                });
            }
            Round::Invalid { text, correction } => {
                messages.push(message("assistant", text));
                messages.push(message("user", correction.trim()));
            }
        }
    }
    if let Some(text) = final_text {
        messages.push(ChatmlMessage {
            function_call: Some(json!({})),
            finish_reason: Some("stop".to_string()),
            response_role: Some("assistant".to_string()),
            ..message("assistant", text)
        });
    }
    let mut ext = match ext {
        Value::Object(map) => Value::Object(map.clone()),
        Value::Null => json!({}),
        other => json!({ "input_ext": other }),
    };
    ext["response_acc"] = response_acc;
    ChatmlRecord {
        kind: "chatml".to_string(),
        messages,
        functions: vec![web_search_function()],
        ext,
    }
}

/// The original's format check: no assistant message before the last one has an empty
/// `function_call`, and no message leaks the ReAct markers `Act: {` or `Observation:`.
pub fn format_check(record: &ChatmlRecord) -> Result<(), String> {
    let last_assistant = record.messages.iter().rposition(|m| m.role == "assistant");
    for (i, m) in record.messages.iter().enumerate() {
        if m.content.contains("Act: {") || m.content.contains("Observation:") {
            return Err(format!("message {i} contains a ReAct marker"));
        }
        let searches = m
            .function_call
            .as_ref()
            .is_some_and(|c| c.get("name").is_some());
        if m.role == "assistant" && Some(i) != last_assistant && !searches {
            return Err(format!("assistant message {i} has no search call"));
        }
    }
    Ok(())
}

/// The system message with a "current time" drawn, per sample, from the 30 days before
/// `today` (the original picks a random day of the last 30 for every sample).
pub fn system_message(today: time::Date, sample_seed: u64) -> String {
    let back = time::Duration::days((sample_seed % 30) as i64);
    let day = today.checked_sub(back).unwrap_or(today);
    format!(
        "You are a helpful assistant.\n\nCurrent time: {}, {} {} {}",
        day.weekday(),
        day.day(),
        day.month(),
        day.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_has_the_originals_shape() {
        let rounds = vec![Round::Search {
            thought: "<think>a</think> <search> [{\"query\": \"q\", \"intent\": 1}] </search>"
                .into(),
            queries: vec!["q one".into(), "q two".into()],
            information: "\n\n<information>Doc 1(Title: \"T\") x</information>\n\n".into(),
        }];
        let r = record(
            "sys",
            "question",
            &rounds,
            Some("<think>b</think> <answer> y </answer>"),
            &json!({"golden_answer": "y"}),
            json!(true),
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["type"], "chatml");
        let roles: Vec<&str> = r.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(
            roles,
            ["system", "user", "assistant", "function", "assistant"]
        );
        assert_eq!(v["messages"][2]["function_call"]["name"], "web_search");
        assert_eq!(
            v["messages"][2]["function_call"]["arguments"],
            "{\"queries\":[\"q one\",\"q two\"]}"
        );
        assert_eq!(v["messages"][3]["name"], "web_search");
        assert_eq!(
            v["messages"][3]["content"],
            "<information>Doc 1(Title: \"T\") x</information>"
        );
        assert_eq!(v["messages"][4]["function_call"], json!({}));
        assert_eq!(
            v["ext"],
            json!({"golden_answer": "y", "response_acc": true})
        );
        assert_eq!(
            v["functions"][0]["parameters"]["required"],
            json!(["queries"])
        );
        format_check(&r).unwrap();
    }

    #[test]
    fn format_check_catches_what_the_original_catches() {
        let search = Round::Search {
            thought: "<think>a</think>".into(),
            queries: vec!["q".into()],
            information: "<information>x</information>".into(),
        };
        let check = |rounds: &[Round], last: &str| {
            format_check(&record(
                "s",
                "q",
                rounds,
                Some(last),
                &Value::Null,
                json!(true),
            ))
        };
        assert!(check(std::slice::from_ref(&search), "<answer>y</answer>").is_ok());
        // Each of its three rules, broken alone.
        let err = check(
            std::slice::from_ref(&search),
            "Observation: x <answer>y</answer>",
        );
        assert!(err.unwrap_err().contains("ReAct marker"));
        let err = check(
            std::slice::from_ref(&search),
            "Act: {\"q\": 1} <answer>y</answer>",
        );
        assert!(err.unwrap_err().contains("ReAct marker"));
        let no_call = Round::Invalid {
            text: "no tags".into(),
            correction: "try again".into(),
        };
        let err = check(&[search, no_call], "<answer>y</answer>");
        assert_eq!(err.unwrap_err(), "assistant message 4 has no search call");
    }

    #[test]
    fn the_current_time_is_within_the_last_30_days_and_per_sample() {
        let today = time::macros::date!(2026 - 11 - 27);
        assert_eq!(
            system_message(today, 0),
            "You are a helpful assistant.\n\nCurrent time: Friday, 27 November 2026"
        );
        assert!(system_message(today, 29).contains("Thursday, 29 October 2026"));
        assert_eq!(system_message(today, 30), system_message(today, 0));
    }
}
