//! Tools and tool calls as plain chat text, for a model that reads and writes them in its turns:
//! LLaMA-Factory's `default` tool format, the one its `smollm` template (and every template
//! without a tool format of its own) trains on. The local model speaks it; the client does not
//! need it (an OpenAI-compatible server does this on its side).
//!
//! LLaMA-Factory 0.9.5 (`src/llamafactory/data/tool_utils.py`, `DefaultToolUtils`;
//! `formatter.py`, `FunctionFormatter`; `template.py`, `Template._encode`) renders a tools-style
//! example as follows, and [`plain_messages`] writes an OpenAI conversation the same way:
//!
//! - `tools`: a description appended to the system message, with nothing in between (a
//!   conversation without a system message gets one holding the description alone);
//! - a `function_call` turn: its thought in LLaMA-Factory's thought words
//!   (`<think>\n…\n</think>\n\n`, the only text its function formatter keeps before the calls),
//!   then each call as `Action: NAME` and `Action Input: ARGUMENTS` lines, calls separated by a
//!   newline, the arguments re-serialised the way Python's `json.dumps(…, ensure_ascii=False)`
//!   writes them. The thought is the assistant message's text without think tags, trimmed, as
//!   `masksearch export sft` writes it; so the text before a call comes back the same however
//!   a client trimmed it;
//! - an `observation` turn: a user turn (the template's user formatter). OpenAI gives each
//!   call's result its own tool message; consecutive ones become one observation, joined by a
//!   newline (a sharegpt observation answers all the calls of the turn before it).
//!
//! The description's wording is LLaMA-Factory's `DEFAULT_TOOL_PROMPT`, kept to the byte (the
//! model was trained on exactly these words). testdata/llamafactory/ holds conversations
//! rendered by LLaMA-Factory's own code; the tests hold this module to them.
//!
//! [`read_calls`] reads a generation back: the text before the first `Action:` line that starts
//! a call stays text, each call's input must be a JSON object. Anything else there (an input
//! that is not JSON, text after a call) leaves the whole generation as text with no call, as
//! LLaMA-Factory's `tool_extractor` does for bad JSON. Model output is parsed as JSON data,
//! never evaluated.

use std::fmt;

use chat::{ChatRequest, FinishReason, Role, Tool, ToolCall};
use rand::Rng as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// What begins every call in the text.
pub(crate) const CALL: &str = "Action:";
/// What begins a call's arguments.
const INPUT: &str = "Action Input:";

/// A message a chat template can render: a system, user or assistant role and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlainMessage {
    /// The request's message this one comes from (the first, when tool results were merged).
    pub index: usize,
    pub role: Role,
    pub content: String,
}

/// The request's messages with the tools, the calls and their results written into the text.
pub(crate) fn plain_messages(request: &ChatRequest) -> Vec<PlainMessage> {
    let mut plain: Vec<PlainMessage> = Vec::with_capacity(request.messages.len() + 1);
    for (index, m) in request.messages.iter().enumerate() {
        let merges = m.role == Role::Tool && plain.last().is_some_and(|p| p.role == Role::Tool);
        match plain.last_mut() {
            Some(previous) if merges => {
                previous.content.push('\n');
                previous.content.push_str(&m.content);
            }
            _ => plain.push(PlainMessage {
                index,
                role: m.role,
                content: with_calls(&m.content, &m.tool_calls),
            }),
        }
    }
    for p in &mut plain {
        if p.role == Role::Tool {
            p.role = Role::User;
        }
    }
    if !request.tools.is_empty() {
        let description = describe(&request.tools);
        match plain.first_mut() {
            Some(system) if system.role == Role::System => system.content.push_str(&description),
            _ => plain.insert(
                0,
                PlainMessage {
                    index: 0,
                    role: Role::System,
                    content: description,
                },
            ),
        }
    }
    plain
}

