//! One trajectory as one LLaMA-Factory sharegpt example, in either [`Style`].
//!
//! LLaMA-Factory (`SharegptDatasetConverter` in `src/llamafactory/data/converter.py`) drops an
//! example whose turns do not alternate: `human` or `observation` at odd positions (1-based),
//! `gpt` or `function_call` at even ones, an even number in all. [`check_alignment`] is that
//! rule; every example written passes it. A `function_call` value is what LLaMA-Factory's
//! `FunctionFormatter` parses: `{"name", "arguments": {…}}` as JSON, optionally preceded by the
//! thought as `<think>\n…\n</think>\n\n` — a form that both of its thought-word conventions
//! (`<think>`…`</think>` and `<think>\n`…`\n</think>\n\n`) cut off cleanly before parsing.

use formats::{ChatmlMessage, Trajectory};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use student::{Action, INVALID_ACTION_OBSERVATION, Style, parse_written};

use crate::{Skip, Template};

/// A speaker tag of a sharegpt turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Human,
    Gpt,
    FunctionCall,
    Observation,
}

/// One turn: `{"from": …, "value": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub from: Role,
    pub value: String,
}

/// One sharegpt example as written, one per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The sample id (LLaMA-Factory ignores columns it was not told about).
    pub id: String,
    pub conversations: Vec<Turn>,
    pub system: String,
    /// The tool list as a JSON string (`tools` style only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<String>,
}

/// LLaMA-Factory's sharegpt alignment rule: `Err` says where it breaks.
pub fn check_alignment(turns: &[Turn]) -> Result<(), String> {
    for (i, turn) in turns.iter().enumerate() {
        let odd = i % 2 == 0; // position i + 1, 1-based
        let fits = match turn.from {
            Role::Human | Role::Observation => odd,
            Role::Gpt | Role::FunctionCall => !odd,
        };
        if !fits {
            return Err(format!("turn {} ({:?}) is out of place", i + 1, turn.from));
        }
    }
    if turns.is_empty() || !turns.len().is_multiple_of(2) {
        return Err(format!(
            "{} turns; an example needs an even number",
            turns.len()
        ));
    }
    Ok(())
}

/// `t` as a sharegpt example in `style`; the tags style's first turn is `template`'s prompt.
/// `Err` when the trajectory cannot be one (it never answered, or its record and transcript do
/// not line up), with the reason.
pub fn example(
    t: &Trajectory,
    style: Style,
    template: &Template,
) -> Result<Example, (Skip, String)> {
    if t.answer.is_none() {
        return Err((Skip::NoAnswer, format!("trajectory {} has no answer", t.id)));
    }
    let (conversations, system, tools) = match style {
        Style::Tools => {
            let (system, turns) = tool_turns(&t.chatml.messages)?;
            (turns, system, Some(tools(&t.chatml.functions)))
        }
        Style::Tags => (tag_turns(t, template)?, String::new(), None),
    };
    check_alignment(&conversations).map_err(|e| (Skip::Inconsistent, e))?;
    if conversations
        .last()
        .is_some_and(|turn| turn.from != Role::Gpt)
    {
        return Err((Skip::Inconsistent, "the last turn is not the answer".into()));
    }
    replays(&conversations, &searches(t)).map_err(|e| (Skip::NotReplayable, e))?;
    Ok(Example {
        id: t.id.clone(),
        conversations,
        system,
        tools,
    })
}

/// The searches of the record, in order: each call's queries and the observation that
/// answered it.
fn searches(t: &Trajectory) -> Vec<(Vec<String>, &str)> {
    let mut out = Vec::new();
    let mut calls = Vec::new();
    for m in &t.chatml.messages {
        match m.role.as_str() {
            "assistant" => {
                let queries = m
                    .function_call
                    .as_ref()
                    .and_then(|c| c.get("arguments"))
                    .and_then(student::tools::queries_of);
                calls.extend(queries);
            }
            "function" if !calls.is_empty() => {
                out.push((calls.remove(0), m.content.trim()));
            }
            _ => {}
        }
    }
    out
}

