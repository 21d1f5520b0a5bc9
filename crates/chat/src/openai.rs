//! The OpenAI `/v1/chat/completions` wire format, shared by the client and the `server` crate.
//!
//! Deserialisation is lenient where servers differ (missing `usage`, `null` content, extra
//! fields); serialisation writes only what the request sets.

use serde::{Deserialize, Serialize};

use serde_json::Value;

use crate::{
    ChatRequest, ChatResponse, FinishReason, InvalidRequest, Message, Role, Tool, ToolCall, Usage,
};

/// The request body of `POST /v1/chat/completions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    #[serde(default)]
    pub model: String,
    pub messages: Vec<RequestMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// OpenAI's newer name for `max_tokens`; honoured when `max_tokens` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    /// Answer as server-sent events of [`CompletionChunk`]s, ending with `data: [DONE]`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Number of choices; only 1 is supported by this project's server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// vLLM's extension: continue the final assistant message instead of opening a new turn
    /// (sent together with `add_generation_prompt: false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_final_message: bool,
    /// vLLM's extension: whether the template adds the assistant turn opener (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_generation_prompt: Option<bool>,
    /// Function tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<WireTool>,
    /// `"auto"` (the default with tools), `"none"`, or a named function; read and ignored: the
    /// model decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
}

/// A `tools` entry: `{"type": "function", "function": {"name", "description", "parameters"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTool {
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: WireFunction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFunction {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub parameters: Value,
}

/// A `tool_calls` entry: `{"id", "type": "function", "function": {"name", "arguments"}}`; in a
/// streamed chunk also its `index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireToolCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: WireCall,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireCall {
    #[serde(default)]
    pub name: String,
    /// A JSON object as text (OpenAI's form); a server that sends an object is read too.
    #[serde(default)]
    pub arguments: Value,
}

fn function_kind() -> String {
    "function".to_string()
}

impl WireToolCall {
    fn from_call(call: &ToolCall, index: Option<u32>) -> Self {
        WireToolCall {
            index,
            id: call.id.clone(),
            kind: function_kind(),
            function: WireCall {
                name: call.name.clone(),
                arguments: Value::String(call.arguments.clone()),
            },
        }
    }

    fn into_call(self) -> ToolCall {
        let arguments = match self.function.arguments {
            Value::String(text) => text,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        ToolCall {
            id: self.id,
            name: self.function.name,
            arguments,
        }
    }
}

/// Options of a streamed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send one more chunk before `[DONE]` with the token usage (and no choices).
    #[serde(default)]
    pub include_usage: bool,
}

/// `stop` may be one string or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestMessage {
    pub role: String,
    /// `null` or absent on an assistant message that only calls tools.
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// Message content: a plain string, or a list of parts of which only `text` parts are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A chat completion as OpenAI sends it: the whole answer ([`CompletionResponse`], `"object":
/// "chat.completion"`) or one server-sent event of a stream ([`CompletionChunk`]), which differ
/// only in their choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion<C> {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    #[serde(default = "Vec::new")]
    pub choices: Vec<C>,
    /// On a stream, `null` on every chunk but the usage chunk (OpenAI sends it so).
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// The response body of a non-streaming chat completion.
pub type CompletionResponse = Completion<Choice>;

/// One server-sent event of a streamed completion (`"object": "chat.completion.chunk"`): the
/// first carries `delta.role`, the next ones `delta.content` pieces, the last an empty delta
/// with the `finish_reason`; with `include_usage`, a final chunk with no choices and the usage.
pub type CompletionChunk = Completion<ChunkChoice>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub index: u32,
    pub message: ResponseMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseMessage {
    pub role: String,
    /// `null` when the model answered with a tool call instead of text.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub index: u32,
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// What a chunk adds to the message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Tool calls, or pieces of them: the pieces of one call share its `index`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall>,
}