/// An assistant message's text followed by its calls: the text as the thought of a call turn
/// when there are calls, as it is otherwise.
fn with_calls(content: &str, calls: &[ToolCall]) -> String {
    if calls.is_empty() {
        return content.to_string();
    }
    let thought = content.replace("<think>", "").replace("</think>", "");
    let thought = match thought.trim() {
        "" => String::new(),
        t => format!("<think>\n{t}\n</think>\n\n"),
    };
    let calls: Vec<String> = calls
        .iter()
        .map(|c| {
            // Arguments that are not JSON have no training counterpart: they are shown as sent.
            let arguments = python_json(&c.arguments).unwrap_or_else(|| c.arguments.clone());
            format!("{CALL} {}\n{INPUT} {arguments}", c.name)
        })
        .collect();
    format!("{thought}{}", calls.join("\n"))
}

/// The tool description LLaMA-Factory appends to the system message.
///
/// The parameters appear in the order of the schema's `properties` object as parsed here
/// (serde_json sorts keys), which is the order `masksearch export sft` writes them in the
/// `tools` column LLaMA-Factory reads.
fn describe(tools: &[Tool]) -> String {
    let mut text = String::from("You have access to the following tools:\n");
    for tool in tools {
        text.push_str(&format!(
            "> Tool Name: {}\nTool Description: {}\nTool Args:\n",
            tool.name, tool.description
        ));
        let required = tool.parameters.get("required").and_then(Value::as_array);
        let properties = tool.parameters.get("properties").and_then(Value::as_object);
        for (name, param) in properties.into_iter().flatten() {
            let is_required = required.is_some_and(|r| r.iter().any(|n| n == name.as_str()));
            text.push_str(&format!(
                "  - {name} ({}{}): {}",
                text_of(param.get("type")),
                if is_required { ", required" } else { "" },
                text_of(param.get("description")),
            ));
            if let Some(values) = param.get("enum").and_then(Value::as_array)
                && !values.is_empty()
            {
                let values: Vec<String> = values.iter().map(|v| text_of(Some(v))).collect();
                text.push_str(&format!(", should be one of [{}]", values.join(", ")));
            }
            if let Some(items) = param.get("items").and_then(Value::as_object)
                && !items.is_empty()
            {
                let kind = text_of(items.get("type"));
                text.push_str(&format!(", where each item should be {kind}"));
            }
            text.push('\n');
        }
        text.push('\n');
    }
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    text.push_str(&format!(
        "Use the following format if using a tool:\n```\n{CALL} tool name (one of [{}])\n{INPUT} the input to the tool, in a JSON format representing the kwargs (e.g. ```{{\"input\": \"hello world\", \"num_beams\": 5}}```)\n```\n",
        names.join(", ")
    ));
    text
}

