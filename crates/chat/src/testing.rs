//! A scripted language model for the tests of code that calls one (feature `testing`). It
//! stands in for a model only where the test is about the caller's logic (turn order, retries,
//! caching, what is sent); tests of what a model does use the real local model.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::{ChatError, ChatModel, ChatRequest, ChatResponse, FinishReason, Usage};

type Reply = dyn Fn(&ChatRequest) -> Result<ChatResponse, ChatError> + Send + Sync;

/// A [`ChatModel`] that answers each request with a function of it, and keeps every request it
/// was sent, in order.
pub struct Scripted {
    name: String,
    reply: Box<Reply>,
    seen: Mutex<Vec<ChatRequest>>,
}

impl Scripted {
    /// Answers with `reply(request)`.
    pub fn new(
        name: impl Into<String>,
        reply: impl Fn(&ChatRequest) -> Result<ChatResponse, ChatError> + Send + Sync + 'static,
    ) -> Scripted {
        Scripted {
            name: name.into(),
            reply: Box::new(reply),
            seen: Mutex::default(),
        }
    }

    /// Answers with the text `reply(request)` gives, as [`text`] makes it an answer.
    pub fn texts(
        name: impl Into<String>,
        reply: impl Fn(&ChatRequest) -> Result<String, ChatError> + Send + Sync + 'static,
    ) -> Scripted {
        Scripted::new(name, move |request| reply(request).map(text))
    }

    /// Answers with `replies` in order, then as a model that is down ([`down`]).
    pub fn queue(
        name: impl Into<String>,
        replies: impl IntoIterator<Item = ChatResponse>,
    ) -> Scripted {
        let name = name.into();
        let backend = name.clone();
        let left = Mutex::new(
            replies
                .into_iter()
                .collect::<std::collections::VecDeque<_>>(),
        );
        Scripted::new(name, move |_| {
            left.lock()
                .unwrap()
                .pop_front()
                .ok_or_else(|| down(&backend, "the script ran out"))
        })
    }

    /// Every request so far, in the order they came.
    pub fn seen(&self) -> Vec<ChatRequest> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests came.
    pub fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

#[async_trait]
impl ChatModel for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
        self.seen.lock().unwrap().push(request.clone());
        (self.reply)(request)
    }
}

/// A finished answer holding `text`, counted as 10 prompt and 5 completion tokens.
pub fn text(text: impl Into<String>) -> ChatResponse {
    ChatResponse {
        text: text.into(),
        usage: Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
        },
        finish_reason: FinishReason::Stop,
        ..ChatResponse::default()
    }
}

/// What a model that is down answers: [`ChatError::Unavailable`] from `backend`.
pub fn down(backend: &str, message: &str) -> ChatError {
    ChatError::Unavailable {
        backend: backend.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    fn ask(content: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::user(content)],
            ..ChatRequest::default()
        }
    }

    #[tokio::test]
    async fn a_queue_answers_in_order_then_is_down_and_every_request_is_kept() {
        let model = Scripted::queue("q", [text("one"), text("two")]);
        assert_eq!(model.chat(&ask("a")).await.unwrap().text, "one");
        assert_eq!(model.chat(&ask("b")).await.unwrap().text, "two");
        let err = model.chat(&ask("c")).await.unwrap_err();
        assert!(matches!(err, ChatError::Unavailable { .. }), "{err}");
        let asked: Vec<String> = model
            .seen()
            .iter()
            .map(|r| r.messages[0].content.clone())
            .collect();
        assert_eq!(asked, ["a", "b", "c"]);
        assert_eq!(model.calls(), 3);
    }
}
