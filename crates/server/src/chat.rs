//! OpenAI-compatible chat over any [`ChatModel`]: `POST /v1/chat/completions` (whole answers or
//! server-sent events) and `GET /v1/models`, so third-party OpenAI clients and this project's
//! own client can use the local model.
//!
//! A request runs only while its client waits: when the connection closes, the model call is
//! dropped (and a streaming sink reports that nobody listens), so a backend such as the local
//! model stops generating.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chat::openai::{ChunkStream, CompletionRequest, CompletionResponse};
use chat::{ChatError, ChatModel, ChatRequest, ChatResponse};
use futures_util::{StreamExt as _, stream};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::ApiError;

/// Largest accepted request body: room for long few-shot prompts, not for abuse.
pub const MAX_CHAT_BODY_BYTES: usize = 4 << 20;

#[derive(Clone)]
struct ChatState {
    model: Arc<dyn ChatModel>,
    workers: Option<usize>,
    next_id: Arc<AtomicU64>,
}

/// The chat routes, serving `model` under its [`ChatModel::name`] whatever `model` a request
/// names. Merge it into a bigger router or serve it alone.
///
/// `workers`, when the model answers that many requests at once and queues the rest, is said in
/// `/v1/models` (a `workers` field beside the model's id): masksearch's client then keeps no
/// more requests than that in flight, so that a request's timeout runs while it is answered, not
/// while it waits in the queue.
pub fn router(model: Arc<dyn ChatModel>, workers: Option<usize>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_CHAT_BODY_BYTES))
        .with_state(ChatState {
            model,
            workers,
            next_id: Arc::default(),
        })
}

async fn completions(
    State(state): State<ChatState>,
    body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body.map_err(ApiError::rejected)?;
    let chat = request
        .to_chat()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let id = format!(
        "chatcmpl-{created:x}-{:x}",
        state.next_id.fetch_add(1, Ordering::Relaxed)
    );
    if request.stream {
        let chunks = ChunkStream::new(id, created, state.model.name());
        return streamed(state.model, chat, chunks, request.include_usage()).await;
    }
    // Dropped with the connection: the model stops when the client goes away.
    let response = state.model.chat(&chat).await?;
    let body = CompletionResponse::from_chat(id, created, state.model.name(), &response);
    Ok(Json(body).into_response())
}

/// What the generating task tells the response stream.
enum Update {
    Piece(String),
    Done(Result<ChatResponse, ChatError>),
}

/// Answers as server-sent events: a role chunk, content chunks, a chunk with the finish reason
/// (and one with the usage if asked), then `data: [DONE]`. The status waits for the first
/// piece, so a request refused before it (too long, busy) still gets its 4xx or 503.
async fn streamed(
    model: Arc<dyn ChatModel>,
    chat: ChatRequest,
    chunks: ChunkStream,
    include_usage: bool,
) -> Result<Response, ApiError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let sink = |piece: &str| tx.send(Update::Piece(piece.to_string())).is_ok();
        let result = tokio::select! {
            result = model.chat_stream(&chat, &sink) => result,
            // The client left before the first piece: stop waiting for one.
            () = tx.closed() => Err(ChatError::Cancelled),
        };
        let _ = tx.send(Update::Done(result));
    });
    let first = match rx.recv().await {
        Some(Update::Done(Err(e))) => return Err(e.into()),
        Some(update) => update,
        None => {
            return Err(ApiError::internal(
                "the streaming task ended without an answer",
            ));
        }
    };
    let role = event(&chunks.role());
    let rest = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|u| (u, rx)) });
    let events = stream::iter([role]).chain(
        stream::iter([first])
            .chain(rest)
            .flat_map(move |update| stream::iter(events(update, &chunks, include_usage))),
    );
    Ok(Sse::new(events.map(Ok::<_, Infallible>)).into_response())
}

/// The events one update becomes. A failure after the first piece can no longer change the
/// status: it is sent as an error event and the stream ends without `[DONE]`.
fn events(update: Update, chunks: &ChunkStream, include_usage: bool) -> Vec<Event> {
    match update {
        Update::Piece(piece) => vec![event(&chunks.content(&piece))],
        Update::Done(Ok(response)) => chunks
            .end(&response, include_usage)
            .iter()
            .map(event)
            .chain([Event::default().data("[DONE]")])
            .collect(),
        Update::Done(Err(e)) => vec![event(&ApiError::from(e).body())],
    }
}

