//! The tools style: a search is a call of the `web_search` tool with a list of queries, as in
//! the original MaskSearch record, answered by the same information block as a `<search>`.
//! The tool is defined here once; the original's legacy function record, the OpenAI `tools`
//! entry and LLaMA-Factory's tool list are all written from it.

use serde_json::{Value, json};

use crate::turn::clean_queries;

/// The tool's name.
pub const NAME: &str = "web_search";

/// What the tool does, as the original describes it to the model.
pub const DESCRIPTION: &str =
    "Utilize the web search engine to retrieve relevant information based on multiple queries.";

/// The JSON schema of the tool's arguments: `{"queries": [string, …]}`.
pub fn parameters() -> Value {
    json!({
        "type": "object",
        "properties": {
            "queries": {
                "type": "array",
                "description": "The list of search queries.",
                "items": {"type": "string", "description": "The search query."}
            }
        },
        "required": ["queries"]
    })
}

/// The tool as an OpenAI `tools` entry (`{"type": "function", "function": {…}}`).
pub fn openai_tool() -> Value {
    json!({
        "type": "function",
        "function": {"name": NAME, "description": DESCRIPTION, "parameters": parameters()}
    })
}

/// The arguments of a call that searches `queries` (cleaned), as a JSON string.
pub fn arguments(queries: &[String]) -> String {
    json!({ "queries": clean_queries(queries) }).to_string()
}

/// The queries of a `web_search` call's arguments (a JSON object, or a string holding one),
/// cleaned as a `<search>` element's are; `None` when they hold no query list. A single
/// `query` string is read too (models trained on other tools write it).
pub fn queries_of(arguments: &Value) -> Option<Vec<String>> {
    let parsed;
    let arguments = match arguments {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            &parsed
        }
        other => other,
    };
    let raw: Vec<String> = match (arguments.get("queries"), arguments.get("query")) {
        (Some(Value::Array(list)), _) => list
            .iter()
            .filter_map(|q| q.as_str().map(str::to_string))
            .collect(),
        (Some(Value::String(one)), _) | (None, Some(Value::String(one))) => vec![one.clone()],
        _ => return None,
    };
    Some(clean_queries(&raw)).filter(|q| !q.is_empty())
}

/// `text` with each hermes-style call of the tool (`<tool_call>{"name": "web_search",
/// "arguments": {…}}</tool_call>`, what Qwen-family templates and verl's `hermes` parser use)
/// written as the `<search>` element it stands for, so a tools-style response reads as the tags
/// style does (the format reward's grammar). A block that is not a readable call of this tool is
/// left as it is.
pub fn calls_as_searches(text: &str) -> std::borrow::Cow<'_, str> {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    if !text.contains(OPEN) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        let Some(len) = rest[at + OPEN.len()..].find(CLOSE) else {
            break;
        };
        let body = &rest[at + OPEN.len()..at + OPEN.len() + len];
        let end = at + OPEN.len() + len + CLOSE.len();
        let search = serde_json::from_str::<Value>(body.trim())
            .ok()
            .filter(|call| call.get("name").and_then(Value::as_str) == Some(NAME))
            .and_then(|call| queries_of(call.get("arguments")?))
            .and_then(|queries| crate::search_element(&queries));
        out.push_str(&rest[..at]);
        out.push_str(search.as_deref().unwrap_or(&rest[at..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_read_back_as_their_queries() {
        let queries = vec!["a  b".to_string(), "c".to_string(), "c".to_string()];
        let args = arguments(&queries);
        assert_eq!(args, r#"{"queries":["a b","c"]}"#);
        assert_eq!(
            queries_of(&Value::String(args)).unwrap(),
            ["a b".to_string(), "c".to_string()]
        );
        assert_eq!(queries_of(&json!({"query": "x"})).unwrap(), ["x"]);
        assert_eq!(queries_of(&json!({"queries": []})), None);
        assert_eq!(queries_of(&json!({"q": "x"})), None);
        assert_eq!(queries_of(&Value::String("not json".into())), None);
        assert_eq!(openai_tool()["function"]["name"], NAME);
    }

    #[test]
    fn hermes_calls_read_as_the_searches_they_stand_for() {
        let text = "<think>t</think>\n<tool_call>\n{\"name\": \"web_search\", \"arguments\": {\"queries\": [\"a\", \"b\"]}}\n</tool_call>";
        assert_eq!(
            calls_as_searches(text),
            "<think>t</think>\n<search>\na\nb\n</search>"
        );
        let other = "<tool_call>{\"name\": \"calculator\", \"arguments\": {}}</tool_call>";
        assert_eq!(
            calls_as_searches(other),
            other,
            "another tool stays as it is"
        );
        assert_eq!(calls_as_searches("<tool_call>{bad"), "<tool_call>{bad");
        assert!(matches!(
            calls_as_searches("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