/// The error body OpenAI-compatible servers answer with: `{"error": {"message", "type"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl CompletionRequest {
    /// The wire form of `request` for `model`.
    pub fn from_chat(model: &str, request: &ChatRequest) -> Self {
        CompletionRequest {
            model: model.to_string(),
            messages: request
                .messages
                .iter()
                .map(|m| RequestMessage {
                    role: m.role.as_str().to_string(),
                    content: Some(Content::Text(m.content.clone())),
                    tool_calls: m
                        .tool_calls
                        .iter()
                        .map(|c| WireToolCall::from_call(c, None))
                        .collect(),
                    tool_call_id: m.tool_call_id.clone(),
                })
                .collect(),
            temperature: request.temperature,
            max_tokens: request.max_tokens,
            max_completion_tokens: None,
            stop: (!request.stop.is_empty()).then(|| Stop::Many(request.stop.clone())),
            seed: request.seed,
            top_p: request.top_p,
            frequency_penalty: request.frequency_penalty,
            presence_penalty: request.presence_penalty,
            stream: false,
            stream_options: None,
            n: None,
            continue_final_message: request.continue_final_message,
            add_generation_prompt: request.continue_final_message.then_some(false),
            tools: request
                .tools
                .iter()
                .map(|t| WireTool {
                    kind: function_kind(),
                    function: WireFunction {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        parameters: t.parameters.clone(),
                    },
                })
                .collect(),
            tool_choice: None,
        }
    }

    /// The backend-neutral request, or why this one cannot be served (unknown role, n > 1,
    /// parameters out of range).
    pub fn to_chat(&self) -> Result<ChatRequest, InvalidRequest> {
        if let Some(n) = self.n.filter(|&n| n != 1) {
            return Err(InvalidRequest::SeveralChoices { n });
        }
        if self.continue_final_message && self.add_generation_prompt == Some(true) {
            return Err(InvalidRequest::ContinueWithGenerationPrompt);
        }
        let messages = self
            .messages
            .iter()
            .enumerate()
            .map(|(index, m)| {
                let role = parse_role(&m.role).ok_or_else(|| InvalidRequest::UnknownRole {
                    index,
                    role: m.role.clone(),
                })?;
                Ok(Message {
                    role,
                    content: m.content.as_ref().map(Content::text).unwrap_or_default(),
                    tool_calls: m
                        .tool_calls
                        .iter()
                        .cloned()
                        .map(WireToolCall::into_call)
                        .collect(),
                    tool_call_id: m.tool_call_id.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stop = match &self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
        };
        let request = ChatRequest {
            messages,
            temperature: self.temperature,
            max_tokens: self.max_tokens.or(self.max_completion_tokens),
            stop: stop.into_iter().filter(|s| !s.is_empty()).collect(),
            seed: self.seed,
            top_p: self.top_p,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            continue_final_message: self.continue_final_message,
            tools: self
                .tools
                .iter()
                .map(|t| Tool {
                    name: t.function.name.clone(),
                    description: t.function.description.clone(),
                    parameters: t.function.parameters.clone(),
                })
                .collect(),
        };
        request.validate()?;
        Ok(request)
    }

    /// Whether a streamed answer ends with a usage chunk.
    pub fn include_usage(&self) -> bool {
        self.stream_options.is_some_and(|o| o.include_usage)
    }
}

impl Content {
    /// The text of the message; non-text parts are dropped.
    pub fn text(&self) -> String {
        match self {
            Content::Text(t) => t.clone(),
            Content::Parts(parts) => parts.iter().filter_map(|p| p.text.as_deref()).collect(),
        }
    }
}

impl CompletionResponse {
    /// A response with one assistant choice, as this project's server sends it.
    pub fn from_chat(id: String, created: u64, model: &str, response: &ChatResponse) -> Self {
        CompletionResponse {
            id,
            object: "chat.completion".to_string(),
            created,
            model: model.to_string(),
            choices: vec![Choice {
                index: 0,
                message: ResponseMessage {
                    role: "assistant".to_string(),
                    // OpenAI's `null` for an answer that only calls tools.
                    content: (response.tool_calls.is_empty() || !response.text.is_empty())
                        .then(|| response.text.clone()),
                    tool_calls: response
                        .tool_calls
                        .iter()
                        .map(|c| WireToolCall::from_call(c, None))
                        .collect(),
                },
                finish_reason: Some(response.finish_reason_name().to_string()),
            }],
            usage: Some(response.usage.into()),
        }
    }

    /// The first choice as a [`ChatResponse`].
    pub fn into_chat(self) -> Result<ChatResponse, NoChoice> {
        let choice = self.choices.into_iter().next().ok_or(NoChoice)?;
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            usage: self.usage.unwrap_or_default().into(),
            finish_reason: FinishReason::from_openai(choice.finish_reason.as_deref()),
            tool_calls: choice
                .message
                .tool_calls
                .into_iter()
                .map(WireToolCall::into_call)
                .collect(),
        })
    }
}

