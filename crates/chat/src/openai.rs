//! The OpenAI `/v1/chat/completions` wire format, shared by the client and the `server` crate.
//!
//! Deserialisation is lenient where servers differ (missing `usage`, `null` content, extra
//! fields); serialisation writes only what the request sets.

use serde::{Deserialize, Serialize};

use crate::{ChatRequest, ChatResponse, FinishReason, Message, Role, Usage};

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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
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
    pub content: Content,
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

/// The response body of a non-streaming chat completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

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
                    content: Content::Text(m.content.clone()),
                })
                .collect(),
            temperature: request.temperature,
            max_tokens: request.max_tokens,
            max_completion_tokens: None,
            stop: (!request.stop.is_empty()).then(|| Stop::Many(request.stop.clone())),
            seed: request.seed,
            stream: false,
            n: None,
            continue_final_message: request.continue_final_message,
            add_generation_prompt: request.continue_final_message.then_some(false),
        }
    }

    /// The backend-neutral request, or why this one cannot be served (unknown role, n > 1).
    pub fn to_chat(&self) -> Result<ChatRequest, String> {
        if self.n.is_some_and(|n| n != 1) {
            return Err("only n = 1 is supported".to_string());
        }
        if self.messages.is_empty() {
            return Err("`messages` must not be empty".to_string());
        }
        if self.continue_final_message {
            if self.add_generation_prompt == Some(true) {
                return Err(
                    "continue_final_message and add_generation_prompt cannot both be true"
                        .to_string(),
                );
            }
            if self.messages.last().is_some_and(|m| m.role != "assistant") {
                return Err("continue_final_message needs an assistant message last".to_string());
            }
        }
        let messages = self
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let role = parse_role(&m.role)
                    .ok_or_else(|| format!("messages[{i}]: unsupported role {:?}", m.role))?;
                Ok(Message {
                    role,
                    content: m.content.text(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let stop = match &self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s.clone()],
            Some(Stop::Many(v)) => v.clone(),
        };
        Ok(ChatRequest {
            messages,
            temperature: self.temperature,
            max_tokens: self.max_tokens.or(self.max_completion_tokens),
            stop: stop.into_iter().filter(|s| !s.is_empty()).collect(),
            seed: self.seed,
            continue_final_message: self.continue_final_message,
        })
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
                    content: Some(response.text.clone()),
                },
                finish_reason: Some(response.finish_reason.as_str().to_string()),
            }],
            usage: Some(WireUsage {
                prompt_tokens: response.usage.prompt_tokens,
                completion_tokens: response.usage.completion_tokens,
                total_tokens: response.usage.prompt_tokens + response.usage.completion_tokens,
            }),
        }
    }

    /// The first choice as a [`ChatResponse`], or why there is none.
    pub fn into_chat(self) -> Result<ChatResponse, String> {
        let choice = self
            .choices
            .into_iter()
            .next()
            .ok_or("response has an empty `choices` list")?;
        let usage = self.usage.unwrap_or_default();
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            usage: Usage {
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
            },
            finish_reason: FinishReason::from_openai(choice.finish_reason.as_deref()),
        })
    }
}

fn parse_role(name: &str) -> Option<Role> {
    match name {
        "system" | "developer" => Some(Role::System),
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
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
            continue_final_message: false,
        };
        let wire = CompletionRequest::from_chat("m", &request);
        let json = serde_json::to_string(&wire).unwrap();
        let back: CompletionRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_chat().unwrap(), request);
        assert!(!json.contains("stream"), "{json}");
        assert!(!json.contains("continue_final_message"), "{json}");
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
        assert!(err.contains("assistant message last"), "{err}");
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
        let bad_role = r#"{"messages":[{"role":"tool","content":"x"}]}"#;
        let err = serde_json::from_str::<CompletionRequest>(bad_role)
            .unwrap()
            .to_chat()
            .unwrap_err();
        assert!(err.contains("tool"), "{err}");
        let n2 = r#"{"messages":[{"role":"user","content":"x"}],"n":2}"#;
        assert!(
            serde_json::from_str::<CompletionRequest>(n2)
                .unwrap()
                .to_chat()
                .is_err()
        );
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
