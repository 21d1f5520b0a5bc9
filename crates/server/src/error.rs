//! `ApiError`: every failure a handler can return, as a JSON body with the right status.

use axum::{
    Json,
    extract::rejection::JsonRejection,
    http::{HeaderValue, StatusCode, header::RETRY_AFTER},
    response::{IntoResponse, Response},
};
use chat::openai::{ErrorDetail, ErrorResponse};

/// The body is OpenAI's error shape, `{"error": {"message", "type"}}`, on every route.
/// 4xx errors tell the client what was wrong; internal errors are logged and answered generically.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    /// Sent as `Retry-After` (seconds) when set.
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error whose `message` is sent to the client as is.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 503: the server is saturated; the client should try again after `retry_after_secs`.
    pub fn busy(message: impl Into<String>, retry_after_secs: u64) -> Self {
        ApiError {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded_error", message)
        }
    }

    /// A request body that could not be read as the expected JSON: 400 for bad JSON, 413 for a
    /// body over the cap, 415 for a wrong content type, 422 for the wrong fields.
    pub fn rejected(rejection: JsonRejection) -> Self {
        Self::new(
            rejection.status(),
            "invalid_request_error",
            rejection.body_text(),
        )
    }

    /// A failure on our side: `detail` goes to the log, the client sees "internal error".
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("{detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }

    /// The JSON body, also sent as the last event of a stream that fails midway.
    pub fn body(&self) -> ErrorResponse {
        ErrorResponse {
            error: ErrorDetail {
                message: self.message.clone(),
                kind: self.kind.to_string(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