/// The replay property: read by the student runtime's parser, each assistant turn is kept
/// whole (nothing the runtime would cut or close) and asks for exactly what the next turn
/// answers — the recorded search's queries, answered by its recorded observation, or the fixed
/// correction after a turn with no action — and only the last turn answers. A tool call
/// carries the recorded queries in its arguments.
fn replays(turns: &[Turn], searches: &[(Vec<String>, &str)]) -> Result<(), String> {
    let mut searches = searches.iter();
    let mut thought = false;
    let last = turns.len().saturating_sub(1);
    for (i, turn) in turns.iter().enumerate() {
        let asked = match turn.from {
            Role::Human | Role::Observation => continue,
            Role::FunctionCall => function_call_queries(&turn.value).map(Action::Search),
            Role::Gpt => {
                let read = parse_written(&turn.value, thought);
                thought |= read.text.contains("<think>");
                (read.text == turn.value)
                    .then_some(read.action)
                    .ok_or_else(|| format!("turn {}: the runtime would cut or close it", i + 1))
                    .ok()
            }
        };
        let Some(asked) = asked else {
            return Err(format!("turn {}: unreadable", i + 1));
        };
        let next = turns.get(i + 1).map(|t| t.value.as_str());
        match asked {
            Action::Answer(_) if i == last => {}
            Action::Answer(_) => return Err(format!("turn {}: answers before the end", i + 1)),
            _ if i == last => return Err(format!("turn {}: the last turn does not answer", i + 1)),
            Action::Invalid if next == Some(INVALID_ACTION_OBSERVATION.trim()) => {}
            Action::Invalid => {
                return Err(format!(
                    "turn {}: no action, and no correction after it",
                    i + 1
                ));
            }
            Action::Search(queries) => match searches.next() {
                Some((recorded, observation))
                    if *recorded == queries && next == Some(*observation) => {}
                Some((recorded, _)) if *recorded != queries => {
                    return Err(format!(
                        "turn {}: searches {queries:?}, the record searched {recorded:?}",
                        i + 1
                    ));
                }
                Some(_) => {
                    return Err(format!(
                        "turn {}: the next turn is not what the search answered",
                        i + 1
                    ));
                }
                None => return Err(format!("turn {}: a search the record never made", i + 1)),
            },
        }
    }
    match searches.next() {
        Some(_) => Err("a recorded search has no turn that asks for it".into()),
        None => Ok(()),
    }
}

/// The queries of a `function_call` turn's value (`[<think>…</think>] {"name", "arguments"}`).
fn function_call_queries(value: &str) -> Option<Vec<String>> {
    let json = value.find('{').map(|at| &value[at..])?;
    let call: Value = serde_json::from_str(json).ok()?;
    (call.get("name")?.as_str()? == student::tools::NAME)
        .then(|| student::tools::queries_of(call.get("arguments")?))
        .flatten()
}

fn inconsistent(message: impl Into<String>) -> (Skip, String) {
    (Skip::Inconsistent, message.into())
}

/// The chatml messages as turns: user → human, assistant with a call → function_call,
/// other assistant → gpt, function → observation; the system message apart.
fn tool_turns(messages: &[ChatmlMessage]) -> Result<(String, Vec<Turn>), (Skip, String)> {
    let mut system = String::new();
    let mut turns = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let turn = |from, value: &str| Turn {
            from,
            value: value.to_string(),
        };
        match m.role.as_str() {
            "system" if i == 0 => system = m.content.clone(),
            "user" => turns.push(turn(Role::Human, &m.content)),
            "function" => turns.push(turn(Role::Observation, &m.content)),
            "assistant" => match m.function_call.as_ref().filter(|c| c.get("name").is_some()) {
                Some(call) => turns.push(Turn {
                    from: Role::FunctionCall,
                    value: function_call(&m.content, call)
                        .ok_or_else(|| inconsistent(format!("message {i}: unreadable call")))?,
                }),
                None => turns.push(turn(Role::Gpt, &m.content)),
            },
            other => return Err(inconsistent(format!("message {i}: role {other:?}"))),
        }
    }
    Ok((system, turns))
}

