//! `ApiError`: every failure a handler can return, as a JSON body with the right status.

use axum::{
    Json,
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// The body is OpenAI's error shape, `{"error": {"message", "type"}}`, on every route.
/// 4xx errors tell the client what was wrong; 5xx errors are logged and answered generically.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// A request body that could not be read as the expected JSON: 400 for bad JSON, 413 for a
    /// body over the cap, 415 for a wrong content type.
    pub fn rejected(rejection: JsonRejection) -> Self {
        ApiError {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (message, kind) = if self.status.is_server_error() {
            tracing::error!(status = %self.status, "{}", self.message);
            ("internal error".to_string(), "server_error")
        } else {
            (self.message, "invalid_request_error")
        };
        let body = json!({ "error": { "message": message, "type": kind } });
        (self.status, Json(body)).into_response()
    }
}
