//! Errors: [`UiError`] stops the UI from starting; `PageError` is one request's answer.

use std::path::{Path, PathBuf};

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

/// Why the UI could not start.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Format(#[from] formats::FormatError),
}

impl UiError {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> Self {
        UiError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// Why a page could not be shown; answered as an error page with the matching status.
#[derive(Debug)]
pub(crate) enum PageError {
    NotFound(String),
    BadRequest(String),
    Internal(String),
}

impl From<std::io::Error> for PageError {
    fn from(e: std::io::Error) -> Self {
        PageError::Internal(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            PageError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            PageError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            message,
        };
        let body = page.render().unwrap_or_else(|_| message.clone());
        (status, Html(body)).into_response()
    }
}
