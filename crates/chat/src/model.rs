//! The `ChatModel` and `TokenScorer` traits and the types they speak.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{ChatError, InvalidRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool call, answering an assistant message's [`ToolCall`].
    Tool,
}

impl Role {
    /// The OpenAI name of the role (`"system"`, `"user"`, `"assistant"`, `"tool"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// The tools an assistant message calls (OpenAI's `tool_calls`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Message::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Message::new(Role::Assistant, content)
    }
    /// An assistant message that calls tools (its text, if any, before the calls).
    pub fn assistant_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Message {
            tool_calls: calls,
            ..Message::new(Role::Assistant, content)
        }
    }
    /// What the tool called as `call_id` answered.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            tool_call_id: Some(call_id.into()),
            ..Message::new(Role::Tool, content)
        }
    }
}

/// One call of a function tool, as a model wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id the answering tool message names (`call_…`).
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: a JSON object, as text (OpenAI's form; a model
    /// may write invalid JSON, which the caller must refuse, never evaluate).
    pub arguments: String,
}

/// A function tool the model may call (an OpenAI `tools` entry of type `function`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The JSON schema of the arguments.
    #[serde(default)]
    pub parameters: serde_json::Value,
}

/// One chat completion request. Parameters left `None` use the backend's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    /// 0 (greedy) to 2.
    pub temperature: Option<f32>,
    /// At least 1; a backend may end sooner when its context is full.
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    pub seed: Option<u64>,
    /// Nucleus sampling: sample among the most likely tokens whose probabilities add up to
    /// `top_p`, in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Lowers a token's logit by this much per earlier occurrence in the completion, in [-2, 2].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    /// Lowers the logit of every token already in the completion by this much, in [-2, 2].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    /// Continue the final (assistant) message instead of starting a new turn: the chat template
    /// is applied without closing that message and without a generation prompt (vLLM's
    /// `continue_final_message`). How Search-R1 rolls out: one assistant message grows by a
    /// generation, an `<information>` block, the next generation, …
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_final_message: bool,
    /// Function tools the model may call; an answer then carries [`ChatResponse::tool_calls`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
}