/// A schema field as text: a string as it is, anything else as JSON, nothing as "".
fn text_of(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// What an answer says and calls: with tools `offered`, a turn the model ended itself makes
/// the calls its text makes ([`read_calls`]); a turn cut short makes none (its last call may
/// be cut too), and without tools the text is only text.
pub(crate) fn answer(text: String, finish: FinishReason, offered: bool) -> (String, Vec<ToolCall>) {
    match finish {
        FinishReason::Stop if offered => read_calls(text),
        _ => (text, Vec::new()),
    }
}

/// The text before the calls and the calls a generation makes, each with a fresh id; the
/// whole text and no call when it makes none (or a call is malformed).
pub(crate) fn read_calls(text: String) -> (String, Vec<ToolCall>) {
    match parse_calls(&text) {
        Some((before, calls)) => {
            let calls = calls
                .into_iter()
                .map(|(name, arguments)| ToolCall {
                    id: call_id(),
                    name: name.to_string(),
                    arguments: arguments.to_string(),
                })
                .collect();
            (text[..before].to_string(), calls)
        }
        None => (text, Vec::new()),
    }
}

/// Where the calls begin and each call's name and arguments, or `None` when the text makes
/// no call or a malformed one.
fn parse_calls(text: &str) -> Option<(usize, Vec<(&str, &str)>)> {
    let starts: Vec<usize> = text.match_indices(CALL).map(|(at, _)| at).collect();
    let first = starts
        .iter()
        .position(|&at| call_header(&text[at..]).is_some())?;
    let starts = &starts[first..];
    let ends = starts.iter().skip(1).copied().chain([text.len()]);
    let calls = starts
        .iter()
        .zip(ends)
        .map(|(&start, end)| call(&text[start..end]))
        .collect::<Option<Vec<_>>>()?;
    Some((starts[0], calls))
}

/// `Action: NAME <space> Action Input: REST` → (NAME, REST).
fn call_header(segment: &str) -> Option<(&str, &str)> {
    let rest = segment.strip_prefix(CALL)?.trim_start();
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let (name, rest) = rest.split_at(name_len);
    let input = rest.trim_start().strip_prefix(INPUT)?;
    (!name.is_empty()).then_some((name, input))
}

/// One call: its name and its input, which must be a JSON object. The input is trimmed of
/// whitespace, then of quotes, then of backticks, as LLaMA-Factory's extractor does.
fn call(segment: &str) -> Option<(&str, &str)> {
    let (name, input) = call_header(segment)?;
    let input = input.trim().trim_matches('"').trim_matches('`');
    serde_json::from_str::<serde_json::Map<String, Value>>(input).ok()?;
    Some((name, input.trim()))
}

/// A fresh OpenAI-style call id.
fn call_id() -> String {
    let suffix: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("call_{suffix}")
}

/// `text` (JSON) as Python's `json.dumps(json.loads(text), ensure_ascii=False)` writes it:
/// `", "` and `": "` separators, keys in their order, non-ASCII characters as they are, floats
/// as Python's `repr`. `None` when `text` is not JSON.
pub(crate) fn python_json(text: &str) -> Option<String> {
    serde_json::from_str::<PythonJson>(text).ok().map(|j| j.0)
}

/// A JSON value written as Python writes it (see [`python_json`]).
struct PythonJson(String);

impl<'de> Deserialize<'de> for PythonJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(PythonJsonVisitor)
            .map(PythonJson)
    }
}

struct PythonJsonVisitor;