/// A response whose `choices` list is empty: there is no answer to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("response has an empty `choices` list")]
pub struct NoChoice;

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Self {
        Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
        }
    }
}

impl From<Usage> for WireUsage {
    fn from(usage: Usage) -> Self {
        WireUsage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens + usage.completion_tokens,
        }
    }
}

/// Builds the chunks of one streamed completion; every chunk shares its id, time and model.
#[derive(Debug, Clone)]
pub struct ChunkStream {
    id: String,
    created: u64,
    model: String,
}

impl ChunkStream {
    pub fn new(id: String, created: u64, model: &str) -> Self {
        ChunkStream {
            id,
            created,
            model: model.to_string(),
        }
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<&str>) -> CompletionChunk {
        CompletionChunk {
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish_reason.map(str::to_string),
            }],
            ..self.usage_chunk(None)
        }
    }

    fn usage_chunk(&self, usage: Option<Usage>) -> CompletionChunk {
        CompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_string(),
            created: self.created,
            model: self.model.clone(),
            choices: Vec::new(),
            usage: usage.map(WireUsage::from),
        }
    }

    /// The first chunk: who speaks.
    pub fn role(&self) -> CompletionChunk {
        let delta = Delta {
            role: Some("assistant".to_string()),
            content: Some(String::new()),
            tool_calls: Vec::new(),
        };
        self.chunk(delta, None)
    }

    /// A piece of the answer.
    pub fn content(&self, piece: &str) -> CompletionChunk {
        let delta = Delta {
            role: None,
            content: Some(piece.to_string()),
            tool_calls: Vec::new(),
        };
        self.chunk(delta, None)
    }

    /// The chunks that end the answer: its tool calls, each whole, if it makes any; the finish
    /// reason; then the usage if asked for.
    pub fn end(&self, response: &ChatResponse, include_usage: bool) -> Vec<CompletionChunk> {
        let mut chunks = Vec::new();
        if !response.tool_calls.is_empty() {
            let delta = Delta {
                tool_calls: (0..)
                    .zip(&response.tool_calls)
                    .map(|(i, c)| WireToolCall::from_call(c, Some(i)))
                    .collect(),
                ..Delta::default()
            };
            chunks.push(self.chunk(delta, None));
        }
        chunks.push(self.chunk(Delta::default(), Some(response.finish_reason_name())));
        if include_usage {
            chunks.push(self.usage_chunk(Some(response.usage)));
        }
        chunks
    }
}