/// `<think>\n{thought}\n</think>\n\n{"arguments": {…}, "name": …}`, or the JSON alone when the
/// message has no thought. The thought is the message without its `<search>` element (the
/// structured call is the search) and without think tags (nested tags would break the parse).
fn function_call(content: &str, call: &Value) -> Option<String> {
    let name = call.get("name")?.as_str()?;
    let arguments = match call.get("arguments")? {
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?,
        other => other.clone(),
    };
    if !arguments.is_object() {
        return None;
    }
    let json = json!({"name": name, "arguments": arguments}).to_string();
    let thought = thought(content);
    Some(if thought.is_empty() {
        json
    } else {
        format!("<think>\n{thought}\n</think>\n\n{json}")
    })
}

fn thought(content: &str) -> String {
    let mut text = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(open) = rest.find("<search>") {
        text.push_str(&rest[..open]);
        rest = match rest[open..].find("</search>") {
            Some(close) => &rest[open + close + "</search>".len()..],
            None => "",
        };
    }
    text.push_str(rest);
    text.replace("<think>", "")
        .replace("</think>", "")
        .trim()
        .to_string()
}

/// The record's tools in the form LLaMA-Factory's tool formatters read,
/// `[{"name", "description", "parameters"}]` (the original writes Qwen's legacy
/// `name_for_model` / `description_for_model`), as a JSON string.
fn tools(functions: &[Value]) -> String {
    let field = |f: &Value, keys: [&str; 2]| {
        keys.iter()
            .find_map(|k| f.get(*k).and_then(Value::as_str))
            .unwrap_or_default()
            .to_string()
    };
    let tools: Vec<Value> = functions
        .iter()
        .map(|f| {
            json!({
                "name": field(f, ["name_for_model", "name"]),
                "description": field(f, ["description_for_model", "description"]),
                "parameters": f.get("parameters").cloned().unwrap_or_else(|| json!({})),
            })
        })
        .collect();
    Value::Array(tools).to_string()
}

/// The student transcript cut into turns at the observations the chatml record lists (each
/// `function` message and each corrective `user` message after the task), in order.
fn tag_turns(t: &Trajectory, template: &Template) -> Result<Vec<Turn>, (Skip, String)> {
    let mut turns = vec![Turn {
        from: Role::Human,
        value: template.prompt(&t.task.query),
    }];
    let observations = t
        .chatml
        .messages
        .iter()
        .skip_while(|m| m.role != "user")
        .skip(1)
        .filter(|m| m.role == "function" || m.role == "user");
    let mut rest = t.transcript.as_str();
    for m in observations {
        let observation = m.content.trim();
        let at = rest
            .find(observation)
            .filter(|_| !observation.is_empty())
            .ok_or_else(|| inconsistent("an observation of the record is not in the transcript"))?;
        turns.push(gpt(&rest[..at])?);
        turns.push(Turn {
            from: Role::Human,
            value: observation.to_string(),
        });
        rest = &rest[at + observation.len()..];
    }
    turns.push(gpt(rest)?);
    Ok(turns)
}

