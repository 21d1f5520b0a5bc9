//! OpenAI-compatible chat over any [`ChatModel`]: `POST /v1/chat/completions` and
//! `GET /v1/models`, so third-party OpenAI clients and this project's own client can use the
//! local model.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chat::openai::{CompletionRequest, CompletionResponse};
use chat::{ChatError, ChatModel};
use serde_json::json;

use crate::ApiError;

/// Largest accepted request body: room for long few-shot prompts, not for abuse.
pub const MAX_CHAT_BODY_BYTES: usize = 4 << 20;

#[derive(Clone)]
struct ChatState {
    model: Arc<dyn ChatModel>,
    next_id: Arc<AtomicU64>,
}

/// The chat routes, serving `model` under its [`ChatModel::name`] whatever `model` a request
/// names. Merge it into a bigger router or serve it alone.
pub fn router(model: Arc<dyn ChatModel>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .layer(DefaultBodyLimit::max(MAX_CHAT_BODY_BYTES))
        .with_state(ChatState {
            model,
            next_id: Arc::default(),
        })
}

async fn completions(
    State(state): State<ChatState>,
    body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Result<Json<CompletionResponse>, ApiError> {
    let Json(request) = body.map_err(ApiError::rejected)?;
    if request.stream {
        return Err(ApiError::bad_request(
            "streaming (stream=true) is not supported; send stream=false",
        ));
    }
    let chat = request.to_chat().map_err(ApiError::bad_request)?;
    let response = state.model.chat(&chat).await?;
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = format!(
        "chatcmpl-{created:x}-{:x}",
        state.next_id.fetch_add(1, Ordering::Relaxed)
    );
    Ok(Json(CompletionResponse::from_chat(
        id,
        created,
        state.model.name(),
        &response,
    )))
}

async fn models(State(state): State<ChatState>) -> Json<serde_json::Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": state.model.name(), "object": "model", "created": 0, "owned_by": "masksearch"}],
    }))
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Invalid(message) => ApiError::bad_request(message),
            ChatError::Unavailable { .. } => {
                tracing::error!(error = %e, "upstream model failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    "the upstream model failed",
                )
            }
            ChatError::Busy {
                retry_after_secs, ..
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded_error",
                format!("the model is busy; retry after {retry_after_secs} s"),
            ),
            other => ApiError::internal(format_args!("chat completion failed: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use chat::{ChatRequest, ChatResponse, FinishReason, Usage};

    use super::*;

    /// Echoes the last message, or fails the way its content asks.
    struct Echo;

    #[async_trait]
    impl ChatModel for Echo {
        fn name(&self) -> &str {
            "echo"
        }
        async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
            let last = request
                .messages
                .last()
                .map(|m| m.content.clone())
                .unwrap_or_default();
            match last.as_str() {
                "too long" => Err(ChatError::Invalid("prompt too long".into())),
                "crash" => Err(ChatError::Failed {
                    backend: "echo".into(),
                    message: "secret internal detail".into(),
                }),
                _ => Ok(ChatResponse {
                    text: last,
                    usage: Usage {
                        prompt_tokens: 3,
                        completion_tokens: 2,
                    },
                    finish_reason: FinishReason::Stop,
                }),
            }
        }
    }

    async fn serve() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(Arc::new(Echo))).await });
        format!("http://{addr}")
    }

    async fn post(base: &str, body: String) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("{base}/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    fn chat_body(content: &str) -> String {
        json!({"model": "whatever", "messages": [{"role": "user", "content": content}]}).to_string()
    }

    #[tokio::test]
    async fn answers_in_the_openai_shape() {
        let base = serve().await;
        let (status, body) = post(&base, chat_body("hello")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["model"], "echo");
        assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert!(body["created"].as_u64().unwrap() > 0);
        assert_eq!(body["choices"][0]["index"], 0);
        assert_eq!(body["choices"][0]["message"]["role"], "assistant");
        assert_eq!(body["choices"][0]["message"]["content"], "hello");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert_eq!(body["usage"]["total_tokens"], 5);
        let models: serde_json::Value = reqwest::get(format!("{base}/v1/models"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(models["data"][0]["id"], "echo");
    }

    #[tokio::test]
    async fn bad_requests_get_4xx_with_a_reason() {
        let base = serve().await;
        let cases = [
            ("{not json".to_string(), 400, "invalid_request_error"),
            (
                json!({"messages": "nope"}).to_string(),
                422,
                "invalid_request_error",
            ),
            (
                json!({"messages": []}).to_string(),
                400,
                "invalid_request_error",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}).to_string(),
                400,
                "invalid_request_error",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stream": true}).to_string(),
                400,
                "invalid_request_error",
            ),
            (chat_body("too long"), 400, "invalid_request_error"),
            (
                chat_body(&"x".repeat(MAX_CHAT_BODY_BYTES + 1)),
                413,
                "invalid_request_error",
            ),
        ];
        for (body, status, kind) in cases {
            let shown: String = body.chars().take(60).collect();
            let (got, json) = post(&base, body).await;
            assert_eq!(got, status, "{shown}: {json}");
            assert_eq!(json["error"]["type"], kind, "{shown}: {json}");
            assert!(!json["error"]["message"].as_str().unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn model_failures_are_500_without_details() {
        let base = serve().await;
        let (status, json) = post(&base, chat_body("crash")).await;
        assert_eq!(status, 500);
        assert!(!json.to_string().contains("secret"), "{json}");
    }
}