fn parse_role(name: &str) -> Option<Role> {
    match name {
        "system" | "developer" => Some(Role::System),
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
        "tool" => Some(Role::Tool),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips_through_the_wire_form() {
        let request = ChatRequest {
            messages: vec![Message::system("be brief"), Message::user("hi")],
            temperature: Some(0.0),
            max_tokens: Some(7),
            stop: vec!["\n".into()],
            seed: Some(3),
            top_p: Some(0.9),
            frequency_penalty: Some(0.5),
            presence_penalty: Some(-0.5),
            continue_final_message: false,
            ..ChatRequest::default()
        };
        let wire = CompletionRequest::from_chat("m", &request);
        let json = serde_json::to_string(&wire).unwrap();
        let back: CompletionRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_chat().unwrap(), request);
        assert!(!json.contains("stream"), "{json}");
        assert!(!json.contains("continue_final_message"), "{json}");
    }

    #[test]
    fn tools_and_tool_calls_speak_openais_wire_form() {
        let call = ToolCall {
            id: "call_1".into(),
            name: "web_search".into(),
            arguments: r#"{"queries":["a","b"]}"#.into(),
        };
        let request = ChatRequest {
            messages: vec![
                Message::user("q"),
                Message::assistant_calls("<think>t</think>", vec![call.clone()]),
                Message::tool("call_1", "<information>x</information>"),
            ],
            tools: vec![Tool {
                name: "web_search".into(),
                description: "search".into(),
                parameters: serde_json::json!({"type": "object"}),
            }],
            ..ChatRequest::default()
        };
        let wire = CompletionRequest::from_chat("m", &request);
        let json: Value = serde_json::to_value(&wire).unwrap();
        assert_eq!(json["tools"][0]["type"], "function");
        assert_eq!(json["tools"][0]["function"]["name"], "web_search");
        let sent = &json["messages"][1]["tool_calls"][0];
        assert_eq!(
            (&sent["id"], &sent["type"], &sent["function"]["arguments"]),
            (
                &Value::from("call_1"),
                &Value::from("function"),
                &Value::from(call.arguments.as_str())
            )
        );
        assert_eq!(json["messages"][2]["role"], "tool");
        assert_eq!(json["messages"][2]["tool_call_id"], "call_1");
        let back: CompletionRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back.to_chat().unwrap(), request);
        // A server's answer with a call (arguments as text, or as an object) and no content.
        for arguments in [
            Value::from(r#"{"queries":["a","b"]}"#),
            serde_json::json!({"queries": ["a", "b"]}),
        ] {
            let answer = serde_json::json!({"choices": [{"message": {"role": "assistant",
                "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "web_search", "arguments": arguments}}]},
                "finish_reason": "tool_calls"}]});
            let response: CompletionResponse = serde_json::from_value(answer).unwrap();
            let chat = response.into_chat().unwrap();
            assert_eq!(chat.tool_calls, std::slice::from_ref(&call));
            assert_eq!(chat.finish_reason, FinishReason::Stop);
        }
        // Our server says so back, streamed or not.
        let response = ChatResponse {
            tool_calls: vec![call],
            ..ChatResponse::default()
        };
        let sent = CompletionResponse::from_chat("id".into(), 0, "m", &response);
        assert_eq!(sent.choices[0].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            sent.choices[0].message.content, None,
            "only calls: null content"
        );
        let with_text = ChatResponse {
            text: "<think>t</think>".into(),
            ..response.clone()
        };
        let sent = CompletionResponse::from_chat("id".into(), 0, "m", &with_text);
        assert_eq!(
            sent.choices[0].message.content.as_deref(),
            Some("<think>t</think>")
        );
        let silent = CompletionResponse::from_chat("id".into(), 0, "m", &ChatResponse::default());
        assert_eq!(silent.choices[0].message.content.as_deref(), Some(""));
        let chunks = ChunkStream::new("id".into(), 0, "m").end(&response, false);
        assert_eq!(chunks[0].choices[0].delta.tool_calls[0].index, Some(0));
        assert_eq!(
            chunks[1].choices[0].finish_reason.as_deref(),
            Some("tool_calls")
        );
    }

    #[test]
    fn continuation_is_sent_the_way_vllm_reads_it() {
        let request = ChatRequest {
            messages: vec![Message::user("q"), Message::assistant("<think>")],
            continue_final_message: true,
            ..ChatRequest::default()
        };
        let json = serde_json::to_value(CompletionRequest::from_chat("m", &request)).unwrap();
        assert_eq!(json["continue_final_message"], true);
        assert_eq!(json["add_generation_prompt"], false);
        let back: CompletionRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back.to_chat().unwrap(), request);
        let bad = r#"{"messages":[{"role":"user","content":"x"}],"continue_final_message":true}"#;
        let err = serde_json::from_str::<CompletionRequest>(bad)
            .unwrap()
            .to_chat()
            .unwrap_err();
        assert_eq!(err, InvalidRequest::NothingToContinue);
        let both = r#"{"messages":[{"role":"assistant","content":"x"}],"continue_final_message":true,"add_generation_prompt":true}"#;
        let err = serde_json::from_str::<CompletionRequest>(both)
            .unwrap()
            .to_chat()
            .unwrap_err();
        assert_eq!(err, InvalidRequest::ContinueWithGenerationPrompt);
    }

    #[test]
    fn accepts_string_stop_content_parts_and_max_completion_tokens() {
        let json = r#"{"model":"x","messages":[{"role":"developer","content":[{"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]}],
            "stop":"END","max_completion_tokens":5}"#;
        let chat = serde_json::from_str::<CompletionRequest>(json)
            .unwrap()
            .to_chat()
            .unwrap();
        assert_eq!(chat.messages, vec![Message::system("ab")]);
        assert_eq!(chat.stop, vec!["END".to_string()]);
        assert_eq!(chat.max_tokens, Some(5));
    }

    #[test]
    fn rejects_unknown_roles_and_several_choices() {
        let bad_role = r#"{"messages":[{"role":"function","content":"x"}]}"#;
        let err = serde_json::from_str::<CompletionRequest>(bad_role)
            .unwrap()
            .to_chat()
            .unwrap_err();
        assert!(err.to_string().contains("\"function\""), "{err}");
        let n2 = r#"{"messages":[{"role":"user","content":"x"}],"n":2}"#;
        assert_eq!(
            serde_json::from_str::<CompletionRequest>(n2)
                .unwrap()
                .to_chat(),
            Err(InvalidRequest::SeveralChoices { n: 2 })
        );
        let hot = r#"{"messages":[{"role":"user","content":"x"}],"temperature":-5}"#;
        assert!(matches!(
            serde_json::from_str::<CompletionRequest>(hot)
                .unwrap()
                .to_chat(),
            Err(InvalidRequest::OutOfRange {
                parameter: "temperature",
                ..
            })
        ));
    }

    #[test]
    fn a_streamed_answer_is_role_pieces_finish_and_usage() {
        let chunks = ChunkStream::new("chatcmpl-1".into(), 7, "m");
        let response = ChatResponse {
            text: "ab".into(),
            usage: Usage {
                prompt_tokens: 3,
                completion_tokens: 2,
            },
            finish_reason: FinishReason::Length,
            ..ChatResponse::default()
        };
        let mut all = vec![chunks.role(), chunks.content("a"), chunks.content("b")];
        all.extend(chunks.end(&response, true));
        let json: Vec<serde_json::Value> = all
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        for chunk in &json {
            assert_eq!(chunk["object"], "chat.completion.chunk");
            assert_eq!(chunk["id"], "chatcmpl-1");
        }
        assert_eq!(json[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(json[1]["choices"][0]["delta"]["content"], "a");
        assert!(json[1]["choices"][0]["delta"].get("role").is_none());
        assert_eq!(
            json[1]["choices"][0]["finish_reason"],
            serde_json::Value::Null
        );
        assert_eq!(json[3]["choices"][0]["finish_reason"], "length");
        assert_eq!(json[3]["choices"][0]["delta"], serde_json::json!({}));
        assert_eq!(json[4]["choices"], serde_json::json!([]));
        assert_eq!(json[4]["usage"]["total_tokens"], 5);
        assert_eq!(chunks.end(&response, false).len(), 1);
        let wire = r#"{"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}"#;
        let request: CompletionRequest = serde_json::from_str(wire).unwrap();
        assert!(request.stream && request.include_usage());
    }

    #[test]
    fn response_without_usage_or_content_still_parses() {
        let json = r#"{"choices":[{"message":{"role":"assistant","content":null}}]}"#;
        let chat = serde_json::from_str::<CompletionResponse>(json)
            .unwrap()
            .into_chat()
            .unwrap();
        assert_eq!(chat.text, "");
        assert_eq!(chat.finish_reason, FinishReason::Stop);
        let empty = r#"{"choices":[]}"#;
        assert!(
            serde_json::from_str::<CompletionResponse>(empty)
                .unwrap()
                .into_chat()
                .is_err()
        );
    }
}