impl ChatRequest {
    /// Checks what every backend requires: messages, parameters within the OpenAI API's ranges,
    /// and an assistant message last when it is to be continued.
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        if self.messages.is_empty() {
            return Err(InvalidRequest::NoMessages);
        }
        if self.max_tokens == Some(0) {
            return Err(InvalidRequest::NoTokensAllowed);
        }
        let ranges = [
            ("temperature", self.temperature, "[0, 2]", 0.0..=2.0),
            ("top_p", self.top_p, "(0, 1]", f32::MIN_POSITIVE..=1.0),
            (
                "frequency_penalty",
                self.frequency_penalty,
                "[-2, 2]",
                -2.0..=2.0,
            ),
            (
                "presence_penalty",
                self.presence_penalty,
                "[-2, 2]",
                -2.0..=2.0,
            ),
        ];
        for (parameter, value, range, allowed) in ranges {
            if let Some(value) = value.filter(|v| !allowed.contains(v)) {
                return Err(InvalidRequest::OutOfRange {
                    parameter,
                    range,
                    value,
                });
            }
        }
        if let Some(index) = self.unanswered_tool() {
            return Err(InvalidRequest::UnansweredTool { index });
        }
        if self.continue_final_message
            && self
                .messages
                .last()
                .is_some_and(|m| m.role != Role::Assistant)
        {
            return Err(InvalidRequest::NothingToContinue);
        }
        Ok(())
    }

    /// The first tool message whose `tool_call_id` names no call of the assistant message
    /// before it (the tool messages in between answer the same message).
    fn unanswered_tool(&self) -> Option<usize> {
        let mut calls: &[ToolCall] = &[];
        for (index, m) in self.messages.iter().enumerate() {
            match m.role {
                Role::Tool => {
                    let answers = m
                        .tool_call_id
                        .as_ref()
                        .is_some_and(|id| calls.iter().any(|c| &c.id == id));
                    if !answers {
                        return Some(index);
                    }
                }
                _ => calls = &m.tool_calls,
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn, or a stop sequence was generated.
    #[default]
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
}

impl FinishReason {
    /// The OpenAI spelling (`"stop"`, `"length"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }

    /// Reads an OpenAI `finish_reason`; anything but `"length"` ended the turn (`"stop"`,
    /// `"tool_calls"`, `"content_filter"`, a missing value).
    pub fn from_openai(name: Option<&str>) -> Self {
        match name {
            Some("length") => FinishReason::Length,
            _ => FinishReason::Stop,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The text of the answer (before its tool calls, if any).
    pub text: String,
    pub usage: Usage,
    pub finish_reason: FinishReason,
    /// The tools the answer calls, when the request offered tools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

impl ChatResponse {
    /// OpenAI's `finish_reason`: `tool_calls` when the answer calls tools and was not cut short.
    pub fn finish_reason_name(&self) -> &'static str {
        match (self.finish_reason, self.tool_calls.is_empty()) {
            (FinishReason::Stop, false) => "tool_calls",
            (reason, _) => reason.as_str(),
        }
    }
}

/// Where a streamed answer goes, piece by piece. Returns whether anyone still listens: `false`
/// asks the backend to stop generating ([`ChatError::Cancelled`]).
pub type PieceSink<'a> = &'a (dyn Fn(&str) -> bool + Send + Sync);

/// Anything that answers chat messages: a remote endpoint, the local model, a cache in front of
/// either. Implementations must be cheap to share across tasks (`Arc<dyn ChatModel>`).
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// A short name for logs, manifests and cache keys (e.g. the model id).
    fn name(&self) -> &str;

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError>;

    /// Like [`ChatModel::chat`], but also hands the text to `sink` piece by piece as it is
    /// generated (the pieces concatenate to the final text). Backends that cannot stream hand
    /// over the whole text once.
    async fn chat_stream(
        &self,
        request: &ChatRequest,
        sink: PieceSink<'_>,
    ) -> Result<ChatResponse, ChatError> {
        let response = self.chat(request).await?;
        if sink(&response.text) {
            Ok(response)
        } else {
            Err(ChatError::Cancelled)
        }
    }
}

/// The log-likelihood of a continuation: the sum of its tokens' natural-log probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LogProb {
    pub sum: f64,
    pub tokens: usize,
}

impl LogProb {
    /// Mean negative log-likelihood per token (0 for an empty continuation): higher is harder
    /// to guess.
    pub fn mean_nll(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            -self.sum / self.tokens as f64
        }
    }
}

/// A model that can score text: the log-likelihood of `continuation` right after `context`
/// (raw text, no chat template). Used for difficulty (perplexity) scoring of mask spans.
///
/// Blocking: call it from plain threads (rayon, `spawn_blocking`), not from an async task.
pub trait TokenScorer: Send + Sync {
    /// A short name for manifests (e.g. the model file's stem).
    fn name(&self) -> &str;

    fn continuation_logprob(&self, context: &str, continuation: &str)
    -> Result<LogProb, ChatError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(edit: impl FnOnce(&mut ChatRequest), expect: Result<(), &str>) {
        let mut request = ChatRequest {
            messages: vec![Message::user("hi")],
            ..ChatRequest::default()
        };
        edit(&mut request);
        let got = request.validate().map_err(|e| e.to_string());
        assert_eq!(got, expect.map_err(str::to_string), "{request:?}");
    }

    #[test]
    fn parameters_are_checked_against_the_openai_ranges() {
        check(|_| {}, Ok(()));
        check(
            |r| {
                r.temperature = Some(2.0);
                r.top_p = Some(1.0);
                r.frequency_penalty = Some(-2.0);
                r.presence_penalty = Some(2.0);
                r.max_tokens = Some(1);
            },
            Ok(()),
        );
        check(|r| r.temperature = Some(0.0), Ok(()));
        check(
            |r| r.temperature = Some(-5.0),
            Err("temperature must be in [0, 2] (got -5)"),
        );
        check(
            |r| r.temperature = Some(2.5),
            Err("temperature must be in [0, 2] (got 2.5)"),
        );
        check(
            |r| r.top_p = Some(0.0),
            Err("top_p must be in (0, 1] (got 0)"),
        );
        check(
            |r| r.top_p = Some(1.5),
            Err("top_p must be in (0, 1] (got 1.5)"),
        );
        check(
            |r| r.frequency_penalty = Some(2.5),
            Err("frequency_penalty must be in [-2, 2] (got 2.5)"),
        );
        check(
            |r| r.presence_penalty = Some(-3.0),
            Err("presence_penalty must be in [-2, 2] (got -3)"),
        );
        check(
            |r| r.max_tokens = Some(0),
            Err("max_tokens must be at least 1"),
        );
        check(|r| r.messages.clear(), Err("`messages` must not be empty"));
        check(
            |r| r.continue_final_message = true,
            Err("continue_final_message needs an assistant message last"),
        );
        check(
            |r| {
                r.continue_final_message = true;
                r.messages.push(Message::assistant("<think>"));
            },
            Ok(()),
        );
    }

    #[test]
    fn a_tool_message_answers_a_call_of_the_assistant_message_before_it() {
        let call = |id: &str| ToolCall {
            id: id.to_string(),
            name: "f".to_string(),
            arguments: "{}".to_string(),
        };
        let calls = || Message::assistant_calls("", vec![call("call_1"), call("call_2")]);
        let unanswered = |index| {
            Err(format!(
                "messages[{index}]: a tool message must answer, by its tool_call_id, a call of the assistant message before it"
            ))
        };
        let cases = [
            (
                vec![
                    calls(),
                    Message::tool("call_2", "r"),
                    Message::tool("call_1", "r"),
                ],
                Ok(()),
            ),
            (vec![Message::tool("call_1", "r")], unanswered(1)),
            (
                vec![Message::assistant("no calls"), Message::tool("call_1", "r")],
                unanswered(2),
            ),
            (vec![calls(), Message::tool("call_3", "r")], unanswered(2)),
            (
                vec![calls(), Message::user("u"), Message::tool("call_1", "r")],
                unanswered(3),
            ),
            (
                vec![
                    calls(),
                    Message {
                        tool_call_id: None,
                        ..Message::tool("", "r")
                    },
                ],
                unanswered(2),
            ),
        ];
        for (messages, expect) in cases {
            let shown = format!("{messages:?}");
            let mut request = ChatRequest {
                messages: vec![Message::user("q")],
                ..ChatRequest::default()
            };
            request.messages.extend(messages);
            let got = request.validate().map_err(|e| e.to_string());
            assert_eq!(got, expect, "{shown}");
        }
    }
}