/// One `data:` event holding `value` as JSON.
fn event(value: &impl Serialize) -> Event {
    // The wire types hold strings and numbers only: serialising them cannot fail.
    Event::default().data(serde_json::to_string(value).unwrap_or_default())
}

async fn models(State(state): State<ChatState>) -> Json<serde_json::Value> {
    let mut model = json!({"id": state.model.name(), "object": "model", "created": 0, "owned_by": "masksearch"});
    if let Some(workers) = state.workers {
        model["workers"] = json!(workers);
    }
    Json(json!({ "object": "list", "data": [model] }))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method not allowed: POST /v1/chat/completions, GET /v1/models",
    )
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::Invalid(reason) => ApiError::bad_request(reason.to_string()),
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
            } => ApiError::busy(
                format!("the model is busy; retry after {retry_after_secs} s"),
                retry_after_secs,
            ),
            // Nobody reads this answer: the client has gone (nginx's 499).
            ChatError::Cancelled => ApiError::new(
                StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
                "cancelled",
                "the client closed the request",
            ),
            ChatError::Failed { .. } => {
                ApiError::internal(format_args!("chat completion failed: {e}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use chat::{FinishReason, InvalidRequest, PieceSink, ToolCall, Usage};
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// Echoes the last message (streamed word by word), or behaves the way its content asks:
    /// fail, be busy, or never answer (reporting when it starts and when it is dropped).
    struct Echo {
        events: mpsc::UnboundedSender<&'static str>,
    }

    /// Tells the test when the model call it lives in is dropped.
    struct DropGuard(mpsc::UnboundedSender<&'static str>);

    impl Drop for DropGuard {
        fn drop(&mut self) {
            let _ = self.0.send("dropped");
        }
    }

    impl Echo {
        async fn answer(
            &self,
            request: &ChatRequest,
            sink: Option<PieceSink<'_>>,
        ) -> Result<ChatResponse, ChatError> {
            let last = request
                .messages
                .last()
                .map(|m| m.content.clone())
                .unwrap_or_default();
            match last.as_str() {
                "too long" => Err(ChatError::Invalid(InvalidRequest::PromptTooLong {
                    tokens: 9000,
                    context: 2048,
                })),
                "crash" => Err(ChatError::Failed {
                    backend: "echo".into(),
                    message: "secret internal detail".into(),
                }),
                "busy" => Err(ChatError::Busy {
                    backend: "echo".into(),
                    retry_after_secs: 3,
                }),
                "hang" => {
                    let _guard = DropGuard(self.events.clone());
                    let _ = self.events.send("started");
                    std::future::pending().await
                }
                _ => {
                    for piece in last.split_inclusive(' ') {
                        if sink.is_some_and(|sink| !sink(piece)) {
                            return Err(ChatError::Cancelled);
                        }
                    }
                    // Offered tools, it calls each with the last message as its argument.
                    let tool_calls = (0..)
                        .zip(&request.tools)
                        .map(|(i, tool)| ToolCall {
                            id: format!("call_{i}"),
                            name: tool.name.clone(),
                            arguments: json!({ "echo": last }).to_string(),
                        })
                        .collect();
                    Ok(ChatResponse {
                        text: last,
                        usage: Usage {
                            prompt_tokens: 3,
                            completion_tokens: 2,
                        },
                        finish_reason: FinishReason::Stop,
                        tool_calls,
                    })
                }
            }
        }
    }

    #[async_trait]
    impl ChatModel for Echo {
        fn name(&self) -> &str {
            "echo"
        }
        async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ChatError> {
            self.answer(request, None).await
        }
        async fn chat_stream(
            &self,
            request: &ChatRequest,
            sink: PieceSink<'_>,
        ) -> Result<ChatResponse, ChatError> {
            self.answer(request, Some(sink)).await
        }
    }

    /// Serves [`Echo`]; returns the base URL and what the model reports.
    async fn serve() -> (String, mpsc::UnboundedReceiver<&'static str>) {
        let (events, reports) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(Arc::new(Echo { events }), Some(2));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), reports)
    }

    async fn post(base: &str, body: String) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{base}/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn post_json(base: &str, body: String) -> (u16, serde_json::Value) {
        let response = post(base, body).await;
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    fn chat_body(content: &str) -> String {
        json!({"model": "whatever", "messages": [{"role": "user", "content": content}]}).to_string()
    }

    /// A request for "hi" with `extra` fields set.
    fn with(extra: serde_json::Value) -> String {
        let mut body = json!({"messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body.to_string()
    }

    /// The `data:` payloads of a server-sent event stream.
    fn sse_data(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(str::to_string)
            .collect()
    }

    /// The JSON chunks of a stream, which must end with `[DONE]`.
    fn sse_chunks(text: &str) -> Vec<serde_json::Value> {
        let data = sse_data(text);
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
        data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn answers_in_the_openai_shape() {
        let (base, _) = serve().await;
        let (status, body) = post_json(&base, chat_body("hello")).await;
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
        assert_eq!(models["data"][0]["workers"], 2);
    }

    /// Every 4xx on the chat routes, 413 included, is `{"error": {"message", "type"}}`.
    #[tokio::test]
    async fn bad_requests_get_4xx_with_a_reason() {
        let (base, _) = serve().await;
        let cases = [
            ("{not json".to_string(), 400),
            (json!({"messages": "nope"}).to_string(), 422),
            (json!({"messages": []}).to_string(), 400),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}).to_string(),
                400,
            ),
            (with(json!({"n": 2})), 400),
            (with(json!({"temperature": -5})), 400),
            (with(json!({"temperature": 2.5})), 400),
            (with(json!({"top_p": 0})), 400),
            (with(json!({"top_p": 1.5})), 400),
            (with(json!({"max_tokens": 0})), 400),
            (with(json!({"max_tokens": -1})), 422),
            (with(json!({"frequency_penalty": 3})), 400),
            (with(json!({"presence_penalty": -2.5})), 400),
            (with(json!({"continue_final_message": true})), 400),
            (chat_body("too long"), 400),
            (
                json!({"messages": [{"role": "user", "content": "too long"}], "stream": true})
                    .to_string(),
                400,
            ),
            (chat_body(&"x".repeat(MAX_CHAT_BODY_BYTES + 1)), 413),
        ];
        for (body, status) in cases {
            let shown: String = body.chars().take(80).collect();
            let (got, json) = post_json(&base, body).await;
            assert_eq!(got, status, "{shown}: {json}");
            assert_error_shape(&json, "invalid_request_error", &shown);
        }
        let client = reqwest::Client::new();
        let url = format!("{base}/v1/chat/completions");
        let no_content_type = client
            .post(&url)
            .body(chat_body("hi"))
            .send()
            .await
            .unwrap();
        let wrong_method = client.get(&url).send().await.unwrap();
        let post_models = client
            .post(format!("{base}/v1/models"))
            .send()
            .await
            .unwrap();
        for (response, status) in [
            (no_content_type, 415),
            (wrong_method, 405),
            (post_models, 405),
        ] {
            assert_eq!(response.status().as_u16(), status);
            let json: serde_json::Value = response.json().await.unwrap();
            assert_error_shape(&json, "invalid_request_error", &status.to_string());
        }
    }

    fn assert_error_shape(json: &serde_json::Value, kind: &str, case: &str) {
        assert_eq!(json["error"]["type"], kind, "{case}: {json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{case}: {json}");
        assert_eq!(json.as_object().map(|o| o.len()), Some(1), "{case}: {json}");
    }

    #[tokio::test]
    async fn a_busy_model_is_503_with_retry_after() {
        let (base, _) = serve().await;
        for stream in [false, true] {
            let body = json!({"messages": [{"role": "user", "content": "busy"}], "stream": stream});
            let response = post(&base, body.to_string()).await;
            assert_eq!(response.status().as_u16(), 503, "stream {stream}");
            assert_eq!(response.headers()["retry-after"], "3", "stream {stream}");
            let json: serde_json::Value = response.json().await.unwrap();
            assert_error_shape(&json, "overloaded_error", "busy");
        }
    }

    #[tokio::test]
    async fn model_failures_are_500_without_details() {
        let (base, _) = serve().await;
        let (status, json) = post_json(&base, chat_body("crash")).await;
        assert_eq!(status, 500);
        assert!(!json.to_string().contains("secret"), "{json}");
    }

    #[tokio::test]
    async fn streams_openai_chunks_ending_with_done() {
        let (base, _) = serve().await;
        let body = json!({
            "messages": [{"role": "user", "content": "one two three"}],
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        let response = post(&base, body.to_string()).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let chunks = sse_chunks(&response.text().await.unwrap());
        assert!(
            chunks
                .iter()
                .all(|c| c["object"] == "chat.completion.chunk")
        );
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let pieces: Vec<&str> = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .filter(|p| !p.is_empty())
            .collect();
        assert_eq!(pieces, ["one ", "two ", "three"]);
        let n = chunks.len();
        assert_eq!(chunks[n - 2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[n - 1]["choices"], json!([]));
        assert_eq!(chunks[n - 1]["usage"]["completion_tokens"], 2);
    }

    /// A request with `tools` and tool messages reaches the model; its calls come back in
    /// OpenAI's shape, whole or streamed.
    #[tokio::test]
    async fn tools_reach_the_model_and_calls_come_back_as_openai_sends_them() {
        let (base, _) = serve().await;
        let tool = |name: &str| {
            json!({"type": "function", "function": {"name": name, "description": "d",
                "parameters": {"type": "object", "properties": {}}}})
        };
        let messages = json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function",
                "function": {"name": "web_search", "arguments": "{\"queries\": [\"q\"]}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": "found it"},
        ]);
        let body = json!({"messages": messages, "tools": [tool("web_search"), tool("open")],
            "tool_choice": "auto"});
        let (status, json) = post_json(&base, body.to_string()).await;
        assert_eq!(status, 200, "{json}");
        let choice = &json["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls");
        assert_eq!(choice["message"]["content"], "found it");
        let calls = choice["message"]["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 2);
        for (call, name) in calls.iter().zip(["web_search", "open"]) {
            assert_eq!(call["type"], "function");
            assert_eq!(call["function"]["name"], name);
            assert!(call["id"].as_str().unwrap().starts_with("call_"));
            let arguments: serde_json::Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
            assert_eq!(arguments, json!({"echo": "found it"}));
            assert!(call.get("index").is_none(), "{call}");
        }

        let mut body = body;
        body["stream"] = json!(true);
        let response = post(&base, body.to_string()).await;
        assert_eq!(response.status().as_u16(), 200);
        let chunks = sse_chunks(&response.text().await.unwrap());
        let deltas: Vec<&serde_json::Value> =
            chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
        let text: String = deltas
            .iter()
            .filter_map(|d| d["content"].as_str())
            .collect();
        assert_eq!(text, "found it");
        let streamed: Vec<&serde_json::Value> = deltas
            .iter()
            .filter_map(|d| d["tool_calls"].as_array())
            .flatten()
            .collect();
        assert_eq!(streamed.len(), 2, "{chunks:?}");
        for (i, call) in streamed.iter().enumerate() {
            assert_eq!(call["index"], i);
            assert_eq!(call["function"]["name"], ["web_search", "open"][i]);
        }
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    }

    /// A client that sends a request and hangs up: the model call must be dropped.
    #[tokio::test]
    async fn a_client_that_hangs_up_stops_the_model_call() {
        let (base, mut reports) = serve().await;
        let addr = base.trim_start_matches("http://");
        for stream in [false, true] {
            let body = json!({"messages": [{"role": "user", "content": "hang"}], "stream": stream})
                .to_string();
            let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head = format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(body.as_bytes()).await.unwrap();
            assert_eq!(reports.recv().await, Some("started"), "stream {stream}");
            drop(socket);
            // The safety net only bounds a broken build; a working one reports at once.
            let report = tokio::time::timeout(std::time::Duration::from_secs(30), reports.recv())
                .await
                .ok()
                .flatten();
            assert_eq!(report, Some("dropped"), "stream {stream}");
        }
    }
}