fn gpt(text: &str) -> Result<Turn, (Skip, String)> {
    let value = text.trim();
    if value.is_empty() {
        return Err(inconsistent("an empty assistant turn in the transcript"));
    }
    Ok(Turn {
        from: Role::Gpt,
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::trajectory;

    /// A tools-style conversation with two searches.
    const TWO_CALLS: [Role; 6] = [
        Role::Human,
        Role::FunctionCall,
        Role::Observation,
        Role::FunctionCall,
        Role::Observation,
        Role::Gpt,
    ];

    fn turn(from: Role, value: &str) -> Turn {
        Turn {
            from,
            value: value.into(),
        }
    }

    fn roles(e: &Example) -> Vec<Role> {
        e.conversations.iter().map(|t| t.from).collect()
    }

    #[test]
    fn alignment_is_llamafactorys_rule() {
        use Role::*;
        let check = |from: &[Role]| {
            let turns: Vec<Turn> = from.iter().map(|&r| turn(r, "x")).collect();
            check_alignment(&turns)
        };
        assert!(check(&[Human, Gpt]).is_ok());
        assert!(check(&[Human, FunctionCall, Observation, Gpt]).is_ok());
        assert!(check(&[Human, Gpt, Human, Gpt]).is_ok());
        assert!(check(&TWO_CALLS).is_ok());
        assert!(check(&[]).is_err(), "empty");
        assert!(check(&[Human]).is_err(), "odd count");
        assert!(check(&[Gpt, Human]).is_err(), "gpt first");
        assert!(
            check(&[Human, Observation]).is_err(),
            "two prompts in a row"
        );
        assert!(
            check(&[Human, Gpt, FunctionCall, Observation]).is_err(),
            "two replies in a row"
        );
        assert_eq!(
            check(&[Human, FunctionCall, Gpt, Observation]).unwrap_err(),
            "turn 3 (Gpt) is out of place"
        );
    }

    #[test]
    fn tools_style_maps_the_chatml_record() {
        let t = trajectory("a#0", 2);
        let e = example(&t, Style::Tools, &Template::search_r1()).unwrap();
        assert_eq!(roles(&e), TWO_CALLS);
        assert_eq!(e.system, t.chatml.messages[0].content);
        assert_eq!(e.conversations[0].value, t.task.query);
        assert_eq!(
            e.conversations[1].value,
            "<think>\nMask 1, try 1.\n</think>\n\n{\"arguments\":{\"queries\":[\"Ada mathematician 1\"]},\"name\":\"web_search\"}"
        );
        assert!(
            e.conversations[2]
                .value
                .starts_with("<information>Doc 1(Title:")
        );
        assert!(e.conversations[5].value.ends_with("</answer>"));
        let tools: Value = serde_json::from_str(e.tools.as_deref().unwrap()).unwrap();
        assert_eq!(tools[0]["name"], "web_search");
        assert_eq!(tools[0]["parameters"]["required"][0], "queries");
        assert!(
            tools[0]["description"]
                .as_str()
                .unwrap()
                .contains("web search")
        );
    }

    #[test]
    fn a_function_call_parses_under_both_thought_conventions() {
        // LLaMA-Factory cuts the thought off with its template's thought words, then parses the
        // rest as JSON.
        let call = json!({"name": "web_search", "arguments": "{\"queries\": [\"a\", \"b\"]}"});
        let value = function_call(
            "<think>plan</think> <search> [{\"query\": \"q\", \"intent\": 1}] </search>",
            &call,
        )
        .unwrap();
        for (open, close) in [("<think>", "</think>"), ("<think>\n", "\n</think>\n\n")] {
            let start = value.find(open).unwrap();
            let end = value.find(close).unwrap() + close.len();
            assert_eq!(
                &value[start + open.len()..end - close.len()].trim(),
                &"plan"
            );
            let rest: Value = serde_json::from_str(&value[end..]).unwrap();
            assert_eq!(rest["arguments"]["queries"][1], "b");
        }
        assert_eq!(
            function_call("", &json!({"name": "f", "arguments": {"x": 1}})).unwrap(),
            "{\"arguments\":{\"x\":1},\"name\":\"f\"}",
            "no thought, JSON alone"
        );
        assert!(function_call("", &json!({"name": "f", "arguments": "[1]"})).is_none());
    }

    #[test]
    fn tags_style_cuts_the_transcript_at_each_observation() {
        let t = trajectory("a#0", 2);
        let e = example(&t, Style::Tags, &Template::search_r1()).unwrap();
        use Role::*;
        assert_eq!(roles(&e), [Human, Gpt, Human, Gpt, Human, Gpt]);
        assert_eq!(
            e.conversations[0].value,
            Template::search_r1().prompt(&t.task.query)
        );
        let values: Vec<&str> = e.conversations.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(
            values[1..3],
            [
                "<think>Mask 1, try 1.</think>\n<search> Ada mathematician 1 </search>",
                "<information>Doc 1(Title: \"Ada Lovelace\") Ada Lovelace was a mathematician (1).</information>"
            ]
        );
        assert!(values[5].starts_with("<think>Doc 1 names her."));
        assert_eq!(e.system, "");
        assert_eq!(e.tools, None);
        let line = serde_json::to_string(&e).unwrap();
        assert!(!line.contains("\"tools\""), "{line}");
        assert!(line.contains("{\"from\":\"human\",\"value\":"), "{line}");
    }

    #[test]
    fn an_invalid_action_is_a_gpt_turn_answered_by_a_human_correction() {
        let mut t = trajectory("a#0", 0);
        let correction = INVALID_ACTION_OBSERVATION;
        let rounds = [agent::chatml::Round::Invalid {
            text: "<think>hmm</think> I will look.".into(),
            correction: correction.into(),
        }];
        let last = t.chatml.messages.last().unwrap().content.clone();
        t.chatml = agent::chatml::record(
            "sys",
            &t.task.query,
            &rounds,
            Some(&last),
            &json!({}),
            json!(true),
        );
        t.transcript = format!("<think>hmm</think> I will look.{correction}{last}");
        use Role::*;
        for style in [Style::Tools, Style::Tags] {
            let e = example(&t, style, &Template::search_r1()).unwrap();
            assert_eq!(roles(&e), [Human, Gpt, Human, Gpt], "{style:?}");
            assert_eq!(e.conversations[2].value, correction.trim());
        }
    }

    #[test]
    fn a_turn_the_runtime_would_not_reproduce_is_not_replayable() {
        let template = Template::search_r1();
        let skip = |t: &Trajectory| example(t, Style::Tags, &template).unwrap_err();
        // The student text searches other words than the record did.
        let mut t = trajectory("a#0", 1);
        t.transcript = t.transcript.replace(
            "<search> Ada mathematician 1 </search>",
            "<search> Ada Lovelace </search>",
        );
        let (why, detail) = skip(&t);
        assert_eq!(why, Skip::NotReplayable);
        assert!(detail.contains("the record searched"), "{detail}");
        // Text after the search that the runtime's stop at </search> would cut off.
        let mut t = trajectory("a#0", 1);
        t.transcript = t
            .transcript
            .replace("</search>", "</search> and then I wait");
        assert_eq!(skip(&t).0, Skip::NotReplayable);
        // Several queries in one search replay when the record searched them all.
        let mut t = trajectory("a#0", 1);
        let queries = vec![
            "Ada mathematician 1".to_string(),
            "Ada Lovelace".to_string(),
        ];
        t.transcript = t.transcript.replace(
            "<search> Ada mathematician 1 </search>",
            &student::search_element(&queries).unwrap(),
        );
        assert_eq!(skip(&t).0, Skip::NotReplayable, "the record searched one");
        t.chatml.messages[2].function_call = Some(json!({
            "name": "web_search",
            "arguments": student::tools::arguments(&queries),
        }));
        let e = example(&t, Style::Tags, &template).unwrap();
        assert_eq!(
            e.conversations[1].value,
            "<think>Mask 1, try 1.</think>\n<search>\nAda mathematician 1\nAda Lovelace\n</search>"
        );
        let e = example(&t, Style::Tools, &template).unwrap();
        assert!(e.conversations[1].value.ends_with(
            r#"{"arguments":{"queries":["Ada mathematician 1","Ada Lovelace"]},"name":"web_search"}"#
        ));
    }

    #[test]
    fn records_that_cannot_be_examples_say_why() {
        let template = Template::search_r1();
        let mut t = trajectory("a#0", 1);
        t.answer = None;
        assert_eq!(
            example(&t, Style::Tools, &template).unwrap_err().0,
            Skip::NoAnswer
        );

        let mut t = trajectory("a#0", 1);
        t.transcript = "<think>x</think>\n<answer> y </answer>".into();
        assert_eq!(
            example(&t, Style::Tags, &template).unwrap_err().0,
            Skip::Inconsistent
        );

        let mut t = trajectory("a#0", 1);
        t.chatml.messages.pop(); // no final assistant message: ends on an observation
        assert_eq!(
            example(&t, Style::Tools, &template).unwrap_err().0,
            Skip::Inconsistent
        );

        let mut t = trajectory("a#0", 1);
        t.chatml.messages[2].function_call =
            Some(json!({"name": "web_search", "arguments": "not json"}));
        assert_eq!(
            example(&t, Style::Tools, &template).unwrap_err().0,
            Skip::Inconsistent
        );
    }
}