impl<'de> Visitor<'de> for PythonJsonVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(python_float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(python_string(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok("null".to_string())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let mut items = Vec::new();
        while let Some(PythonJson(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(format!("[{}]", items.join(", ")))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, PythonJson(value))) = map.next_entry::<String, PythonJson>()? {
            entries.push(format!("{}: {value}", python_string(&key)));
        }
        Ok(format!("{{{}}}", entries.join(", ")))
    }
}

/// A JSON string as Python's `json.dumps(…, ensure_ascii=False)` writes it.
fn python_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A float as Python's `repr` writes it: the shortest digits that read back the same, in
/// positional notation from 1e-4 up to 1e16 (always with a fractional part), else as
/// `d.ddde±XX`.
fn python_float(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    // Rust's `{:e}` writes the shortest round-trip digits: `-1.5e-7`, `1e16`.
    let shortest = format!("{v:e}");
    let Some((mantissa, exponent)) = shortest.split_once('e') else {
        return shortest;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    if !(-4..16).contains(&exponent) {
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs());
    }
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let point = exponent + 1; // digits before the decimal point
    if point <= 0 {
        let zeros = "0".repeat((-point) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() > point {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    } else {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    }
}

#[cfg(test)]
mod tests {
    use chat::Message;
    use serde_json::json;

    use super::*;

    #[test]
    fn json_is_written_the_way_python_writes_it() {
        let check = |text: &str, expect: &str| {
            assert_eq!(python_json(text).as_deref(), Some(expect), "{text}");
        };
        check(r#"{"queries":["a","b"]}"#, r#"{"queries": ["a", "b"]}"#);
        check(
            r#"{ "b" : 1 , "a" : [ ] , "c": {} }"#,
            r#"{"b": 1, "a": [], "c": {}}"#,
        );
        check(r#""caf\u00e9 \ud83d\ude00""#, "\"café 😀\"");
        check(
            r#""q\"\\\/\b\f\n\r\t\u0001\u007f""#,
            "\"q\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\u{7f}\"",
        );
        check(
            "[true, false, null, -3, 18446744073709551615]",
            "[true, false, null, -3, 18446744073709551615]",
        );
        assert_eq!(python_json("{\"a\": }"), None);
        assert_eq!(python_json("{} x"), None);
    }

    #[test]
    fn floats_are_written_as_python_repr() {
        // Each pair checked against CPython 3.11's repr.
        for (v, repr) in [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (123.456, "123.456"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (-2.5e22, "-2.5e+22"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(python_float(v), repr, "{v:e}");
        }
        assert_eq!(python_json("[1E2, 2.50]").as_deref(), Some("[100.0, 2.5]"));
    }

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: format!("call_{name}"),
            name: name.to_string(),
            arguments: arguments.to_string(),
        }
    }

    fn tool(name: &str, parameters: Value) -> Tool {
        Tool {
            name: name.to_string(),
            description: format!("{name} things."),
            parameters,
        }
    }

    #[test]
    fn tools_calls_and_results_become_plain_turns() {
        let request = ChatRequest {
            messages: vec![
                Message::user("q"),
                Message::assistant_calls(
                    "<think>\nt\n</think>\n\n",
                    vec![call("a", r#"{"x":1}"#), call("b", "not json")],
                ),
                Message::tool("call_a", "r1"),
                Message::tool("call_b", "r2"),
                Message::user("again"),
                Message::tool("call_c", "r3"),
            ],
            tools: vec![tool("a", json!({"properties": {}}))],
            ..ChatRequest::default()
        };
        let plain = plain_messages(&request);
        let shape: Vec<(usize, Role, &str)> = plain
            .iter()
            .map(|p| (p.index, p.role, p.content.as_str()))
            .collect();
        let description = describe(&request.tools);
        assert_eq!(
            shape,
            [
                (0, Role::System, description.as_str()),
                (0, Role::User, "q"),
                (
                    1,
                    Role::Assistant,
                    "<think>\nt\n</think>\n\nAction: a\nAction Input: {\"x\": 1}\nAction: b\nAction Input: not json"
                ),
                (2, Role::User, "r1\nr2"),
                (4, Role::User, "again"),
                (5, Role::User, "r3"),
            ]
        );
        // However the thought came back (trimmed, untagged), a call turn shows it the same way.
        let turn = |content: &str| with_calls(content, &[call("a", "{}")]);
        let trained = "<think>\nt\n</think>\n\nAction: a\nAction Input: {}";
        for content in [
            "<think>\nt\n</think>\n\n",
            "<think>\nt\n</think>",
            "<think>t</think>",
            " t\n",
        ] {
            assert_eq!(turn(content), trained, "{content:?}");
        }
        assert_eq!(turn(" <think>\n</think> "), "Action: a\nAction Input: {}");
        assert_eq!(with_calls(" as it is\n", &[]), " as it is\n");
        // A system message gets the description appended; no tools, no description.
        let mut request = request;
        request.messages.insert(0, Message::system("S."));
        assert_eq!(
            plain_messages(&request)[0].content,
            format!("S.{description}")
        );
        request.tools.clear();
        assert_eq!(plain_messages(&request)[0].content, "S.");
        assert_eq!(plain_messages(&request).len(), 6);
    }

    #[test]
    fn the_description_lists_each_parameter_with_its_constraints() {
        let text = describe(&[
            tool(
                "f",
                json!({"type": "object", "required": ["a"], "properties": {
                    "a": {"type": "array", "description": "As.", "items": {"type": "string"}},
                    "b": {"type": "string", "enum": ["x", "y"]},
                    "c": {"type": ["string", "null"], "items": {}},
                }}),
            ),
            tool("g", Value::Null),
        ]);
        assert_eq!(
            text,
            "You have access to the following tools:\n\
             > Tool Name: f\nTool Description: f things.\nTool Args:\n\
             \x20 - a (array, required): As., where each item should be string\n\
             \x20 - b (string): , should be one of [x, y]\n\
             \x20 - c ([\"string\",\"null\"]): \n\n\
             > Tool Name: g\nTool Description: g things.\nTool Args:\n\n\
             Use the following format if using a tool:\n```\n\
             Action: tool name (one of [f, g])\n\
             Action Input: the input to the tool, in a JSON format representing the kwargs \
             (e.g. ```{\"input\": \"hello world\", \"num_beams\": 5}```)\n```\n"
        );
    }

    /// `text` read back: the text before the calls and each call's name and arguments.
    fn check(text: &str, expect: Option<(&str, &[(&str, &str)])>) {
        let got = parse_calls(text).map(|(before, calls)| (&text[..before], calls));
        let expect = expect.map(|(before, calls)| (before, calls.to_vec()));
        assert_eq!(got, expect, "{text:?}");
    }

    #[test]
    fn calls_are_read_back_from_the_text() {
        check("no call here", None);
        check(
            "<think>\nt\n</think>\n\nAction: web_search\nAction Input: {\"queries\": [\"a\"]}",
            Some((
                "<think>\nt\n</think>\n\n",
                &[("web_search", "{\"queries\": [\"a\"]}")],
            )),
        );
        // Two calls, text before them; whitespace, quotes and backticks around an input.
        check(
            "Let me look. Action:a  Action Input:\n```{\"x\": 1}```\n\nAction: b\nAction Input: \"{}\"\n",
            Some(("Let me look. ", &[("a", "{\"x\": 1}"), ("b", "{}")])),
        );
        // An `Action:` that starts no call before the first one stays text.
        check(
            "Action: think first. Action: a\nAction Input: {}",
            Some(("Action: think first. ", &[("a", "{}")])),
        );
        // Malformed calls leave everything as text.
        for text in [
            "Action: a\nAction Input: {\"queries\": [\"a\"",
            "Action: a\nAction Input: {\"x\": 1} and then some text",
            "Action: a\nAction Input: [1, 2]",
            "Action: a\nAction Input: {\"x\": 1}\nAction: b\nAction Input: {oops}",
            "Action: a\nAction Input: {}\nAction: nothing follows",
            "Action: \nAction Input: {}",
            "Action: a b\nAction Input: {}",
        ] {
            check(text, None);
        }
    }

    #[test]
    fn read_calls_gives_fresh_ids_and_keeps_bad_calls_as_text() {
        let (text, calls) = read_calls("t\nAction: a\nAction Input: {\"x\": 1}".to_string());
        assert_eq!(text, "t\n");
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].name.as_str(), calls[0].arguments.as_str()),
            ("a", "{\"x\": 1}")
        );
        assert!(
            calls[0].id.starts_with("call_") && calls[0].id.len() == 29,
            "{}",
            calls[0].id
        );
        let (_, again) = read_calls("Action: a\nAction Input: {}".to_string());
        assert_ne!(calls[0].id, again[0].id);
        let bad = "t\nAction: a\nAction Input: {\"x\": }".to_string();
        assert_eq!(read_calls(bad.clone()), (bad, Vec::new()));
    }

    #[test]
    fn only_a_finished_turn_with_tools_offered_calls() {
        let text = || "t\nAction: a\nAction Input: {\"x\": 1}".to_string();
        let calls = |finish, offered| answer(text(), finish, offered).1.len();
        assert_eq!(calls(FinishReason::Stop, true), 1);
        // Cut by max_tokens (or the context) right after a complete-looking call: no call.
        assert_eq!(
            answer(text(), FinishReason::Length, true),
            (text(), Vec::new())
        );
        assert_eq!(
            answer(text(), FinishReason::Stop, false),
            (text(), Vec::new())
        );
    }
}
